// The neurostagenet command's interface: help, inspect, and the error contract (one line
// "neurostagenet: error: ...", no stack trace unless --verbose; exit 2 for command-line mistakes, 1 for failures).
// A few cases spawn the real command (tsx on src/cli/main.ts); the many small error cases run in-process.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE, errorLines, runCli, runInProcess } from './helpers.js';
import { UsageError } from '../../src/cli/args.js';
import { NeuroStageNetError } from '../../src/errors.js';

let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'neurostagenet-cli-'));
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

function expectOneLineError(stderr: string, ...fragments: string[]): void {
  const errors = errorLines(stderr);
  expect(errors, stderr).toHaveLength(1);
  expect(errors[0]).toMatch(/^neurostagenet: error: /);
  for (const f of fragments) expect(errors[0]).toContain(f);
  expect(stderr).not.toMatch(/\n\s+at /);
}

describe('neurostagenet command (spawned)', () => {
  it('prints help for the command and each subcommand, with examples', async () => {
    const main = await runCli(['--help']);
    expect(main.code).toBe(0);
    for (const c of ['inspect', 'train', 'evaluate', 'predict', 'explain', '--backend', '--out', 'Exit codes']) expect(main.stdout).toContain(c);
    const sub = await runCli(['predict', '--help']);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toMatch(/^Usage: neurostagenet predict/);
    expect(sub.stdout).toContain('Examples');
  });

  it('inspect reports the row count, class counts, people, shared people and leakage', async () => {
    const r = await runCli(['inspect', SAMPLE, '--compare', SAMPLE]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('sample.parquet: 128 rows');
    const counts = [...r.stdout.matchAll(/(\d) (\w+_Demented) (\d+) \(/g)].map((m) => [m[2], Number(m[3])]);
    expect(counts).toEqual([['Mild_Demented', 32], ['Moderate_Demented', 32], ['Non_Demented', 32], ['Very_Mild_Demented', 32]]);
    // Four whole people, one per class, 32 slices each.
    expect(r.stdout).toContain('people: 4 (subject column); per class: 0 Mild_Demented 1, 1 Moderate_Demented 1, 2 Non_Demented 1, 3 Very_Mild_Demented 1; slices per person: min 32, median 32, max 32');
    // The file compared with itself shares all of its people, and every row has a near-duplicate (itself).
    expect(r.stdout).toContain('WARNING: 4 people appear in both files: subject-001, subject-002, subject-004, subject-147 (their slices leak between the files)');
    expect(r.stdout).toContain('leakage: 128 of 128 compared rows (100.0%)');
  });

  it('a missing input file: exit 2, one line naming the path, no stack trace', async () => {
    const r = await runCli(['inspect', 'no/such/file.parquet']);
    expect(r.code).toBe(2);
    expectOneLineError(r.stderr, "'no/such/file.parquet' does not exist");
    expect(r.stdout).toBe('');
  });
});

describe('neurostagenet command (in-process)', () => {
  it('UsageError is a NeuroStageNetError (still exit 2, as run() tests for it first)', () => {
    const e = new UsageError('bad flag', 'train');
    expect(e).toBeInstanceOf(NeuroStageNetError);
    expect([e.name, e.message, e.command]).toEqual(['UsageError', 'bad flag', 'train']);
  });

  it('without arguments prints the usage to stderr and exits 2', async () => {
    const r = await runInProcess([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Usage: neurostagenet <command>');
  });

  it('every subcommand has help with examples', async () => {
    for (const c of ['inspect', 'train', 'evaluate', 'predict', 'explain']) {
      const r = await runInProcess([c, '-h']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: neurostagenet ${c}`));
      expect(r.stdout).toMatch(/Examples\n {2}neurostagenet /);
    }
  });

  it('inspect --json gives the summary as JSON', async () => {
    const r = await runInProcess(['inspect', SAMPLE, '--json']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as { rows: number; classCounts: number[]; classNames: string[]; people: unknown };
    expect(s.rows).toBe(128);
    expect(s.classCounts).toEqual([32, 32, 32, 32]);
    expect(s.classNames[1]).toBe('Moderate_Demented');
    expect(s.people).toEqual({ count: 4, perClass: [1, 1, 1, 1], slicesPerPerson: { min: 32, median: 32, max: 32 }, mixedLabels: [] });
  });

  it('inspect --compare reports slice levels; --plot draws them as a PNG', async () => {
    const png = join(tmp, 'plots', 'levels.png');
    const r = await runInProcess(['inspect', SAMPLE, '--compare', SAMPLE, '--plot', png]);
    expect(r.code, r.stderr).toBe(0);
    // The sample against itself: the same levels, so no level warning (the one warning is about the shared people);
    // only rows beyond the 1st-99th percentiles fall outside.
    const m = /slice level \(head footprint[^\n]*?(\d+) of 128 compared rows[^\n]*KS 0\.000/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(Number(m?.[1])).toBeGreaterThanOrEqual(124);
    expect(r.stdout).not.toContain('different axial levels');
    expect(r.stdout.match(/WARNING/g)).toEqual(['WARNING']);
    expect(r.stdout).toContain('WARNING: 4 people appear in both files');
    expect(r.stderr).toContain(`wrote ${png}`);
    const bytes = await readFile(png);
    expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(bytes.readUInt32BE(16)).toBe(1440); // 720 px at scale 2
  });

  it('a missing column: exit 1, one line naming the column and the file', async () => {
    const r = await runInProcess(['inspect', SAMPLE, '--label-column', 'stage']);
    expect(r.code).toBe(1);
    expectOneLineError(r.stderr, "no label column 'stage'", 'columns are image, label, subject, slice', 'sample.parquet');
  });

  it('--verbose adds the stack trace', async () => {
    const r = await runInProcess(['inspect', SAMPLE, '--image-column', 'pixels', '--verbose']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^neurostagenet: error: no image column 'pixels'/);
    expect(r.stderr).toMatch(/MissingColumnError[^\n]*\n\s+at /);
  });

  it('a file that is not Parquet: exit 1, one line', async () => {
    const bad = join(tmp, 'notes.parquet');
    await writeFile(bad, 'hello, not parquet');
    const r = await runInProcess(['inspect', bad]);
    expect(r.code).toBe(1);
    expectOneLineError(r.stderr, 'not a Parquet file', bad);
  });

  it('unknown commands, options and bad values are usage errors (exit 2) pointing to --help', async () => {
    const cases: Array<[string[], string]> = [
      [['frobnicate'], "unknown command 'frobnicate'"],
      [['inspect', SAMPLE, '--nope'], "Unknown option '--nope'"],
      [['inspect', SAMPLE, '--image-size', 'big'], "--image-size expects an integer >= 32, got 'big'"],
      [['inspect'], 'missing argument'],
      [['inspect', SAMPLE, SAMPLE], 'unexpected argument'],
      [['inspect', SAMPLE, '--plot', 'levels.png'], '--plot needs --compare'],
      [['predict', '--pretrained', SAMPLE, '--tta', 'rotate'], "--tta must be none or flip, got 'rotate'"],
      [['predict', tmp, SAMPLE, '--backend', 'gpu9'], "unknown backend 'gpu9'"],
      [['explain', '--pretrained', SAMPLE, '--method', 'lime'], '--method must be one of gradcam, gradcam++, hirescam, layercam'],
      [['train', SAMPLE, '--recipe', 'fast'], "--recipe must be 'seed' or 'scratch'"],
      [['train', SAMPLE, '--test', 'missing.parquet'], "file 'missing.parquet' does not exist"],
    ];
    for (const [args, fragment] of cases) {
      const r = await runInProcess(args);
      expect(r.code, args.join(' ')).toBe(2);
      expectOneLineError(r.stderr, fragment, '--help');
    }
  });

  it('a model directory without model.json: exit 1, one line', async () => {
    const r = await runInProcess(['predict', tmp, SAMPLE, '--backend', 'cpu']);
    expect(r.code).toBe(1);
    expectOneLineError(r.stderr, 'no model found', join(tmp, 'model.json'));
  });
});
