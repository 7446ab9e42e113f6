import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

/**
 * The local API worker that `vite dev` forwards to (scripts/dev.ts sets TALLY_API). In production
 * hooks.server.ts does the same through the Pages service binding; either way the browser sees
 * one origin, so the HttpOnly session cookies and the worker's Origin check just work.
 */
const api = process.env.TALLY_API ?? 'http://127.0.0.1:8787';

// The Host header is kept (no changeOrigin): the worker compares Origin with its own URL, which
// must therefore be the dashboard's.
const forward = { target: api, changeOrigin: false };

export default defineConfig({
  plugins: [sveltekit()],
  server: {
    proxy: {
      '/api': { ...forward, ws: true },
      // The tracker and the live widget, so that the snippet can point at the dashboard's origin.
      '^/t(\\.[\\w-]+)?\\.js$': forward,
      '/live.js': forward,
    },
  },
  // Pre-bundled at start-up, so the first visit to a dashboard does not trigger a reload to optimise it.
  optimizeDeps: { include: ['chart.js'] },
  build: {
    // Budgets are checked by `npm run size` on the gzipped initial JS; this only silences Vite.
    chunkSizeWarningLimit: 300,
  },
});
