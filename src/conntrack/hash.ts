// A seeded murmur3-style hash over 32-bit words, for the conntrack index.
// The seed is random per table and lives in the shared header, so every
// thread hashes a tuple to the same bucket while outsiders can't aim
// packets at one bucket. Conntrack keeps its own copy so it does not depend
// on src/packet/hash.ts.

export function mixWord(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

export function finishHash(h: number, nbytes: number): number {
  h ^= nbytes;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function hashWords(w: Uint32Array | Int32Array, ofs: number, n: number, seed: number): number {
  let h = seed | 0;
  for (let i = 0; i < n; i++) h = mixWord(h, w[ofs + i]);
  return finishHash(h, n * 4);
}
