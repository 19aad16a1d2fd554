// selectBackend on the backends installed here: cpu and wasm always (dev dependencies), tensorflow
// (tfjs-node) only when ../shared/tools/install-tfjs-node-from-wheel.sh has been run. Whether tfjs-node is
// present is detected independently (Node's resolver) and both outcomes are asserted: present -> it is
// selected; absent -> selectBackend says so by name.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers tfjs-core's gradients, as an app using the model does
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BackendUnavailableError, selectBackend } from '../../src/index.js';
import { fusedBatchNormGradConfig } from '../../src/backends/training-gradients.js';
import { WASM_GRADIENT_KERNEL_NAMES } from '../../src/kernels/index.js';
import { NeuroStageNetError } from '../../src/errors.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(repoRoot, 'package.json'));

function resolvable(specifier: string): boolean {
  try {
    require.resolve(specifier);
    return true;
  } catch {
    return false;
  }
}

const hasTfjsNode = resolvable('@tensorflow/tfjs-node');
const hasTfjsNodeGpu = resolvable('@tensorflow/tfjs-node-gpu');

describe('selectBackend', () => {
  it("selects cpu when asked and leaves tfjs' gradient registry alone (FusedBatchNorm keeps tfjs-core's gradient)", async () => {
    const before = tf.getGradient(tf.FusedBatchNorm);
    expect(before).toBeDefined();
    expect(await selectBackend('cpu')).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(tf.getGradient(tf.FusedBatchNorm)).toBe(before);
    expect(tf.getGradient(tf.FusedBatchNorm)).not.toBe(fusedBatchNormGradConfig);
  });

  it('selects wasm when asked, registers the wasm training kernels, and can train a depthwise conv', async () => {
    const bnGradient = tf.getGradient(tf.FusedBatchNorm);
    expect(await selectBackend('wasm')).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    for (const name of WASM_GRADIENT_KERNEL_NAMES) expect(tf.getKernel(name, 'wasm'), name).toBeDefined();
    expect(tf.getGradient(tf.FusedBatchNorm)).toBe(bnGradient);
    const before = tf.memory().numTensors;
    const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, 3, 2], 0, 1, 'float32', 2) as tf.Tensor4D;
    const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same')))([x, w]);
    expect(dx!.shape).toEqual([2, 8, 8, 3]);
    expect(dw!.shape).toEqual([3, 3, 3, 2]);
    // d/dw of sum(conv) = sum of the input taps: finite, and not all zero
    expect(Math.max(...Array.from(dw!.dataSync()).map(Math.abs))).toBeGreaterThan(0);
    tf.dispose([x, w, dx!, dw!]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is idempotent: selecting wasm again keeps it running', async () => {
    expect(await selectBackend(['wasm', 'cpu'])).toBe('wasm');
  });

  it(`default order picks ${hasTfjsNode || hasTfjsNodeGpu ? "'tensorflow'" : "'wasm' (tfjs-node not installed here)"}`, async () => {
    const skipped: string[] = [];
    const got = await selectBackend(undefined, { onSkip: (b, reason) => skipped.push(`${b}: ${reason}`) });
    if (hasTfjsNode || hasTfjsNodeGpu) {
      expect(got).toBe('tensorflow');
      expect(skipped).toEqual([]);
    } else {
      expect(got).toBe('wasm');
      expect(skipped.some((s) => s.startsWith('tensorflow:') && s.includes('@tensorflow/tfjs-node is not installed')),
        skipped.join('\n')).toBe(true);
      // browser-only backends come before wasm in the default order and are reported, never tried, in Node
      expect(skipped.some((s) => s.startsWith('webgl:') && s.includes('only in browsers'))).toBe(true);
    }
    expect(tf.getBackend()).toBe(got);
  });

  it(`explicit 'tensorflow' ${hasTfjsNode ? 'selects tfjs-node' : 'reports that tfjs-node is not installed'}`, async () => {
    if (hasTfjsNode || hasTfjsNodeGpu) {
      expect(await selectBackend('tensorflow')).toBe('tensorflow');
      return;
    }
    const attempt = selectBackend('tensorflow');
    await expect(attempt).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(attempt).rejects.toBeInstanceOf(NeuroStageNetError);
    await expect(attempt).rejects.toThrow(/tensorflow: @tensorflow\/tfjs-node-gpu is not installed; @tensorflow\/tfjs-node is not installed/);
    await expect(attempt).rejects.toThrow(/docs\/backends\.md/);
    // a strict preference never falls back: the previous backend keeps running
    expect(['wasm', 'cpu']).toContain(tf.getBackend());
  });

  it('falls back along an explicit list and tells onSkip why', async () => {
    const skipped: Array<[string, string]> = [];
    const got = await selectBackend(['no-such-backend', 'webgpu', 'cpu'], { onSkip: (b, r) => skipped.push([b, r]) });
    expect(got).toBe('cpu');
    expect(skipped.map(([b]) => b)).toEqual(['no-such-backend', 'webgpu']);
    expect(skipped[0]![1]).toMatch(/unknown backend/);
    expect(skipped[1]![1]).toMatch(/only in browsers/);
  });

  it('rejects an empty preference list with a typed error', async () => {
    await expect(selectBackend([])).rejects.toThrow(NeuroStageNetError);
  });

  it('lists every failed backend in BackendUnavailableError', async () => {
    const attempt = selectBackend(['webgl', 'nope']);
    await expect(attempt).rejects.toThrow(/webgl: webgl runs only in browsers\n\s+- nope: unknown backend/);
    const err: unknown = await attempt.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as BackendUnavailableError).reasons.map((r) => r.backend)).toEqual(['webgl', 'nope']);
  });

  describe('in a child process whose module resolution hides or fakes tfjs-node (works whatever is installed)', () => {
    const hooks = path.join(repoRoot, 'test/fixtures/backends/register-tfjs-node-hooks.mjs');
    const script = `
      import { selectBackend } from './src/backends/select-backend.ts';
      try { console.log(JSON.stringify({ got: await selectBackend('tensorflow') })); }
      catch (e) { console.log(JSON.stringify({ name: e.name, message: e.message })); }`;
    const run = (mode: string) => {
      const out = execFileSync(process.execPath, ['--import', 'tsx', '--import', hooks, '--input-type=module', '-e', script], {
        cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000,
        env: { ...process.env, NSN_TFJS_NODE: mode },
      });
      return JSON.parse(out.trim().split('\n').pop()!) as { got?: string; name?: string; message?: string };
    };

    it("tfjs-node absent: selectBackend('tensorflow') says it is not installed and how to get it", () => {
      const r = run('absent');
      expect(r.got).toBeUndefined();
      expect(r.name).toBe('BackendUnavailableError');
      expect(r.message).toMatch(/tensorflow: @tensorflow\/tfjs-node-gpu is not installed; @tensorflow\/tfjs-node is not installed/);
      expect(r.message).toMatch(/Install @tensorflow\/tfjs-node/);
      expect(r.message).toMatch(/docs\/backends\.md/);
    });

    it('tfjs-node with its own copy of tfjs-core: refused with the dedupe instructions', () => {
      const r = run('duplicate-core');
      expect(r.name).toBe('BackendUnavailableError');
      expect(r.message).toMatch(/uses a different copy of @tensorflow\/tfjs-core \(its version 0\.0\.0-other-copy, ours 4\.22\.0\)/);
      expect(r.message).toMatch(/npm dedupe/);
    });
  });

  it('wasm in a fresh Node process: works without wasmPaths, with a file-path wasmPaths, and reports a bad path', () => {
    // one wasm initialisation per process, so each case runs in its own child process
    const script = (wasmPaths: string | null) => `
      import * as tf from '@tensorflow/tfjs-core';
      import { selectBackend } from './src/backends/select-backend.ts';
      const skipped = [];
      const opts = { onSkip: (b, r) => skipped.push(b + ': ' + r) };
      ${wasmPaths == null ? '' : `opts.wasmPaths = ${JSON.stringify(wasmPaths)};`}
      const got = await selectBackend(['wasm', 'cpu'], opts);
      const v = tf.sum(tf.tensor1d([1, 2, 3])).dataSync()[0];
      console.log(JSON.stringify({ got, v, skipped }));`;
    const run = (wasmPaths: string | null) => {
      const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script(wasmPaths)], {
        cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000,
      });
      return JSON.parse(out.trim().split('\n').pop()!) as { got: string; v: number; skipped: string[] };
    };
    const wasmDir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), path.sep);
    expect(run(null)).toEqual({ got: 'wasm', v: 6, skipped: [] });
    expect(run(wasmDir)).toEqual({ got: 'wasm', v: 6, skipped: [] });
    const bad = run(path.join(repoRoot, 'no-such-dir', path.sep));
    expect(bad.got).toBe('cpu');
    expect(bad.skipped.length).toBe(1);
    expect(bad.skipped[0]).toMatch(/^wasm: failed to initialise/);
  });
});
