import { describe, expect, it } from 'vitest';
import { ExplainError, HEAD_THRESHOLD, gaussianBaselineMap, headMask, heatMassInside } from '../../src/explain/index.js';
import { headFootprint } from '../../src/data/slice-level.js';

describe('headMask', () => {
  it('fills each row from its first to its last tissue pixel (threshold 15 by default)', () => {
    // 5 wide x 4 high. Row 0: no tissue. Row 1: tissue at x=1 and x=3 (dark x=2 inside is head).
    // Row 2: one pixel at exactly 15 (not tissue) and one at 16 (tissue). Row 3: all tissue.
    const image = [
      0, 10, 15, 3, 0,
      0, 200, 2, 90, 0,
      15, 0, 0, 16, 0,
      30, 30, 30, 30, 30,
    ];
    expect(HEAD_THRESHOLD).toBe(15);
    expect(Array.from(headMask(image, 5, 4))).toEqual([
      0, 0, 0, 0, 0,
      0, 1, 1, 1, 0,
      0, 0, 0, 1, 0,
      1, 1, 1, 1, 1,
    ]);
    // Its share is the data module's head footprint: (0 + 3 + 1 + 5) / 20.
    const share = headMask(image, 5, 4).reduce((s, v) => s + v, 0) / 20;
    expect(share).toBeCloseTo(headFootprint(image, 4, 5), 12);
    expect(share).toBeCloseTo(9 / 20, 12);
    // A threshold of 5 makes (0,1) = 10 and (0,2) = 15 tissue too.
    expect(Array.from(headMask(image, 5, 4, 5)).slice(0, 5)).toEqual([0, 1, 1, 0, 0]);
    expect(() => headMask(image, 4, 4)).toThrow(ExplainError);
  });
});

describe('heatMassInside', () => {
  it('is Σ inside / Σ, ignoring negative and non-finite heat; NaN for a map without mass', () => {
    const heat = [0.5, 0.25, 0, 1, -3, Number.NaN];
    const mask = [1, 0, 1, 1, 1, 1];
    // inside: 0.5 + 0 + 1 = 1.5; total: 0.5 + 0.25 + 0 + 1 = 1.75.
    expect(heatMassInside(heat, mask)).toBeCloseTo(1.5 / 1.75, 12);
    expect(heatMassInside([0, 0, 0], [1, 1, 0])).toBeNaN();
    expect(heatMassInside([1, 1], [0, 0])).toBe(0);
    expect(() => heatMassInside([1], [1, 0])).toThrow(/1 values but the mask has 2/);
  });
});

describe('gaussianBaselineMap', () => {
  it('is exp(-r² / 2σ²) around the image centre with σ = fraction · shorter side', () => {
    // 3 x 2: centre (1, 0.5), σ = 0.5 · 2 = 1.
    const g = gaussianBaselineMap(3, 2, 0.5);
    const expected = [
      Math.exp(-(1 + 0.25) / 2), Math.exp(-0.25 / 2), Math.exp(-(1 + 0.25) / 2),
      Math.exp(-(1 + 0.25) / 2), Math.exp(-0.25 / 2), Math.exp(-(1 + 0.25) / 2),
    ];
    for (let i = 0; i < 6; i++) expect(g[i]).toBeCloseTo(expected[i], 6);
    const odd = gaussianBaselineMap(5, 5);
    expect(odd[12]).toBe(1);
    expect(odd[0]).toBeCloseTo(Math.exp(-8 / (2 * 1.25 * 1.25)), 6);
    expect(() => gaussianBaselineMap(0, 3)).toThrow(ExplainError);
    expect(() => gaussianBaselineMap(3, 3, 0)).toThrow(/sigmaFraction/);
  });
});
