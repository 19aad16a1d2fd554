// explainVolume / volumeMontage / renderVolumeMontagePng on real scans with the shipped model (cpu backend).
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { decode } from 'fast-png';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExplainError, GradCAM, explainVolume, loadPretrainedNeuroStageNet, predictVolume, volumeMontage, type PretrainedNeuroStageNet, type VolumeExplanation } from '../../src/index.js';
import { readVolume, sliceVolume, type Volume } from '../../src/data/index.js';
import { renderVolumeMontagePng } from '../../src/node/index.js';

const VOLUMES = join(__dirname, '..', '..', '..', 'shared', 'data', 'volumes');
let net: PretrainedNeuroStageNet;
let mni: Volume;
// Two slices keep Grad-CAM on the cpu backend affordable; the full 32 run in the CLI test.
const slices = { count: 2 };
let forced: VolumeExplanation;
let tensorsLeft: number;

beforeAll(async () => {
  await tf.setBackend('cpu');
  net = await loadPretrainedNeuroStageNet();
  if (!existsSync(VOLUMES)) return;
  mni = await readVolume(join(VOLUMES, 'avg152T1_LR_nifti.nii.gz'));
  const before = tf.memory().numTensors;
  forced = await explainVolume(net, mni, { slices, allowUnchecked: true });
  tensorsLeft = tf.memory().numTensors - before;
}, 180_000);

describe.runIf(existsSync(VOLUMES))('explainVolume', () => {
  it("forced on the MNI template: every slice's map explains the person's stage and equals GradCAM on that slice; leaks nothing", async () => {
    const result = forced;
    expect(tensorsLeft).toBe(0);
    // The same answer as predictVolume on the same slices.
    const prediction = await predictVolume(net, mni, { slices, allowUnchecked: true });
    expect(result.prediction.person).toEqual(prediction.person);
    expect(result.prediction.inputCheck).toBe('allowed');
    const person = result.prediction.person;
    expect(person.refused).toBe(false);
    if (person.refused) return;
    expect(result.slices).toHaveLength(2);
    // Independent path: cut the slices and explain them with GradCAM directly.
    const cut = sliceVolume(mni, { ...slices, size: net.imageSize });
    const [h, w] = net.imageSize;
    const x = tf.tensor4d(Float32Array.from(cut.images.flatMap((im) => Array.from(im))), [2, h, w, 1]);
    const direct = await new GradCAM(net.model).explain(x, { classIndex: person.classIndex, allowUnchecked: true });
    x.dispose();
    result.slices.forEach((s, i) => {
      expect(Array.from(s.image)).toEqual(Array.from(cut.images[i]));
      const e = s.explanation!;
      expect(e.classIndex).toBe(person.classIndex);
      expect(e.status).toBe(direct[i].status);
      const maxDiff = e.heatmap.reduce((m, v, j) => Math.max(m, Math.abs(v - direct[i].heatmap[j])), 0);
      expect(maxDiff).toBeLessThan(1e-5);
    });
    expect(result.layerName).toBe(new GradCAM(net.model).layerName);
  }, 180_000);

  it("'predicted' explains each slice's own class; a class out of range is an ExplainError", async () => {
    const result = await explainVolume(net, mni, { slices: { count: 1 }, allowUnchecked: true, classIndex: 'predicted' });
    result.slices.forEach((s, i) => expect(s.explanation!.classIndex).toBe(result.prediction.slices[i].predicted));
    await expect(explainVolume(net, mni, { classIndex: 9 })).rejects.toThrow(ExplainError);
  }, 180_000);

  it('a refused scan (chris_t1, skull on) gets no map at all; its montage tiles are gray and dimmed', async () => {
    const result = await explainVolume(net, await readVolume(join(VOLUMES, 'chris_t1.nii.gz')), { slices: { count: 4 } });
    expect(result.prediction.person.refused).toBe(true);
    expect(result.slices.every((s) => s.explanation === undefined)).toBe(true);
    const montage = volumeMontage(result, { columns: 2, gap: 3 });
    const [h, w] = result.size;
    const scale = Math.ceil(96 / w);
    expect(montage.tiles).toEqual([
      { x: 0, y: 0, width: w * scale, height: h * scale },
      { x: w * scale + 3, y: 0, width: w * scale, height: h * scale },
      { x: 0, y: h * scale + 3, width: w * scale, height: h * scale },
      { x: w * scale + 3, y: h * scale + 3, width: w * scale, height: h * scale },
    ]);
    // Dimmed gray: r = g = b = 128 + v/4 for slice pixel v (nearest-neighbour up-scaled).
    const { data, width } = montage.image;
    const t = montage.tiles[3];
    for (const [px, py] of [[0, 0], [w - 1, h - 1], [w >> 1, h >> 1], [5, 17]]) {
      const v = Math.round(Math.min(255, Math.max(0, result.slices[3].image[py * w + px])));
      const o = 4 * ((t.y + py * scale) * width + t.x + px * scale);
      expect([data[o], data[o + 1], data[o + 2]]).toEqual([128 + (v >> 2), 128 + (v >> 2), 128 + (v >> 2)]);
    }
  }, 180_000);

  it('renderVolumeMontagePng: one PNG of the grid with a header, labels and a colour scale', async () => {
    const result = forced;
    const montage = volumeMontage(result, { gap: 6, rowGap: 30 });
    const png = decode(await renderVolumeMontagePng(result));
    expect(png.width).toBe(10 + montage.image.width + 70);
    expect(png.height).toBe(78 + montage.image.height + 30 + 10);
    // The first tile's pixels are the montage's (an overlay: coloured, not gray).
    const c = png.channels;
    const t = montage.tiles[0];
    const at = (x: number, y: number) => Array.from(png.data.subarray(c * ((78 + y) * png.width + 10 + x), c * ((78 + y) * png.width + 10 + x) + 3));
    const mid = [t.x + (t.width >> 1), t.y + (t.height >> 1)];
    const o = 4 * (mid[1] * montage.image.width + mid[0]);
    expect(at(mid[0], mid[1])).toEqual(Array.from(montage.image.data.subarray(o, o + 3)));
  }, 180_000);
});
