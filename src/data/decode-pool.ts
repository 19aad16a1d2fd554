// Parallel image decoding on Node worker threads. The worker runs only the third-party decoders (jpeg-js, pngjs)
// and returns raw samples; grayscale conversion and resizing stay on the main thread (finishDecode), so both
// paths give identical pixels. The worker source is an inline string (eval'd), so no worker file has to be
// located next to the built bundle, under tsx or under vitest; it requires the decoders by absolute path,
// resolved here from this module's location.
import { rawMaxValue, type ImageHeader, type RawPixels } from './decode.js';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const jpeg = require(workerData.jpegPath);
const png = require(workerData.pngPath);
parentPort.on('message', (msg) => {
  const results = [];
  const transfer = [];
  for (let i = 0; i < msg.kinds.length; i++) {
    const bytes = msg.bytes.subarray(msg.offsets[i], msg.offsets[i + 1]);
    try {
      if (msg.kinds[i] === 1) {
        const d = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 1024 });
        results.push({ width: d.width, height: d.height, data: d.data, channels: 3 });
        transfer.push(d.data.buffer);
      } else {
        const p = png.PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { skipRescale: true });
        const data = p.data instanceof Uint16Array ? p.data : new Uint8Array(p.data);
        results.push({ width: p.width, height: p.height, data, channels: 4 });
        transfer.push(data.buffer);
      }
    } catch (e) {
      results.push({ error: String((e && e.message) || e) });
    }
  }
  parentPort.postMessage({ id: msg.id, results }, transfer);
});
`;

/** One decode job: encoded bytes with their parsed header. */
export interface DecodeJob {
  bytes: Uint8Array;
  header: ImageHeader;
}

/** Result of one job: raw pixels, or the decoder's error message. */
export type DecodeResult = RawPixels | { error: string };

interface WorkerLike {
  postMessage(msg: unknown, transfer?: ArrayBuffer[]): void;
  once(event: 'message', cb: (msg: { id: number; results: Array<Omit<RawPixels, 'maxValue'> | { error: string }> }) => void): void;
  once(event: 'error', cb: (err: Error) => void): void;
  removeAllListeners(event?: string): void;
  terminate(): Promise<number>;
  unref(): void;
}

// Absolute paths of the decoder packages, resolved from this module (ESM: import.meta.url; CJS build: __filename).
async function decoderPaths(): Promise<{ jpegPath: string; pngPath: string }> {
  const { createRequire } = await import('node:module');
  const base = typeof __filename === 'string' ? __filename : import.meta.url;
  const req = createRequire(base);
  return { jpegPath: req.resolve('jpeg-js'), pngPath: req.resolve('pngjs') };
}

/** True where Node worker threads exist (not in browsers). */
export function workersAvailable(): boolean {
  return typeof process !== 'undefined' && !!process.versions?.node;
}

/** Number of logical cores (Node), or 1. */
export async function availableCores(): Promise<number> {
  if (!workersAvailable()) return 1;
  const os = await import('node:os');
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/**
 * Decodes `jobs` with `threads` worker threads, calling `onResult(i, result)` for each job (in completion
 * order). Workers are started for this call and terminated before it returns.
 */
export async function decodeInWorkers(
  jobs: DecodeJob[],
  threads: number,
  onResult: (index: number, result: DecodeResult) => void,
  chunkSize = 64,
): Promise<void> {
  const { Worker } = await import('node:worker_threads');
  const paths = await decoderPaths();
  const workers: WorkerLike[] = [];
  for (let t = 0; t < threads; t++) workers.push(new Worker(WORKER_SOURCE, { eval: true, workerData: paths }) as unknown as WorkerLike);
  let next = 0;
  let id = 0;
  try {
    await Promise.all(
      workers.map(async (w) => {
        while (next < jobs.length) {
          const start = next;
          const end = Math.min(jobs.length, start + chunkSize);
          next = end;
          // Pack the chunk's bytes into one buffer (one transfer instead of `chunkSize` clones).
          let total = 0;
          for (let i = start; i < end; i++) total += jobs[i].bytes.length;
          const bytes = new Uint8Array(total);
          const offsets = new Int32Array(end - start + 1);
          const kinds = new Uint8Array(end - start);
          for (let i = start, o = 0; i < end; i++) {
            bytes.set(jobs[i].bytes, o);
            offsets[i - start] = o;
            o += jobs[i].bytes.length;
            offsets[i - start + 1] = o;
            kinds[i - start] = jobs[i].header.format === 'jpeg' ? 1 : 2;
          }
          const msgId = id++;
          const reply = await new Promise<{ results: Array<Omit<RawPixels, 'maxValue'> | { error: string }> }>((resolve, reject) => {
            w.once('message', (m) => resolve(m));
            w.once('error', reject);
            w.postMessage({ id: msgId, bytes, offsets, kinds }, [bytes.buffer]);
          });
          w.removeAllListeners('error');
          reply.results.forEach((r, k) => {
            const job = jobs[start + k];
            if ('error' in r) onResult(start + k, r);
            else onResult(start + k, { ...r, maxValue: rawMaxValue(job.header) });
          });
        }
      }),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
