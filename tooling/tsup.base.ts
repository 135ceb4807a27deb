import { defineConfig, type Options } from 'tsup';

/** The tsup build every library package shares: ESM, declarations, source maps, Node 20. */
export function libraryConfig(entry: Options['entry'] = ['src/index.ts'], overrides: Options = {}) {
  return defineConfig({ entry, format: ['esm'], dts: true, sourcemap: true, clean: true, target: 'node20', ...overrides });
}
