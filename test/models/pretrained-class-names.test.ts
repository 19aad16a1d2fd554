import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { classifier } from './classifier.js';
import { ALZHEIMER_CLASS_NAMES, describeModel, loadPretrainedNeuroStageNet } from '../../src/index.js';
import { withDataClassNames } from '../../src/models/pretrained.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});


describe('describeModel: class names without metadata (issue 15)', () => {
  it('a 4-output model without metadata class names gets class_0..class_3 (classNamesSource default), label order', () => {
    const model = classifier(4);
    const net = describeModel(model, {}, 'mem');
    expect(net.classNames).toEqual(['class_0', 'class_1', 'class_2', 'class_3']);
    expect(net.classNamesSource).toBe('default');
    expect(net.ordinalOrder).toEqual([0, 1, 2, 3]);
    expect(describeModel(classifier(3), {}, 'mem').classNames).toEqual(['class_0', 'class_1', 'class_2']);
    model.dispose();
  });

  it('metadata class names are used; the Alzheimer names bring the Alzheimer severity order', () => {
    const model = classifier(4);
    const net = describeModel(model, { classNames: [...ALZHEIMER_CLASS_NAMES] }, 'mem');
    expect(net.classNames).toEqual([...ALZHEIMER_CLASS_NAMES]);
    expect(net.classNamesSource).toBe('metadata');
    expect(net.ordinalOrder).toEqual([2, 3, 0, 1]);
    model.dispose();
  });

  it('the shipped model has metadata: the Alzheimer class names, from metadata', async () => {
    const net = await loadPretrainedNeuroStageNet();
    expect(net.classNames).toEqual([...ALZHEIMER_CLASS_NAMES]);
    expect(net.classNamesSource).toBe('metadata');
    expect(net.ordinalOrder).toEqual([2, 3, 0, 1]);
    net.model.dispose();
  });

  it("withDataClassNames: a model without class names takes the data's (and the Alzheimer order for the Alzheimer names); a model's own names win", () => {
    const model = classifier(4);
    const unnamed = describeModel(model, {}, 'mem');
    const named = withDataClassNames(unnamed, ALZHEIMER_CLASS_NAMES);
    expect(named.classNames).toEqual([...ALZHEIMER_CLASS_NAMES]);
    expect(named.classNamesSource).toBe('data');
    expect(named.ordinalOrder).toEqual([2, 3, 0, 1]);
    expect(unnamed.classNames).toEqual(['class_0', 'class_1', 'class_2', 'class_3']); // not mutated
    expect(withDataClassNames(unnamed, ['a', 'b', 'c', 'd']).ordinalOrder).toEqual([0, 1, 2, 3]);
    expect(withDataClassNames(unnamed, ['a', 'b', 'c'])).toBe(unnamed); // another class count: unchanged
    const own = describeModel(model, { classNames: ['w', 'x', 'y', 'z'] }, 'mem');
    expect(withDataClassNames(own, ALZHEIMER_CLASS_NAMES)).toBe(own);
    model.dispose();
  });
});

