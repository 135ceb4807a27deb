import { defineConfig } from 'vitest/config';

// One config over every package. Workspace imports resolve to each package's `src` through the
// `@ignis/source` export condition, so tests run without a build.
export default defineConfig({
  resolve: { conditions: ['@ignis/source'] },
  ssr: { resolve: { conditions: ['@ignis/source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'tooling/*/src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
