import { defineConfig } from 'tsup';

// One public entry (src/index.ts), shipped as ESM + CJS + type declarations.
// tfjs and every optional backend stay external: the app picks and installs them.
export default defineConfig({
  entry: { index: 'src/index.ts', cli: 'src/cli/main.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: false,
  shims: true, // import.meta.url in the CJS build (decode workers locate their dependencies with it)
  external: [/^@tensorflow\//, 'h5wasm', '@napi-rs/canvas'],
});
