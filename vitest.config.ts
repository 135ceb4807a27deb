import { defineConfig } from 'vitest/config';

// One config over every package. Workspace imports resolve to each package's `src` through the
// `@ignis/source` export condition, so tests run without a build.
export default defineConfig({
  resolve: { conditions: ['@ignis/source'] },
  ssr: { resolve: { conditions: ['@ignis/source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'tooling/*/src/**/*.test.ts'],
    // A limit that only catches a hang. CI runs every package's tests at once on 2 busy cores,
    // where the engine's slowest tests take 10x their time alone (~6 s alone, up to 60 s there).
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
