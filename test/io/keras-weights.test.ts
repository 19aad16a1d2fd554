import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildEfficientNetB0 } from '../../src/index.js';
import { H5ReadError, KerasWeightsFormatError, KerasWeightsMismatchError, loadKerasWeights } from '../../src/node/index.js';
import { buildNeuroStageNet } from '../../src/models/index.js';
import { BACKBONE_H5, NEUROSTAGENET_H5, requireGolden } from '../models/golden.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
  requireGolden(BACKBONE_H5);
  requireGolden(NEUROSTAGENET_H5);
});

describe('loadKerasWeights', () => {
  it('reads bytes as well as paths, and applies the Normalization statistics as stored', async () => {
    const model = buildEfficientNetB0({ imagenetLayout: true });
    const norm = model.getLayer('normalization');
    norm.setWeights([tf.zeros([3]), tf.ones([3]), tf.scalar(0)]);
    const before = tf.memory().numTensors;
    const report = await loadKerasWeights(model, new Uint8Array(readFileSync(BACKBONE_H5)));
    expect(tf.memory().numTensors).toBe(before);
    expect(report).toMatchObject({ layout: 'flat', kerasVersion: '3.15.1', skipped: [], missing: [] });
    expect(report.loaded).toHaveLength(312);
    expect(report.loaded).toContain('block1a_dwconv/depthwise_kernel');
    const [mean, variance, count] = norm.getWeights();
    expect(Array.from(mean.dataSync())).toEqual(Array.from(Float32Array.of(0.485, 0.456, 0.406)));
    expect(Array.from(variance.dataSync())).toEqual(Array.from(Float32Array.of(0.229, 0.224, 0.225)));
    expect(count.dataSync()[0]).toBe(0);
  });

  it('fails with one error listing missing and unexpected weights when the layouts disagree', async () => {
    const model = await buildNeuroStageNet();
    const error = await loadKerasWeights(model, BACKBONE_H5).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KerasWeightsMismatchError);
    const e = error as KerasWeightsMismatchError;
    expect(e.missing).toContain('gray_to_rgb/kernel');
    expect(e.missing).toContain('efficientnetb0/stem_conv/kernel');
    expect(e.unexpected).toContain('stem_conv/kernel');
    expect(e.unexpected).toHaveLength(312);
    expect(e.message).toMatch(/missing in the file: .*gray_to_rgb\/kernel/);
    expect(e.message).toContain(BACKBONE_H5);
  });

  it('reports shape mismatches; strict: false loads everything else', async () => {
    const model = await buildNeuroStageNet({ numClasses: 3, imagenetLayout: false });
    await expect(loadKerasWeights(model, NEUROSTAGENET_H5)).rejects.toThrow(
      /2 with a different shape: predictions\/kernel file \[512,4\] vs model \[512,3\]/,
    );
    const report = await loadKerasWeights(model, NEUROSTAGENET_H5, { strict: false });
    expect(report.layout).toBe('nested');
    expect(report.loaded).toHaveLength(346);
    expect(report.shapeMismatches.map((m) => m.name)).toEqual(['predictions/kernel', 'predictions/bias']);
    expect(report.skipped).toEqual(['predictions/kernel', 'predictions/bias']);
  });

  it('rejects non-HDF5 input, a missing file and an HDF5 file without layer_names with typed errors', async () => {
    const model = buildEfficientNetB0();
    await expect(loadKerasWeights(model, new TextEncoder().encode('not an hdf5 file'), { label: 'junk.h5' })).rejects.toThrow(
      H5ReadError,
    );
    await expect(loadKerasWeights(model, '/nonexistent/weights.h5')).rejects.toThrow(/\/nonexistent\/weights\.h5/);

    // A valid HDF5 file in another layout, written with h5wasm itself.
    const h5 = await import('h5wasm');
    const { FS } = (await h5.ready) as unknown as { FS: { readFile(p: string): Uint8Array; unlink(p: string): void } };
    const f = new h5.File('/other-layout.h5', 'w');
    f.create_group('layers');
    f.create_dataset({ name: 'layers/x', data: new Float32Array([1, 2]) });
    f.close();
    const bytes = FS.readFile('/other-layout.h5');
    FS.unlink('/other-layout.h5');
    await expect(loadKerasWeights(model, bytes, { label: 'keras3.weights.h5' })).rejects.toThrow(KerasWeightsFormatError);
    await expect(loadKerasWeights(model, bytes, { label: 'keras3.weights.h5' })).rejects.toThrow(/keras3\.weights\.h5.*layer_names/);
  });
});
