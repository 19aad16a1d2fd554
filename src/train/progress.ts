import type { BatchProgress, EpochRecord, ProgressReporter } from './types.js';
import { importAtRunTime } from '../env/optional-peer.js';

/** One plain line summarising an epoch, e.g. `epoch 3/30  41.2s  loss 0.9123  accuracy 0.6012  val_auc 0.8012  lr 5.00e-4`. */
export function formatEpochLine(record: EpochRecord, epochs: number): string {
  const parts = [`epoch ${record.epoch + 1}/${epochs}`, `${record.seconds.toFixed(1)}s`];
  for (const [key, value] of Object.entries(record)) {
    if (key === 'epoch' || key === 'seconds' || key === 'lr' || typeof value !== 'number') continue;
    parts.push(`${key} ${value.toFixed(4)}`);
  }
  parts.push(`lr ${record.lr.toExponential(2)}`);
  return parts.join('  ');
}

/** A reporter that writes one line per epoch through `log` (default `console.log`). */
export function lineProgress(log: (line: string) => void = console.log): ProgressReporter {
  return {
    epochEnd(record, { epochs }) {
      log(formatEpochLine(record, epochs));
    },
  };
}

// Minimal view of cli-progress' SingleBar, the part used here.
interface Bar {
  start(total: number, value: number, payload: Record<string, unknown>): void;
  update(value: number, payload: Record<string, unknown>): void;
  stop(): void;
}

/**
 * A reporter that draws a cli-progress bar per epoch on a terminal (step, running loss and accuracy, images/s,
 * ETA) and leaves one summary line per epoch. cli-progress is loaded on first use (Node only).
 * @param stream Where to draw. Default `process.stdout`.
 */
export function barProgress(stream?: NodeJS.WritableStream): ProgressReporter {
  let bar: Bar | null = null;
  let epochs = 0;
  const out = (): NodeJS.WritableStream => stream ?? process.stdout;
  return {
    async epochBegin(info) {
      epochs = info.epochs;
      const mod = (await importAtRunTime<unknown>('cli-progress')) as { default?: unknown; SingleBar?: unknown };
      const cli = (mod.default ?? mod) as { SingleBar: new (opts: object, preset?: object) => Bar; Presets: { shades_classic: object } };
      bar = new cli.SingleBar(
        {
          format: `epoch {epochLabel} [{bar}] {value}/{total} | loss {loss} | acc {accuracy} | {ips} img/s | ETA {eta_formatted}`,
          stream: out(),
          hideCursor: true,
          clearOnComplete: true,
          etaBuffer: 20,
        },
        cli.Presets.shades_classic,
      );
      bar.start(info.steps, 0, { epochLabel: `${info.epoch + 1}/${info.epochs}`, loss: '-', accuracy: '-', ips: '-' });
    },
    batchEnd(info: BatchProgress) {
      bar?.update(info.step, {
        loss: info.loss.toFixed(4),
        accuracy: info.accuracy.toFixed(4),
        ips: info.imagesPerSecond.toFixed(1),
      });
    },
    epochEnd(record) {
      bar?.stop();
      bar = null;
      out().write(`${formatEpochLine(record, epochs)}\n`);
    },
    trainEnd() {
      bar?.stop();
      bar = null;
    },
  };
}

/** Resolves {@link TrainOptions.progress} to a reporter (or none). */
export function resolveProgress(progress: 'auto' | 'bar' | 'lines' | 'none' | ProgressReporter | undefined): ProgressReporter | null {
  if (progress && typeof progress === 'object') return progress;
  const mode = progress ?? 'auto';
  const inNode = typeof process !== 'undefined' && typeof process.stdout?.write === 'function';
  if (mode === 'none') return null;
  if (mode === 'bar') return barProgress();
  if (mode === 'lines') return lineProgress();
  if (!inNode) return null;
  return process.stdout.isTTY ? barProgress() : lineProgress();
}
