// readVolume on DICOM against pydicom + the standard geometry formula (test/fixtures/volumes/dicom-reference.json,
// written by make_dicom_reference.py beside it).
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readVolume, VolumeReadError, type Volume } from '../../src/data/index.js';
import { isDicomBytes, readDicom } from '../../src/data/volume/index.js';

const VOLUMES = join(__dirname, '..', '..', '..', 'shared', 'data', 'volumes');
const FIXTURES = join(__dirname, '..', 'fixtures', 'volumes');
const T1 = join(VOLUMES, 'dicom-t1');
interface Case {
  files: string[]; seriesUid: string; seriesDescription: string; modality: string; transferSyntax: string; bitsStored: number; datatype: string;
  rescale: { slope: number; intercept: number }; dims: number[]; spacing: number[]; affine: number[][]; orientation: string;
  voxels: Array<{ ijk: number[]; value: number }>; sliceSums: number[];
  canonical: { dims: number[]; affine: number[][]; orientation: string; axialSums: number[] };
}
const REFERENCE = JSON.parse(readFileSync(join(FIXTURES, 'dicom-reference.json'), 'utf8')) as { cases: Record<string, Case>; otherSeriesUid: string };

const at = (v: Volume, [i, j, k]: number[]) => v.voxels[i + v.dims[0] * (j + v.dims[1] * k)];
const sliceSums = (v: Volume) => {
  const plane = v.dims[0] * v.dims[1];
  return Array.from({ length: v.dims[2] }, (_, k) => {
    let s = 0;
    for (let i = k * plane; i < (k + 1) * plane; i++) s += v.voxels[i];
    return s;
  });
};
const expectSums = (got: number[], want: number[], what: string) => {
  expect(got).toHaveLength(want.length);
  got.forEach((s, k) => expect(Math.abs(s - want[k]), `${what} ${k}: ${s} vs ${want[k]}`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want[k]))));
};
const pathOf = (name: string) => (name.startsWith('dicom-variants/') ? join(FIXTURES, name) : join(VOLUMES, name));

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'neurostagenet-dicom-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe.runIf(existsSync(VOLUMES))('readVolume reads DICOM as pydicom and the standard LPS->RAS geometry say', () => {
  for (const [name, ref] of Object.entries(REFERENCE.cases)) {
    it(`${name}: dims, spacing, affine, orientation, type, scaling, voxels, slice sums; canonical dims, orientation, axial sums`, async () => {
      const stored = await readVolume(pathOf(name), { canonical: false });
      expect(stored.format).toBe('dicom');
      expect(stored.affineFrom).toBe('dicom');
      expect(stored.dims).toEqual(ref.dims);
      stored.spacing.forEach((s, i) => expect(Math.abs(s - ref.spacing[i]), `spacing[${i}]`).toBeLessThanOrEqual(1e-4));
      stored.affine.flat().forEach((v, i) => expect(Math.abs(v - ref.affine.flat()[i]), `affine[${i}]`).toBeLessThanOrEqual(1e-3));
      expect(stored.orientation).toBe(ref.orientation);
      expect(stored.datatype).toBe(ref.datatype);
      expect(stored.scaling).toEqual(ref.rescale);
      expect(stored.frames).toBe(1);
      expect(stored.series).toMatchObject({ uid: ref.seriesUid, transferSyntax: ref.transferSyntax, bitsStored: ref.bitsStored, files: ref.files.length, modality: ref.modality });
      expect(stored.series?.description ?? '').toBe(ref.seriesDescription);
      for (const { ijk, value } of ref.voxels) expect(at(stored, ijk), `voxel ${ijk}`).toBeCloseTo(value, 3);
      expectSums(sliceSums(stored), ref.sliceSums, 'slice');
      const canonical = await readVolume(pathOf(name));
      expect(canonical.dims).toEqual(ref.canonical.dims);
      expect(canonical.orientation).toBe(ref.canonical.orientation);
      canonical.affine.flat().forEach((v, i) => expect(Math.abs(v - ref.canonical.affine.flat()[i]), `canonical affine[${i}]`).toBeLessThanOrEqual(1e-3));
      expectSums(sliceSums(canonical), ref.canonical.axialSums, 'axial slice');
    }, 60_000);
  }

  it('bytes read as paths do (a single file, an enhanced file, a series as an array of files) - the browser route', async () => {
    for (const name of ['dicom-t1/1-002.dcm', 'enh.dcm']) {
      const bytes = new Uint8Array(readFileSync(join(VOLUMES, name)));
      expect(isDicomBytes(bytes)).toBe(true);
      const fromPath = await readVolume(join(VOLUMES, name));
      const fromBytes = await readVolume(bytes, { name: 'scan' });
      expect(fromBytes.source).toBe('scan');
      expect(fromBytes.dims).toEqual(fromPath.dims);
      expect(fromBytes.affine).toEqual(fromPath.affine);
      expect(Array.from(fromBytes.voxels)).toEqual(Array.from(fromPath.voxels));
    }
    const files = readdirSync(T1).reverse().map((f) => ({ name: f, bytes: new Uint8Array(readFileSync(join(T1, f))) }));
    const fromArray = await readVolume(files, { name: 'series' });
    const fromFolder = await readVolume(T1);
    expect(fromArray.source).toBe('series');
    expect(fromArray.affine).toEqual(fromFolder.affine);
    expect(Array.from(fromArray.voxels)).toEqual(Array.from(fromFolder.voxels));
  });

  it('orders a folder\'s slices by position, not by file name; skips non-DICOM and hidden files and says so', async () => {
    const dir = join(tmp, 'shuffled');
    mkdirSync(dir);
    // 1-001 (lowest) gets the last name, 1-003 the first.
    copyFileSync(join(T1, '1-001.dcm'), join(dir, 'c'));
    copyFileSync(join(T1, '1-002.dcm'), join(dir, 'a.dcm'));
    copyFileSync(join(T1, '1-003.dcm'), join(dir, 'b'));
    writeFileSync(join(dir, 'README'), 'not an image\n');
    writeFileSync(join(dir, '.DS_Store'), Buffer.alloc(200));
    copyFileSync(join(FIXTURES, 'dicom-bad', 'no-pixels.dcm'), join(dir, 'DICOMDIR'));
    const shuffled = await readVolume(dir, { canonical: false });
    const original = await readVolume(T1, { canonical: false });
    expect(shuffled.dims).toEqual([512, 512, 3]);
    expect(shuffled.affine).toEqual(original.affine);
    expect(Array.from(shuffled.voxels)).toEqual(Array.from(original.voxels));
    expect(shuffled.notes?.join('\n')).toMatch(/skipped 3 of 6 file\(s\): 1 hidden or not a file, 1 no pixel data, 1 not DICOM/);
    expect(shuffled.series?.files).toBe(3);
  });

  it('a folder with two series is refused with both listed; `series` picks one', async () => {
    const dir = join(tmp, 'two-series');
    mkdirSync(dir);
    for (const f of readdirSync(T1)) copyFileSync(join(T1, f), join(dir, f));
    copyFileSync(join(FIXTURES, 'dicom-bad', 'other-series.dcm'), join(dir, 'other.dcm'));
    const t1Uid = REFERENCE.cases['dicom-t1'].seriesUid;
    const err = await readVolume(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VolumeReadError);
    const message = (err as Error).message;
    expect(message).toContain('2 DICOM series');
    expect(message).toContain(`${t1Uid} 't1_mpr_tra_gk_v4' (MR, 3 files)`);
    expect(message).toContain(`${REFERENCE.otherSeriesUid} 'other series (test fixture)' (MR, 1 file)`);
    expect(message).toMatch(/--series UID/);
    expect(message).toContain(dir);
    const t1 = await readVolume(dir, { series: t1Uid });
    expect(t1.dims).toEqual([512, 512, 3]);
    expect(t1.notes?.join('\n')).toMatch(/1 file\(s\) of other series left out/);
    const other = await readVolume(dir, { series: REFERENCE.otherSeriesUid, canonical: false });
    expect(other.dims).toEqual([16, 16, 1]);
    expect(other.series?.description).toBe('other series (test fixture)');
    await expect(readVolume(dir, { series: '1.2.3' })).rejects.toThrow(/no DICOM series 1\.2\.3 here; the series are: /);
  });

  it('bad inputs get a VolumeReadError naming the file or folder and the reason', async () => {
    const noPixels = join(FIXTURES, 'dicom-bad', 'no-pixels.dcm');
    await expect(readVolume(noPixels)).rejects.toThrow(VolumeReadError);
    await expect(readVolume(noPixels)).rejects.toThrow(/no pixel data \(7FE0,0010\): not an image .*no-pixels\.dcm/);
    const compressed = join(FIXTURES, 'dicom-bad', 'compressed.dcm');
    await expect(readVolume(compressed)).rejects.toThrow(/transfer syntax 1\.2\.840\.10008\.1\.2\.4\.50 \(JPEG baseline\): only uncompressed DICOM .*gdcmconv --raw.*dcm2niix.*compressed\.dcm/);
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    await expect(readVolume(empty)).rejects.toThrow(/no files: the folder is empty .*empty/);
    const noDicom = join(tmp, 'no-dicom');
    mkdirSync(noDicom);
    writeFileSync(join(noDicom, 'README.txt'), 'x'.repeat(500));
    copyFileSync(noPixels, join(noDicom, 'DICOMDIR'));
    await expect(readVolume(noDicom)).rejects.toThrow(/no DICOM image files among 2 file\(s\) \(1 no pixel data, 1 not DICOM.*no-dicom/);
    // Truncated: the file ends inside the pixel data.
    const whole = readFileSync(join(T1, '1-001.dcm'));
    const cut = join(tmp, 'cut.dcm');
    writeFileSync(cut, whole.subarray(0, whole.length - 100_000));
    await expect(readVolume(cut)).rejects.toThrow(/truncated.*cut\.dcm/);
    // A .dcm name without the DICM mark.
    const fake = join(tmp, 'fake.dcm');
    writeFileSync(fake, 'x'.repeat(300));
    await expect(readVolume(fake)).rejects.toThrow(/not a DICOM Part 10 file .*fake\.dcm/);
    // Slices of different sizes in one series.
    const mixed = join(tmp, 'mixed');
    mkdirSync(mixed);
    copyFileSync(join(T1, '1-001.dcm'), join(mixed, '1.dcm'));
    copyFileSync(join(FIXTURES, 'dicom-bad', 'wrong-size.dcm'), join(mixed, '2.dcm'));
    await expect(readVolume(mixed)).rejects.toThrow(/inconsistent slices: .*1\.dcm is 512x512, .*2\.dcm 16x16 .*mixed/);
    await expect(readVolume(T1, { frame: 1 })).rejects.toThrow(/frame 1 does not exist: the DICOM data holds 1 volume/);
  });

  it('positions that repeat make several volumes (frames); `frame` picks one; uneven repeats are refused', () => {
    const bytes = (f: string) => new Uint8Array(readFileSync(join(T1, f)));
    const twice = [{ name: 'a', bytes: bytes('1-001.dcm') }, { name: 'b', bytes: bytes('1-002.dcm') }, { name: 'c', bytes: bytes('1-001.dcm') }, { name: 'd', bytes: bytes('1-002.dcm') }];
    const v0 = readDicom(twice, 'twice');
    expect(v0.frames).toBe(2);
    expect(v0.dims).toEqual([512, 512, 2]);
    const v1 = readDicom(twice, 'twice', { frame: 1 });
    expect(Array.from(v1.voxels)).toEqual(Array.from(v0.voxels));
    expect(() => readDicom(twice, 'twice', { frame: 2 })).toThrow(/frame 2 does not exist: the DICOM data holds 2 volume/);
    expect(() => readDicom(twice.slice(0, 3), 'uneven')).toThrow(/2 slice positions repeat unevenly \(1 to 2 times each\)/);
  });
});
