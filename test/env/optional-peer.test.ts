// Optional peers (@napi-rs/canvas for the report plots, h5wasm for Keras HDF5 weights) are imported on first use;
// a missing one gives an OptionalDependencyError naming the package and the command that installs it.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { NeuroStageNetError } from '../../src/errors.js';
import { OptionalDependencyError, isModuleNotFound, optionalPeer } from '../../src/env/optional-peer.js';
import { canvasPeer, renderRocCurvesPng } from '../../src/metrics/plots.js';
import { h5wasmPeer, openH5 } from '../../src/io/h5-reader.js';
import { MultiClassMetrics } from '../../src/metrics/multiclass-metrics.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The error Node's ESM loader gives for a package that is not installed. */
function notInstalled(name: string): Error {
  return Object.assign(new Error(`Cannot find package '${name}' imported from ${repoRoot}/src/metrics/plots.ts`), { code: 'ERR_MODULE_NOT_FOUND' });
}

// Bytes with the HDF5 signature, so openH5 gets as far as loading h5wasm.
const HDF5_HEAD = new Uint8Array([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a, ...new Array(64).fill(0)]);

const metrics = () => new MultiClassMetrics({ numClasses: 2 }).update([0, 1, 0, 1], [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]]).compute();

afterEach(() => {
  canvasPeer.setImporterForTest(null);
  h5wasmPeer.setImporterForTest(null);
});

describe('optional peers loaded on use', () => {
  it('a missing @napi-rs/canvas: the plots reject with the package and `npm install @napi-rs/canvas`', async () => {
    canvasPeer.setImporterForTest(() => Promise.reject(notInstalled('@napi-rs/canvas')));
    const err: unknown = await renderRocCurvesPng(metrics()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OptionalDependencyError);
    expect(err).toBeInstanceOf(NeuroStageNetError);
    expect(err).toMatchObject({ packageName: '@napi-rs/canvas', installCommand: 'npm install @napi-rs/canvas', reason: 'missing' });
    expect((err as Error).message).toBe(
      'Drawing the report plots (PNG) needs the optional package @napi-rs/canvas, which is not installed. Install it: npm install @napi-rs/canvas');
    // installed afterwards: the next call loads it (a failure is not cached)
    canvasPeer.setImporterForTest(null);
    const png = await renderRocCurvesPng(metrics(), { scale: 1 });
    expect(Array.from(png.subarray(1, 4))).toEqual([0x50, 0x4e, 0x47]);
  });

  it('a missing h5wasm: reading HDF5 weights rejects with `npm install h5wasm`', async () => {
    h5wasmPeer.setImporterForTest(() => Promise.reject(notInstalled('h5wasm')));
    const err: unknown = await openH5(HDF5_HEAD, 'weights.h5').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OptionalDependencyError);
    expect(err).toMatchObject({ packageName: 'h5wasm', installCommand: 'npm install h5wasm', reason: 'missing' });
    expect((err as Error).message).toMatch(/^Reading Keras HDF5 weights \(loadKerasWeights\) needs the optional package h5wasm, which is not installed\. Install it: npm install h5wasm$/);
  });

  it('an installed peer that fails to load (e.g. no native binary for this platform) says so, not "not installed"', async () => {
    const broken = Object.assign(new Error("Cannot find module '@napi-rs/canvas-linux-x64-gnu'"), { code: 'MODULE_NOT_FOUND' });
    canvasPeer.setImporterForTest(() => Promise.reject(broken));
    const err = (await renderRocCurvesPng(metrics()).catch((e: unknown) => e)) as OptionalDependencyError;
    expect(err.reason).toBe('failed');
    expect(err.message).toMatch(/installed but failed to load \(Cannot find module '@napi-rs\/canvas-linux-x64-gnu'\)\. Reinstall it for this platform: npm install @napi-rs\/canvas/);
    expect(err.cause).toBe(broken);
  });

  it('imports once and reuses the module', async () => {
    let calls = 0;
    const peer = optionalPeer('some-package', 'Testing', async () => ({ calls: ++calls }));
    expect(await peer.load()).toBe(await peer.load());
    expect(calls).toBe(1);
    expect(isModuleNotFound(notInstalled('some-package'), 'some-package')).toBe(true);
    expect(isModuleNotFound(notInstalled('some-package-dep'), 'some-package')).toBe(false);
  });

  it('in a Node process where neither package resolves, the node entry imports, and each feature names its package', () => {
    // Real module resolution with both packages hidden (the hooks throw Node's own "Cannot find package" error).
    const hooks = path.join(repoRoot, 'test/fixtures/env/register-hide-packages-hooks.mjs');
    const script = `
      import { MultiClassMetrics } from './src/metrics/multiclass-metrics.ts';
      import { renderRocCurvesPng, loadKerasWeights } from './src/node/index.ts';
      const out = {};
      const m = new MultiClassMetrics({ numClasses: 2 }).update([0, 1], [[0.8, 0.2], [0.3, 0.7]]).compute();
      try { await renderRocCurvesPng(m); } catch (e) { out.canvas = { name: e.name, message: e.message }; }
      const h5 = new Uint8Array(72); h5.set([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
      try { await loadKerasWeights(null, h5); } catch (e) { out.h5wasm = { name: e.name, message: e.message }; }
      console.log(JSON.stringify(out));`;
    const stdout = execFileSync(process.execPath, ['--import', 'tsx', '--import', hooks, '--input-type=module', '-e', script], {
      cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000,
      env: { ...process.env, NSN_HIDE_PACKAGES: '@napi-rs/canvas,h5wasm' },
    });
    const out = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, { name: string; message: string }>;
    expect(out.canvas).toEqual({ name: 'OptionalDependencyError', message: expect.stringMatching(/needs the optional package @napi-rs\/canvas, which is not installed\. Install it: npm install @napi-rs\/canvas$/) });
    expect(out.h5wasm).toEqual({ name: 'OptionalDependencyError', message: expect.stringMatching(/needs the optional package h5wasm, which is not installed\. Install it: npm install h5wasm$/) });
  });
});
