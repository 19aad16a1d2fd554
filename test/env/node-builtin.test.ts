// Reading or writing a path asks for Node's built-ins at the call (process.getBuiltinModule); where they are not
// available (a browser, or a bundler's `process` shim without Node) the call throws NodeRequiredError saying what
// needed Node and to pass bytes instead. Simulated here by replacing globalThis.process for one synchronous call.
import * as fsp from 'node:fs/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NeuroStageNetError } from '../../src/errors.js';
import { NodeRequiredError, hasNodeBuiltins, nodeFs, nodePath } from '../../src/env/node-builtin.js';
import { ParquetImageDataset } from '../../src/data/dataset.js';
import { writePng } from '../../src/explain/png.js';
import { openH5 } from '../../src/io/h5-reader.js';

/** Runs `fn` with `process` replaced (a browser has none; bundlers' shims have `versions: {}`), then restores it. */
function without<T>(fakeProcess: unknown, fn: () => T): T {
  vi.stubGlobal('process', fakeProcess);
  try {
    return fn();
  } finally {
    vi.unstubAllGlobals();
  }
}

afterEach(() => vi.unstubAllGlobals());

describe('Node built-ins on demand', () => {
  it('in Node they are the real modules', () => {
    expect(hasNodeBuiltins()).toBe(true);
    expect(nodeFs('reading x').readFile).toBe(fsp.readFile);
    expect(nodePath('joining').join('a', 'b')).toBe(['a', 'b'].join(nodePath('sep').sep));
  });

  it('in a browser (no process, or a shim without Node) a path gives NodeRequiredError: needs Node, pass bytes', async () => {
    for (const fake of [undefined, { versions: {}, env: {} }]) {
      const err = without(fake, () => {
        expect(hasNodeBuiltins()).toBe(false);
        try {
          nodeFs("reading the Parquet file 'train.parquet'");
        } catch (e) {
          return e;
        }
        return undefined;
      });
      expect(err).toBeInstanceOf(NodeRequiredError);
      expect(err).toBeInstanceOf(NeuroStageNetError);
      expect((err as NodeRequiredError).operation).toBe("reading the Parquet file 'train.parquet'");
      expect((err as Error).message).toBe("reading the Parquet file 'train.parquet' needs Node.js (its file system), which is not available here: "
        + "in a browser, pass the file's bytes (a Uint8Array or ArrayBuffer, e.g. from fetch() or a File) instead of a path.");
    }
  });

  it('the library\'s path APIs throw it before touching anything (dataset, PNG file, HDF5 file)', async () => {
    const calls = without(undefined, () => [
      ParquetImageDataset.fromFile('train.parquet'),
      writePng('out.png', { data: new Uint8ClampedArray(4), width: 1, height: 1 }),
      openH5('weights.h5', 'weights.h5'),
    ]);
    const errors = await Promise.all(calls.map((p) => p.then(() => null, (e: unknown) => e)));
    errors.forEach((e) => expect(e).toBeInstanceOf(NodeRequiredError));
    expect((errors[0] as Error).message).toMatch(/^reading the Parquet file 'train\.parquet' needs Node\.js.*pass the file's bytes/);
    expect((errors[1] as Error).message).toMatch(/^writing the PNG file 'out\.png' needs Node\.js.*encodePng\(\)/);
    expect((errors[2] as Error).message).toMatch(/^reading the HDF5 file 'weights\.h5' needs Node\.js/);
  });

  it('Node older than 20.16 (no process.getBuiltinModule) is told to upgrade', () => {
    const err = without({ versions: { node: '20.10.0' }, version: 'v20.10.0' }, () => {
      try {
        nodeFs('reading x');
      } catch (e) {
        return e;
      }
      return undefined;
    });
    expect(err).toBeInstanceOf(NodeRequiredError);
    expect((err as Error).message).toBe('reading x needs Node.js >= 20.16 (process.getBuiltinModule); this is Node v20.10.0. Upgrade Node.');
  });
});
