// A thread's cache of the connections its packets found last (one per
// PacketPath, so per PMD thread): direct-mapped, keyed by the whole lookup
// key (zone included). A packet whose key is cached skips the hash, the
// shard hash and the bucket walk and locks the record's home shard at once.
//
// The cache is only a hint: a cached record may have been removed and
// reused by any thread since. The packet path trusts an entry only with the
// record's home shard held, the record in use and its id unchanged; a
// record's keys and home shard never change while its id stays the same,
// and no two live records share a key, so a valid entry finds exactly what
// the table lookup would.

import { KEY_WORDS, K_DST, K_META, K_PORTS, K_SRC } from './layout.ts';

const CC_BITS = 6;
export const CC_SIZE = 1 << CC_BITS;

export class ConnCache {
  private readonly keys = new Int32Array(CC_SIZE * KEY_WORDS);
  /** Index node (rec * 2 + dir), -1 = empty. */
  readonly node = new Int32Array(CC_SIZE).fill(-1);
  /** The record's R_ID when it was cached. */
  readonly id = new Int32Array(CC_SIZE);
  /** The record's home shard. */
  readonly shard = new Int32Array(CC_SIZE);

  private static slot(k: Int32Array): number {
    const x = k[K_SRC] ^ k[K_DST + 3] ^ Math.imul(k[K_DST] ^ k[K_META], 0x2c1b3c6d) ^ k[K_PORTS];
    return Math.imul(x ^ (x >>> 15), 0x9e3779b1) >>> (32 - CC_BITS);
  }

  /** The entry holding key k (at 0), or -1. */
  find(k: Int32Array): number {
    const s = ConnCache.slot(k);
    if (this.node[s] < 0) return -1;
    const c = this.keys;
    const o = s * KEY_WORDS;
    if (
      c[o + K_PORTS] === k[K_PORTS] && c[o + K_SRC] === k[K_SRC] && c[o + K_DST] === k[K_DST] && c[o] === k[K_META] &&
      c[o + 2] === k[2] && c[o + 3] === k[3] && c[o + 4] === k[4] && c[o + 6] === k[6] && c[o + 7] === k[7] && c[o + 8] === k[8]
    ) return s;
    return -1;
  }

  put(k: Int32Array, node: number, id: number, shard: number): void {
    const s = ConnCache.slot(k);
    const o = s * KEY_WORDS;
    for (let i = 0; i < KEY_WORDS; i++) this.keys[o + i] = k[i];
    this.node[s] = node;
    this.id[s] = id;
    this.shard[s] = shard;
  }

  /** Forget entry s (its record went away). */
  drop(s: number): void {
    this.node[s] = -1;
  }
}
