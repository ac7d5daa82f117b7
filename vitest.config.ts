import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    reporters: ['default', ['json', { outputFile: 'test-artifacts/vitest.json' }]],
    globalSetup: ['test/setup/global-mongo.ts'],
    setupFiles: ['test/setup/quiet-logs.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Two cores: the lab tests start real sshd/OpenVPN processes and must not starve each other.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
