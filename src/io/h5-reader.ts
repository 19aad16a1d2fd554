/**
 * Minimal read-only view of an HDF5 file through h5wasm, an optional peer dependency loaded on first use
 * (h5wasm is ESM-only and 15 MB with its wasm module, so it is imported only when weights are actually read,
 * and a missing one is reported with `npm install h5wasm`). The same code path serves Node and browsers: the
 * bytes go into h5wasm's in-memory file system.
 */
import { ModelIOError } from './errors.js';
import { nodeFs } from '../env/node-builtin.js';
import { importAtRunTime, optionalPeer } from '../env/optional-peer.js';

/** Thrown when an HDF5 file cannot be opened or read. */
export class H5ReadError extends ModelIOError {}

/** A dataset's values as read from HDF5. */
export interface H5Array {
  /** Row-major values (BigInt datasets converted to numbers). */
  values: Float32Array;
  /** Dataset shape ([] for a scalar). */
  shape: number[];
}

/** What the Keras weight loader needs from an HDF5 file. Internal. */
export interface H5View {
  /** String-array attribute of the root or of a group (`[]` when absent or empty). */
  stringAttr(groupPath: string, name: string): string[] | null;
  /** Whether a group exists at `path`. */
  hasGroup(path: string): boolean;
  /** Reads a dataset, or returns null when absent. */
  dataset(path: string): H5Array | null;
  /** Releases the file. */
  close(): void;
}

type H5Module = typeof import('h5wasm');
/** The Emscripten in-memory file system h5wasm opens files from. */
interface EmscriptenFS {
  writeFile(path: string, data: Uint8Array): void;
  unlink(path: string): void;
}
let h5Promise: Promise<{ h5: H5Module; FS: EmscriptenFS }> | null = null;
let fileCounter = 0;

/**
 * h5wasm (~15 MB) is an optional peer dependency: installing neurostagenet does not install it; reading Keras HDF5
 * weights imports it on first use, and a missing one gives an OptionalDependencyError naming `npm install h5wasm`.
 * Internal (tests replace the importer).
 */
export const h5wasmPeer = optionalPeer<H5Module>('h5wasm', 'Reading Keras HDF5 weights (loadKerasWeights)', () => importAtRunTime<H5Module>('h5wasm'));

async function loadH5wasm(): Promise<{ h5: H5Module; FS: EmscriptenFS }> {
  h5Promise ??= h5wasmPeer.load().then(async (h5) => {
    const module = (await h5.ready) as unknown as { FS: EmscriptenFS };
    return { h5, FS: module.FS };
  });
  // a failed load (package missing) is not kept: installing it later works without a restart
  h5Promise.catch(() => { h5Promise = null; });
  return h5Promise;
}

/** Reads a whole file in Node (Node's fs is asked for only here, so this module stays browser-safe). */
async function readNodeFile(path: string): Promise<Uint8Array> {
  const { readFile } = nodeFs(`reading the HDF5 file '${path}'`);
  try {
    return new Uint8Array(await readFile(path));
  } catch (cause) {
    throw new H5ReadError(`Cannot read HDF5 file '${path}': ${(cause as Error).message}`, { cause });
  }
}

/** HDF5 files start with this signature at offset 0, 512, 1024, 2048, … (after an optional user block). */
const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** Checks the signature first, so that obviously wrong input fails fast and without HDF5's stderr noise. */
function hasHdf5Signature(bytes: Uint8Array): boolean {
  for (let offset = 0; offset + 8 <= bytes.byteLength; offset = offset === 0 ? 512 : offset * 2) {
    if (HDF5_SIGNATURE.every((b, i) => bytes[offset + i] === b)) return true;
  }
  return false;
}

/**
 * Opens an HDF5 file given as a path (Node only) or as bytes (anywhere).
 * @param source File path or the file's bytes.
 * @param label Name used in error messages.
 */
export async function openH5(source: string | Uint8Array, label: string): Promise<H5View> {
  const bytes = typeof source === 'string' ? await readNodeFile(source) : source;
  if (!hasHdf5Signature(bytes)) {
    throw new H5ReadError(`'${label}' is not an HDF5 file (no HDF5 signature; ${bytes.byteLength} bytes)`);
  }
  const { h5, FS } = await loadH5wasm();
  const memPath = `/neurostagenet-weights-${++fileCounter}.h5`;
  FS.writeFile(memPath, bytes);
  let file: InstanceType<H5Module['File']>;
  try {
    file = new h5.File(memPath, 'r');
    void file.attrs; // h5wasm reports some unreadable files only on first access
  } catch (cause) {
    FS.unlink(memPath);
    throw new H5ReadError(`'${label}' is not a readable HDF5 file: ${(cause as Error).message}`, { cause });
  }
  const entity = (path: string) => (path === '/' || path === '' ? file : file.get(path));
  return {
    stringAttr(groupPath, name) {
      const e = entity(groupPath);
      if (e == null) return null;
      const attr = (e as { attrs: Record<string, { value: unknown }> }).attrs[name];
      if (attr == null) return null;
      const v = attr.value;
      if (v == null) return [];
      if (typeof v === 'string') return [v];
      if (Array.isArray(v)) return v.map((s) => String(s).replace(/\0+$/, ''));
      // An empty weight_names list is stored as an empty float64 array.
      if (ArrayBuffer.isView(v) && (v as unknown as ArrayLike<unknown>).length === 0) return [];
      throw new H5ReadError(`'${label}': attribute '${name}' of '${groupPath}' is not a list of strings`);
    },
    hasGroup(path) {
      const e = entity(path);
      return e != null && e instanceof h5.Group;
    },
    dataset(path) {
      const e = entity(path);
      if (e == null || !(e instanceof h5.Dataset)) return null;
      const raw = e.value;
      const shape = e.shape ?? [];
      let values: Float32Array;
      if (typeof raw === 'number' || typeof raw === 'bigint') values = Float32Array.of(Number(raw));
      else if (raw instanceof Float32Array) values = raw;
      else if (raw instanceof BigInt64Array || raw instanceof BigUint64Array) values = Float32Array.from(raw, Number);
      else if (ArrayBuffer.isView(raw)) values = Float32Array.from(raw as unknown as ArrayLike<number>);
      else throw new H5ReadError(`'${label}': dataset '${path}' is not numeric`);
      return { values, shape };
    },
    close() {
      file.close();
      FS.unlink(memPath);
    },
  };
}
