// murmur3's 32-bit word mix and finaliser, for hashes over flow words: NAT
// tuple selection, select groups and conntrack's index
// (src/conntrack/hash.ts adds the length). Callers seed the first mix.

/** Mix one 32-bit word into the running hash. */
export function hashMix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** The final avalanche; an unsigned 32-bit result. */
export function hashFinish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** xorshift32: cheap pseudo-random draws (never 0 for a non-zero state), as the flow cache's insertion and replacement draws. */
export function xorshift32(x: number): number {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return x | 0;
}
