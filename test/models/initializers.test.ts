// Initial weights drawn as Keras 3 draws them, checked against Keras' own initial-weight statistics
// (test/fixtures/keras-init/init_stats.json, made by make_init_fixture.py with Keras 3.15 / TF 2.21), and
// checkpoints saved before this change (tfjs' VarianceScaling in their JSON, plain 'Model' containers) still load.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildEfficientNetB0 } from '../../src/backbones/efficientnet-b0.js';
import {
  KerasBatchNormalization,
  KerasFunctional,
  KerasVarianceScaling,
  LayerOptionsError,
  efficientNetConvInitializer,
  kerasGlorotUniform,
  setTrainable,
} from '../../src/layers/index.js';
import { TRUNCATED_NORMAL_STDDEV_CORRECTION, kerasFans } from '../../src/layers/initializers.js';
import { buildNeuroStageNet, getBackbone } from '../../src/models/index.js';
import { roundTrip } from '../layers/helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(here, '..', '..');

interface KerasWeightStats {
  name: string;
  layer_class: string;
  shape: number[];
  count: number;
  fan_in: number;
  fan_out: number;
  initializer: { class_name: string; config: Record<string, unknown> } | null;
  std: number;
  mean: number;
  max_abs: number;
  expected_std: number | null;
  bound: number | null;
}
interface Fixture {
  versions: Record<string, string>;
  truncated_normal_correction: number;
  models: Record<'efficientnetb0' | 'neurostagenet', { layer_count: number; weights: KerasWeightStats[] }>;
}
const fixture = JSON.parse(readFileSync(join(REPO, 'test/fixtures/keras-init/init_stats.json'), 'utf8')) as Fixture;

/** Per-layer tolerance on std (tfjs / Keras) for tensors of at least BIG values: sampling noise there is < 1%. */
const BIG = 20000;
const PER_LAYER_TOL = 0.03;
/** Tolerance on the count-weighted aggregate std ratio over all random weights. */
const AGGREGATE_TOL = 0.01;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

interface Stats {
  std: number;
  mean: number;
  maxAbs: number;
}
function stats(values: ArrayLike<number>): Stats {
  let sum = 0;
  let maxAbs = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i];
    maxAbs = Math.max(maxAbs, Math.abs(values[i]));
  }
  const mean = sum / values.length;
  let ss = 0;
  for (let i = 0; i < values.length; i++) ss += (values[i] - mean) ** 2;
  return { std: Math.sqrt(ss / values.length), mean, maxAbs };
}

/** Weights of a model by Keras-style name: `<layer>/<weight>`, nested models' as `<model>/<layer>/<weight>`. */
function weightsByName(model: tfl.LayersModel, prefix = ''): Map<string, { variable: tfl.LayerVariable; layer: tfl.layers.Layer }> {
  const out = new Map<string, { variable: tfl.LayerVariable; layer: tfl.layers.Layer }>();
  for (const layer of model.layers) {
    if (layer instanceof tfl.LayersModel) {
      for (const [k, v] of weightsByName(layer, `${prefix}${layer.name}/`)) out.set(k, v);
      continue;
    }
    for (const variable of layer.weights) out.set(`${prefix}${variable.originalName}`, { variable, layer });
  }
  return out;
}

/** The serialized initializer of a tfjs layer for one of its weights, if the layer's config records one. */
function initializerConfig(layer: tfl.layers.Layer, weight: string): { className: string; config: Record<string, unknown> } | null {
  const key = { kernel: 'kernelInitializer', depthwise_kernel: 'depthwiseInitializer', pointwise_kernel: 'pointwiseInitializer', bias: 'biasInitializer' }[weight];
  const cfg = layer.getConfig() as Record<string, unknown>;
  return key != null && cfg[key] != null ? (cfg[key] as { className: string; config: Record<string, unknown> }) : null;
}

interface Comparison {
  name: string;
  count: number;
  keras: KerasWeightStats;
  tfjs: Stats;
  /** The same weights drawn with the initializer this package used before (tfjs' VarianceScaling, no correction). */
  old: Stats | null;
  layer: tfl.layers.Layer;
}

/** tfjs' VarianceScaling(2, fanOut, 'normal') with the same seed: the backbone's initializer before this change. */
function oldBackboneDraw(shape: number[], seed: number): Float32Array {
  return tf.tidy(() => tfl.initializers.varianceScaling({ scale: 2, mode: 'fanOut', distribution: 'normal', seed }).apply(shape).dataSync() as Float32Array);
}

function compare(model: tfl.LayersModel, rows: KerasWeightStats[]): Comparison[] {
  const weights = weightsByName(model);
  const out: Comparison[] = [];
  for (const row of rows) {
    const found = weights.get(row.name);
    expect(found, row.name).toBeDefined();
    const { variable, layer } = found!;
    expect(variable.shape, row.name).toEqual(row.shape);
    if (row.expected_std == null) continue; // constants (zeros, ones, Normalization statistics)
    const values = variable.read().dataSync();
    const init = initializerConfig(layer, row.name.split('/').pop()!);
    const seed = (init?.config.seed as number | undefined) ?? null;
    const old = init?.config.distribution === 'truncatedNormal' && seed != null ? stats(oldBackboneDraw(row.shape, seed)) : null;
    out.push({ name: row.name, count: row.count, keras: row, tfjs: stats(values), old, layer });
  }
  return out;
}

/** sqrt(Σ n·(s_a/e)² / Σ n·(s_b/e)²): the count-weighted ratio of two sets of stds, each per layer relative to theory. */
function aggregateRatio(cs: Comparison[], a: (c: Comparison) => number, b: (c: Comparison) => number): number {
  let num = 0;
  let den = 0;
  for (const c of cs) {
    const e = c.keras.expected_std!;
    num += c.count * (a(c) / e) ** 2;
    den += c.count * (b(c) / e) ** 2;
  }
  return Math.sqrt(num / den);
}

describe('KerasVarianceScaling (Keras 3 VarianceScaling)', () => {
  const shape = [3, 3, 64, 96]; // 55,296 values: sampling error of the std ≈ 0.3%

  it('truncated normal: std sqrt(scale/fan) after truncation, |w| ≤ 2·sqrt(scale/fan)/0.8796, reaching close to that bound', () => {
    for (const [mode, fan] of [['fanIn', 3 * 3 * 64], ['fanOut', 3 * 3 * 96], ['fanAvg', (3 * 3 * 64 + 3 * 3 * 96) / 2]] as const) {
      const init = new KerasVarianceScaling({ scale: 2, mode, distribution: 'truncatedNormal', seed: 11 });
      const t = init.apply(shape);
      const s = stats(t.dataSync());
      t.dispose();
      const sigma = Math.sqrt(2 / fan);
      const bound = (2 * sigma) / TRUNCATED_NORMAL_STDDEV_CORRECTION;
      expect(init.variance(shape)).toBeCloseTo(2 / fan, 12);
      expect(Math.abs(s.std / sigma - 1), mode).toBeLessThan(0.01);
      expect(s.maxAbs, mode).toBeLessThanOrEqual(bound * (1 + 1e-6));
      expect(s.maxAbs, mode).toBeGreaterThan(bound * 0.99); // cut at 2σ of the underlying normal, not of the result
      expect(Math.abs(s.mean)).toBeLessThan((5 * sigma) / Math.sqrt(t.size));
    }
  });

  it('uniform (Glorot) and untruncated normal match their Keras definitions', () => {
    const glorot = kerasGlorotUniform(5);
    const t = glorot.apply(shape);
    const s = stats(t.dataSync());
    t.dispose();
    const limit = Math.sqrt(6 / (3 * 3 * 64 + 3 * 3 * 96));
    expect(s.maxAbs).toBeLessThanOrEqual(limit);
    expect(s.maxAbs).toBeGreaterThan(limit * 0.999);
    expect(Math.abs(s.std / (limit / Math.sqrt(3)) - 1)).toBeLessThan(0.01);
    const normal = new KerasVarianceScaling({ scale: 1, mode: 'fan_in', distribution: 'untruncated_normal', seed: 6 });
    const u = normal.apply(shape);
    const su = stats(u.dataSync());
    u.dispose();
    expect(Math.abs(su.std / Math.sqrt(1 / (3 * 3 * 64)) - 1)).toBeLessThan(0.01);
    expect(su.maxAbs).toBeGreaterThan((2 * Math.sqrt(1 / (3 * 3 * 64))) / TRUNCATED_NORMAL_STDDEV_CORRECTION); // not truncated
  });

  it('differs from tfjs\' VarianceScaling "normal" by exactly the correction: same seed, values / 0.87962566', () => {
    const a = efficientNetConvInitializer(42).apply([1, 1, 32, 64]);
    const b = tfl.initializers.varianceScaling({ scale: 2, mode: 'fanOut', distribution: 'normal', seed: 42 }).apply([1, 1, 32, 64]);
    const av = a.dataSync();
    const bv = b.dataSync();
    for (let i = 0; i < av.length; i++) expect(av[i]).toBeCloseTo(bv[i] / TRUNCATED_NORMAL_STDDEV_CORRECTION, 6);
    tf.dispose([a, b]);
  });

  it('is seeded, computes fans as Keras (ranks 0, 1, 2, 4), accepts Keras spellings and rejects bad options', () => {
    const draw = (seed: number) => {
      const t = new KerasVarianceScaling({ seed }).apply([4, 5]);
      const v = Array.from(t.dataSync());
      t.dispose();
      return v;
    };
    expect(draw(3)).toEqual(draw(3));
    expect(draw(3)).not.toEqual(draw(4));
    expect(kerasFans([])).toEqual([1, 1]);
    expect(kerasFans([32])).toEqual([32, 32]); // tfjs' computeFans says sqrt(32) here
    expect(kerasFans([7, 9])).toEqual([7, 9]);
    expect(kerasFans([3, 3, 32, 1])).toEqual([288, 9]);
    for (const row of fixture.models.neurostagenet.weights) expect(kerasFans(row.shape), row.name).toEqual([row.fan_in, row.fan_out]);
    const keras = new KerasVarianceScaling({ scale: 2, mode: 'fan_out', distribution: 'normal' });
    expect([keras.mode, keras.distribution]).toEqual(['fanOut', 'truncatedNormal']); // Keras' alias: normal = truncated
    expect(() => new KerasVarianceScaling({ scale: 0 })).toThrow(LayerOptionsError);
    expect(() => new KerasVarianceScaling({ mode: 'fan_sideways' as 'fanIn' })).toThrow(/mode/);
    expect(() => new KerasVarianceScaling({ distribution: 'cauchy' as 'uniform' })).toThrow(/distribution/);
  });

  it('serializes in Keras spelling and reloads as itself, giving the same layer output', async () => {
    const input = tfl.input({ shape: [6] });
    const dense = tfl.layers.dense({ units: 5, kernelInitializer: efficientNetConvInitializer(9) });
    const model = tfl.model({ inputs: input, outputs: dense.apply(input) as tfl.SymbolicTensor });
    const json = JSON.parse(model.toJSON() as string) as { config: { layers: Array<{ config: Record<string, unknown> }> } };
    expect(json.config.layers[1].config.kernel_initializer).toEqual({
      class_name: 'neurostagenet>KerasVarianceScaling',
      config: { scale: 2, mode: 'fan_out', distribution: 'truncated_normal', seed: 9 },
    });
    const reloaded = await roundTrip(model);
    const cfg = reloaded.layers[1].getConfig() as { kernelInitializer: { className: string; config: unknown } };
    expect(cfg.kernelInitializer).toEqual({
      className: 'neurostagenet>KerasVarianceScaling',
      config: { scale: 2, mode: 'fanOut', distribution: 'truncatedNormal', seed: 9 },
    });
    const x = tf.ones([2, 6]);
    const a = model.predict(x) as tf.Tensor;
    const b = reloaded.predict(x) as tf.Tensor;
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([x, a, b]);
  });
});

describe("initial weights vs Keras' own (Keras " + fixture.versions.keras + ', TF ' + fixture.versions.tensorflow + ')', () => {
  const report = (label: string, cs: Comparison[]) => {
    const withOld = cs.filter((c) => c.old != null);
    const figures = {
      weights: cs.length,
      newVsKeras: aggregateRatio(cs, (c) => c.tfjs.std, (c) => c.keras.std),
      oldVsKeras: withOld.length ? aggregateRatio(withOld, (c) => c.old!.std, (c) => c.keras.std) : null,
      newVsKerasSameSet: withOld.length ? aggregateRatio(withOld, (c) => c.tfjs.std, (c) => c.keras.std) : null,
      bigLayers: cs.filter((c) => c.count >= BIG).length,
      worstBigLayer: Math.max(...cs.filter((c) => c.count >= BIG).map((c) => Math.abs(c.tfjs.std / c.keras.std - 1))),
    };
    console.log(`${label}: std ratios tfjs/Keras`, figures);
    return figures;
  };

  function check(cs: Comparison[]): void {
    for (const c of cs) {
      // Truncation: no value beyond the distribution's bound (2σ of the underlying normal, or the uniform's limit).
      expect(c.tfjs.maxAbs, c.name).toBeLessThanOrEqual(c.keras.bound! * (1 + 1e-6));
      expect(c.keras.max_abs, c.name).toBeLessThanOrEqual(c.keras.bound! * (1 + 1e-6));
      if (c.count >= BIG) {
        expect(Math.abs(c.tfjs.std / c.keras.std - 1), c.name).toBeLessThan(PER_LAYER_TOL);
        expect(Math.abs(c.tfjs.std / c.keras.expected_std! - 1), c.name).toBeLessThan(PER_LAYER_TOL);
        expect(Math.abs(c.tfjs.mean), c.name).toBeLessThan((5 * c.keras.expected_std!) / Math.sqrt(c.count));
        // The old draw is ~12% narrower: it fails the same per-layer check.
        if (c.old) expect(Math.abs(c.old.std / c.keras.std - 1), c.name).toBeGreaterThan(PER_LAYER_TOL);
      }
    }
    expect(Math.abs(aggregateRatio(cs, (c) => c.tfjs.std, (c) => c.keras.std) - 1)).toBeLessThan(AGGREGATE_TOL);
  }

  it('EfficientNetB0 (weights=None graph): every conv kernel is Keras\' VarianceScaling(2, fan_out, truncated_normal), with Keras\' spread', () => {
    const model = buildEfficientNetB0({ imagenetLayout: false, inputShape: [128, 128, 3], seed: 1 });
    expect(model.layers).toHaveLength(fixture.models.efficientnetb0.layer_count);
    const cs = compare(model, fixture.models.efficientnetb0.weights);
    expect(cs).toHaveLength(81);
    for (const c of cs) {
      expect(c.keras.initializer).toMatchObject({ class_name: 'VarianceScaling', config: { scale: 2, mode: 'fan_out', distribution: 'truncated_normal' } });
      expect(initializerConfig(c.layer, c.name.split('/').pop()!), c.name).toMatchObject({
        className: 'neurostagenet>KerasVarianceScaling', config: { scale: 2, mode: 'fanOut', distribution: 'truncatedNormal' },
      });
    }
    check(cs);
    const f = report('EfficientNetB0', cs);
    expect(f.bigLayers).toBeGreaterThanOrEqual(30);
    // The old initializer: ~0.88 of Keras' spread, far outside the 1% tolerance.
    expect(f.oldVsKeras!).toBeGreaterThan(0.85);
    expect(f.oldVsKeras!).toBeLessThan(0.9);
    expect(Math.abs(f.oldVsKeras! - 1)).toBeGreaterThan(AGGREGATE_TOL);
    model.dispose();
  }, 120_000);

  it('NeuroStageNet: backbone as above, Glorot-uniform kernels elsewhere, against the reference model\'s statistics', async () => {
    const model = await buildNeuroStageNet({ seed: 1 });
    const cs = compare(model, fixture.models.neurostagenet.weights);
    expect(cs).toHaveLength(92);
    const glorot = cs.filter((c) => c.keras.initializer!.class_name === 'GlorotUniform');
    expect(glorot.map((c) => c.name)).toEqual([
      'gray_to_rgb/kernel',
      'refine_sepconv1/depthwise_kernel', 'refine_sepconv1/pointwise_kernel',
      'refine_sepconv2/depthwise_kernel', 'refine_sepconv2/pointwise_kernel',
      'refine_shortcut/kernel', 'se_reduce/kernel', 'se_expand/kernel',
      'head_dense1/kernel', 'head_dense2/kernel', 'predictions/kernel',
    ]);
    for (const c of glorot) {
      const init = initializerConfig(c.layer, c.name.split('/').pop()!);
      if (init) expect(init, c.name).toMatchObject({ className: 'neurostagenet>KerasVarianceScaling', config: { scale: 1, mode: 'fanAvg', distribution: 'uniform' } });
      // Uniform: no truncation correction; the std is limit/sqrt(3) = sqrt(2 / (fanIn + fanOut)).
      expect(c.keras.expected_std!).toBeCloseTo(Math.sqrt(2 / (c.keras.fan_in + c.keras.fan_out)), 12);
    }
    check(cs);
    report('NeuroStageNet', cs);
    report('NeuroStageNet Glorot-uniform kernels', glorot);
    model.dispose();
  }, 120_000);
});

describe('checkpoints saved before Keras-exact initialisers and KerasFunctional', () => {
  it("the shipped models/neurostagenet (tfjs 'VarianceScaling' normal, 'Model' containers) loads, predicts and can be frozen", async () => {
    const dir = join(REPO, 'models', 'neurostagenet');
    const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as {
      modelTopology: { class_name: string; config: { layers: Array<{ class_name: string; config: Record<string, unknown> }> } };
      weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
    };
    // It is such a checkpoint: tfjs' own VarianceScaling with 'normal' (no correction) and plain 'Model' containers.
    expect(manifest.modelTopology.class_name).toBe('Model');
    const nested = manifest.modelTopology.config.layers.find((l) => l.config.name === 'efficientnetb0')!;
    expect(nested.class_name).toBe('Model');
    expect(JSON.stringify(nested)).toContain('"class_name":"VarianceScaling","config":{"scale":2,"mode":"fan_out","distribution":"normal"');
    const bytes = manifest.weightsManifest[0].paths.map((p) => readFileSync(join(dir, p)));
    const weightData = new Uint8Array(Buffer.concat(bytes)).buffer;
    const model = await tfl.loadLayersModel(
      tf.io.fromMemory({ modelTopology: manifest.modelTopology as unknown as tf.io.ModelJSON['modelTopology'], weightSpecs: manifest.weightsManifest.flatMap((g) => g.weights), weightData }),
    );
    const backbone = getBackbone(model);
    expect(model).not.toBeInstanceOf(KerasFunctional);
    expect(backbone.layers.length).toBeGreaterThan(200);
    const [h, w] = model.inputs[0].shape.slice(1, 3) as number[];
    const x = tf.tidy(() => tf.mul(tf.randomUniform([2, h, w, 1], 0, 1, 'float32', 3), 255));
    const before = tf.memory().numTensors;
    const p = model.predict(x) as tf.Tensor;
    const probs = Array.from(p.dataSync());
    p.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(probs.every(Number.isFinite)).toBe(true);
    expect(probs.slice(0, 4).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    // Plain containers: setTrainable gives Keras freezing down to the backbone's BN layers.
    setTrainable(model, false);
    const stemBn = backbone.getLayer('stem_bn') as KerasBatchNormalization;
    expect(stemBn.isEffectivelyTrainable).toBe(false);
    // A re-save (tfjs' VarianceScaling kept in the config) reloads with the same outputs.
    const again = await roundTrip(model);
    const q = again.predict(x) as tf.Tensor;
    expect(Array.from(q.dataSync())).toEqual(probs);
    tf.dispose([q, x]);
    model.dispose();
    again.dispose();
  }, 120_000);
});
