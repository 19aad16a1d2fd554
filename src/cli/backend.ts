// Backend choice for the CLI: --backend names one backend or a comma list; default is the fastest installed.
import * as tf from '@tensorflow/tfjs-core';
import { BackendUnavailableError, KNOWN_BACKENDS, selectBackend } from '../backends/select-backend.js';
import { NeuroStageNetError } from '../errors.js';
import { UsageError } from './args.js';
import type { CliContext } from './context.js';

/** Accepted spellings: tfjs' names plus 'node' for tfjs-node. */
const ALIASES: Record<string, string> = { node: 'tensorflow', 'tfjs-node': 'tensorflow' };

/**
 * Activates the requested backend (or the fastest installed one) and returns its name.
 * @throws UsageError for an unknown backend name; BackendUnavailableError when none of the requested ones runs.
 */
export async function activateBackend(requested: string | undefined, ctx: CliContext, command?: string): Promise<string> {
  // tfjs prints "install tfjs-node" banners and kernel re-registration warnings through console.warn unless PROD.
  if (!ctx.verbose) {
    tf.env().set('PROD', true);
    // TensorFlow's native library (tfjs-node) logs its CPU features at start-up unless told otherwise.
    process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  }
  let preference: string[] | undefined;
  if (requested !== undefined) {
    preference = requested.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean).map((s) => ALIASES[s] ?? s);
    const unknown = preference.filter((b) => !(KNOWN_BACKENDS as readonly string[]).includes(b));
    if (preference.length === 0 || unknown.length > 0) {
      throw new UsageError(`unknown backend '${unknown[0] ?? requested}' (choose from ${KNOWN_BACKENDS.join(', ')})`, command);
    }
  }
  // Skip reasons are printed only when another backend was then used: when none works, the error carries them.
  const skipped: string[] = [];
  let name: string;
  try {
    name = await selectBackend(preference, { onSkip: (backend, reason) => void skipped.push(`backend ${backend} skipped: ${plainReason(backend, reason)}`) });
  } catch (e) {
    if (e instanceof BackendUnavailableError) throw backendError(e, requested !== undefined, command);
    throw e;
  }
  if (ctx.verbose || requested !== undefined) for (const line of skipped) ctx.note(line);
  await tf.ready();
  ctx.note(`backend: ${name}`);
  return name;
}

/** The package each backend needs, and how to install it. */
const INSTALL: Record<string, string> = {
  tensorflow: '@tensorflow/tfjs-node, which is not installed: npm install @tensorflow/tfjs-node '
    + '(without internet: bash ../shared/tools/install-tfjs-node-from-wheel.sh, see docs/backends.md)',
  wasm: '@tensorflow/tfjs-backend-wasm, which is not installed: npm install @tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu, which is not installed: npm install @tensorflow/tfjs-backend-cpu',
};

const notInstalled = (reason: string): boolean => /not installed/.test(reason) && !/failed|different copy/.test(reason);

/** A skip reason in plain words: "needs <package>, which is not installed: npm install <package>" when that is all. */
function plainReason(backend: string, reason: string): string {
  return notInstalled(reason) && INSTALL[backend] ? `needs ${INSTALL[backend]}` : reason;
}

/**
 * One plain line for "no requested backend works". A backend asked for with --backend whose package is simply not
 * installed is a command-line matter (exit 2): the line says which package and how to install it, once.
 */
function backendError(e: BackendUnavailableError, explicit: boolean, command?: string): Error {
  const reasons = e.reasons.map((r) => ({ ...r, reason: plainReason(r.backend, r.reason) }));
  if (explicit && e.reasons.every((r) => notInstalled(r.reason))) {
    const alternatives = ['tensorflow', 'wasm', 'cpu'].filter((b) => !reasons.some((r) => r.backend === b));
    const others = alternatives.length > 0 ? `; or use --backend ${alternatives.join(' or ')}` : '';
    if (reasons.length === 1) return new UsageError(`the ${reasons[0].backend} backend ${reasons[0].reason}${others}`, command);
    return new UsageError(`none of the requested backends is installed: ${reasons.map((r) => `${r.backend} ${r.reason}`).join('; ')}`, command);
  }
  return new NeuroStageNetError(`no tfjs backend is available: ${reasons.map((r) => `${r.backend}: ${r.reason}`).join('; ')}`, { cause: e });
}
