import { defineConfig } from 'vitest/config';

// Browser tests against the worker run locally (wrangler dev): one file at a time, because each
// starts its own worker and Chromium, and with time for both to start on a busy machine.
export default defineConfig({
  test: {
    environment: 'node',
    include: ['**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
