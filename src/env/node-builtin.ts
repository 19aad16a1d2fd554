/**
 * Node's built-in modules for the library's file-system paths, without importing them.
 *
 * Library modules outside src/cli/ never `import` a `node:` module, statically or dynamically, so that a browser
 * bundle of them needs no stubs or polyfills. Code that reads or writes a path asks for a built-in here, at the
 * moment it needs it, through `process.getBuiltinModule` (Node >= 20.16, the package's `engines`); elsewhere (a
 * browser, a worker without `process`) the call throws {@link NodeRequiredError}, whose message says what needs Node
 * and what to pass instead (usually the file's bytes).
 *
 * Internal: not exported from the package's entries (only the error class is public).
 */
import { EnvironmentError } from './errors.js';

/**
 * Thrown when something that needs Node.js (reading or writing a path, worker threads) is called where Node's
 * built-in modules are not available, e.g. in a browser. The message names what was attempted and what to use
 * instead (typically: pass the file's bytes rather than a path).
 */
export class NodeRequiredError extends EnvironmentError {
  /** What needed Node, e.g. "reading the Parquet file 'train.parquet'". */
  readonly operation: string;

  /**
   * @param operation What needed Node.
   * @param message The full message.
   */
  constructor(operation: string, message: string) {
    super(message);
    this.operation = operation;
  }
}

/** The default advice: in a browser, every reading API takes bytes as well as a path. */
export const PASS_BYTES_HINT = 'in a browser, pass the file\'s bytes (a Uint8Array or ArrayBuffer, e.g. from fetch() or a File) instead of a path';

interface ProcessWithBuiltins {
  versions?: { node?: string };
  version?: string;
  getBuiltinModule?: NodeJS.Process['getBuiltinModule'];
}

/**
 * Node's `process` when built-in modules can be had from it; otherwise throws {@link NodeRequiredError}.
 * @param operation What needs Node, for the message ("reading the Parquet file 'x.parquet'").
 * @param hint What to do instead; default {@link PASS_BYTES_HINT}.
 */
export function nodeProcess(operation: string, hint: string = PASS_BYTES_HINT): NodeJS.Process {
  const p = (globalThis as { process?: ProcessWithBuiltins }).process;
  if (p == null || p.versions?.node == null) {
    throw new NodeRequiredError(operation, `${operation} needs Node.js (its file system), which is not available here: ${hint}.`);
  }
  if (typeof p.getBuiltinModule !== 'function') {
    throw new NodeRequiredError(operation, `${operation} needs Node.js >= 20.16 (process.getBuiltinModule); this is Node ${p.version ?? p.versions.node}. Upgrade Node.`);
  }
  return p as NodeJS.Process;
}

/** True where Node's built-in modules can be loaded (Node >= 20.16). */
export function hasNodeBuiltins(): boolean {
  const p = (globalThis as { process?: ProcessWithBuiltins }).process;
  return p?.versions?.node != null && typeof p.getBuiltinModule === 'function';
}

/**
 * `node:fs/promises`, or {@link NodeRequiredError}.
 * @param operation What needs it, for the message.
 * @param hint What to do instead (default: pass bytes).
 */
export function nodeFs(operation: string, hint?: string) {
  return nodeProcess(operation, hint).getBuiltinModule('node:fs/promises');
}

/**
 * `node:fs` (synchronous calls such as `existsSync`), or {@link NodeRequiredError}.
 * @param operation What needs it, for the message.
 * @param hint What to do instead.
 */
export function nodeFsSync(operation: string, hint?: string) {
  return nodeProcess(operation, hint).getBuiltinModule('node:fs');
}

/**
 * `node:path`, or {@link NodeRequiredError}.
 * @param operation What needs it, for the message.
 * @param hint What to do instead.
 */
export function nodePath(operation: string, hint?: string) {
  return nodeProcess(operation, hint).getBuiltinModule('node:path');
}

/**
 * `node:url`, or {@link NodeRequiredError}.
 * @param operation What needs it, for the message.
 * @param hint What to do instead.
 */
export function nodeUrl(operation: string, hint?: string) {
  return nodeProcess(operation, hint).getBuiltinModule('node:url');
}

/**
 * `node:os`, or {@link NodeRequiredError}.
 * @param operation What needs it, for the message.
 * @param hint What to do instead.
 */
export function nodeOs(operation: string, hint?: string) {
  return nodeProcess(operation, hint).getBuiltinModule('node:os');
}

/**
 * `node:module` (createRequire), or {@link NodeRequiredError}.
 * @param operation What needs it, for the message.
 * @param hint What to do instead.
 */
export function nodeModule(operation: string, hint?: string) {
  return nodeProcess(operation, hint).getBuiltinModule('node:module');
}

/**
 * `node:worker_threads`, or {@link NodeRequiredError}.
 * @param operation What needs it, for the message.
 * @param hint What to do instead.
 */
export function nodeWorkerThreads(operation: string, hint?: string) {
  return nodeProcess(operation, hint).getBuiltinModule('node:worker_threads');
}
