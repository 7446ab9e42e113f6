/**
 * `npm run size`: bytes of every tracker variant — bundled, minified, and minified at `gzip -9` —
 * and a non-zero exit when the default `t.js` is over its budget.
 */
import { BUDGET_GZIP_BYTES, bundleAll, overBudget } from './tracker.mjs';

const bundles = await bundleAll();
const rows = [
  ['file', 'bundled', 'minified', 'gzip -9', 'what'],
  ...bundles.map((bundle) => [
    `${bundle.name}.js`,
    String(bundle.raw),
    String(bundle.min),
    String(bundle.gzip),
    bundle.description,
  ]),
];
const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
for (const row of rows) {
  console.log(
    row
      .map((cell, column) => (column < 4 && column > 0 ? cell.padStart(widths[column]) : cell.padEnd(widths[column])))
      .join('  ')
      .trimEnd(),
  );
}
const problems = overBudget(bundles);
if (problems.length) {
  for (const problem of problems) console.error(`✖ ${problem}`);
  process.exit(1);
}
console.log(
  `\nt.js: ${bundles[0].gzip} of ${BUDGET_GZIP_BYTES} B gzipped (${BUDGET_GZIP_BYTES - bundles[0].gzip} B to spare).`,
);
console.log('gzip -9 is zlib at level 9; GNU gzip -9 may differ by a few bytes.');
