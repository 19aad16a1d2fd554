// End-to-end: examples/train.ts (the seed's whole run) on the bundled sample, tiny configuration: full
// NeuroStageNet at 32x32, 2 epochs on 48 training images. Runs on the wasm backend: on the cpu backend the
// backward pass through EfficientNet's depthwise convolutions takes ~30 s per 16 images at 32x32 (measured),
// on wasm ~1 s.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../examples/train.js';
import { loadModel } from '../../src/node/index.js';
import { ParquetImageDataset, loadPretrainedNeuroStageNet } from '../../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const sample = resolve(here, '../../examples/data/sample.parquet');
const out = mkdtempSync(join(tmpdir(), 'nsn-example-train-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('examples/train.ts', () => {
  it('runs the whole pipeline on the bundled sample and writes a reloadable best model and the report', async () => {
    if (!existsSync(sample)) throw new Error(`bundled sample missing: ${sample} (the data pipeline ships it)`);
    const summary = await main([
      sample,
      sample,
      '--epochs', '2',
      '--image-size', '32',
      '--batch-size', '16',
      '--max-train', '48',
      '--patience', '5',
      // The sample is four people, one per stage: a split by person could not validate on every stage.
      '--split', 'rows',
      '--backend', 'wasm',
      '--progress', 'none',
      '--out', out,
    ]);
    expect(summary).not.toBeNull();
    expect(summary!.backend).toBe('wasm');
    expect(summary!.epochs).toBe(2);
    expect(summary!.secondsPerEpoch).toHaveLength(2);
    expect(summary!.test!.accuracy).toBeGreaterThanOrEqual(0);
    expect(summary!.test!.accuracy).toBeLessThanOrEqual(1);
    expect(summary!.test!.temperature).toBeGreaterThan(0);
    for (const f of ['summary.txt', 'history.json', 'run.json', 'best-model/model.json', 'model/model.json', 'report/metrics.json', 'report/report.txt']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const history = JSON.parse(readFileSync(join(out, 'history.json'), 'utf8'));
    expect(Object.keys(history.history)).toEqual(expect.arrayContaining(['loss', 'accuracy', 'val_loss', 'val_accuracy', 'val_auc', 'lr', 'seconds']));
    expect(readFileSync(join(out, 'summary.txt'), 'utf8')).toMatch(/leakage/);

    // Early stopping restored the best epoch, which is also the one the checkpoint saved: same predictions.
    const ds = await ParquetImageDataset.fromFile(sample, { targetSize: [32, 32] });
    const xs = tf.tensor4d(Float32Array.from([0, 1, 2, 3].flatMap((i) => Array.from(ds.get(i).image))), [4, 32, 32, 1]);
    const best = await loadModel(join(out, 'best-model'));
    const final = await loadModel(join(out, 'model'));
    const a = best.predict(xs) as tf.Tensor;
    const b = final.predict(xs) as tf.Tensor;
    expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
    tf.dispose([xs, a, b]);
    best.dispose();
    final.dispose();

    // model/ has metadata.json: the temperature decision survives a reload (served T = the fitted one only when kept).
    const reloaded = await loadPretrainedNeuroStageNet({ location: join(out, 'model') });
    const meta = reloaded.metadata as { calibration: { kept: boolean; fittedTemperature: number; reason: string } };
    expect(reloaded.temperature).toBe(summary!.temperature);
    expect(reloaded.temperature).toBe(summary!.test!.temperature);
    expect(meta.calibration.kept).toBe(summary!.calibration.kept);
    expect(meta.calibration.reason).toBe(summary!.calibration.reason);
    expect(reloaded.temperature).toBe(meta.calibration.kept ? meta.calibration.fittedTemperature : 1);
    expect(reloaded.classNames).toEqual([...ds.classNames]);
    expect(reloaded.imageSize).toEqual([32, 32]);
    reloaded.model.dispose();
    // run.json is the record ship-model reads back.
    const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    expect(run.options).toMatchObject({ trainPath: sample, testPath: sample, recipe: 'seed', imageSize: 32, split: 'rows' });
    expect(run.argv).toContain('--max-train');
  });
});
