import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { classifier } from './classifier.js';
import { describeModel, ModelMetadataError } from '../../src/index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});


describe('describeModel: calibration only where it helps (issue 15)', () => {
  it('serves the recorded temperature when the decision kept it, and exposes the decision', () => {
    const model = classifier(3);
    const net = describeModel(model, { temperature: 0.7, calibration: { kept: true, reason: 'it helps', fittedTemperature: 0.7 } }, 'mem');
    expect(net.temperature).toBe(0.7);
    expect(net.calibration).toEqual({ kept: true, temperature: 0.7, fittedTemperature: 0.7, reason: 'it helps' });
    model.dispose();
  });

  it('serves T = 1 when the decision says not kept, even if the metadata temperature says otherwise', () => {
    const model = classifier(3);
    const net = describeModel(model, { temperature: 1.8, calibration: { kept: false, reason: 'ECE rose', fittedTemperature: 1.8 } }, 'mem');
    expect(net.temperature).toBe(1);
    expect(net.calibration?.kept).toBe(false);
    expect(net.calibration?.temperature).toBe(1);
    expect(net.calibration?.fittedTemperature).toBe(1.8);
    expect(net.calibration?.reason).toBe('ECE rose');
    model.dispose();
  });

  it('without a decision the metadata temperature (default 1) is served as is', () => {
    const model = classifier(3);
    const a = describeModel(model, { temperature: 0.5 }, 'mem');
    expect(a.temperature).toBe(0.5);
    expect(a.calibration?.kept).toBeUndefined();
    expect(a.calibration?.fittedTemperature).toBe(0.5);
    const b = describeModel(model, {}, 'mem');
    expect(b.temperature).toBe(1);
    expect(b.calibration?.fittedTemperature).toBeUndefined();
    model.dispose();
  });

  it('a malformed decision is a ModelMetadataError', () => {
    const model = classifier(3);
    expect(() => describeModel(model, { calibration: { kept: 'yes' as unknown as boolean } }, 'mem')).toThrow(ModelMetadataError);
    expect(() => describeModel(model, { calibration: { kept: false, fittedTemperature: -1 } }, 'mem')).toThrow(ModelMetadataError);
    model.dispose();
  });

  it('the shipped metadata decision is honoured', async () => {
    const { readFile } = await import('node:fs/promises');
    const meta = JSON.parse(await readFile(new URL('../../models/neurostagenet/metadata.json', import.meta.url), 'utf8'));
    const model = classifier(meta.classNames.length);
    const net = describeModel(model, { ...meta, imageSize: undefined, inputCheck: undefined, trainingFootprint: undefined }, 'mem');
    expect(net.calibration?.kept).toBe(meta.calibration.kept);
    expect(net.temperature).toBe(meta.calibration.kept ? meta.temperature : 1);
    model.dispose();
  });
});
