/**
 * Kernels one inference forward pass runs, for NeuroStageNet and its optimizeForInference copy (issue 18: where the
 * batch-1 time goes). Prints the total and the ten most frequent kernels of each.
 *
 *   npx tsx bench/inference-kernels.ts [backend=tensorflow] [size=128]
 */
import * as tf from '@tensorflow/tfjs-core';
import { buildNeuroStageNet, optimizeForInference, selectBackend } from '../src/index.js';

const backend = process.argv[2] ?? 'tensorflow';
const size = Number(process.argv[3] ?? 128);
await selectBackend(backend as Parameters<typeof selectBackend>[0]);
const original = await buildNeuroStageNet({ inputShape: [size, size, 1] });
const { model: copy } = await optimizeForInference(original);
const x = tf.randomUniform([1, size, size, 1], 0, 255, 'float32', 1);
for (const [name, model] of [['original', original], ['optimizeForInference', copy]] as const) {
  const info = await tf.profile(() => model.predict(x) as tf.Tensor);
  const counts = new Map<string, number>();
  for (const k of info.kernels) counts.set(k.name, (counts.get(k.name) ?? 0) + 1);
  const top = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([k, n]) => `${k} ${n}`).join(', ');
  console.log(`${name} (${backend}, ${size}x${size}, batch 1): ${info.kernels.length} kernels: ${top}`);
}
tf.dispose(x);
