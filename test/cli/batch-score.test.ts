// Batch scoring (`predict ... --out scores.csv`): one row per input row, shards that concatenate to the unsharded file
// byte for byte, a killed run resumed to the same file, and the rows equal to predict's own --json output.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, REPO, SAMPLE, runInProcess } from './helpers.js';

const VOLUMES = join(__dirname, '..', '..', '..', 'shared', 'data', 'volumes');
const BROWSER_FIXTURES = join(__dirname, '..', 'fixtures', 'browser');
let tmp: string;
let inputs: string[];
let whole: string;

const score = (args: string[]) => runInProcess(['predict', '--pretrained', ...inputs, '--backend', 'cpu', '--batch-size', '8', ...args]);
const rowsOf = (csv: string) => csv.trim().split('\n').slice(1);

// RFC 4180 fields of one line (reasons hold commas, so they are quoted).
function fields(line: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') { field += '"'; i++; } else if (ch === '"') quoted = false; else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { out.push(field); field = ''; } else field += ch;
  }
  out.push(field);
  return out;
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'neurostagenet-score-'));
  const images = join(tmp, 'images');
  mkdirSync(images);
  copyFileSync(join(BROWSER_FIXTURES, 'verymild_1795.jpg'), join(images, 'b.jpg'));
  copyFileSync(join(BROWSER_FIXTURES, 'mild_586.jpg'), join(images, 'a.jpg'));
  inputs = [SAMPLE, images, ...(existsSync(VOLUMES) ? [join(VOLUMES, 'FLAIR.nii.gz')] : [])];
  const out = join(tmp, 'whole.csv');
  const r = await score(['--out', out]);
  expect(r.code, r.stderr).toBe(0);
  whole = await readFile(out, 'utf8');
}, 300_000);

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('predict --out: batch scoring', () => {
  it('writes one row per input row: 128 Parquet rows, 2 images (sorted), the 32 slices of a scan; the rows equal predict --json', async () => {
    const rows = rowsOf(whole);
    const header = whole.split('\n')[0];
    expect(header).toBe('source,row,subject,slice,stage,p_Mild_Demented,p_Moderate_Demented,p_Non_Demented,p_Very_Mild_Demented,input_check,reason');
    const cells = rows.map(fields);
    expect(cells.every((c) => c.length === 11)).toBe(true);
    const parquet = cells.filter((c) => c[0] === SAMPLE);
    expect(parquet.map((c) => Number(c[1]))).toEqual(Array.from({ length: 128 }, (_, i) => i));
    const images = cells.filter((c) => c[0].includes('images'));
    expect(images.map((c) => c[0].split('/').pop())).toEqual(['a.jpg', 'b.jpg']);
    if (existsSync(VOLUMES)) {
      const flair = cells.filter((c) => c[0].endsWith('FLAIR.nii.gz'));
      expect(flair).toHaveLength(32);
      expect(flair.every((c) => c[9] === 'refused' && c[4] === '' && c[10] !== '')).toBe(true);
    }
    expect(rows).toHaveLength(128 + 2 + (existsSync(VOLUMES) ? 32 : 0));
    // The same numbers as predict's own path (--json) on the Parquet file, at the CSV's 6 significant digits.
    const json = JSON.parse((await runInProcess(['predict', '--pretrained', SAMPLE, '--backend', 'cpu', '--json'])).stdout);
    const byRow = new Map<number, number[]>(json.predictions.map((p: { row: number; probabilities: number[] }) => [p.row, p.probabilities]));
    for (const c of parquet) {
      const expected = byRow.get(Number(c[1]));
      if (c[9] === 'refused') {
        expect(expected).toBeUndefined();
        continue;
      }
      expect(c[9]).toBe('accepted');
      expected!.forEach((p, j) => expect(Math.abs(Number(c[5 + j]) - p)).toBeLessThan(1e-5 * Math.max(1, p)));
      expect(c[2]).toMatch(/^subject-\d+$/);
    }
  }, 300_000);

  it('--shard 1/3, 2/3, 3/3 concatenated are the unsharded file, byte for byte; the summary line is key=value', async () => {
    const parts: string[] = [];
    for (const i of [1, 2, 3]) {
      const out = join(tmp, `shard${i}.csv`);
      const r = await score(['--out', out, '--shard', `${i}/3`]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^scored=\\d+ refused=\\d+ unreadable=0 resumed=0 shard=${i}/3 units=\\d+/${inputs.length === 3 ? 131 : 130} seconds=[\\d.]+ rows_per_s=[\\d.]+ out=`));
      parts.push(await readFile(out, 'utf8'));
    }
    const header = whole.split('\n')[0];
    expect(parts.every((p) => p.startsWith(`${header}\n`))).toBe(true);
    expect(header + '\n' + parts.map((p) => p.slice(header.length + 1)).join('')).toBe(whole);
    // The parts are cut at whole batches (8): each holds a multiple of 8 Parquet rows but the last.
    expect(rowsOf(parts[0]).length % 8).toBe(0);
  }, 300_000);

  it('--resume after a kill (SIGKILL mid-run) and after a torn batch gives the unsharded file', async () => {
    const out = join(tmp, 'killed.csv');
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'predict', '--pretrained', ...inputs, '--backend', 'cpu', '--batch-size', '8', '--out', out], { cwd: REPO, stdio: 'ignore' });
    // Kill it once it has written some rows but not all.
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        const n = existsSync(out) ? readFileSync(out, 'utf8').split('\n').length : 0;
        if (n > 20) {
          clearInterval(timer);
          child.kill('SIGKILL');
          resolve();
        }
      }, 50);
      child.on('exit', () => { clearInterval(timer); reject(new Error('the scoring run ended before it could be killed')); });
    });
    await new Promise((resolve) => child.on('exit', resolve));
    const before = statSync(out).size;
    expect(before).toBeLessThan(Buffer.byteLength(whole));
    const resumed = await score(['--out', out, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/resumed=[1-9]\d*/);
    expect(await readFile(out, 'utf8')).toBe(whole);

    // A torn file: 1 whole batch and 5 rows of the next, then half a line: the torn batch is scored again whole.
    const torn = join(tmp, 'torn.csv');
    const lines = whole.split('\n');
    await writeFile(torn, `${lines.slice(0, 1 + 13).join('\n')}\n${lines[14].slice(0, 20)}`);
    const again = await score(['--out', torn, '--resume']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/resumed=8 /);
    expect(await readFile(torn, 'utf8')).toBe(whole);
  }, 300_000);

  it('refuses what it cannot do: bad --shard, --shard without --out, --resume into another header', async () => {
    const bad = await score(['--out', join(tmp, 'x.csv'), '--shard', '4/3']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--shard must be I\/N with 1 <= I <= N/);
    const alone = await runInProcess(['predict', '--pretrained', SAMPLE, '--backend', 'cpu', '--shard', '1/2']);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toMatch(/--shard and --resume go with --out/);
    const other = join(tmp, 'other.csv');
    await writeFile(other, 'source,row,something,else\n');
    const mismatch = await score(['--out', other, '--resume']);
    expect(mismatch.code).toBe(2);
    expect(mismatch.stderr).toMatch(/--resume: .*other\.csv has the columns 'source,row,something,else'/);
  }, 300_000);
});
