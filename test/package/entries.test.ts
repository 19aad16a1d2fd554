// The built package as an app sees it: every entry imported in ESM, required in CJS and type-checked by strict
// TypeScript through package.json "exports"; the browser-safe entries bundled for a browser with no stubs.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTRIES } from '../../scripts/api-map.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BROWSER_SAFE = ['neurostagenet', 'neurostagenet/data', 'neurostagenet/train', 'neurostagenet/explain', 'neurostagenet/kernels'];
let app: string;

beforeAll(() => {
  // `npm test` builds dist/ before vitest runs; a lone `npx vitest run` of this file builds it here.
  if (!existsSync(path.join(repoRoot, 'dist', 'node.cjs'))) execFileSync('npx', ['tsup', '--silent'], { cwd: repoRoot, stdio: 'inherit' });
  app = mkdtempSync(path.join(tmpdir(), 'neurostagenet-app-'));
  mkdirSync(path.join(app, 'node_modules', '@tensorflow'), { recursive: true });
  // The app's node_modules: the package itself (as `npm install` of a folder would link it) and the tfjs peers.
  symlinkSync(repoRoot, path.join(app, 'node_modules', 'neurostagenet'), 'dir');
  for (const peer of ['tfjs-core', 'tfjs-layers', 'tfjs-backend-cpu']) {
    symlinkSync(path.join(repoRoot, 'node_modules', '@tensorflow', peer), path.join(app, 'node_modules', '@tensorflow', peer), 'dir');
  }
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }));
}, 600_000);

afterAll(() => rmSync(app, { recursive: true, force: true }));

const run = (file: string): string => execFileSync(process.execPath, [file], { cwd: app, encoding: 'utf8' });

describe('an app using the built package', () => {
  it('imports every entry in ESM, and a class is one class whichever entry it comes from', () => {
    writeFileSync(
      path.join(app, 'esm.mjs'),
      `${ENTRIES.map((e, i) => `import * as e${i} from '${e.specifier}';`).join('\n')}
const entries = [${ENTRIES.map((_, i) => `e${i}`).join(', ')}];
console.log(JSON.stringify({
  counts: entries.map((e) => Object.keys(e).length),
  sameDataset: e0.ParquetImageDataset === e1.ParquetImageDataset,
  sameGradCAM: e0.GradCAM === e3.GradCAM,
  dataErrorBase: new e1.MissingColumnError('x') instanceof e0.DataError && new e1.MissingColumnError('x') instanceof e0.NeuroStageNetError,
  modelIOBase: new e4.ModelFileError('x') instanceof e0.ModelIOError,
  builds: typeof e0.buildNeuroStageNet, trains: typeof e2.trainNeuroStageNet, saves: typeof e4.saveModel,
}));`,
    );
    const out = JSON.parse(run('esm.mjs'));
    expect(out.counts.every((n: number) => n > 5)).toBe(true);
    expect(out).toMatchObject({ sameDataset: true, sameGradCAM: true, dataErrorBase: true, modelIOBase: true, builds: 'function', trains: 'function', saves: 'function' });
  });

  it('loads the optional peers from both builds (h5wasm is ESM-only: a CJS require() of it would fail)', () => {
    const probe = (load: string) => `
const tf = ${load}('@tensorflow/tfjs-core'); const tfl = ${load}('@tensorflow/tfjs-layers'); ${load}('@tensorflow/tfjs-backend-cpu');
const run = async (node) => {
  await tf.setBackend('cpu');
  const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [1] })] });
  try { await node.loadKerasWeights(model, new Uint8Array(64)); return 'no error'; }
  catch (e) { return e.name; } finally { model.dispose(); }
};`;
    writeFileSync(path.join(app, 'peer.cjs'), `${probe('require')}\nrun(require('neurostagenet/node')).then((name) => console.log(name));`);
    writeFileSync(path.join(app, 'peer.mjs'), `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);\n${probe('require')}\nrun(await import('neurostagenet/node')).then((name) => console.log(name));`);
    // 64 zero bytes are no HDF5 file: h5wasm loads and refuses them (H5ReadError); a failed import would be an
    // OptionalDependencyError.
    expect(run('peer.cjs').trim()).toBe('H5ReadError');
    expect(run('peer.mjs').trim()).toBe('H5ReadError');
  }, 120_000);

  it('requires every entry in CJS', () => {
    writeFileSync(
      path.join(app, 'cjs.cjs'),
      `const entries = [${ENTRIES.map((e) => `require('${e.specifier}')`).join(', ')}];
console.log(JSON.stringify({ counts: entries.map((e) => Object.keys(e).length), same: entries[0].StratifiedSplit === entries[1].StratifiedSplit, card: typeof entries[0].GrayToRGBProjection }));`,
    );
    const out = JSON.parse(run('cjs.cjs'));
    expect(out.counts.every((n: number) => n > 5)).toBe(true);
    expect(out).toMatchObject({ same: true, card: 'function' });
  });

  it('type-checks under strict TypeScript with node16 and bundler resolution', () => {
    writeFileSync(
      path.join(app, 'app.ts'),
      `import { buildNeuroStageNet, GradCAM, MultiClassMetrics, type NeuroStageNetOptions, type Explanation } from 'neurostagenet';
import { ParquetImageDataset, type ParquetImageDatasetOptions } from 'neurostagenet/data';
import { trainNeuroStageNet, type TrainOptions } from 'neurostagenet/train';
import { gradCamMap } from 'neurostagenet/explain';
import { saveModel, writeEvaluationReport } from 'neurostagenet/node';
import { registerWasmGradientKernels } from 'neurostagenet/kernels';
const options: NeuroStageNetOptions = { inputShape: [64, 64, 1] };
const dsOptions: ParquetImageDatasetOptions = { imageColumn: 'image' };
const metrics: MultiClassMetrics = new MultiClassMetrics({ numClasses: 4 });
let explanation: Explanation | undefined;
let train: Partial<TrainOptions> = {};
export const used = [buildNeuroStageNet, GradCAM, ParquetImageDataset, trainNeuroStageNet, gradCamMap, saveModel, writeEvaluationReport, registerWasmGradientKernels, options, dsOptions, metrics, explanation, train];
`,
    );
    const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    for (const [module, resolution] of [['node16', 'node16'], ['esnext', 'bundler']]) {
      // No --skipLibCheck: the declarations the package ships must type-check too.
      const args = ['--noEmit', '--strict', '--target', 'es2022', '--module', module, '--moduleResolution', resolution, '--types', 'node', '--typeRoots', path.join(repoRoot, 'node_modules', '@types'), 'app.ts'];
      let output = '';
      try {
        execFileSync(process.execPath, [tsc, ...args], { cwd: app, encoding: 'utf8' });
      } catch (error) {
        output = String((error as { stdout?: string }).stdout ?? error);
      }
      // tfjs-layers' own declarations fail strict checks (TS2411 in keras_format/*.d.ts), so an app compiles with
      // skipLibCheck or sees them; what must be empty is every error outside @tensorflow's files, ours included.
      const ours = output.split('\n').filter((line) => /error TS/.test(line) && !line.includes('node_modules/@tensorflow/'));
      expect(ours, `${module}/${resolution}`).toEqual([]);
    }
  }, 300_000);

  it('bundles the browser-safe entries for a browser with no stubs: no Node built-ins, pngjs, canvas or h5wasm', async () => {
    for (const specifier of BROWSER_SAFE) {
      const result = await build({
        stdin: { contents: `export * from '${specifier}';`, resolveDir: app, loader: 'js' },
        bundle: true,
        write: false,
        platform: 'browser',
        format: 'esm',
        external: ['@tensorflow/*'],
        logLevel: 'silent',
        metafile: true,
      });
      const inputs = Object.keys(result.metafile.inputs);
      expect(inputs.filter((f) => /node_modules\/(pngjs|@napi-rs|h5wasm|apache-arrow)\//.test(f)), specifier).toEqual([]);
      // Node built-ins are reached only through process.getBuiltinModule('node:...') when a path is used: a string, not
      // an import a bundler resolves. Anything else naming a built-in would be an import.
      // dicom-parser's UMD wrapper names zlib in its AMD branch (define("dicom-parser", ["zlib"], ...)), never taken in a
      // bundle; its require("zlib") is disabled by its package.json "browser" field, which the metafile shows.
      expect(inputs.filter((f) => /(^|\/)zlib$/.test(f) && !f.startsWith('(disabled):')), specifier).toEqual([]);
      const code = result.outputFiles[0].text
        .replace(/getBuiltinModule\(\s*["'][^"']+["']\s*\)/g, '')
        .replace(/define\(\s*"dicom-parser"\s*,\s*\[\s*"zlib"\s*\]/g, '');
      expect(code.match(/["'](node:[a-z_/]+|fs|path|zlib|worker_threads)["']/g) ?? [], specifier).toEqual([]);
    }
  }, 300_000);
});
