// neurostagenet predict on DICOM: a series folder gets one per-person line; a folder of two series is refused and
// names --series, which picks one.
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInProcess } from './helpers.js';

const VOLUMES = join(__dirname, '..', '..', '..', 'shared', 'data', 'volumes');
const T1 = join(VOLUMES, 'dicom-t1');
const FIXTURES = join(__dirname, '..', 'fixtures', 'volumes');
const T1_UID = '1.3.6.1.4.1.14519.5.2.1.149357697745643823053302398129943470751';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'neurostagenet-predict-dicom-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe.runIf(existsSync(VOLUMES))('CLI predict on DICOM', () => {
  it('a series folder: one line for the person (no stage: the slices lie below the brain), exit 3', async () => {
    const r = await runInProcess(['predict', '--pretrained', T1, '--backend', 'cpu']);
    expect(r.code).toBe(3);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toMatch(/dicom-t1: no stage: the input check refused 2 of 2 slices/);
    // Three 1.5 mm slices: 10..90% of them holds two axial levels, and stderr says why there are not 32.
    expect(r.stderr).toMatch(/the volume holds only 2 axial level\(s\) there, not the 32 asked/);
  }, 180_000);

  it('a folder of two series is refused naming both and --series; --series picks one', async () => {
    const dir = join(tmp, 'two-series');
    mkdirSync(dir);
    for (const f of readdirSync(T1)) copyFileSync(join(T1, f), join(dir, f));
    copyFileSync(join(FIXTURES, 'dicom-bad', 'other-series.dcm'), join(dir, 'other.dcm'));
    const refused = await runInProcess(['predict', '--pretrained', dir, '--backend', 'cpu']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/2 DICOM series: .*--series UID/);
    expect(refused.stderr).toContain(T1_UID);
    expect(refused.stderr).toContain('other series (test fixture)');
    const picked = await runInProcess(['predict', '--pretrained', dir, '--series', T1_UID, '--backend', 'cpu']);
    expect(picked.code).toBe(3);
    expect(picked.stdout).toMatch(/two-series: no stage: the input check refused 2 of 2 slices/);
    expect(picked.stderr).toMatch(/1 file\(s\) of other series left out/);
  }, 180_000);

  it('predict --help lists --series', async () => {
    const r = await runInProcess(['predict', '--help']);
    expect(r.stdout + r.stderr).toMatch(/--series UID/);
  });
});
