declare namespace Cloudflare {
  interface Env {
    /** The committed migrations, read by vitest.config.ts and applied in test/setup.ts. */
    TEST_MIGRATIONS: import('cloudflare:test').D1Migration[];
  }
}

/** A text file as a string (Vite's `?raw`): the docs the catalog test reads. */
declare module '*.md?raw' {
  const text: string;
  export default text;
}
