// The input check in the CLI (issue 15): refused images get no stage and no map, say why, exit 3 when all are
// refused; --allow-unchecked classifies them anyway. The shipped model (64x64, with its check) on cpu.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePng, grayToRgba } from '../../src/explain/index.js';
import { SAMPLE, runInProcess } from './helpers.js';

const VOLUMES = join(__dirname, '..', '..', '..', 'shared', 'data', 'volumes');
let tmp: string;
let black: string;
let noise: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'neurostagenet-check-'));
  black = join(tmp, 'black.png');
  noise = join(tmp, 'noise.png');
  await writeFile(black, await encodePng(grayToRgba(new Uint8Array(64 * 64), 64, 64)));
  let seed = 3;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  await writeFile(noise, await encodePng(grayToRgba(Uint8Array.from({ length: 64 * 64 }, () => Math.floor(random() * 256)), 64, 64)));
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('CLI input check', () => {
  it('predict gives no stage for a black image and for noise, says why, and exits 3', async () => {
    const r = await runInProcess(['predict', '--pretrained', black, noise, '--backend', 'cpu']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/refused 2 image\(s\): no stage given/);
    expect(r.stderr).toMatch(/black\.png: a constant image \(every pixel 0\)/);
    expect(r.stderr).toMatch(/noise\.png: .*score/);
    expect(r.stdout).not.toMatch(/Mild|Non|Moderate/);
  }, 120_000);

  it('--allow-unchecked classifies them anyway, with a warning; --json lists verdicts', async () => {
    const r = await runInProcess(['predict', '--pretrained', black, '--backend', 'cpu', '--allow-unchecked', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/--allow-unchecked: every image classified/);
    const json = JSON.parse(r.stdout);
    expect(json.inputCheck).toBe('allowed');
    expect(json.predictions).toHaveLength(1);
    const refused = JSON.parse((await runInProcess(['predict', '--pretrained', black, '--backend', 'cpu', '--json'])).stdout);
    expect(refused.predictions).toHaveLength(0);
    expect(refused.refused[0]).toMatchObject({ input: black, reason: expect.stringMatching(/constant image/) });
  }, 120_000);

  it('predict on real slices (the bundled sample) classifies what the check accepts', async () => {
    const r = await runInProcess(['predict', '--pretrained', SAMPLE, '--limit', '16', '--backend', 'cpu', '--json']);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.inputCheck).toBe('checked');
    expect(json.predictions.length + json.refused.length).toBe(16);
    expect(json.predictions.length).toBeGreaterThanOrEqual(15);
  }, 120_000);

  it('explain writes no map for a refused image and exits 3', async () => {
    const r = await runInProcess(['explain', '--pretrained', black, '--backend', 'cpu', '--out', join(tmp, 'maps')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no maps written/);
  }, 120_000);
});

describe.runIf(existsSync(VOLUMES))('CLI predict on volumes', () => {
  it('a NIfTI scan unlike the training slices: no stage, the reason, exit 3; --json gives the slices', async () => {
    const r = await runInProcess(['predict', '--pretrained', join(VOLUMES, 'chris_t1.nii.gz'), '--backend', 'cpu']);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/chris_t1\.nii\.gz: no stage: the input check refused 32 of 32 slices/);
    expect(r.stderr).toMatch(/squashes the anatomy vertically/);
    const json = JSON.parse((await runInProcess(['predict', '--pretrained', join(VOLUMES, 'avg152T1_LR_nifti.nii.gz'), '--backend', 'cpu', '--json'])).stdout);
    expect(json.volumes[0].slices).toHaveLength(32);
    expect(json.volumes[0].person.refused).toBe(true);
    const bad = await runInProcess(['predict', '--pretrained', join(VOLUMES, 'not-nifti.nii'), '--backend', 'cpu']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/not a NIfTI-1, NIfTI-2 or ANALYZE 7\.5 file .*not-nifti\.nii/);
  }, 180_000);
});
