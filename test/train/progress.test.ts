import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { barProgress, formatEpochLine, lineProgress, resolveProgress } from '../../src/train/progress.js';
import type { BatchProgress, EpochRecord } from '../../src/train/types.js';

const record: EpochRecord = { epoch: 1, loss: 0.91234, accuracy: 0.6, val_loss: 0.8, val_accuracy: 0.65, val_auc: 0.80123, lr: 5e-4, seconds: 41.23 };

function batch(step: number): BatchProgress {
  return { epoch: 1, epochs: 3, step, steps: 4, batchLoss: 0.5, batchAccuracy: 0.5, loss: 0.5, accuracy: 0.25, seen: step * 8, imagesPerSecond: 12.5, lr: 5e-4, elapsedSeconds: step };
}

describe('progress', () => {
  it('formats one plain line per epoch', () => {
    expect(formatEpochLine(record, 3)).toBe(
      'epoch 2/3  41.2s  loss 0.9123  accuracy 0.6000  val_loss 0.8000  val_accuracy 0.6500  val_auc 0.8012  lr 5.00e-4',
    );
    const lines: string[] = [];
    lineProgress((l) => lines.push(l)).epochEnd!(record, { epochs: 3 });
    expect(lines).toEqual([formatEpochLine(record, 3)]);
  });

  it('draws a cli-progress bar with step, loss, accuracy and images/s on a terminal, then the epoch line', async () => {
    let text = '';
    const tty = Object.assign(
      new Writable({
        write(chunk, _enc, cb) {
          text += chunk.toString();
          cb();
        },
      }),
      { isTTY: true, columns: 200 },
    );
    const reporter = barProgress(tty as unknown as NodeJS.WritableStream);
    await reporter.epochBegin!({ epoch: 1, epochs: 3, steps: 4 });
    reporter.batchEnd!(batch(1));
    await new Promise((r) => setTimeout(r, 120)); // cli-progress redraws at most every 100 ms
    reporter.batchEnd!(batch(2));
    await new Promise((r) => setTimeout(r, 120));
    reporter.batchEnd!(batch(3));
    reporter.epochEnd!(record, { epochs: 3 });
    expect(text).toMatch(/epoch 2\/3 \[.*\] [23]\/4 \| loss 0\.5000 \| acc 0\.2500 \| 12\.5 img\/s \| ETA/);
    expect(text.trimEnd().endsWith(formatEpochLine(record, 3))).toBe(true);
  });

  it("'auto' picks lines when stdout is not a terminal; 'none' gives nothing", () => {
    expect(resolveProgress('none')).toBeNull();
    const custom = { epochEnd() {} };
    expect(resolveProgress(custom)).toBe(custom);
    const auto = resolveProgress('auto');
    if (process.stdout.isTTY) expect(auto?.batchEnd).toBeDefined();
    else expect(auto?.batchEnd).toBeUndefined(); // the line reporter only reports epochs
  });
});
