import { describe, expect, it } from 'vitest';
import { DataOptionError, selectRows } from '../../src/data/index.js';
import { type LabeledImageSource } from '../../src/index.js';

const source: LabeledImageSource = {
  length: 5,
  labels: Int32Array.from([0, 1, 2, 3, 0]),
  classNames: ['a', 'b', 'c', 'd'],
  imageSize: [1, 2],
  get: (i: number) => ({ image: Float32Array.from([i, 10 * i]), label: [0, 1, 2, 3, 0][i] }),
};

describe('selectRows', () => {
  it('maps view rows to source rows in the given order, repeats allowed', async () => {
    const view = selectRows(source, [4, 1, 1]);
    expect(view.length).toBe(3);
    expect(Array.from(view.labels)).toEqual([0, 1, 1]);
    expect(view.classNames).toBe(source.classNames);
    expect(view.imageSize).toEqual([1, 2]);
    expect(Array.from((await view.get(0)).image)).toEqual([4, 40]);
    expect(Array.from((await view.get(2)).image)).toEqual([1, 10]);
  });

  it('keeps the picked rows\' subjects and slices; a source without them gives a view without them', () => {
    const withPeople: LabeledImageSource = { ...source, subjects: ['p', 'p', 'q', 'q', 'r'], slices: Int32Array.from([1, 2, 1, 2, 1]) };
    const view = selectRows(withPeople, [4, 1, 1, 2]);
    expect(view.subjects).toEqual(['r', 'p', 'p', 'q']);
    expect(Array.from(view.slices!)).toEqual([1, 2, 2, 1]);
    // A view of a view keeps them too.
    const inner = selectRows(view, [3, 0]);
    expect(inner.subjects).toEqual(['q', 'r']);
    expect(Array.from(inner.slices!)).toEqual([1, 1]);
    const plain = selectRows(source, [0, 1]);
    expect(plain.subjects).toBeUndefined();
    expect(plain.slices).toBeUndefined();
    expect('subjects' in plain).toBe(false);
  });

  it('names the first row out of range', () => {
    expect(() => selectRows(source, [0, 5])).toThrow(DataOptionError);
    expect(() => selectRows(source, [0, 5])).toThrow('rows[1] = 5 is not a row of a source of 5 rows');
    expect(() => selectRows(source, [-1])).toThrow('rows[0] = -1');
    expect(() => selectRows(source, [1.5])).toThrow('rows[0] = 1.5');
  });
});
