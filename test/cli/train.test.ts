// neurostagenet train, spawned as a user runs it: one tiny epoch on the sample, then predict with the result.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE, runCli, runInProcess } from './helpers.js';

let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'neurostagenet-train-'));
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('neurostagenet train', () => {
  it('runs end to end and writes a model (with metadata) that predict can use', async () => {
    const out = join(tmp, 'run');
    const r = await runCli([
      'train', SAMPLE, '--test', SAMPLE, '--epochs', '1', '--image-size', '32', '--max-train', '16', '--batch-size', '8',
      '--out', out, '--backend', 'wasm', '--no-augment', '--split', 'rows',
    ], 170_000);
    expect(r.code, r.stderr).toBe(0);
    // The sample is four people, one per stage: no split by person can validate on every stage, so this run splits
    // its slices (the default, by subject, is tested in test/cli/train-options.test.ts).
    expect(r.stdout).toMatch(/split \(seed 42, by rows\): 16 train \/ 26 validation rows/);
    expect(r.stdout).toMatch(/epoch 1\/1 .*val_auc \d\.\d{4}/); // a plain line per epoch when stdout is not a terminal
    const meta = JSON.parse(readFileSync(join(out, 'model', 'metadata.json'), 'utf8')) as { classNames: string[]; temperature: number; ordinalOrder: number[] };
    expect(meta.classNames).toEqual(['Mild_Demented', 'Moderate_Demented', 'Non_Demented', 'Very_Mild_Demented']);
    expect(meta.ordinalOrder).toEqual([2, 3, 0, 1]);
    expect(meta.temperature).toBeGreaterThan(0);
    for (const f of ['history.json', 'run.json', 'report/metrics.json', 'best-model/model.json']) expect(existsSync(join(out, f)), f).toBe(true);
    const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { epochs: number; temperature: number };
    expect(run.epochs).toBe(1);
    expect(run.temperature).toBe(meta.temperature);

    const p = await runInProcess(['predict', join(out, 'model'), SAMPLE, '--limit', '3', '--json', '--backend', 'wasm']);
    expect(p.code, p.stderr).toBe(0);
    const pred = JSON.parse(p.stdout) as { temperature: number; predictions: unknown[] };
    expect(pred.predictions).toHaveLength(3);
    expect(pred.temperature).toBe(meta.temperature);
  }, 200_000);
});
