import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        // The yaml build the bundles ship (esbuild.mjs).
        resolve: { alias: [{ find: /^yaml$/, replacement: fileURLToPath(new URL('./node_modules/yaml/browser/index.js', import.meta.url)) }] },
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 10_000 },
      },
      {
        test: {
          name: 'lab',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          // Real sshds, real timers, a shared 2-core CI machine: a test that fails is run once more and the
          // failure only counts when it repeats (vitest names every retried test in its report).
          retry: 1,
        },
      },
    ],
  },
});
