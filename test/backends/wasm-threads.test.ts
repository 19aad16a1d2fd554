// allowWasmThreads: presents a hardwareConcurrency that lets tfjs-backend-wasm 4.22's cap (hardwareConcurrency / 2,
// backend.cc) reach the wanted count, only until restored; a no-op where there is no navigator or no cap to lift.
// The page test (test/browser/page.test.ts) checks the threads in Chromium.
import { afterEach, describe, expect, it } from 'vitest';
import { allowWasmThreads } from '../../src/index.js';
import { NeuroStageNetError } from '../../src/errors.js';

const g = globalThis as { navigator?: unknown };
const original = Object.getOwnPropertyDescriptor(g, 'navigator');

/** Installs a navigator whose hardwareConcurrency is a getter on its prototype, as in browsers. */
function fakeNavigator(cores: number): { hardwareConcurrency: number } {
  const proto = { get hardwareConcurrency() { return cores; } };
  const nav = Object.create(proto) as { hardwareConcurrency: number };
  Object.defineProperty(g, 'navigator', { value: nav, configurable: true, writable: true });
  return nav;
}

afterEach(() => {
  if (original) Object.defineProperty(g, 'navigator', original);
  else delete g.navigator;
});

/** tfjs-backend-wasm 4.22's thread count: min(max(requested, 1), 8, floor(hardwareConcurrency / 2)). */
const tfjsThreads = (requested: number, hardwareConcurrency: number) => Math.min(Math.max(requested, 1), 8, Math.floor(hardwareConcurrency / 2));

describe('allowWasmThreads', () => {
  it('2 cores: without it tfjs runs 1 thread; with it 2, and the real value comes back on restore', () => {
    const nav = fakeNavigator(2);
    expect(tfjsThreads(2, nav.hardwareConcurrency)).toBe(1);
    const restore = allowWasmThreads(2);
    expect(nav.hardwareConcurrency).toBe(4);
    expect(tfjsThreads(2, nav.hardwareConcurrency)).toBe(2);
    restore();
    expect(nav.hardwareConcurrency).toBe(2);
    expect(Object.getOwnPropertyNames(nav)).toEqual([]); // the prototype's getter again, no own property left
    restore(); // idempotent
    expect(nav.hardwareConcurrency).toBe(2);
  });

  it('never asks for more threads than logical cores (or than the 8 pooled workers)', () => {
    const nav = fakeNavigator(2);
    const restore = allowWasmThreads(6);
    expect(tfjsThreads(6, nav.hardwareConcurrency)).toBe(2);
    restore();
    const big = fakeNavigator(32);
    const r2 = allowWasmThreads(12); // the cap (16) already allows 8, the pool's maximum: nothing to lift
    expect(big.hardwareConcurrency).toBe(32);
    expect(tfjsThreads(12, big.hardwareConcurrency)).toBe(8);
    r2();
  });

  it('does nothing when the cap already allows the count, or where there is no navigator (Node)', () => {
    const nav = fakeNavigator(8);
    const restore = allowWasmThreads(3);
    expect(nav.hardwareConcurrency).toBe(8);
    restore();
    delete g.navigator;
    expect(() => allowWasmThreads(2)()).not.toThrow();
    expect(g.navigator).toBeUndefined();
  });

  it('refuses a count that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => allowWasmThreads(bad)).toThrow(NeuroStageNetError);
  });
});
