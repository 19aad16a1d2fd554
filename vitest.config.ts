import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The package's entry names resolve to the sources (as tsconfig.json's "paths" do for tsc, tsx and esbuild), so that
// examples import 'neurostagenet/...' exactly as an app does.
const src = (file: string): string => fileURLToPath(new URL(`./src/${file}`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^neurostagenet$/, replacement: src('index.ts') },
      ...['data', 'train', 'explain', 'node', 'kernels'].map((entry) => ({ find: new RegExp(`^neurostagenet/${entry}$`), replacement: src(`${entry}/index.ts`) })),
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
