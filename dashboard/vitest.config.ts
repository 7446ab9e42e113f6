import { fileURLToPath } from 'node:url';
import { svelte, vitePreprocess } from '@sveltejs/vite-plugin-svelte';
import { svelteTesting } from '@testing-library/svelte/vite';
import { defineConfig } from 'vitest/config';

// The same aliases as svelte.config.js's `kit.alias` (which this config does not load).
const alias = {
  $lib: fileURLToPath(new URL('./src/lib', import.meta.url)),
  '@tally/sdk/catalog': fileURLToPath(new URL('../sdk/src/catalog.ts', import.meta.url)),
};

// Two projects. `unit`: the plain TypeScript in src/lib (formatters, URL state, API client) under
// node, no plugin, so it starts in a fraction of a second. `components`: `*.svelte.test.ts` files
// render components into happy-dom with the Svelte plugin alone (not SvelteKit's: the components
// under test import nothing from `$app`).
export default defineConfig({
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts'],
          exclude: ['src/**/*.svelte.test.ts'],
          environment: 'node',
        },
      },
      {
        // svelte.config.js is not read: it loads the Cloudflare adapter, which components never need.
        plugins: [svelte({ configFile: false, preprocess: vitePreprocess() }), svelteTesting()],
        // Svelte's browser build (the default conditions pick its server one under node).
        resolve: { alias, conditions: ['browser'] },
        test: { name: 'components', include: ['src/**/*.svelte.test.ts'], environment: 'happy-dom' },
      },
    ],
  },
});
