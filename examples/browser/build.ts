/**
 * Builds the browser page into a static folder: the esbuild bundle of main.ts, index.html, style.css,
 * tfjs-backend-wasm's .wasm binaries and a copy of the model directory (as ./model/).
 *
 *   npm run build:browser [-- --model <model dir>] [-- --out <dir>] [-- --no-minify]
 *   (same as: npx tsx examples/browser/build.ts ...)
 *
 * Defaults: --model models/neurostagenet (the shipped model), --out examples/browser/dist.
 * Serve the output folder with any static file server (e.g. `npx http-server examples/browser/dist` or
 * `python3 -m http.server -d examples/browser/dist`) and open it; file:// does not work (fetch of the model).
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');

/** Options of {@link buildBrowserPage}. */
export interface BuildBrowserPageOptions {
  /** Directory holding model.json + weights (+ optional metadata.json). Default models/neurostagenet. */
  modelDir?: string;
  /** Output folder (emptied first). Default examples/browser/dist. */
  outDir?: string;
  /** Minify the bundle. Default true. */
  minify?: boolean;
}

/** What {@link buildBrowserPage} wrote. */
export interface BuildBrowserPageResult {
  /** The output folder. */
  outDir: string;
  /** Size of main.js in bytes. */
  bundleBytes: number;
  /** Files copied from the model directory. */
  modelFiles: string[];
}

/** Thrown (and printed as one line by the CLI) when the page cannot be built, e.g. no model directory. */
export class BrowserBuildError extends Error {
  override name = 'BrowserBuildError';
}

/**
 * Builds the page. The model directory must hold a model.json; every file in it is copied to `<out>/model/`.
 * @throws {@link BrowserBuildError} when the model directory or the wasm binaries are missing.
 */
export async function buildBrowserPage(options: BuildBrowserPageOptions = {}): Promise<BuildBrowserPageResult> {
  const modelDir = path.resolve(options.modelDir ?? path.join(repoRoot, 'models', 'neurostagenet'));
  const outDir = path.resolve(options.outDir ?? path.join(here, 'dist'));
  if (!existsSync(path.join(modelDir, 'model.json'))) {
    throw new BrowserBuildError(
      `no model at ${path.join(modelDir, 'model.json')}: train one (see docs/browser.md) or pass --model <dir with model.json>`,
    );
  }
  const wasmDir = path.join(repoRoot, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
  const wasmFiles = existsSync(wasmDir) ? (await readdir(wasmDir)).filter((f) => f.endsWith('.wasm')) : [];
  if (wasmFiles.length === 0) throw new BrowserBuildError(`no .wasm files in ${wasmDir}: run npm ci`);

  await rm(outDir, { recursive: true, force: true });
  await mkdir(path.join(outDir, 'model'), { recursive: true });
  await build({
    entryPoints: [path.join(here, 'main.ts')],
    outfile: path.join(outDir, 'main.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
    minify: options.minify ?? true,
    sourcemap: true,
    legalComments: 'linked',
    logLevel: 'warning',
  });
  for (const f of ['index.html', 'style.css']) await copyFile(path.join(here, f), path.join(outDir, f));
  for (const f of wasmFiles) await copyFile(path.join(wasmDir, f), path.join(outDir, f));
  const modelFiles: string[] = [];
  for (const f of await readdir(modelDir)) {
    if (!(await stat(path.join(modelDir, f))).isFile()) continue;
    await copyFile(path.join(modelDir, f), path.join(outDir, 'model', f));
    modelFiles.push(f);
  }
  return { outDir, bundleBytes: (await stat(path.join(outDir, 'main.js'))).size, modelFiles };
}

async function cli(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      out: { type: 'string' },
      'no-minify': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log('usage: npm run build:browser -- [--model <dir with model.json>] [--out <dir>] [--no-minify]');
    return;
  }
  const started = performance.now();
  const r = await buildBrowserPage({ modelDir: values.model, outDir: values.out, minify: !values['no-minify'] });
  const relative = path.relative(process.cwd(), r.outDir);
  const rel = relative === '' ? '.' : relative.startsWith('..') ? r.outDir : relative;
  console.log(`built ${rel}/ in ${Math.round(performance.now() - started)} ms: main.js ${(r.bundleBytes / 1e6).toFixed(2)} MB, model files ${r.modelFiles.join(', ')}`);
  console.log(`serve it, e.g.: python3 -m http.server -d ${rel} 8080   then open http://localhost:8080/`);
}

if (process.argv[1] != null && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  cli().catch((e: unknown) => {
    console.error(e instanceof BrowserBuildError ? `build:browser: ${e.message}` : e);
    process.exit(1);
  });
}
