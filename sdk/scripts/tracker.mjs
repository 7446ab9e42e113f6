/**
 * The script-tag tracker's bundles: esbuild joins `src/tracker/` into one IIFE per variant and
 * terser squeezes it, because every byte of `t.js` is paid by every page view of every site.
 * Shared by `build.mjs` (writes the bundles), its `--check` mode (CI) and `size.mjs` (the report).
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';
import { minify } from 'terser';

/** The sdk package's directory. */
export const SDK = fileURLToPath(new URL('..', import.meta.url));
/** The repository root. */
export const ROOT = path.resolve(SDK, '..');
/** The file the worker serves the bundles from; committed, so the worker builds without this script. */
export const GENERATED = path.join(ROOT, 'worker/src/tracker/bundle.generated.ts');

/** Hard budget of the default build, minified and `gzip -9` (issue 5). */
export const BUDGET_GZIP_BYTES = 1024;

/**
 * The variants, Plausible style: the default has every feature (each switched on by a `data-*`
 * attribute); a variant leaves modules out by replacing them with empty ones.
 */
export const VARIANTS = [
  { name: 't', description: 'default: every feature, each switched on by its data-* attribute' },
  {
    name: 't.lite',
    description: 'without outbound-link and file-download clicks',
    stubs: { 'clicks.ts': 'export function trackClicks() {}' },
  },
  {
    // Served by the worker in place of t.js to pages on a local host (worker/src/tracker/index.ts).
    name: 't.local',
    description: 'the default, saying once in the console why a page is not counted (served to local pages)',
    stubs: {
      // Imports from a stub reach the real files: this wraps the real ignore.ts.
      'ignore.ts': [
        "import { currentPage, ignored as quiet, OPT_OUT_KEY } from './ignore.ts';",
        "import { explain } from './explain.ts';",
        "export { currentPage, OPT_OUT_KEY, optIn, optOut } from './ignore.ts';",
        'export const ignored = () => explain(quiet(), OPT_OUT_KEY, currentPage);',
      ].join('\n'),
    },
  },
];

/**
 * esbuild plugin: resolve the listed tracker modules to the given source instead. A stub may
 * import the module it replaces (to wrap it): imports from a stub resolve to the real files.
 */
function stubModules(stubs) {
  const dir = path.join(SDK, 'src/tracker');
  return {
    name: 'stub-modules',
    setup(build) {
      build.onResolve({ filter: /^\.\/[\w-]+\.ts$/ }, (args) => {
        const file = path.basename(args.path);
        if (args.namespace === 'stub') return { path: path.join(dir, file) };
        return file in stubs ? { path: file, namespace: 'stub' } : undefined;
      });
      build.onLoad({ filter: /.*/, namespace: 'stub' }, (args) => ({
        contents: stubs[args.path],
        loader: 'ts',
        resolveDir: dir,
      }));
    },
  };
}

/** Terser settings: unsafe transforms are fine for code this small and this closely tested. */
const TERSER = {
  ecma: 2020,
  toplevel: true,
  compress: {
    passes: 5,
    unsafe: true,
    unsafe_arrows: true,
    unsafe_comps: true,
    unsafe_methods: true,
    pure_getters: true,
    toplevel: true,
    // NOTE: never booleans_as_integers: `h: true` must stay a JSON boolean on the wire.
  },
  mangle: { toplevel: true },
  format: { comments: false, wrap_func_args: false },
};

/**
 * Build one variant in memory.
 *
 * @returns sizes in bytes (`raw` bundled, `min` minified, `gzip` minified at level 9), the
 *   minified source, its content hash (for the immutable URL) and its SRI integrity value
 */
export async function bundleVariant(variant) {
  const result = await esbuild.build({
    entryPoints: [path.join(SDK, 'src/tracker/index.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    target: 'es2020',
    legalComments: 'none',
    minifySyntax: true,
    plugins: variant.stubs ? [stubModules(variant.stubs)] : [],
  });
  const raw = result.outputFiles[0].text;
  const minified = await minify(raw, TERSER);
  // esbuild adds "use strict" from the tsconfig; the tracker does not depend on strict mode.
  const source = (minified.code ?? '').replace(/^"use strict";/, '');
  return {
    name: variant.name,
    description: variant.description,
    source,
    hash: createHash('sha256').update(source).digest('hex').slice(0, 12),
    integrity: `sha384-${createHash('sha384').update(source).digest('base64')}`,
    raw: Buffer.byteLength(raw),
    min: Buffer.byteLength(source),
    gzip: gzipSync(source, { level: 9 }).length,
  };
}

/** Every variant, in order. */
export function bundleAll() {
  return Promise.all(VARIANTS.map(bundleVariant));
}

/** The budget check: a message for each variant over budget (only the default has one). */
export function overBudget(bundles) {
  return bundles
    .filter((bundle) => bundle.name === 't' && bundle.gzip > BUDGET_GZIP_BYTES)
    .map((bundle) => `${bundle.name}.js is ${bundle.gzip} B gzipped, over the budget of ${BUDGET_GZIP_BYTES} B`);
}
