/**
 * Backend selection: the app (not this library) decides which tfjs backend runs. selectBackend() tries
 * the requested backends in order, loading each one's optional peer package with a dynamic import only
 * when that backend is not registered yet, so no code path imports tfjs-node unconditionally and
 * bundlers never see the optional packages as static dependencies.
 */
import * as tf from '@tensorflow/tfjs-core';
import { NeuroStageNetError } from '../errors.js';
import { EnvironmentError } from '../env/errors.js';
import { describeError as describe, isModuleNotFound } from '../env/optional-peer.js';
import { registerWasmGradientKernels } from './wasm-gradient-kernels.js';

/** Backend names selectBackend knows how to load (tfjs's own names). */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu' | 'webgl' | 'webgpu';

/** Backends selectBackend knows, in its default order. */
export const KNOWN_BACKENDS: readonly BackendName[] = ['tensorflow', 'webgpu', 'webgl', 'wasm', 'cpu'];

/** Options of {@link index!selectBackend}. */
export interface SelectBackendOptions {
  /**
   * Where wasm finds its .wasm binaries: a directory prefix (ending in '/') or a map from file name
   * ('tfjs-backend-wasm.wasm', '-simd', '-threaded-simd') to path/URL, passed to tfjs's setWasmPaths.
   * Not needed in Node when @tensorflow/tfjs-backend-wasm is loaded from node_modules (it finds the files
   * next to itself); needed when the app is bundled, and in browsers when the files are served elsewhere.
   */
  wasmPaths?: string | Record<string, string>;
  /**
   * When wasm is selected, register the gradient kernels tfjs-backend-wasm 4.22 lacks (without them no
   * convolutional model can train on wasm; see {@link registerWasmGradientKernels}). Default true. No other
   * kernel or gradient is registered: the cheaper FusedBatchNorm, Mean and Sum gradients are used only inside
   * neurostagenet's own training steps (`withTrainingGradients`), never installed globally.
   */
  registerTrainingKernels?: boolean;
  /** Told, for each backend skipped, why (package not installed, failed to initialise, ...). */
  onSkip?: (backend: string, reason: string) => void;
}

/** A backend selectBackend tried and could not use. */
export interface SkippedBackend {
  /** The backend's name, as requested. */
  backend: string;
  /** Why it could not be used (package not installed, failed to initialise, ...). */
  reason: string;
}

/** Thrown when none of the requested backends can run; the message lists each one's reason. */
export class BackendUnavailableError extends EnvironmentError {
  /** Each backend tried and why it could not be used. */
  readonly reasons: readonly SkippedBackend[];

  /**
   * @param reasons Each backend tried and why it failed.
   */
  constructor(reasons: readonly SkippedBackend[]) {
    super(`No requested tfjs backend is available:\n${reasons.map((r) => `  - ${r.backend}: ${r.reason}`).join('\n')}`);
    this.reasons = reasons;
  }
}

const isNode = (): boolean =>
  typeof process !== 'undefined' && process.versions != null && process.versions.node != null;

// Variable specifiers + @vite-ignore: bundlers must not try to resolve optional peers at build time.
async function importOptional(specifier: string): Promise<Record<string, unknown>> {
  return (await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier)) as Record<string, unknown>;
}

/** Loads the package(s) that register `name` with tfjs, unless it is registered already. */
async function ensureRegistered(name: BackendName, options: SelectBackendOptions): Promise<void> {
  if (tf.findBackendFactory(name) != null) {
    // registered by the app's own import (the only way in browser bundles): only wasm paths to set
    if (name === 'wasm' && options.wasmPaths != null) await loadWasm(options);
    return;
  }
  switch (name) {
    case 'tensorflow':
      return loadTensorflow();
    case 'wasm':
      return loadWasm(options);
    case 'cpu':
      await loadPackage('@tensorflow/tfjs-backend-cpu');
      return;
    case 'webgl':
      if (isNode()) throw new Error('webgl runs only in browsers');
      await loadPackage('@tensorflow/tfjs-backend-webgl');
      return;
    case 'webgpu':
      if (isNode()) throw new Error('webgpu runs only in browsers');
      await loadPackage('@tensorflow/tfjs-backend-webgpu');
      return;
  }
}

async function loadPackage(specifier: string): Promise<Record<string, unknown>> {
  try {
    return await importOptional(specifier);
  } catch (e) {
    if (isModuleNotFound(e, specifier)) throw new Error(`package ${specifier} is not installed (npm install ${specifier})`);
    throw new Error(`importing ${specifier} failed: ${describe(e)}`);
  }
}

async function loadTensorflow(): Promise<void> {
  if (!isNode()) throw new Error('the tensorflow (tfjs-node) backend runs only in Node.js');
  const failures: string[] = [];
  for (const specifier of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    let mod: Record<string, unknown>;
    try {
      mod = await importOptional(specifier);
    } catch (e) {
      failures.push(isModuleNotFound(e, specifier) ? `${specifier} is not installed` : `${specifier} failed to load: ${describe(e)}`);
      continue;
    }
    assertSameTfjsCore(specifier, mod);
    return;
  }
  throw new Error(`${failures.join('; ')}. Install @tensorflow/tfjs-node (or -node-gpu for CUDA); on machines `
    + 'without internet see docs/backends.md, "Machines without internet"');
}

/**
 * tfjs-node depends on the full @tensorflow/tfjs, which brings its own @tensorflow/tfjs-core. If npm did
 * not dedupe it to the copy this library imports (same version range), tensors made by one copy fail
 * the other's `instanceof Tensor` checks (tfjs-layers) although both share the global engine.
 */
function assertSameTfjsCore(specifier: string, mod: Record<string, unknown>): void {
  const theirs = (mod.Tensor ?? (mod.default as Record<string, unknown> | undefined)?.Tensor) as unknown;
  if (theirs != null && theirs !== tf.Tensor) {
    const version = (mod.version as Record<string, string> | undefined)?.['tfjs-core'] ?? 'unknown';
    throw new Error(`${specifier} uses a different copy of @tensorflow/tfjs-core (its version ${version}, ours `
      + `${tf.version_core}). Install the same version of @tensorflow/tfjs-core as tfjs-node's @tensorflow/tfjs `
      + 'and run `npm dedupe` so only one copy exists');
  }
}

let wasmModule: Record<string, unknown> | undefined;

async function loadWasm(options: SelectBackendOptions): Promise<void> {
  if (wasmModule == null) wasmModule = await loadPackage('@tensorflow/tfjs-backend-wasm');
  if (options.wasmPaths != null) {
    const setWasmPaths = (wasmModule.setWasmPaths ?? (wasmModule.default as Record<string, unknown> | undefined)
      ?.setWasmPaths) as ((p: string | Record<string, string>) => void) | undefined;
    if (setWasmPaths == null) throw new Error('@tensorflow/tfjs-backend-wasm exports no setWasmPaths');
    // once wasm is initialised its paths are fixed; setWasmPaths would throw, so only set them before
    if (tf.engine().registry.wasm == null) setWasmPaths(options.wasmPaths);
  }
}

/**
 * Picks the tfjs backend this process runs on and returns its name.
 *
 * Tries the requested backends in order and uses the first one that loads and initialises. Each
 * backend's package is an optional peer dependency imported only when needed: 'tensorflow'
 * (@tensorflow/tfjs-node-gpu, then @tensorflow/tfjs-node; Node only), 'webgpu' / 'webgl' (browsers),
 * 'wasm' (@tensorflow/tfjs-backend-wasm), 'cpu' (@tensorflow/tfjs-backend-cpu). A backend already
 * registered by the app (e.g. `import '@tensorflow/tfjs-backend-webgl'`, which a browser bundle needs)
 * is used without importing anything. When wasm is chosen, the gradient kernels it lacks are
 * registered so models can train on it (`registerTrainingKernels: false` leaves them out); nothing else in
 * tfjs' global kernel and gradient registries is changed.
 *
 * @param preference A backend name or an ordered list of them. Default: all known, fastest first
 *   ('tensorflow', 'webgpu', 'webgl', 'wasm', 'cpu'). An explicit preference is honoured strictly:
 *   when none of it works, no other backend is tried.
 * @param options See {@link SelectBackendOptions}.
 * @returns The name of the backend now active (`tf.getBackend()`).
 * @throws BackendUnavailableError when no requested backend works; its message names each backend and
 *   why (e.g. "tensorflow: @tensorflow/tfjs-node-gpu is not installed; @tensorflow/tfjs-node is not installed").
 * @example
 * ```ts
 * const name = await selectBackend();                   // best available
 * await selectBackend(['tensorflow', 'wasm']);          // native if installed, else wasm
 * ```
 */
export async function selectBackend(
  preference?: string | readonly string[],
  options: SelectBackendOptions = {},
): Promise<string> {
  const order = preference == null ? [...KNOWN_BACKENDS] : typeof preference === 'string' ? [preference] : [...preference];
  if (order.length === 0) throw new NeuroStageNetError('selectBackend: the preference list is empty');
  const reasons: SkippedBackend[] = [];
  const skip = (backend: string, reason: string) => {
    reasons.push({ backend, reason });
    options.onSkip?.(backend, reason);
  };
  for (const name of order) {
    if (!(KNOWN_BACKENDS as readonly string[]).includes(name)) {
      if (tf.findBackendFactory(name) == null) {
        skip(name, `unknown backend (known: ${KNOWN_BACKENDS.join(', ')}) and none registered under that name`);
        continue;
      }
    } else {
      try {
        await ensureRegistered(name as BackendName, options);
      } catch (e) {
        skip(name, describe(e));
        continue;
      }
    }
    if (tf.findBackendFactory(name) == null) {
      skip(name, 'its package loaded but registered no backend of that name');
      continue;
    }
    let ok = false;
    try {
      ok = await tf.setBackend(name);
    } catch (e) {
      skip(name, `failed to initialise: ${describe(e)}`);
      continue;
    }
    if (!ok) {
      skip(name, 'failed to initialise (tfjs logged the cause above)');
      continue;
    }
    if (options.registerTrainingKernels !== false && name === 'wasm') registerWasmGradientKernels();
    return tf.getBackend();
  }
  throw new BackendUnavailableError(reasons);
}
