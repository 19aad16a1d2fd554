/**
 * `npm run bench`: NeuroStageNet speed on every tfjs backend installed here, next to the same model in
 * Keras, in one run. bench/keras_bench.py runs first when python3 can import tensorflow and keras; then
 * each backend runs in its own child process (bench/lib/backend-worker.ts), one after the other, so peak
 * RSS is per backend and backends never compete for the CPU. Prints a Markdown table
 * (img/s, Grad-CAM ms per image, peak RSS, tfjs/Keras ratios) and writes it to
 * bench/results/<YYYY-MM-DD>.md (raw figures in the .json beside it).
 *
 *   npm run bench                                   # all installed backends + Keras, 5 steps (~25 min on 2 cores)
 *   npm run bench -- --backends=tensorflow,wasm     # a subset (names: tensorflow, wasm, cpu)
 *   npm run bench -- --steps=7 --warmup=2           # more timed steps (median of >= 5 recommended)
 *   npm run bench -- --quick                        # 3 steps, 1 warm-up, 60 s budget: a smoke run
 *   npm run bench -- --no-keras --no-write          # tfjs only, print without writing a file
 *
 * Other flags: --batch=32 --size=128 --infer-steps=10 (batch-1 figures) --budget=180 (s per figure before
 * it is reduced or estimated) --no-train --python=python3 --out=<file.md>.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatReport, type KerasResult } from './lib/report.js';
import { parseArgs } from './lib/stats.js';
import type { BackendResult, ChildOptions } from './lib/types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const BACKENDS = ['tensorflow', 'wasm', 'cpu'] as const;

function usageError(msg: string): never {
  process.stderr.write(`bench: ${msg}\nSee the header of bench/bench.ts for flags.\n`);
  process.exit(2);
}

function intFlag(args: Map<string, string>, key: string, fallback: number, min: number): number {
  const raw = args.get(key);
  if (raw == null) return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) usageError(`--${key} must be an integer >= ${min}, got '${raw}'`);
  return v;
}

function resolvable(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

/** Backends whose packages are installed ('tensorflow' = tfjs-node or tfjs-node-gpu). */
function installedBackends(): string[] {
  const has: Record<(typeof BACKENDS)[number], boolean> = {
    tensorflow: resolvable('@tensorflow/tfjs-node') || resolvable('@tensorflow/tfjs-node-gpu'),
    wasm: resolvable('@tensorflow/tfjs-backend-wasm'),
    cpu: resolvable('@tensorflow/tfjs-backend-cpu'),
  };
  return BACKENDS.filter((b) => has[b]);
}

// TensorFlow's C++ start-up chatter; everything else from a child is shown.
const NOISE = /^(I0000|W0000|WARNING: All log messages|To enable the following instructions|.*oneDNN custom operations are on)/;

function forwardLines(prefix: string, chunk: Buffer, tail: string[]): void {
  for (const line of chunk.toString().split('\n')) {
    if (line.trim() === '' || NOISE.test(line)) continue;
    tail.push(line);
    if (tail.length > 20) tail.shift();
    process.stderr.write(`${prefix} ${line}\n`);
  }
}

/** Runs one child process, forwarding its stderr; resolves with its exit code and last lines. */
function runChild(prefix: string, cmd: string, argv: string[], captureStdout: boolean): Promise<{ code: number; stdout: string; tail: string[] }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: process.env.TF_CPP_MIN_LOG_LEVEL ?? '2' } });
    let stdout = '';
    const tail: string[] = [];
    child.stdout.on('data', (d: Buffer) => {
      if (captureStdout) stdout += d.toString();
      else forwardLines(prefix, d, tail);
    });
    child.stderr.on('data', (d: Buffer) => forwardLines(prefix, d, tail));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, tail }));
    child.on('error', (e) => resolve({ code: 127, stdout, tail: [...tail, e.message] }));
  });
}

async function runBackend(options: ChildOptions): Promise<BackendResult> {
  const out = path.join(os.tmpdir(), `neurostagenet-bench-${process.pid}-${options.backend}.json`);
  rmSync(out, { force: true });
  const worker = path.join(here, 'lib', 'backend-worker.ts');
  // Same node + tsx loader flags as this process, so the child runs the TypeScript worker directly.
  const argv = [...process.execArgv, worker, `--options=${JSON.stringify(options)}`, `--out=${out}`];
  const started = performance.now();
  const { code, tail } = await runChild(`[${options.backend}]`, process.execPath, argv, false);
  try {
    const result = JSON.parse(readFileSync(out, 'utf8')) as BackendResult;
    rmSync(out, { force: true });
    return result;
  } catch {
    return {
      backend: options.backend, ok: false, info: {}, peakRssMiB: NaN, seconds: (performance.now() - started) / 1000,
      error: `child exited with code ${code} before writing its result; last output: ${tail.slice(-3).join(' | ') || '(none)'}`,
    };
  }
}

/** Runs bench/keras_bench.py; null + reason when Python/TensorFlow are missing or the script fails. */
async function runKeras(python: string, o: { batch: number; size: number; steps: number; warmup: number; inferSteps: number; noTrain: boolean }): Promise<{ result: KerasResult | null; note: string | null }> {
  const probe = spawnSync(python, ['-c', 'import tensorflow, keras'], { encoding: 'utf8', timeout: 180_000, env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' } });
  if (probe.error != null || probe.status !== 0) {
    const why = probe.error?.message ?? probe.stderr.trim().split('\n').pop() ?? `exit ${probe.status}`;
    return { result: null, note: `\`${python} -c "import tensorflow, keras"\` failed: ${why}` };
  }
  const script = path.join(here, 'keras_bench.py');
  const phases = o.noTrain ? 'infer' : 'infer,train_ft,train_all';
  const argv = [script, `--batch=${o.batch}`, `--size=${o.size}`, `--steps=${o.steps}`, `--warmup=${o.warmup}`, `--infer-steps=${o.inferSteps}`, `--phases=${phases}`];
  const { code, stdout, tail } = await runChild('[keras]', python, argv, true);
  if (code !== 0) return { result: null, note: `keras_bench.py exited with ${code}: ${tail.slice(-2).join(' | ')}` };
  try {
    return { result: JSON.parse(stdout) as KerasResult, note: null };
  } catch (e) {
    return { result: null, note: `keras_bench.py printed no JSON (${e instanceof Error ? e.message : String(e)})` };
  }
}

function machineInfo(loadBefore: number[]): string[] {
  const cpus = os.cpus();
  const tfjsNode = (() => {
    try {
      return (require('@tensorflow/tfjs-node/package.json') as { version: string }).version;
    } catch {
      return null;
    }
  })();
  return [
    `Machine: ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${os.platform()} ${os.release()}`,
    `Load average (1/5/15 min) at start: ${loadBefore.map((l) => l.toFixed(2)).join(' / ')}, at end: ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')}`
      + ' (other processes on the machine slow every figure alike)',
    `Node ${process.version}${tfjsNode ? `, @tensorflow/tfjs-node ${tfjsNode}` : ''}`,
  ];
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const known = new Set(['backends', 'steps', 'warmup', 'infer-steps', 'batch', 'size', 'budget', 'quick', 'no-keras', 'no-train', 'no-write', 'python', 'out']);
  for (const k of args.keys()) if (!known.has(k)) usageError(`unknown flag --${k}`);
  const quick = args.get('quick') === 'true';
  const steps = intFlag(args, 'steps', quick ? 3 : 5, 1);
  const warmup = intFlag(args, 'warmup', quick ? 1 : 2, 0);
  const inferSteps = intFlag(args, 'infer-steps', Math.max(steps, quick ? 5 : 10), 1);
  const batch = intFlag(args, 'batch', 32, 2);
  const size = intFlag(args, 'size', 128, 32);
  const budgetS = intFlag(args, 'budget', quick ? 60 : 180, 1);
  const noTrain = args.get('no-train') === 'true';
  const installed = installedBackends();
  const requested = args.get('backends')?.split(',').map((s) => s.trim()).filter(Boolean) ?? installed;
  for (const b of requested) {
    if (!(BACKENDS as readonly string[]).includes(b)) usageError(`unknown backend '${b}' (known: ${BACKENDS.join(', ')})`);
  }
  const loadBefore = os.loadavg();
  const started = performance.now();
  process.stderr.write(`bench: backends ${requested.join(', ') || '(none)'} (installed: ${installed.join(', ')}); batch ${batch}, ${size}x${size}, `
    + `${steps} steps after ${warmup} warm-up, budget ${budgetS} s per figure\n`);

  // Keras first, then the tfjs backends fastest first: the native backend and Keras, the pair the ratios
  // compare most closely, run back to back (the machine's load drifts over a long run).
  let keras: KerasResult | null = null;
  let kerasNote: string | null = 'skipped (--no-keras)';
  if (args.get('no-keras') !== 'true') {
    ({ result: keras, note: kerasNote } = await runKeras(args.get('python') ?? 'python3', { batch, size, steps, warmup, inferSteps, noTrain }));
  }
  const results: BackendResult[] = [];
  for (const backend of requested) {
    results.push(await runBackend({ backend, batch, size, steps, warmup, inferSteps, budgetS, noTrain }));
  }

  const date = new Date().toISOString().slice(0, 10);
  const report = formatReport({
    date, command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
    machine: machineInfo(loadBefore), batch, size, steps, warmup, inferSteps, budgetS, quick, keras, kerasNote, results,
    seconds: (performance.now() - started) / 1000,
  });
  process.stdout.write(`\n${report}`);
  if (args.get('no-write') !== 'true') {
    const out = path.resolve(args.get('out') ?? path.join(here, 'results', `${date}.md`));
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, report);
    writeFileSync(out.replace(/\.md$/, '') + '.json', JSON.stringify({ date, batch, size, steps, warmup, inferSteps, budgetS, quick, results, keras, kerasNote }, null, 1));
    process.stderr.write(`bench: wrote ${path.relative(process.cwd(), out)} (+ .json)\n`);
  }
  if (results.some((r) => !r.ok)) process.exitCode = 1;
}

await main();
