// sliceVolume: the training slices' geometry, checked on a synthetic ball by hand, and the input check on real scans.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readVolume, sliceVolume, volumeSlicesSource, type Volume } from '../../src/data/index.js';
import { deserializeInputCheck, inputVerdict } from '../../src/data/input-check.js';

const VOLUMES = join(__dirname, '..', '..', '..', 'shared', 'data', 'volumes');

// A ball of radius 40 mm (value 100, background 0) at the centre of a 1 mm, 120^3 RAS volume.
function ball(): Volume {
  const n = 120;
  const voxels = new Float32Array(n * n * n);
  for (let z = 0; z < n; z++) for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) {
    if ((x - 59.5) ** 2 + (y - 59.5) ** 2 + (z - 59.5) ** 2 <= 40 ** 2) voxels[x + n * (y + n * z)] = 100;
  }
  return {
    voxels, dims: [n, n, n], spacing: [1, 1, 1], affine: [[1, 0, 0, -60], [0, 1, 0, -60], [0, 0, 1, -60], [0, 0, 0, 1]],
    affineFrom: 'sform', datatype: 'uint8', scaling: { slope: 1, intercept: 0 }, format: 'nifti1', frames: 1, source: 'ball', orientation: 'RAS',
  };
}

function extent(image: Float32Array, h: number, w: number): { rows: number; cols: number; centre: [number, number] } {
  let r0 = h, r1 = -1, c0 = w, c1 = -1;
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) if (image[r * w + c] > 127) { r0 = Math.min(r0, r); r1 = Math.max(r1, r); c0 = Math.min(c0, c); c1 = Math.max(c1, c); }
  return { rows: r1 - r0 + 1, cols: c1 - c0 + 1, centre: [(r0 + r1) / 2, (c0 + c1) / 2] };
}

describe('sliceVolume', () => {
  it('cuts 32 levels over 10..90% of the head, in 0..255, centred, squashed vertically as 208 mm -> 128 px', () => {
    const s = sliceVolume(ball());
    expect(s.images).toHaveLength(32);
    expect(s.size).toEqual([128, 128]);
    // The head spans z 20..99 (radius 40 around 59.5): levels from 20 + 0.1 * 79 to 20 + 0.9 * 79.
    expect(s.levels[0]).toBeCloseTo(20 + 0.1 * 79, 6);
    expect(s.levels[31]).toBeCloseTo(20 + 0.9 * 79, 6);
    for (const im of s.images) expect(Math.min(...im) >= 0 && Math.max(...im) <= 255).toBe(true);
    // The middle level cuts the ball's 80 mm equator: 80 / 176 * 128 ≈ 58 px wide, 80 / 208 * 128 ≈ 49 px tall.
    const mid = extent(s.images[15], 128, 128);
    expect(Math.abs(mid.cols - (80 / 176) * 128)).toBeLessThanOrEqual(3);
    expect(Math.abs(mid.rows - (80 / 208) * 128)).toBeLessThanOrEqual(3);
    expect(Math.abs(mid.centre[0] - 63.5)).toBeLessThanOrEqual(1.5);
    expect(Math.abs(mid.centre[1] - 63.5)).toBeLessThanOrEqual(1.5);
    // Towards the ends the cross-section shrinks.
    expect(extent(s.images[0], 128, 128).cols).toBeLessThan(mid.cols);
    expect(s.notes.join(' ')).toMatch(/squashes the anatomy vertically/);
  });

  it('gives the model size asked, and a data set of them; rejects bad options and empty volumes', () => {
    const s = sliceVolume(ball(), { size: [64, 64], count: 4 });
    expect(s.images.map((im) => im.length)).toEqual([4096, 4096, 4096, 4096]);
    const source = volumeSlicesSource(s, 'ball');
    expect(source.length).toBe(4);
    expect(source.subjects).toEqual(['ball', 'ball', 'ball', 'ball']);
    expect(() => sliceVolume(ball(), { count: 0 })).toThrow(/count must be a positive integer/);
    expect(() => sliceVolume(ball(), { range: [0.9, 0.1] })).toThrow(/range/);
    const empty = { ...ball(), voxels: new Float32Array(120 ** 3) };
    expect(() => sliceVolume(empty)).toThrow(/holds no head/);
  });

  it('a thin volume gives one slice per axial level it holds, not 32 copies, and says so', () => {
    // Three 1 mm levels of the ball's equator: the head spans z 0..2, 10..90% of it holds floor(2 * 0.8) + 1 = 2 levels.
    const b = ball();
    const n = 120;
    const thin: Volume = { ...b, dims: [n, n, 3], voxels: b.voxels.slice(58 * n * n, 61 * n * n), affine: [[1, 0, 0, -60], [0, 1, 0, -60], [0, 0, 1, -2], [0, 0, 0, 1]] };
    const s = sliceVolume(thin);
    expect(s.images).toHaveLength(2);
    expect(s.levels[0]).toBeCloseTo(0.2, 6);
    expect(s.levels[1]).toBeCloseTo(1.8, 6);
    expect(s.notes[0]).toMatch(/the volume holds only 2 axial level\(s\) there, not the 32 asked/);
    const single = sliceVolume({ ...thin, dims: [n, n, 1], voxels: thin.voxels.slice(n * n, 2 * n * n) });
    expect(single.images).toHaveLength(1);
  });
});

describe.runIf(existsSync(VOLUMES))('slices of real scans unlike the training data', () => {
  it("the shipped model's input check refuses the slices of chris_t1 (skull), FLAIR and the MNI template", async () => {
    const metadata = JSON.parse(readFileSync(join(__dirname, '..', '..', 'models', 'neurostagenet', 'metadata.json'), 'utf8'));
    const check = deserializeInputCheck(metadata.inputCheck);
    for (const f of ['chris_t1.nii.gz', 'FLAIR.nii.gz', 'avg152T1_LR_nifti.nii.gz']) {
      const s = sliceVolume(await readVolume(join(VOLUMES, f)), { size: [64, 64] });
      const refused = s.images.filter((im) => !inputVerdict(check, im, 64, 64).accepted).length;
      expect(refused / s.images.length, f).toBeGreaterThanOrEqual(0.95);
    }
  }, 60_000);
});
