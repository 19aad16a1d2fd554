// Issue 15: the CLI's error messages in plain words: one line naming the path / layer / package, the right exit code,
// and checks done before anything slow (backend start, model load).
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, REPO, SAMPLE, errorLines, lines, runInProcess, type RunResult } from './helpers.js';

let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'neurostagenet-messages-'));
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

function expectOneLineError(stderr: string, ...fragments: string[]): string {
  const errors = errorLines(stderr);
  expect(errors, stderr).toHaveLength(1);
  expect(errors[0]).toMatch(/^neurostagenet: error: /);
  for (const f of fragments) expect(errors[0]).toContain(f);
  expect(stderr).not.toMatch(/\n\s+at /);
  return errors[0];
}

describe('a directory where a file is expected', () => {
  it('predict / explain: a folder is a DICOM series (or, for batch scoring, a folder of images): an empty one gets one line naming it (not EISDIR)', async () => {
    for (const args of [['predict'], ['predict', '--out', join(tmpdir(), `neurostagenet-empty-${process.pid}.csv`)], ['explain', '--out', join(tmp, 'out')]]) {
      const r = await runInProcess([args[0], '--pretrained', tmp, '--backend', 'cpu', ...args.slice(1)]);
      expect(r.code, r.stderr).toBe(1);
      const line = expectOneLineError(r.stderr, 'the folder is empty', tmp);
      expect(line).not.toContain('EISDIR');
    }
  });

  it('inspect / train / evaluate: exit 2, asks for a Parquet file', async () => {
    for (const args of [['inspect', tmp], ['train', tmp], ['train', SAMPLE, '--test', tmp], ['evaluate', '--pretrained', tmp]]) {
      const r = await runInProcess([...args, '--backend', 'cpu']);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      const line = expectOneLineError(r.stderr, `'${tmp}' is a directory: give a Parquet file`);
      expect(line).not.toContain('EISDIR');
    }
  });
});

describe('input paths are checked before the model loads', () => {
  it('predict: a missing input is named even when the model directory does not exist either', async () => {
    const r = await runInProcess(['predict', join(tmp, 'no-such-model'), SAMPLE, join(tmp, 'missing.png'), '--backend', 'cpu']);
    expect(r.code, r.stderr).toBe(2);
    expectOneLineError(r.stderr, `file '${join(tmp, 'missing.png')}' does not exist`);
  });

  it('predict / explain / evaluate --pretrained: no backend started, no model loaded, before the error', async () => {
    for (const command of ['predict', 'explain', 'evaluate']) {
      const started = performance.now();
      const r = await runInProcess([command, '--pretrained', join(tmp, 'missing.parquet'), '--backend', 'cpu']);
      expect(r.code, r.stderr).toBe(2);
      expectOneLineError(r.stderr, `file '${join(tmp, 'missing.parquet')}' does not exist`);
      // The old order printed 'backend: cpu' and 'model: ...' (the shipped model loaded) before the error.
      expect(r.stderr).not.toMatch(/^(backend|model):/m);
      expect(performance.now() - started).toBeLessThan(2000);
    }
  });
});

/** Runs the CLI in a child process whose module resolution hides @tensorflow/tfjs-node (whatever is installed). */
function runWithoutTfjsNode(args: string[]): Promise<RunResult> {
  const hooks = join(REPO, 'test/fixtures/backends/register-tfjs-node-hooks.mjs');
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', hooks, CLI, ...args], {
      cwd: REPO,
      env: { ...process.env, NSN_TFJS_NODE: 'absent', NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

describe('--backend tensorflow without @tensorflow/tfjs-node installed', () => {
  it('one clean line: not installed, how to install it; exit 2', async () => {
    const r = await runWithoutTfjsNode(['predict', '--pretrained', SAMPLE, '--backend', 'tensorflow']);
    expect(r.code, r.stderr).toBe(2);
    // Exactly one line on stderr: the old output was a 'backend tensorflow skipped: ...' note and then the same text
    // again in the error, joined as 'available:; - tensorflow: ...'.
    expect(lines(r.stderr), r.stderr).toHaveLength(1);
    const line = r.stderr.trim();
    expect(line).toMatch(/^neurostagenet: error: the tensorflow backend needs @tensorflow\/tfjs-node, which is not installed: npm install @tensorflow\/tfjs-node /);
    expect(line).toContain('install-tfjs-node-from-wheel.sh');
    expect(line).toContain('--backend wasm or cpu');
    expect(line).not.toMatch(/:;|; -|tfjs-node-gpu/);
    expect(line.match(/not installed/g)).toHaveLength(1);
    expect(r.stdout).toBe('');
  });

  it('a list falls back to the next backend, with one plain note why', async () => {
    const p = await runWithoutTfjsNode(['predict', '--pretrained', SAMPLE, '--limit', '1', '--backend', 'tensorflow,cpu']);
    expect(p.code, p.stderr).toBe(0);
    const notes = lines(p.stderr).filter((l) => l.startsWith('backend'));
    expect(notes).toEqual([
      expect.stringMatching(/^backend tensorflow skipped: needs @tensorflow\/tfjs-node, which is not installed: npm install @tensorflow\/tfjs-node /),
      'backend: cpu',
    ]);
  });
});

describe('explain: an unknown --layer', () => {
  it('names the bad layer, suggests at most 10 (closest, the default, the last feature maps) and how to list all; exit 2', async () => {
    const out = join(tmp, 'explain-out');
    const r = await runInProcess(['explain', '--pretrained', SAMPLE, '--layer', 'se_excit', '--backend', 'cpu', '--out', out]);
    expect(r.code, r.stderr).toBe(2);
    const line = expectOneLineError(r.stderr, "no layer 'se_excit' in the model; try: se_excite, ", "'neurostagenet explain --pretrained --list-layers'");
    expect(line).toContain('efficientnetb0/block4a_expand_activation (default)');
    const suggested = line.slice(line.indexOf('try: ') + 5, line.indexOf('; list them all')).split(', ');
    expect(suggested.length).toBeGreaterThan(1);
    expect(suggested.length).toBeLessThanOrEqual(10);
    // The old message listed every outer layer, input and classifier head included.
    expect(line).not.toMatch(/gray_input|head_dense1|predictions_softmax|Its layers are/);

    const typo = await runInProcess(['explain', '--pretrained', SAMPLE, '--layer', 'top_activaton', '--backend', 'cpu', '--out', out]);
    expect(typo.code, typo.stderr).toBe(2);
    expectOneLineError(typo.stderr, "no layer 'top_activaton' in the model; try: efficientnetb0/top_activation, ", 'efficientnetb0/block4a_expand_activation (default)');
  });

  it('--list-layers prints every layer path with its output shape, the default marked; no input needed', async () => {
    const r = await runInProcess(['explain', '--pretrained', '--list-layers', '--backend', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^se_excite +Multiply +\[\?, 2, 2, 256\] +\*$/m);
    expect(r.stdout).toMatch(/^efficientnetb0\/block4a_expand_activation +Activation +\[\?, 8, 8, 240\] +default$/m);
    expect(r.stdout).toMatch(/^efficientnetb0\/top_activation +Activation +\[\?, 2, 2, 1280\] +\*$/m);
    expect(r.stdout).toMatch(/^predictions +Dense +\[\?, 4\]$/m);
    expect(r.stdout).toMatch(/^\d+ layers; \* = a spatial feature map/m);
  });
});
