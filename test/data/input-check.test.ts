import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  appearanceScore,
  areaAverage,
  deserializeInputCheck,
  fitInputCheckModel,
  inputVerdict,
  serializeInputCheck,
  sliceStatistics,
  type InputCheckModel,
} from '../../src/data/input-check.js';
import { ParquetImageDataset } from '../../src/data/dataset.js';
import { DataError } from '../../src/data/errors.js';
import { attachInputCheck, checkInputs, InputCheckUnavailableError, InputsRefusedError } from '../../src/models/input-check.js';
import { evaluate } from '../../src/train/evaluate.js';
import { plotNegatives, syntheticNegatives, transformedSlices, volumeNegatives } from '../../scripts/input-check-negatives.js';

const TEST_FILE = join(__dirname, '..', '..', '..', 'shared', 'data', 'alzheimer-mri-subjects', 'test.parquet');
const SHIPPED = join(__dirname, '..', '..', 'models', 'neurostagenet', 'metadata.json');
const FIXTURE = join(__dirname, '..', 'fixtures', 'input-check', 'volume-slices-64');

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('areaAverage', () => {
  it('averages 2x2 blocks of a 4x4 image', () => {
    const image = Float32Array.from({ length: 16 }, (_, i) => i);
    // blocks: (0,1,4,5) (2,3,6,7) (8,9,12,13) (10,11,14,15)
    expect(Array.from(areaAverage(image, 4, 4, 2, 2))).toEqual([2.5, 4.5, 10.5, 12.5]);
  });

  it('weights partly covered pixels by their overlap (3 -> 2: cells [0, 1.5) and [1.5, 3))', () => {
    // Row 1x3 [0, 3, 6] -> [(0*1 + 3*0.5)/1.5, (3*0.5 + 6*1)/1.5] = [1, 5]
    expect(Array.from(areaAverage([0, 3, 6], 1, 3, 1, 2))).toEqual([1, 5]);
  });

  it('names a pixel count that does not fit', () => {
    expect(() => areaAverage([1, 2, 3], 2, 2, 1, 1)).toThrow(/3 pixels do not make a 2x2 image/);
  });
});

// Four 1x2 "images" around (10, 10): variance 2/3 along x, 8/3 along y (n - 1 = 3), no covariance.
const TINY = [[11, 10], [9, 10], [10, 12], [10, 8]];

async function tinyCheck(): Promise<InputCheckModel> {
  return fitInputCheckModel(
    { height: 1, width: 2, images: TINY },
    { height: 1, width: 2, images: TINY },
    { grid: [1, 2], varianceKept: 0.5, mirror: false, acceptShare: 1 },
  );
}

describe('fitInputCheckModel: probabilistic PCA, checked by hand', () => {
  it('finds the mean, the one axis that keeps half the variance, and the residual variance', async () => {
    const check = await tinyCheck();
    expect(Array.from(check.mean)).toEqual([10, 10]);
    expect(check.variances.length).toBe(1);
    expect(check.variances[0]).toBeCloseTo(8 / 3, 5);
    expect(Math.abs(check.axes[1])).toBeCloseTo(1, 6); // the y axis
    expect(check.axes[0]).toBeCloseTo(0, 6);
    expect(check.residualVariance).toBeCloseTo(2 / 3, 6);
  });

  it('scores (z²/λ + r²/σ²) / d: (11, 12) -> (4 / (8/3) + 1 / (2/3)) / 2 = 1.5', async () => {
    const check = await tinyCheck();
    expect(appearanceScore(check, [11, 12], 1, 2)).toBeCloseTo(1.5, 5);
    expect(appearanceScore(check, [10, 10], 1, 2)).toBeCloseTo(0, 6);
    expect(appearanceScore(check, [Number.NaN, 10], 1, 2)).toBe(Infinity);
  });

  it('sets the threshold at the asked quantile of the threshold images (acceptShare 1: the largest score)', async () => {
    const check = await tinyCheck();
    const scores = TINY.map((im) => appearanceScore(check, im, 1, 2));
    expect(check.threshold).toBeCloseTo(Math.max(...scores), 6);
    expect(check.fittedOn.thresholdImages).toBe(4);
  });

  it('rejects options out of range and too few images', async () => {
    const one = { height: 1, width: 2, images: [[1, 2]] };
    await expect(fitInputCheckModel(one, one, { mirror: false, grid: [1, 2] })).rejects.toThrow(/at least 2 images/);
    await expect(fitInputCheckModel(one, one, { varianceKept: 1 })).rejects.toThrow(DataError);
    await expect(fitInputCheckModel(one, one, { acceptShare: 0 })).rejects.toThrow(/acceptShare/);
  });
});

describe('sliceStatistics', () => {
  it('brightness is the 99th percentile; a 0..1 image gets its maximum; footprint as headFootprint', () => {
    const image = Float32Array.from({ length: 100 }, (_, i) => i); // 0..99: 99th percentile rank 99 -> 98
    expect(sliceStatistics(image, 10, 10).brightness).toBe(98);
    expect(sliceStatistics(Float32Array.from({ length: 100 }, (_, i) => i / 100), 10, 10).brightness).toBeCloseTo(0.99, 6);
    const square = new Float32Array(100);
    for (let y = 2; y < 8; y++) for (let x = 2; x < 8; x++) square[y * 10 + x] = 200;
    expect(sliceStatistics(square, 10, 10).footprint).toBeCloseTo(0.36, 6);
  });
});

describe('serializeInputCheck / deserializeInputCheck', () => {
  it('round-trips through JSON exactly (float32 arrays as base64)', async () => {
    const check = await tinyCheck();
    const back = deserializeInputCheck(JSON.parse(JSON.stringify(serializeInputCheck(check))));
    expect(Array.from(back.axes)).toEqual(Array.from(check.axes));
    expect(Array.from(back.mean)).toEqual(Array.from(check.mean));
    expect(back.threshold).toBe(check.threshold);
    expect(back.ranges).toEqual(check.ranges);
  });

  it('names the field that is wrong', async () => {
    const json = serializeInputCheck(await tinyCheck());
    expect(() => deserializeInputCheck({ ...json, method: 'x' })).toThrow(/unknown method 'x'/);
    expect(() => deserializeInputCheck({ ...json, mean: btoa('abc') })).toThrow(/mean holds/);
    expect(() => deserializeInputCheck({ ...json, threshold: -1 })).toThrow(/threshold/);
    expect(() => deserializeInputCheck({ ...json, ranges: {} })).toThrow(/ranges/);
  });
});

function tinyModel(): tfl.LayersModel {
  const x = tfl.input({ shape: [1, 2, 1] });
  const y = tfl.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: 'ones' }).apply(tfl.layers.flatten().apply(x)) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: y });
}

describe('checkInputs', () => {
  it('gives one verdict per image of a tensor, disposes nothing of the caller and leaks nothing', async () => {
    const model = tinyModel();
    const check = await tinyCheck();
    const images = tf.tensor4d([10, 10, 11, 12, 200, -50], [3, 1, 2, 1]);
    const before = tf.memory().numTensors;
    const verdicts = await checkInputs({ model, inputCheck: check }, images);
    expect(tf.memory().numTensors).toBe(before);
    expect(verdicts.map((v) => v.accepted)).toEqual([true, false, false]);
    expect(verdicts[2].score).toBeGreaterThan(verdicts[1].score);
    expect(verdicts[1].reason).toMatch(/score .* > 1/);
    expect(verdicts[0].reason).toBeUndefined();
    images.dispose();
    model.dispose();
  });

  it('reads the check from metadata, from an attached model, or says there is none', async () => {
    const model = tinyModel();
    const check = await tinyCheck();
    const image = tf.tensor3d([10, 10], [1, 2, 1]);
    expect((await checkInputs({ model, metadata: { inputCheck: serializeInputCheck(check) } }, image))[0].accepted).toBe(true);
    await expect(checkInputs(model, image)).rejects.toThrow(InputCheckUnavailableError);
    attachInputCheck(model, check);
    expect((await checkInputs(model, image))).toHaveLength(1);
    await expect(checkInputs(model, tf.zeros([2, 2]))).rejects.toThrow(/\[N, H, W, 1\]/);
    image.dispose();
    model.dispose();
  });

  it('evaluate() classifies only accepted rows, lists the refused ones, and refuses all-refused input', async () => {
    const model = tinyModel();
    attachInputCheck(model, await tinyCheck());
    const images = [[10, 10], [11, 10], [250, 250], [10, 9]];
    const source = {
      length: 4, imageSize: [1, 2] as [number, number], labels: Int32Array.from([0, 1, 0, 1]), classNames: ['a', 'b'],
      get: (i: number) => ({ image: Float32Array.from(images[i]), label: [0, 1, 0, 1][i] }),
    };
    const result = await evaluate(model, source);
    expect(result.inputCheck).toBe('checked');
    expect(Array.from(result.indices)).toEqual([0, 1, 3]);
    expect(result.refused.map((r) => r.row)).toEqual([2]);
    expect(result.labels.length).toBe(3);
    expect(result.metrics.confusionMatrix.flat().reduce((a: number, b: number) => a + b, 0)).toBe(3);
    const forced = await evaluate(model, source, { allowUnchecked: true });
    expect(forced.inputCheck).toBe('allowed');
    expect(forced.indices.length).toBe(4);
    await expect(evaluate(model, source, { indices: [2] })).rejects.toThrow(InputsRefusedError);
    model.dispose();
  });
});

// The shipped model's check against real negatives and the test file's people (the refusal table of
// docs/evaluation.md is the full-size version: scripts/input-check-measure.ts).
describe.runIf(existsSync(TEST_FILE))('the shipped model\'s input check on real data', () => {
  let check: InputCheckModel;
  let size: [number, number];
  beforeAll(async () => {
    const metadata = JSON.parse(await readFile(SHIPPED, 'utf8'));
    check = deserializeInputCheck(metadata.inputCheck);
    size = metadata.imageSize;
  });
  const refusedShare = (images: Float32Array[]) => images.filter((im) => !inputVerdict(check, im, size[0], size[1]).accepted).length / images.length;

  it('accepts at least 99% of the test file\'s slices (41 people it never saw)', async () => {
    const test = await ParquetImageDataset.fromFile(TEST_FILE, { targetSize: size });
    const images = await Promise.all(Array.from(test.labels.keys(), async (i) => (await test.get(i)).image));
    expect(1 - refusedShare(images)).toBeGreaterThanOrEqual(0.99);
    const wrong = await transformedSlices(test, Array.from({ length: 40 }, (_, i) => i * 32 + 16));
    for (const kind of wrong) expect(refusedShare(kind.images), kind.kind).toBeGreaterThanOrEqual(0.95);
  }, 120_000);

  it('refuses >= 95% of each kind of negative: blank, constant, noise, its own plots, volume slices of every plane', async () => {
    const kinds = [...syntheticNegatives(size, 10), await plotNegatives(join(__dirname, '..', '..', 'models', 'neurostagenet', 'report'), size), ...(await volumeNegatives(FIXTURE, size))];
    expect(kinds.length).toBeGreaterThanOrEqual(20);
    for (const kind of kinds) expect(refusedShare(kind.images), kind.kind).toBeGreaterThanOrEqual(0.95);
  });

  it('says plainly why: 0..1 scale, constant image', () => {
    const scaled = inputVerdict(check, new Float32Array(size[0] * size[1]).fill(0.5).map((v, i) => (i % 7) / 7), size[0], size[1]);
    expect(scaled.reason).toMatch(/the model takes 0\.\.255/);
    expect(inputVerdict(check, new Float32Array(size[0] * size[1]).fill(128), size[0], size[1]).reason).toMatch(/constant image \(every pixel 128\)/);
  });
});

describe('GradCAM runs the input check of a model that carries one', () => {
  it('a refused image gets status refused, an all-zero map and its verdict; allowUnchecked explains it', async () => {
    const { GradCAM } = await import('../../src/explain/gradcam.js');
    const x = tfl.input({ shape: [1, 2, 1] });
    const conv = tfl.layers.conv2d({ filters: 2, kernelSize: 1, kernelInitializer: 'glorotUniform', name: 'conv' }).apply(x) as tfl.SymbolicTensor;
    const y = tfl.layers.dense({ units: 2, activation: 'softmax' }).apply(tfl.layers.flatten().apply(conv)) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: x, outputs: y });
    attachInputCheck(model, await tinyCheck());
    const images = tf.tensor4d([10, 10, 250, 250], [2, 1, 2, 1]);
    const before = tf.memory().numTensors;
    const cam = new GradCAM(model, { layerName: 'conv' });
    const [ok, refused] = await cam.explain(images);
    expect(ok.inputCheck?.accepted).toBe(true);
    expect(ok.status).not.toBe('refused');
    expect(refused.status).toBe('refused');
    expect(refused.inputCheck?.reason).toMatch(/score/);
    expect(Array.from(refused.heatmap).every((v) => v === 0)).toBe(true);
    const [, forced] = await cam.explain(images, { allowUnchecked: true });
    expect(forced.status).not.toBe('refused');
    expect(forced.inputCheck).toBeUndefined();
    expect(tf.memory().numTensors).toBe(before);
    images.dispose();
    model.dispose();
  });
});
