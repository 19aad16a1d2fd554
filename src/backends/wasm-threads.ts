/**
 * Threads for tfjs-backend-wasm 4.22 in browsers.
 *
 * The threaded wasm binary runs when the page is cross-origin isolated (COOP `same-origin` + COEP `require-corp`),
 * but its thread pool is capped at `navigator.hardwareConcurrency / 2` (backend.cc assumes two hyperthreads per
 * core), whatever `setThreadsCount` asks: on a 2-core machine that is one thread. The cap is read once, when the
 * wasm module starts (a C++ static initialiser calling `emscripten_num_logical_cores()`, i.e. reading
 * `navigator.hardwareConcurrency`). So for that moment only, `allowWasmThreads` presents a hardwareConcurrency
 * twice the wanted count, and puts the real one back when called again. In Node, tfjs-backend-wasm 4.22 runs no
 * threads at all (tfjs#3830); there this does nothing.
 */
import { NeuroStageNetError } from '../errors.js';

interface NavigatorLike {
  hardwareConcurrency?: number;
}

/**
 * Lets tfjs-backend-wasm 4.22 start `threads` threads (at most the machine's logical cores, at most 8, its worker pool)
 * in a cross-origin-isolated page. Call it, together with tfjs' own `setThreadsCount(threads)`, right before the wasm
 * backend initialises (`tf.setBackend('wasm')` + `tf.ready()`), and call the function it returns right after.
 * Does nothing (and returns a no-op) where there is no `navigator.hardwareConcurrency` (Node) or the cap already
 * allows `threads`.
 * @example
 * ```ts
 * setThreadsCount(2);                       // from @tensorflow/tfjs-backend-wasm
 * const restore = allowWasmThreads(2);
 * try { await tf.setBackend('wasm'); await tf.ready(); } finally { restore(); }
 * getThreadsCount();                        // 2 on a 2-core machine (1 without allowWasmThreads)
 * ```
 * @param threads Wanted thread count, a positive integer.
 * @returns `restore()`: puts `navigator.hardwareConcurrency` back as it was.
 * @throws {@link NeuroStageNetError} when `threads` is not a positive integer.
 */
export function allowWasmThreads(threads: number): () => void {
  if (!Number.isInteger(threads) || threads < 1) {
    throw new NeuroStageNetError(`allowWasmThreads: threads must be a positive integer, got ${String(threads)}`);
  }
  const nav = (globalThis as { navigator?: NavigatorLike }).navigator;
  const real = nav?.hardwareConcurrency;
  if (nav == null || typeof real !== 'number' || real < 1) return () => {};
  const wanted = Math.min(threads, real, 8);
  if (Math.floor(real / 2) >= wanted) return () => {};
  const own = Object.getOwnPropertyDescriptor(nav, 'hardwareConcurrency');
  Object.defineProperty(nav, 'hardwareConcurrency', { value: 2 * wanted, configurable: true, enumerable: true });
  let restored = false;
  return () => {
    if (restored) return;
    restored = true;
    if (own != null) Object.defineProperty(nav, 'hardwareConcurrency', own);
    else delete (nav as { hardwareConcurrency?: number }).hardwareConcurrency;
  };
}
