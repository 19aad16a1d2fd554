// Backend choice for the CLI: --backend names one backend or a comma list; default is the fastest installed.
import * as tf from '@tensorflow/tfjs-core';
import { KNOWN_BACKENDS, selectBackend } from '../backends/select-backend.js';
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
  const name = await selectBackend(preference, {
    onSkip: (backend, reason) => {
      if (ctx.verbose || requested !== undefined) ctx.note(`backend ${backend} skipped: ${reason}`);
    },
  });
  await tf.ready();
  ctx.note(`backend: ${name}`);
  return name;
}
