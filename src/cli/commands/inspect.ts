// neurostagenet inspect <file.parquet> [--compare other.parquet]: data checks before training.
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { summarizeDataset, formatDatasetSummary } from '../../data/summary.js';
import { renderHistogramsPng } from '../../metrics/plots.js';
import { UsageError, expectPositionals, numberOption, parseCommand, stringOption } from '../args.js';
import type { CliContext } from '../context.js';
import { PARQUET_OPTIONS, SUBJECT_COLUMN_HELP, openParquet } from '../inputs.js';

export const INSPECT_HELP = `Usage: neurostagenet inspect <file.parquet> [--compare <other.parquet>] [options]

Checks a Parquet file of labelled images before training: row count, class balance, source image
sizes / formats / colour modes, intensity statistics, unreadable rows, and, when the file has a
subject column, its people (count, people per class, slices per person, subjects whose rows carry
more than one label). With --compare: how many rows of the other file have a near-duplicate in this
one (leakage: adjacent MRI slices of one person look alike, so a test slice with a near-twin in the
training file gives an optimistic score), which people both files share (a warning when any), and
whether both files show the same axial level of the head (head footprint: the share of the image
inside the head outline; a test file of other levels than the training file is scored out of range).

Options
  --compare FILE          second Parquet file (e.g. the test set) checked for near-duplicates and
                          shared people here
  --plot FILE.png         with --compare: write the two files' slice-level histograms to FILE.png
  --threshold X           RMS pixel distance (0..255) that counts as near-duplicate (default 16)
  --image-size N          decode at N x N (default 128)
  --image-column NAME     image column (default 'image'; binary or {bytes, path} struct)
  --label-column NAME     label column (default 'label'; integers or class names)
${SUBJECT_COLUMN_HELP}
  --json                  print the summary as JSON
  -v, --verbose           stack traces on errors
  -h, --help              this text

Examples
  neurostagenet inspect train.parquet
  neurostagenet inspect train.parquet --compare test.parquet
  neurostagenet inspect train.parquet --compare test.parquet --plot slice-levels.png
  neurostagenet inspect scans.parquet --image-column img --label-column stage --json
`;

/** Runs `inspect`; returns the exit code. */
export async function inspectCommand(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommand('inspect', args, {
    ...PARQUET_OPTIONS,
    compare: { type: 'string' },
    plot: { type: 'string' },
    threshold: { type: 'string' },
    'image-size': { type: 'string' },
    json: { type: 'boolean' },
  });
  expectPositionals(positionals, 1, 1, 'inspect <file.parquet> [--compare other.parquet]', 'inspect');
  const size = numberOption(values, 'image-size', 128, { integer: true, min: 32 }, 'inspect');
  const threshold = numberOption(values, 'threshold', 16, { min: 0 }, 'inspect');
  const ds = await openParquet(positionals[0], values, [size, size], 'inspect');
  const comparePath = stringOption(values, 'compare');
  const plotPath = stringOption(values, 'plot');
  if (plotPath !== undefined && comparePath === undefined) throw new UsageError('inspect: --plot needs --compare <other.parquet> (it draws the two files\' slice levels)');
  const other = comparePath === undefined ? undefined : await openParquet(comparePath, values, [size, size], 'inspect');
  const summary = await summarizeDataset(ds, { compareWith: other, threshold });
  if (values.json) {
    // Typed arrays of the leakage report become plain arrays; pairs are capped to keep the output readable.
    const sliceLevel = summary.sliceLevel && { ...summary.sliceLevel, reference: undefined, compared: undefined };
    const leakage = summary.leakage && {
      ...summary.leakage,
      pairs: summary.leakage.pairs.slice(0, 1000),
      nearestDistance: Array.from(summary.leakage.nearestDistance),
      nearestIndex: Array.from(summary.leakage.nearestIndex),
    };
    ctx.print(JSON.stringify({ ...summary, compareFile: other?.file, leakage, sliceLevel }, null, 2));
  } else {
    ctx.print(formatDatasetSummary(summary));
    if (other && summary.leakage) ctx.print(`(compared: ${other.file}, ${other.length} rows)`);
  }
  if (plotPath !== undefined && summary.sliceLevel && other) {
    const png = await renderHistogramsPng(
      [
        { label: basename(ds.file ?? positionals[0]), values: summary.sliceLevel.reference },
        { label: basename(other.file ?? comparePath as string), values: summary.sliceLevel.compared },
      ],
      { title: 'Slice level: head footprint per row', xLabel: 'share of the image inside the head outline' },
    );
    await mkdir(dirname(plotPath), { recursive: true });
    await writeFile(plotPath, png);
    ctx.note(`wrote ${plotPath}`);
  }
  return 0;
}
