// A seeded murmur3-style hash over 32-bit words, for the conntrack index.
// The seed is random per table and lives in the shared header, so every
// thread hashes a tuple to the same bucket while outsiders can't aim
// packets at one bucket. The mix and avalanche are src/packet/hash.ts's;
// the length goes into the finish, as murmur3 does.

import { hashFinish, hashMix } from '../packet/hash.ts';

export const mixWord = hashMix;

export function finishHash(h: number, nbytes: number): number {
  return hashFinish(h ^ nbytes);
}

export function hashWords(w: Uint32Array | Int32Array, ofs: number, n: number, seed: number): number {
  let h = seed | 0;
  for (let i = 0; i < n; i++) h = mixWord(h, w[ofs + i]);
  return finishHash(h, n * 4);
}
