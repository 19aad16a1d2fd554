/**
 * Seed derivation shared by the layer builders: every initializer and dropout gets its own seed,
 * derived from the model seed and a stable name, so the same model seed gives the same weights
 * whatever order layers are built in.
 */

/**
 * Derives a 31-bit unsigned seed from a base seed and a name (FNV-1a over the name, mixed with the
 * base seed). Stable across runs and platforms.
 * @param baseSeed The model-level seed.
 * @param name A stable name, e.g. `'stem_conv/kernel'`.
 * @returns An integer in [0, 2^31).
 */
export function deriveSeed(baseSeed: number, name: string): number {
  let h = (0x811c9dc5 ^ (Math.trunc(baseSeed) >>> 0)) >>> 0;
  h = Math.imul(h ^ (Math.trunc(baseSeed / 2 ** 32) >>> 0), 0x01000193) >>> 0;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // Final avalanche (murmur3 fmix32) so nearby names give unrelated seeds.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h & 0x7fffffff;
}
