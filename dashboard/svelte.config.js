import adapter from '@sveltejs/adapter-cloudflare';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

const cloudflare = adapter();

/** @type {import('@sveltejs/kit').Config} */
export default {
  preprocess: vitePreprocess(),
  kit: {
    // In `vite dev`, /api goes to the local worker through Vite's proxy (vite.config.ts), so nothing
    // reads `platform`: skipping the emulation spares a second workerd process per dev server.
    adapter: { ...cloudflare, emulate: undefined },
    // The dashboard has no form actions: every state-changing route is the API worker's, which checks
    // Origin itself. The tracker's cross-site `text/plain` beacons to /api/event must pass through.
    csrf: { trustedOrigins: ['*'] },
    // The stats vocabulary (every dimension and metric) and the API's response shapes (GET /api/health's
    // included) as TypeScript source, shared with the worker.
    alias: { '@tally/sdk/catalog': '../sdk/src/catalog.ts', '@tally/sdk/protocol': '../sdk/src/protocol.ts' },
    csp: {
      mode: 'auto',
      directives: {
        'default-src': ['self'],
        'script-src': ['self'],
        // Svelte sets widths of bars and chart sizes through style attributes.
        'style-src': ['self', 'unsafe-inline'],
        'img-src': ['self', 'data:'],
        'connect-src': ['self'],
        'font-src': ['self'],
        'object-src': ['none'],
        'base-uri': ['self'],
        'form-action': ['self'],
        'frame-ancestors': ['none'],
      },
    },
  },
};
