// predictVolume on real scans with the shipped model: refusal with the reason, or (forced) the mean of the slices.
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPretrainedNeuroStageNet, predictVolume, type PretrainedNeuroStageNet } from '../../src/index.js';
import { readVolume } from '../../src/data/index.js';

const VOLUMES = join(__dirname, '..', '..', '..', 'shared', 'data', 'volumes');
let net: PretrainedNeuroStageNet;

beforeAll(async () => {
  await tf.setBackend('cpu');
  net = await loadPretrainedNeuroStageNet();
});

describe.runIf(existsSync(VOLUMES))('predictVolume', () => {
  it('refuses a head scan with its skull (chris_t1): no stage, the reason, every slice refused; leaks nothing', async () => {
    const volume = await readVolume(join(VOLUMES, 'chris_t1.nii.gz'));
    const before = tf.memory().numTensors;
    const result = await predictVolume(net, volume);
    expect(tf.memory().numTensors).toBe(before);
    expect(result.slices).toHaveLength(32);
    expect(result.person.refused).toBe(true);
    expect(result.inputCheck).toBe('checked');
    if (result.person.refused) expect(result.person.reason).toMatch(/the input check refused 32 of 32 slices .*skull-stripped, atlas-registered/);
    expect(result.slices.every((s) => !s.accepted && s.reason && s.probabilities === undefined)).toBe(true);
    expect(result.notes.join(' ')).toMatch(/squashes the anatomy vertically/);
  }, 120_000);

  it('allowUnchecked gives a stage: the mean of the 32 slices\' probabilities, their arg-max', async () => {
    const volume = await readVolume(join(VOLUMES, 'avg152T1_LR_nifti.nii.gz'));
    const result = await predictVolume(net, volume, { allowUnchecked: true });
    expect(result.person.refused).toBe(false);
    if (result.person.refused) return;
    expect(result.person.slicesUsed).toBe(32);
    const mean = net.classNames.map((_, c) => result.slices.reduce((s, sl) => s + sl.probabilities![c], 0) / 32);
    result.person.probabilities.forEach((p, c) => expect(p).toBeCloseTo(mean[c], 6));
    expect(result.person.stage).toBe(net.classNames[mean.indexOf(Math.max(...mean))]);
    expect(result.notes.join(' ')).toMatch(/allowUnchecked: every slice classified, though the input check refuses 32 of 32/);
    // Forced, not vetted: the check's verdicts stay on the slices.
    expect(result.inputCheck).toBe('allowed');
    expect(result.slices.every((s) => !s.accepted && s.reason && s.probabilities)).toBe(true);
  }, 120_000);
});
