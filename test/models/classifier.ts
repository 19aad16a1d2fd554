import * as tfl from '@tensorflow/tfjs-layers';

/** A tiny [N, 4, 4, 1] -> k-class softmax classifier, for tests of what describes or loads a model. */
export function classifier(k: number): tfl.LayersModel {
  const x = tfl.input({ shape: [4, 4, 1] });
  const y = tfl.layers.dense({ units: k, activation: 'softmax' }).apply(tfl.layers.flatten().apply(x)) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: y });
}
