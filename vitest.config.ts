import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // examples/ test apps through the built package (`witshim/test`), as users do.
    include: ['test/**/*.test.ts', 'examples/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
