// readVolume against nibabel (test/fixtures/volumes/reference.json, written by make_reference.py beside it).
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readVolume, VolumeReadError, type Volume } from '../../src/data/index.js';

const VOLUMES = join(__dirname, '..', '..', '..', 'shared', 'data', 'volumes');
const REFERENCE = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'volumes', 'reference.json'), 'utf8')) as {
  files: Record<string, {
    dims: number[]; spacing: number[]; orientation: string; datatype: string; affine: number[][];
    canonical: { dims: number[]; affine: number[][]; orientation: string; voxels: Array<{ ijk: number[]; value: number }>; axialSums: number[] };
  }>;
};

const at = (v: Volume, [i, j, k]: number[]) => v.voxels[i + v.dims[0] * (j + v.dims[1] * k)];
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'neurostagenet-volume-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe.runIf(existsSync(VOLUMES))('readVolume reads every NIfTI / ANALYZE file of ../shared/data/volumes as nibabel does', () => {
  for (const [name, ref] of Object.entries(REFERENCE.files)) {
    it(`${name}: dims, spacing, orientation, type, affine; canonical voxels and axial slice sums`, async () => {
      const stored = await readVolume(join(VOLUMES, name), { canonical: false });
      expect(stored.dims).toEqual(ref.dims);
      stored.spacing.forEach((s, i) => expect(s).toBeCloseTo(ref.spacing[i], 5));
      expect(stored.orientation).toBe(ref.orientation);
      expect(stored.datatype).toBe(ref.datatype);
      stored.affine.flat().forEach((v, i) => expect(v, `affine[${i}]`).toBeCloseTo(ref.affine.flat()[i], 4));
      const canonical = await readVolume(join(VOLUMES, name));
      expect(canonical.dims).toEqual(ref.canonical.dims);
      expect(canonical.orientation).toBe('RAS');
      canonical.affine.flat().forEach((v, i) => expect(v, `canonical affine[${i}]`).toBeCloseTo(ref.canonical.affine.flat()[i], 4));
      for (const { ijk, value } of ref.canonical.voxels) expect(at(canonical, ijk), `voxel ${ijk}`).toBeCloseTo(value, 3);
      const [nx, ny, nz] = canonical.dims;
      for (let k = 0; k < nz; k++) {
        let sum = 0;
        for (let i = k * nx * ny; i < (k + 1) * nx * ny; i++) sum += canonical.voxels[i];
        expect(Math.abs(sum - ref.canonical.axialSums[k]), `axial slice ${k}`).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(ref.canonical.axialSums[k])));
      }
    }, 60_000);
  }

  it('reads bytes as it reads paths (a .nii.gz, a .hdr/.img pair), in a browser too', async () => {
    const fromPath = await readVolume(join(VOLUMES, 'avg152T1_LR_nifti.nii.gz'));
    const fromBytes = await readVolume(new Uint8Array(readFileSync(join(VOLUMES, 'avg152T1_LR_nifti.nii.gz'))), { name: 'avg152' });
    expect(fromBytes.source).toBe('avg152');
    expect(Array.from(fromBytes.voxels)).toEqual(Array.from(fromPath.voxels));
    const pair = await readVolume({ header: readFileSync(join(VOLUMES, 'air.hdr.gz')), image: readFileSync(join(VOLUMES, 'air.img.gz')) });
    expect(pair.dims).toEqual(REFERENCE.files['air.hdr.gz'].canonical.dims);
    const fromImg = await readVolume(join(VOLUMES, 'air.img.gz')); // either file of the pair names it
    expect(Array.from(fromImg.voxels)).toEqual(Array.from(pair.voxels));
  });

  it('little- and big-endian copies of one volume read the same', async () => {
    const little = await readVolume(join(VOLUMES, 'little.nii.gz'));
    const big = await readVolume(join(VOLUMES, 'big.nii.gz'));
    expect(Array.from(big.voxels)).toEqual(Array.from(little.voxels));
  });

  it('bad files get a VolumeReadError naming the file', async () => {
    const notNifti = join(VOLUMES, 'not-nifti.nii');
    await expect(readVolume(notNifti)).rejects.toThrow(VolumeReadError);
    await expect(readVolume(notNifti)).rejects.toThrow(/not-nifti\.nii/);
    // DICOM is read (test/data/volume-dicom.test.ts); a folder without DICOM images is refused.
    await expect(readVolume(tmp)).rejects.toThrow(/no DICOM image files|the folder is empty/);
    await expect(readVolume(join(VOLUMES, 'enh.dcm'))).resolves.toMatchObject({ format: 'dicom', dims: [64, 64, 6] });
    await expect(readVolume(join(tmp, 'missing.nii'))).rejects.toThrow(/no such file/);
    // A truncated .nii.gz: the gzip stream ends early, or the voxels are short.
    const whole = readFileSync(join(VOLUMES, 'FLAIR.nii.gz'));
    const cut = join(tmp, 'cut.nii.gz');
    await writeFile(cut, whole.subarray(0, Math.floor(whole.length / 2)));
    await expect(readVolume(cut)).rejects.toThrow(/cut\.nii\.gz/);
    const { gunzipSync } = await import('node:zlib');
    const raw = gunzipSync(whole);
    const short = join(tmp, 'short.nii.gz');
    await writeFile(short, gzipSync(raw.subarray(0, raw.length - 1000)));
    await expect(readVolume(short)).rejects.toThrow(/holds \d+ bytes but the header's 124x160x140 uint8 voxels need \d+: truncated/);
    // A pair whose image file is too small; a header without its image.
    const hdr = readFileSync(join(VOLUMES, 'air.hdr.gz'));
    await writeFile(join(tmp, 'pair.hdr.gz'), hdr);
    await writeFile(join(tmp, 'pair.img.gz'), gzipSync(Buffer.alloc(100)));
    await expect(readVolume(join(tmp, 'pair.hdr.gz'))).rejects.toThrow(/the image file holds 100 bytes/);
    await writeFile(join(tmp, 'alone.hdr.gz'), hdr);
    await expect(readVolume(join(tmp, 'alone.hdr.gz'))).rejects.toThrow(/needs both files: no \.img file/);
  });
});

describe('toCanonical, by hand', () => {
  it('flips an L-pointing axis: voxels reversed, affine column negated and its offset moved to the far voxel', async () => {
    const { toCanonical } = await import('../../src/data/volume/volume.js');
    const volume: Volume = {
      voxels: Float32Array.from([1, 2, 3, 4, 5, 6]), dims: [3, 2, 1], spacing: [1, 2, 3],
      affine: [[-1, 0, 0, 10], [0, 2, 0, 0], [0, 0, 3, 0], [0, 0, 0, 1]], affineFrom: 'sform', datatype: 'uint8',
      scaling: { slope: 1, intercept: 0 }, format: 'nifti1', frames: 1, source: 'hand', orientation: 'LAS',
    };
    const c = toCanonical(volume);
    expect(Array.from(c.voxels)).toEqual([3, 2, 1, 6, 5, 4]);
    expect(c.affine[0]).toEqual([1, 0, 0, 8]); // new x = 0 is old x = 2, at world 10 - 2 = 8
    expect(c.orientation).toBe('RAS');
  });

  it('swaps axes when the first voxel axis points anterior and the second right (ARS -> RAS)', async () => {
    const { toCanonical } = await import('../../src/data/volume/volume.js');
    const volume: Volume = {
      voxels: Float32Array.from([1, 2, 3, 4, 5, 6]), dims: [3, 2, 1], spacing: [1, 1, 1],
      affine: [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], affineFrom: 'sform', datatype: 'uint8',
      scaling: { slope: 1, intercept: 0 }, format: 'nifti1', frames: 1, source: 'hand', orientation: 'ARS',
    };
    const c = toCanonical(volume);
    expect(c.dims).toEqual([2, 3, 1]);
    // old (x, y) = value 1 + x + 3y; new (i = old y, j = old x) at i + 2j
    expect(Array.from(c.voxels)).toEqual([1, 4, 2, 5, 3, 6]);
  });
});
