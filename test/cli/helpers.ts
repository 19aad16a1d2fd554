// Runs the CLI (src/cli/main.ts) or the demo in a child process through tsx, as a user's shell would.
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SAMPLE = resolve(REPO, 'examples', 'data', 'sample.parquet');
export const CLI = resolve(REPO, 'src', 'cli', 'main.ts');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node --import tsx <script> ...args` in the repo and collects its output (stdout is not a TTY). */
export function runScript(script: string, args: string[], timeoutMs = 110_000): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: REPO,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} ${args.join(' ')} timed out after ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** Runs the neurostagenet CLI with `args`. */
export function runCli(args: string[], timeoutMs?: number): Promise<RunResult> {
  return runScript(CLI, args, timeoutMs);
}

/** Lines of a text without the empty ones. */
export function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim().length > 0);
}

/**
 * Runs the CLI in this process (no tsx start-up: for the many small error-path checks). Same exit codes and
 * output as the spawned command; stdout and stderr are captured.
 */
export async function runInProcess(args: string[]): Promise<RunResult> {
  const { runCli: run } = await import('../../src/cli/run.js');
  let stdout = '';
  let stderr = '';
  const code = await run(args, {
    stdout: { write: (s: string) => (stdout += s), isTTY: false },
    stderr: { write: (s: string) => (stderr += s), isTTY: false },
  });
  return { code, stdout, stderr };
}

/** The one-line error contract: exactly one error line on stderr, prefixed, and no stack trace. */
export function errorLines(stderr: string): string[] {
  // Status notes ("backend: wasm", "model: ...", "calibration: ...") may precede the error; everything else must be the error.
  return lines(stderr).filter((l) => !/^(backend|model|calibration)\b/.test(l));
}
