import { defineConfig, type Options } from 'tsup';

// The package's entries (package.json "exports"), shipped as ESM + CJS + type declarations, and the CLI.
// Entries share chunks (splitting, for CJS too), so that a class is one class whichever entry it is imported from
// (instanceof, tfjs' layer registry); an entry's chunks hold only what it imports, so the root loads no Node-only code.
// tfjs and every optional backend stay external: the app picks and installs them.
const shared = {
  entry: {
    index: 'src/index.ts',
    data: 'src/data/index.ts',
    train: 'src/train/index.ts',
    explain: 'src/explain/index.ts',
    node: 'src/node/index.ts',
    kernels: 'src/kernels/index.ts',
    cli: 'src/cli/main.ts',
  },
  dts: true,
  sourcemap: true,
  target: 'node20',
  splitting: true,
  external: [/^@tensorflow\//, 'h5wasm', '@napi-rs/canvas'],
} satisfies Options;

export default defineConfig([
  // ESM without shims: tsup's ESM shim imports Node's path and url into a shared chunk, which a browser bundle of
  // the root cannot resolve. The ESM code reads import.meta.url itself.
  { ...shared, format: ['esm'], clean: true, shims: false },
  // CJS with shims: import.meta.url for the decode workers, which locate their dependencies with it.
  // nifti-reader-js is ESM-only (no "require" export): the CJS build carries it inside.
  { ...shared, format: ['cjs'], clean: false, shims: true, noExternal: ['nifti-reader-js'] },
]);
