/**
 * wasm in a browser, with and without threads: NeuroStageNet inference (random weights) in headless Chromium on
 * tfjs-backend-wasm, served cross-origin isolated (COOP/COEP, so SharedArrayBuffer and the threaded binary), at 1 and
 * at N threads. Node's wasm runs no threads (tfjs-backend-wasm 4.22 disables them there, tfjs#3830), so `npm run bench`
 * cannot show this; here the same model and method (median of --steps after --warmup) in the page.
 *
 *   npx tsx bench/browser-wasm.ts                         # threads 1 and navigator.hardwareConcurrency, batch 32
 *   npx tsx bench/browser-wasm.ts --threads=1,2 --steps=5 --out=bench/results/<date>-browser-wasm.md
 *
 * Needs Chromium (/usr/bin/chromium or CHROMIUM_PATH). Prints a Markdown table with the load average.
 */
import { build } from 'esbuild';
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { parseArgs } from './lib/stats.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = parseArgs(process.argv.slice(2));
const steps = Number(args.get('steps') ?? 5);
const warmup = Number(args.get('warmup') ?? 2);
const batch = Number(args.get('batch') ?? 32);
const size = Number(args.get('size') ?? 128);

const dir = await mkdtemp(path.join(os.tmpdir(), 'nsn-browser-wasm-'));
await build({
  entryPoints: [path.join(here, 'lib', 'browser-wasm-page.ts')], outfile: path.join(dir, 'main.js'), bundle: true,
  format: 'esm', platform: 'browser', target: ['es2022'], logLevel: 'warning',
});
await writeFile(path.join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><script type="module" src="main.js"></script>');
const wasmDir = path.join(here, '..', 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
for (const f of (await readdir(wasmDir)).filter((n) => n.endsWith('.wasm'))) await copyFile(path.join(wasmDir, f), path.join(dir, f));
const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };
const server = createServer((req, res) => {
  const file = path.join(dir, new URL(req.url ?? '/', 'http://x').pathname.replace(/\/$/, '/index.html'));
  readFile(file).then(
    (body) => res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream',
      'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' }).end(body),
    () => res.writeHead(404).end(),
  );
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });

interface Result { threads: number; isolated: boolean; hardwareConcurrency: number; inferB1: number; inferBatch: number; optimizedB1: number; optimizedBatch: number; error?: string }
const load0 = os.loadavg();
const results: Result[] = [];
try {
  const page0 = await browser.newPage();
  await page0.goto('about:blank');
  const cores = await page0.evaluate(() => navigator.hardwareConcurrency);
  await page0.close();
  const counts = (args.get('threads') ?? `1,${Math.min(cores, 8)}`).split(',').map(Number);
  for (const threads of counts) {
    const page = await browser.newPage();
    await page.goto(`${url}?threads=${threads}&batch=${batch}&size=${size}&steps=${steps}&warmup=${warmup}`);
    await page.waitForFunction(() => (window as unknown as { __bench?: unknown }).__bench != null, undefined, { timeout: 900_000 });
    const r = await page.evaluate(() => (window as unknown as { __bench: Result }).__bench);
    if (r.error) throw new Error(`page at threads=${threads}: ${r.error}`);
    results.push(r);
    process.stderr.write(`threads ${r.threads}: b1 ${r.inferB1.toFixed(1)}, b${batch} ${r.inferBatch.toFixed(1)} img/s; inference copy ${r.optimizedB1.toFixed(1)} / ${r.optimizedBatch.toFixed(1)}\n`);
    await page.close();
  }
} finally {
  await browser.close();
  server.close();
  await rm(dir, { recursive: true, force: true });
}
const load1 = os.loadavg();
const f = (v: number) => v.toFixed(1);
const lines = [
  `# wasm in headless Chromium, threads, ${new Date().toISOString().slice(0, 10)}`,
  '',
  `Command: \`npx tsx bench/browser-wasm.ts ${process.argv.slice(2).join(' ')}\`. Chromium ${browser.version()}, ${os.cpus().length} cores, `
    + `load average ${load0.map((v) => v.toFixed(2)).join(' / ')} at start, ${load1.map((v) => v.toFixed(2)).join(' / ')} at end. `
    + `NeuroStageNet ${size}×${size}×1, random weights; median of ${steps} timed steps (batch 1: ${steps * 2}) after ${warmup} warm-up; `
    + 'page cross-origin isolated; threads set with setThreadsCount + allowWasmThreads.',
  '',
  `| threads (getThreadsCount) | infer b1 img/s | infer b${batch} img/s | inference copy b1 | inference copy b${batch} |`,
  '|--:|--:|--:|--:|--:|',
  ...results.map((r) => `| ${r.threads} | ${f(r.inferB1)} | ${f(r.inferBatch)} | ${f(r.optimizedB1)} | ${f(r.optimizedBatch)} |`),
];
const table = lines.join('\n') + '\n';
process.stdout.write(table);
const out = args.get('out');
if (out != null) await writeFile(out, table);
