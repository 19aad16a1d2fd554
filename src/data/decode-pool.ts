// Parallel image decoding on Node worker threads. The worker runs only the third-party decoders (jpeg-js, fast-png)
// and returns their samples; PNG unpacking (low bit depths, palettes), grayscale conversion and resizing stay on the
// main thread (pngSamplesToRaw, finishDecode), so both paths give identical pixels. The worker source is an inline
// string (eval'd), so no worker file has to be located next to the built bundle (tsup bundles this module into shared
// chunks), under tsx or under vitest; it loads the decoders by absolute path, resolved here from this module's location
// (jpeg-js is CommonJS: require; fast-png is ESM only: import of its file URL).
import { MAX_IMAGE_PIXELS, pngSamplesToRaw, rawMaxValue, type ImageHeader, type PngSamples, type RawPixels } from './decode.js';
import { ImageSizeError } from './errors.js';
import { hasNodeBuiltins, nodeModule, nodeOs, nodeUrl, nodeWorkerThreads } from '../env/node-builtin.js';

const WORKER_SOURCE = `
const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads');
const jpeg = require(workerData.jpegPath);
const pngReady = import(workerData.pngUrl);
parentPort.on('message', async (msg) => {
  const png = await pngReady;
  const results = [];
  const transfer = [];
  for (let i = 0; i < msg.kinds.length; i++) {
    const bytes = msg.bytes.subarray(msg.offsets[i], msg.offsets[i + 1]);
    try {
      if (msg.kinds[i] === 1) {
        const d = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 1024 });
        results.push({ kind: 'raw', width: d.width, height: d.height, data: d.data, channels: 3 });
        transfer.push(d.data.buffer);
      } else {
        const p = png.decode(bytes, { checkCrc: true });
        results.push({ kind: 'png', width: p.width, height: p.height, depth: p.depth, channels: p.channels, data: p.data, palette: p.palette });
        transfer.push(p.data.buffer);
      }
    } catch (e) {
      results.push({ error: String((e && e.message) || e) });
    }
  }
  parentPort.postMessage({ id: msg.id, results }, transfer);
});
`;

/** What a worker sends back for one image: JPEG samples, fast-png's PNG samples, or the decoder's error. */
type WorkerResult = ({ kind: 'raw' } & Omit<RawPixels, 'maxValue'>) | ({ kind: 'png' } & PngSamples) | { error: string };

/** One decode job: encoded bytes with their parsed header. */
export interface DecodeJob {
  bytes: Uint8Array;
  header: ImageHeader;
}

/** Result of one job: raw pixels, or the decoder's error message. */
export type DecodeResult = RawPixels | { error: string };

interface WorkerLike {
  postMessage(msg: unknown, transfer?: ArrayBuffer[]): void;
  once(event: 'message', cb: (msg: { id: number; results: WorkerResult[] }) => void): void;
  once(event: 'error', cb: (err: Error) => void): void;
  removeAllListeners(event?: string): void;
  terminate(): Promise<number>;
  unref(): void;
}

// Where the workers load the decoders from, resolved from this module (ESM: import.meta.url; CJS build: __filename).
// fast-png's package.json exports one ESM file under every condition, so require.resolve finds it too.
function decoderLocations(): { jpegPath: string; pngUrl: string } {
  const operation = 'decoding images on worker threads';
  const base = typeof __filename === 'string' ? __filename : import.meta.url;
  const req = nodeModule(operation).createRequire(base);
  return { jpegPath: req.resolve('jpeg-js'), pngUrl: nodeUrl(operation).pathToFileURL(req.resolve('fast-png')).href };
}

/** True where Node worker threads exist (Node >= 20.16, not browsers). */
export function workersAvailable(): boolean {
  return hasNodeBuiltins();
}

/** Number of logical cores (Node), or 1. */
export async function availableCores(): Promise<number> {
  if (!workersAvailable()) return 1;
  const os = nodeOs('counting cores');
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/**
 * Decodes `jobs` with `threads` worker threads, calling `onResult(i, result)` for each job (in completion
 * order). Workers are started for this call and terminated before it returns.
 * @throws {@link data!ImageSizeError} when a job's header is over {@link data!MAX_IMAGE_PIXELS} pixels (before any worker starts).
 */
export async function decodeInWorkers(
  jobs: DecodeJob[],
  threads: number,
  onResult: (index: number, result: DecodeResult) => void,
  chunkSize = 64,
): Promise<void> {
  // The headers come from readImageHeader, which already rejects these; a job built another way is checked here,
  // before any bytes reach a worker's inflate.
  jobs.forEach((j, i) => {
    if (j.header.width * j.header.height > MAX_IMAGE_PIXELS) {
      throw new ImageSizeError(`decode job ${i}: image is ${j.header.width}x${j.header.height} (WxH), more than the ${MAX_IMAGE_PIXELS / 1e6} megapixels decoded`);
    }
  });
  const { Worker } = nodeWorkerThreads('decoding images on worker threads', 'decode on the main thread (parallel: false)');
  const locations = decoderLocations();
  const workers: WorkerLike[] = [];
  for (let t = 0; t < threads; t++) workers.push(new Worker(WORKER_SOURCE, { eval: true, workerData: locations }) as unknown as WorkerLike);
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
          const reply = await new Promise<{ results: WorkerResult[] }>((resolve, reject) => {
            w.once('message', (m) => resolve(m));
            w.once('error', reject);
            w.postMessage({ id: msgId, bytes, offsets, kinds }, [bytes.buffer]);
          });
          w.removeAllListeners('error');
          reply.results.forEach((r, k) => {
            const job = jobs[start + k];
            if ('error' in r) onResult(start + k, r);
            else if (r.kind === 'raw') onResult(start + k, { width: r.width, height: r.height, data: r.data, channels: r.channels, maxValue: rawMaxValue(job.header) });
            else onResult(start + k, toRaw(r, job.header));
          });
        }
      }),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

// fast-png's samples from a worker as RawPixels (the main thread's pngSamplesToRaw), or the error it reports.
function toRaw(png: PngSamples, header: ImageHeader): DecodeResult {
  try {
    return pngSamplesToRaw(png, header);
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}
