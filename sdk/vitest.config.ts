import { defineConfig } from 'vitest/config';

// The tracker runs against a hand-made browser (test/fake-browser.ts) in plain Node: no DOM
// library, and every network call is a mock the tests read back.
export default defineConfig({
  test: {
    environment: 'node',
    include: ['test/**/*.test.ts'],
  },
});
