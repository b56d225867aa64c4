import { defineConfig } from 'vitest/config';

// Backend tests talk real HTTP/WS over loopback to the real service and the
// sandbox Jenkins; they are slower than unit tests, hence the generous timeouts.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
