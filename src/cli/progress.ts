// Progress of a counted task (images classified, images explained): a cli-progress bar when stderr is a terminal,
// otherwise a plain line at every 25% so logs stay short.
import type { OutStream } from './context.js';

/** Progress of one task. */
export interface TaskProgress {
  /** `done` items of `total` are finished. */
  update(done: number): void;
  /** The task ended (removes the bar). */
  stop(): void;
}

interface Bar {
  start(total: number, value: number): void;
  update(value: number): void;
  stop(): void;
}

/**
 * Starts reporting progress on `stream`.
 * @param label What is counted, e.g. "classifying".
 * @param total Number of items.
 * @param stream Where to write (stderr in the CLI).
 * @param mode 'auto': a bar on a terminal, lines otherwise; 'none' reports nothing.
 */
export async function startProgress(label: string, total: number, stream: OutStream, mode: 'auto' | 'none' = 'auto'): Promise<TaskProgress> {
  if (mode === 'none' || total <= 0) return { update() {}, stop() {} };
  if (stream.isTTY) {
    const mod = (await import('cli-progress')) as unknown as { default?: unknown; SingleBar?: unknown };
    const cli = (mod.default ?? mod) as { SingleBar: new (opts: object, preset?: object) => Bar; Presets: { shades_classic: object } };
    const bar = new cli.SingleBar(
      { format: `${label} [{bar}] {value}/{total} | {percentage}% | ETA {eta_formatted}`, stream, hideCursor: true, clearOnComplete: true },
      cli.Presets.shades_classic,
    );
    bar.start(total, 0);
    return { update: (done) => bar.update(done), stop: () => bar.stop() };
  }
  let nextQuarter = 1;
  return {
    update(done) {
      if (done * 4 < nextQuarter * total && done < total) return;
      while (nextQuarter * total <= done * 4) nextQuarter++;
      stream.write(`${label}: ${done}/${total}\n`);
    },
    stop() {},
  };
}
