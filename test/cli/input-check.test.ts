// The input check in the CLI (issue 15): refused images get no stage and no map, say why, exit 3 when all are
// refused; --allow-unchecked classifies them anyway. The shipped model (64x64, with its check) on cpu.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { decode } from 'fast-png';
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

describe.runIf(existsSync(VOLUMES))('CLI explain on volumes, and a forced stage', () => {
  it('explain writes one montage per scan, even refused (every slice gray, none mapped), and exits 3 when all are refused', async () => {
    const out = join(tmp, 'montages');
    const r = await runInProcess(['explain', '--pretrained', join(VOLUMES, 'FLAIR.nii.gz'), '--backend', 'cpu', '--out', out]);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/FLAIR\.nii\.gz: no stage: the input check refused 32 of 32 slices .* -> .*FLAIR_montage_layercam\.png/);
    expect(r.stderr).toMatch(/0 map\(s\)/);
    const png = decode(await readFile(join(out, 'FLAIR_montage_layercam.png')));
    // 8 x 4 tiles of 64 px slices at scale 2, 6 px apart, 30 px label rows; header 78, padding 10, scale bar 70.
    expect([png.width, png.height]).toEqual([10 + 8 * 128 + 7 * 6 + 70, 78 + 4 * 128 + 3 * 30 + 30 + 10]);
    const bad = await runInProcess(['explain', '--pretrained', join(tmp, 'black.png'), '--class', 'person', '--backend', 'cpu']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--class person is for scans/);
  }, 180_000);

  it('predict --allow-unchecked gives a stage but says the check accepts none of its slices', async () => {
    const r = await runInProcess(['predict', '--pretrained', join(VOLUMES, 'avg152T1_LR_nifti.nii.gz'), '--backend', 'cpu', '--allow-unchecked']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/avg152T1_LR_nifti\.nii\.gz: \w+ \(p = 0\.\d+, mean of 32 of 32 slices; forced with --allow-unchecked: the input check accepts only 0 of them\)/);
  }, 180_000);
});

