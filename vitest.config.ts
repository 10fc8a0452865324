import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: one worker per core, and each file gets its own process so backends never bleed across files.
    pool: 'forks',
    maxWorkers: 2,
  },
});
