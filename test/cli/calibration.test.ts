// --calibration none|temperature (issue 15, part 3) on the shipped model (its metadata kept T = 0.591 on the
// validation people), and evaluate's reliability diagram with intervals over people.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyTemperature } from '../../src/metrics/calibration.js';
import { saveModel } from '../../src/node/index.js';
import { buildNeuroStageNet } from '../../src/index.js';
import { SAMPLE, runInProcess } from './helpers.js';

const META = JSON.parse(readFileSync(join(__dirname, '..', '..', 'models', 'neurostagenet', 'metadata.json'), 'utf8'));
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'neurostagenet-calibration-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('CLI --calibration', () => {
  it('defaults to the metadata decision, none gives the softmax, temperature the fitted T; they differ as softmax(z/T) says', async () => {
    const base = ['predict', '--pretrained', SAMPLE, '--limit', '4', '--backend', 'cpu', '--json'];
    const byDefault = await runInProcess(base);
    const none = await runInProcess([...base, '--calibration', 'none']);
    const forced = await runInProcess([...base, '--calibration', 'temperature']);
    for (const r of [byDefault, none, forced]) expect(r.code, r.stderr).toBe(0);
    const [d, n, t] = [byDefault, none, forced].map((r) => JSON.parse(r.stdout));
    const served = META.calibration.kept ? META.calibration.fittedTemperature : 1;
    expect(d.temperature).toBe(served);
    expect(n).toMatchObject({ temperature: 1, calibration: 'none' });
    expect(t).toMatchObject({ temperature: META.calibration.fittedTemperature, calibration: 'temperature' });
    expect(byDefault.stderr).toMatch(/calibration: temperature T = 0\.591 \(kept/);
    expect(none.stderr).toMatch(/calibration: none \(--calibration none/);
    // The tempered probabilities are the softmax's log-probabilities divided by T, re-normalised.
    const p = n.predictions[0].probabilities as number[];
    const expected = applyTemperature([p.map((v) => Math.log(v))], META.calibration.fittedTemperature)[0];
    t.predictions[0].probabilities.forEach((v: number, c: number) => expect(v).toBeCloseTo(expected[c], 4));
  }, 120_000);

  it('rejects an unknown mode and temperature for a model without a fitted one (exit 2)', async () => {
    const bad = await runInProcess(['predict', '--pretrained', SAMPLE, '--calibration', 'platt', '--backend', 'cpu']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--calibration must be none or temperature, got 'platt'/);
    const dir = join(tmp, 'plain');
    const model = await buildNeuroStageNet({ inputShape: [32, 32, 1], seed: 3 });
    await saveModel(model, dir);
    model.dispose();
    const none = await runInProcess(['predict', dir, SAMPLE, '--limit', '1', '--calibration', 'temperature', '--backend', 'cpu']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no fitted temperature/);
  }, 120_000);

  it('evaluate --calibration none writes no calibrated panel; its reliability intervals resample people', async () => {
    const out = join(tmp, 'eval');
    const r = await runInProcess(['evaluate', '--pretrained', SAMPLE, '--limit', '64', '--backend', 'cpu', '--calibration', 'none', '--resamples', '200', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(out, 'report.txt'), 'utf8')).not.toMatch(/calibration \(temperature scaling\)/);
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    expect(metrics.reliabilityIntervals.model.people).toBe(2); // the first 64 rows hold two people
    expect(metrics.reliabilityIntervals.calibrated ?? null).toBeNull();
    expect(metrics.reliabilityIntervals.model.binAccuracy.length).toBe(metrics.calibrationBins.length);
    expect(existsSync(join(out, 'reliability_diagram.png'))).toBe(true);
  }, 120_000);
});
