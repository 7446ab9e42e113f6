/**
 * `npm run size -w dashboard`: the initial JavaScript of each route, gzipped, from the last
 * `vite build`. Initial means what the browser must load before the route renders: SvelteKit's two
 * entry chunks, the root layout's node and the route's node, with every chunk they import
 * statically. Dynamic imports are listed apart, in two kinds: those every visit loads right after
 * (Chart.js, fetched beside the first API request: {@link WITH_THE_PAGE}) and those loaded only on
 * a user's action (the filter builder, a detail view, the segment menu, the world map when the
 * Locations panel nears the screen). The dashboard route must stay within BUDGET_KB counting the
 * first kind too; the script exits with 1 if not.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLIENT = path.join(ROOT, '.svelte-kit/output/client');
const BUDGET_KB = 120;
const BUDGET_ROUTE = '/projects/[id]';
/** Dynamic imports every visit of a route loads at once (module paths as Vite's manifest names them). */
const WITH_THE_PAGE = ['src/lib/dashboard/chart.ts'];

interface Chunk {
  file: string;
  imports?: string[];
  dynamicImports?: string[];
  css?: string[];
  isEntry?: boolean;
}

const manifest = JSON.parse(readFileSync(path.join(CLIENT, '.vite/manifest.json'), 'utf8')) as Record<string, Chunk>;
const app = readFileSync(path.join(ROOT, '.svelte-kit/generated/client-optimized/app.js'), 'utf8');

/** Route id → node indexes (the layout chain is [0] plus the route's own; this app has one layout). */
const dictionary = JSON.parse(
  `{${/export const dictionary = \{([\s\S]*?)\};/.exec(app)?.[1] ?? ''}}`.replace(/,\s*}$/, '}'),
) as Record<string, number[]>;

const gzipped = new Map<string, number>();
function gzSize(file: string): number {
  let size = gzipped.get(file);
  if (size === undefined) {
    size = gzipSync(readFileSync(path.join(CLIENT, file)), { level: 9 }).length;
    gzipped.set(file, size);
  }
  return size;
}

function key(suffix: string): string {
  const found = Object.keys(manifest).find((name) => name.endsWith(suffix));
  if (!found) throw new Error(`No chunk ${suffix} in the Vite manifest; run vite build first.`);
  return found;
}

/** Every chunk reachable through static imports, and the dynamic imports met on the way. */
function closure(roots: string[]): { files: Set<string>; lazy: Set<string> } {
  const seen = new Set<string>();
  const lazy = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const chunk = manifest[name];
    for (const next of chunk?.imports ?? []) visit(next);
    for (const next of chunk?.dynamicImports ?? []) if (!next.includes('/nodes/')) lazy.add(next);
  };
  for (const root of roots) visit(root);
  const files = new Set([...seen].map((name) => manifest[name]?.file).filter((file): file is string => !!file));
  return { files, lazy };
}

const entries = [key('client/entry.js'), key('client-optimized/app.js')];
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
let failed = false;

console.log('Initial JS per route (gzipped, level 9):');
for (const [route, nodes] of Object.entries(dictionary)) {
  const roots = [...entries, ...[0, ...nodes].map((node) => key(`client-optimized/nodes/${node}.js`))];
  const { files, lazy } = closure(roots);
  const total = [...files].reduce((sum, file) => sum + gzSize(file), 0);
  const css = new Set(roots.flatMap((root) => manifest[root]?.css ?? []));
  const cssTotal = [...css].reduce((sum, file) => sum + gzSize(file), 0);
  const sizeOf = (names: string[]) => {
    const extra = closure(names).files;
    for (const file of files) extra.delete(file);
    return [...extra].reduce((sum, file) => sum + gzSize(file), 0);
  };
  const after = sizeOf([...lazy].filter((name) => WITH_THE_PAGE.includes(name)));
  const onDemand = sizeOf([...lazy].filter((name) => !WITH_THE_PAGE.includes(name)));
  // The budget holds even counting what every visit loads right after (Chart.js).
  const within = total + after <= BUDGET_KB * 1024;
  const budget = route === BUDGET_ROUTE ? ` (budget ${BUDGET_KB} KB: ${within ? 'ok' : 'OVER'})` : '';
  if (route === BUDGET_ROUTE && !within) failed = true;
  const later = after ? `; loaded right after: ${kb(after)} (initial + right after: ${kb(total + after)})` : '';
  const demand = onDemand ? `; on a user's action: ${kb(onDemand)}` : '';
  console.log(
    `  ${route.padEnd(26)} ${kb(total).padStart(9)} JS in ${files.size} files, ${kb(cssTotal)} CSS${later}${budget}${demand}`,
  );
}
if (failed) {
  console.error(`\n✖ The dashboard route's initial JS is over ${BUDGET_KB} KB gzipped.`);
  process.exit(1);
}
