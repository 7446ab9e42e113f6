// See https://svelte.dev/docs/kit/types#app.d.ts

/** The one binding the dashboard uses: a service binding to the API worker (wrangler.toml). */
interface ApiBinding {
  fetch(request: Request): Promise<Response>;
}

declare global {
  namespace App {
    interface Platform {
      env?: { API?: ApiBinding };
      caches?: CacheStorage & { default: Cache };
      ctx?: { waitUntil(promise: Promise<unknown>): void };
    }
  }
}

export {};
