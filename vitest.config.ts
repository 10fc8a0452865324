import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: one worker per core, and each file gets its own process so backends never bleed across files.
    pool: 'forks',
    maxWorkers: 2,
    // Two files already run at once, so each keeps wasm on one thread; test/wasm-threads.test.ts asks for two
    // explicitly and checks they give bit-identical results.
    env: { ROBUST_WASM_THREADS: '1' },
  },
});
