import { spawnSync } from 'node:child_process';
import { defineConfig } from 'vitest/config';
import { H2_PROJECT } from './test/setup/global-mongo.ts';

// Every test that exercises the store's queries, run a second time on mongo-java-server's H2
// backend (the offline default of `vpnwatch start`; test/setup/global-mongo.ts starts it), so a
// query that behaves differently there fails here. The "all" project runs every test on the fast
// default engine.
const storeQueryTests = ['test/store.test.ts', 'test/notifier.test.ts', 'test/poller.test.ts', 'test/commands.test.ts', 'test/web.test.ts'];

// H2 needs Java: required on CI (a missing prerequisite fails there), skipped with a note elsewhere.
const javaMissing = spawnSync('java', ['-version'], { stdio: 'ignore' }).error !== undefined;
if (javaMissing && process.env.CI !== 'true') console.warn(`skipping the ${H2_PROJECT} tests: no java on PATH (mongo-java-server's H2 backend needs Java 17)`);

export default defineConfig({
  test: {
    reporters: ['default', ['json', { outputFile: 'test-artifacts/vitest.json' }]],
    globalSetup: ['test/setup/global-mongo.ts'],
    setupFiles: ['test/setup/quiet-logs.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Two cores: the lab tests start real sshd/OpenVPN processes and must not starve each other.
    fileParallelism: true,
    maxWorkers: 2,
    projects: [
      { extends: true as const, test: { name: 'all', include: ['test/**/*.test.ts'] } },
      ...(javaMissing && process.env.CI !== 'true' ? [] : [{ extends: true as const, test: { name: H2_PROJECT, include: storeQueryTests } }]),
    ],
  },
});
