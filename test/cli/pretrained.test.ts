// loadPretrainedNeuroStageNet: locating and loading a model directory with its metadata, and its errors.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelMetadataError, PretrainedModelNotFoundError, buildNeuroStageNet, loadPretrainedNeuroStageNet } from '../../src/index.js';
import { pretrainedModelDir, saveModel, writeModelMetadata } from '../../src/node/index.js';
import { REPO } from './helpers.js';

let tmp: string;
let dir: string;
let expected: number[][];
const input = () => tf.tidy(() => tf.mul(tf.randomUniform([2, 32, 32, 1], 0, 1, 'float32', 3), 255));

beforeAll(async () => {
  await tf.setBackend('cpu');
  tmp = await mkdtemp(join(tmpdir(), 'neurostagenet-pretrained-'));
  const model = await buildNeuroStageNet({ inputShape: [32, 32, 1], seed: 11 });
  dir = join(tmp, 'model');
  await saveModel(model, dir);
  const x = input();
  const y = model.predict(x) as tf.Tensor;
  expected = y.arraySync() as number[][];
  tf.dispose([x, y]);
  model.dispose();
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('loadPretrainedNeuroStageNet', () => {
  it('locates the package models/neurostagenet directory from the module', async () => {
    expect(await pretrainedModelDir()).toBe(join(REPO, 'models', 'neurostagenet'));
  });

  it('the shipped model loads, or its absence is a PretrainedModelNotFoundError naming model.json', async () => {
    const shipped = join(REPO, 'models', 'neurostagenet', 'model.json');
    if (existsSync(shipped)) {
      const net = await loadPretrainedNeuroStageNet();
      expect(net.classNames).toHaveLength(4);
      net.model.dispose();
    } else {
      const err = await loadPretrainedNeuroStageNet().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PretrainedModelNotFoundError);
      expect((err as Error).message).toBe(`no trained model is shipped: ${shipped} does not exist`);
    }
  });

  it('loads a directory (path, model.json path or file: URL) with generic class names without metadata, same outputs', async () => {
    for (const location of [dir, join(dir, 'model.json'), pathToFileURL(dir)]) {
      const before = tf.memory().numTensors;
      const net = await loadPretrainedNeuroStageNet({ location });
      expect(net.location).toBe(dir);
      // Issue 15: a 4-output model without metadata is not assumed to be the Alzheimer one.
      expect(net.classNames).toEqual(['class_0', 'class_1', 'class_2', 'class_3']);
      expect(net.classNamesSource).toBe('default');
      expect(net.ordinalOrder).toEqual([0, 1, 2, 3]);
      expect(net.temperature).toBe(1);
      expect(net.trainingFootprint).toBeUndefined();
      expect(net.imageSize).toEqual([32, 32]);
      expect(net.metadata).toEqual({});
      const x = input();
      const y = net.model.predict(x) as tf.Tensor;
      const got = y.arraySync() as number[][];
      got.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(expected[i][j], 6)));
      tf.dispose([x, y]);
      net.model.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it('reads metadata.json: class names, order, temperature and extra fields', async () => {
    const trainingFootprint = { p1: 0.488, median: 0.513, p99: 0.519 };
    await writeModelMetadata(dir, { classNames: ['a', 'b', 'c', 'd'], ordinalOrder: [0, 1, 2, 3], temperature: 2.5, trainingFootprint, data: 'x' });
    try {
      const net = await loadPretrainedNeuroStageNet({ location: dir });
      expect(net.trainingFootprint).toEqual(trainingFootprint);
      expect(net.classNames).toEqual(['a', 'b', 'c', 'd']);
      expect(net.classNamesSource).toBe('metadata');
      expect(net.ordinalOrder).toEqual([0, 1, 2, 3]);
      expect(net.temperature).toBe(2.5);
      expect(net.metadata.data).toBe('x');
      net.model.dispose();
    } finally {
      await rm(join(dir, 'metadata.json'));
    }
  });

  it('rejects metadata that does not fit the model', async () => {
    const cases: Array<[string, RegExp]> = [
      ['{"classNames": ["a", "b"]}', /classNames \["a","b"\] must be 4 strings/],
      ['{"ordinalOrder": [0, 0, 1, 2]}', /ordinalOrder \[0,0,1,2\] must be a permutation of 0..3/],
      ['{"temperature": -1}', /temperature must be a positive number, got -1/],
      ['{"trainingFootprint": {"p1": 0.6, "median": 0.5, "p99": 0.7}}', /trainingFootprint must be \{p1, median, p99\} with 0 <= p1 <= median <= p99 <= 1, got \{"p1":0.6/],
      ['{"trainingFootprint": [0.4, 0.5]}', /trainingFootprint must be/],
      ['not json', /metadata.json is not valid JSON/],
    ];
    try {
      for (const [text, message] of cases) {
        await writeFile(join(dir, 'metadata.json'), text);
        const err = await loadPretrainedNeuroStageNet({ location: dir }).catch((e: unknown) => e);
        expect(err, text).toBeInstanceOf(ModelMetadataError);
        expect((err as Error).message).toMatch(message);
      }
    } finally {
      await rm(join(dir, 'metadata.json'), { force: true });
    }
  });

  it('a directory without model.json is a PretrainedModelNotFoundError', async () => {
    const err = await loadPretrainedNeuroStageNet({ location: tmp }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PretrainedModelNotFoundError);
    expect((err as PretrainedModelNotFoundError).location).toBe(tmp);
    expect((err as Error).message).toContain(join(tmp, 'model.json'));
  });
});
