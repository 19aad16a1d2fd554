/**
 * Optional peer dependencies loaded on first use.
 *
 * Packages that only one feature needs (the native canvas for report plots, h5wasm for Keras HDF5 weights) are
 * optional peers: installing neurostagenet does not install them. The feature imports its package the first time it
 * runs; when the package is missing, the error names it and the command that installs it.
 *
 * Internal: the loaders are not exported from the package's entries (only the error class is public).
 */
import { EnvironmentError } from './errors.js';

/**
 * Thrown when a feature needs an optional package that is not installed (`reason: 'missing'`) or that is installed
 * but fails to load (`'failed'`, e.g. a native package without a binary for this platform). The message names the
 * package and the command to install it, e.g. "… needs the optional package @napi-rs/canvas, which is not installed.
 * Install it: npm install @napi-rs/canvas".
 */
export class OptionalDependencyError extends EnvironmentError {
  /** The npm package, e.g. `'h5wasm'`. */
  readonly packageName: string;
  /** The command that installs it, e.g. `'npm install h5wasm'`. */
  readonly installCommand: string;
  /** Whether the package is absent, or present but failed to load. */
  readonly reason: 'missing' | 'failed';

  /**
   * @param packageName The npm package.
   * @param feature What needed it, e.g. "Drawing the report plots".
   * @param reason Missing, or installed but failed to load.
   * @param cause The loader's error.
   */
  constructor(packageName: string, feature: string, reason: 'missing' | 'failed', cause?: unknown) {
    const installCommand = `npm install ${packageName}`;
    super(
      reason === 'missing'
        ? `${feature} needs the optional package ${packageName}, which is not installed. Install it: ${installCommand}`
        : `${feature} needs the optional package ${packageName}, which is installed but failed to load (${describeError(cause)}). `
          + `Reinstall it for this platform: ${installCommand}`,
      { cause },
    );
    this.packageName = packageName;
    this.installCommand = installCommand;
    this.reason = reason;
  }
}

/** The first line of an error's message (or the value as text). */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message.split('\n')[0]!;
  if (e != null && typeof e === 'object' && 'message' in e) return String((e as { message: unknown }).message);
  return String(e);
}

/**
 * True when a failed import means that `specifier` itself is missing, not one of its own dependencies (a broken
 * install, which callers report with the loader's message instead). Node says "Cannot find module/package";
 * bundlers and dev servers (vite, vitest) say "Could not resolve" or, in browsers, "Failed to resolve module specifier".
 * @param e The import's error.
 * @param specifier The package imported.
 */
export function isModuleNotFound(e: unknown, specifier: string): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  const message = describeError(e);
  const names = message.includes(`'${specifier}'`) || message.includes(`"${specifier}"`);
  return (
    names &&
    (code === 'ERR_MODULE_NOT_FOUND' ||
      code === 'MODULE_NOT_FOUND' ||
      /Cannot find (module|package)|Could not resolve|Failed to resolve module specifier/.test(message))
  );
}

/** An optional peer package, imported on the first {@link OptionalPeer.load}. */
export interface OptionalPeer<T> {
  /** The npm package name. */
  readonly packageName: string;
  /**
   * The package's module, imported on first call (later calls reuse it).
   * @throws {@link OptionalDependencyError} when it is not installed or fails to load.
   */
  load(): Promise<T>;
  /**
   * Replaces the importer (tests simulate a missing package with it); `null` restores the real one. Clears the cache.
   * @internal
   */
  setImporterForTest(importer: (() => Promise<T>) | null): void;
}

/**
 * Imports a package by a specifier known only at run time. Bundlers leave such an import alone, so an optional peer or
 * a Node-only package never enters an app's bundle through this library, and the CJS build keeps a real `import()`
 * (esbuild turns a literal `import('pkg')` into `require('pkg')` there, which fails for ESM-only packages such as
 * h5wasm and fast-png). Node resolves the specifier from this module's file, i.e. the library's own node_modules.
 * @param specifier The package name.
 */
export function importAtRunTime<T>(specifier: string): Promise<T> {
  return import(/* @vite-ignore */ /* webpackIgnore: true */ specifier) as Promise<T>;
}

/**
 * Describes an optional peer.
 * @param packageName The npm package.
 * @param feature What needs it, for the message ("Drawing the report plots (PNG)").
 * @param importer The import, e.g. `() => importAtRunTime('pkg')` (tests inject a failing one).
 */
export function optionalPeer<T>(packageName: string, feature: string, importer: () => Promise<T>): OptionalPeer<T> {
  let current = importer;
  let loaded: Promise<T> | null = null;
  return {
    packageName,
    load(): Promise<T> {
      loaded ??= current().catch((e: unknown) => {
        loaded = null; // an install made after a failure is picked up by the next call
        throw new OptionalDependencyError(packageName, feature, isModuleNotFound(e, packageName) ? 'missing' : 'failed', e);
      });
      return loaded;
    },
    setImporterForTest(next: (() => Promise<T>) | null): void {
      current = next ?? importer;
      loaded = null;
    },
  };
}
