// Shared helpers for layer tests: in-memory save/load round trip.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/** Saves a model to memory and loads it back through tfjs' serialization (as a saved file would). */
export async function roundTrip(model: tfl.LayersModel): Promise<tfl.LayersModel> {
  let saved: tf.io.ModelArtifacts | null = null;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  // JSON round trip of the topology, as a file would do (drops undefined, keeps null).
  const artifacts = saved! as tf.io.ModelArtifacts;
  artifacts.modelTopology = JSON.parse(JSON.stringify(artifacts.modelTopology));
  return tfl.loadLayersModel(tf.io.fromMemory(artifacts));
}

/** Wraps one layer into a model with the given input shape (without batch). */
export function wrap(layer: tfl.layers.Layer, shape: number[]): tfl.LayersModel {
  const input = tfl.input({ shape });
  return tfl.model({ inputs: input, outputs: layer.apply(input) as tfl.SymbolicTensor });
}
