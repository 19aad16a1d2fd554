import { defineConfig } from 'tsup';

// The package's entries (package.json "exports"), shipped as ESM + CJS + type declarations, and the CLI.
// Entries share chunks (splitting, for CJS too), so that a class is one class whichever entry it is imported from
// (instanceof, tfjs' layer registry); an entry's chunks hold only what it imports, so the root loads no Node-only code.
// tfjs and every optional backend stay external: the app picks and installs them.
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    data: 'src/data/index.ts',
    train: 'src/train/index.ts',
    explain: 'src/explain/index.ts',
    node: 'src/node/index.ts',
    kernels: 'src/kernels/index.ts',
    cli: 'src/cli/main.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: true,
  shims: true, // import.meta.url in the CJS build (decode workers locate their dependencies with it)
  external: [/^@tensorflow\//, 'h5wasm', '@napi-rs/canvas'],
});
