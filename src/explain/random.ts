// Seeded pseudo-random numbers for tie-breaking, random baselines and weight shuffles (no Math.random, so
// the same seed always gives the same curve or sanity-check result).

/** mulberry32: a small, fast 32-bit generator; plenty for shuffles and tie-breaks. Returns floats in [0, 1). */
export function createRng(seed: number): () => number {
  let state = (Math.floor(seed) >>> 0) ^ 0x9e3779b9;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** In-place Fisher–Yates shuffle driven by `rng`. */
export function shuffleInPlace<T extends { length: number; [i: number]: number }>(values: T, rng: () => number): T {
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = values[i];
    values[i] = values[j];
    values[j] = tmp;
  }
  return values;
}
