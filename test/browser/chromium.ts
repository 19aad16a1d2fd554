/**
 * Chromium for the browser e2e test (page.test.ts): found at CHROMIUM_PATH or /usr/bin/chromium, installed from
 * Debian's package when it is missing on a Debian machine where we are root (as .ci/run does), and otherwise
 * reported as not available with the one command that enables the test.
 *
 * NEUROSTAGENET_REQUIRE_BROWSER=1 (set by .ci/run) turns "not available" into a failing test instead of a skip.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Where the test looks for Chromium: CHROMIUM_PATH, else Debian's /usr/bin/chromium. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The one command that lets the test run on a Debian/Ubuntu machine (or set CHROMIUM_PATH). */
export const ENABLE_COMMAND = 'apt-get install -y chromium';

/** Whether a missing browser must fail the run (CI) rather than skip the test. */
export const BROWSER_REQUIRED = process.env.NEUROSTAGENET_REQUIRE_BROWSER === '1';

/** Whether Chromium can be used, and if not, why and how to enable it. */
export type ChromiumStatus = { ok: true; path: string; installed: boolean } | { ok: false; reason: string };

function canInstallWithApt(): boolean {
  return existsSync('/etc/debian_version') && existsSync('/usr/bin/apt-get') && typeof process.getuid === 'function' && process.getuid() === 0;
}

function apt(args: string[], timeoutMs: number): { ok: boolean; tail: string } {
  const r = spawnSync('apt-get', args, {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  const tail = `${r.stdout ?? ''}\n${r.stderr ?? ''}`.trim().split('\n').slice(-3).join(' | ');
  return { ok: r.status === 0, tail: r.error ? String(r.error) : tail };
}

/**
 * Finds Chromium, installing Debian's `chromium` package first when it is missing at /usr/bin/chromium and this is a
 * Debian machine where we are root (no CHROMIUM_PATH given). Synchronous: called once when the test file loads.
 * @returns Its path, or why the e2e test cannot run and the command that enables it.
 */
export function provisionChromium(): ChromiumStatus {
  if (existsSync(CHROMIUM_PATH)) return { ok: true, path: CHROMIUM_PATH, installed: false };
  const enable = `Enable it with \`${ENABLE_COMMAND}\` (Debian/Ubuntu, as root), or point CHROMIUM_PATH at a Chromium binary.`;
  if (process.env.CHROMIUM_PATH != null) {
    return { ok: false, reason: `CHROMIUM_PATH=${CHROMIUM_PATH} does not exist. ${enable}` };
  }
  if (!canInstallWithApt()) {
    return { ok: false, reason: `Chromium not found at ${CHROMIUM_PATH} and it cannot be installed here (needs Debian's apt-get as root). ${enable}` };
  }
  console.warn(`browser e2e: ${CHROMIUM_PATH} is missing; installing Debian's chromium package (${ENABLE_COMMAND}), once...`);
  let install = apt(['install', '-y', 'chromium'], 20 * 60_000);
  if (!install.ok) {
    apt(['update'], 10 * 60_000); // a fresh machine has no package lists yet
    install = apt(['install', '-y', 'chromium'], 20 * 60_000);
  }
  if (install.ok && existsSync(CHROMIUM_PATH)) return { ok: true, path: CHROMIUM_PATH, installed: true };
  return { ok: false, reason: `installing Chromium with apt-get failed (${install.tail}). ${enable}` };
}
