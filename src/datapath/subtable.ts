// One subtable of the megaflow classifier (megaflow.ts): the megaflows of
// one mask, in an open-addressing hash table (linear probing) laid out in
// one Int32Array. A cell is [hash, megaflow slot + 1, the masked key's
// words the mask covers..., padding to 8 or 16 words]: a probe reads one
// cell, one cache line, where a Map of objects read a bucket, an entry, the megaflow and
// its key's backing store — four cache misses once the table outgrows the
// CPU's caches (100,000 megaflows). Slot 0 in a cell means empty; removal
// shifts the cells after it back (no tombstones), so a probe ends at the
// first empty cell.
//
// Hashes are the murmur3 mix of the covered words (the seed varies per
// cache), kept in 30 bits so they stay V8 small integers. The table grows
// at half full and shrinks at an eighth.
//
// lookupBatch() probes for several packets in stages — every hash first,
// then one read of every home cell, then the compares — so that the cache
// misses of a batch overlap instead of queueing one behind the other (what
// dpcls_lookup gets from its prefetches).
//
// Single-threaded, as the cache that owns it.

import { FK_WORDS } from '../packet/flow-key.ts';
import { BATCH_MAX } from '../packet/batch.ts';
import { hashFinish, hashMix } from '../packet/hash.ts';

const MIN_CELLS = 16;
const HASH_BITS = 0x3fffffff;

/** The mask's non-zero words (the words a masked compare reads). */
export function maskWords(mask: Uint32Array): Int32Array {
  const words: number[] = [];
  for (let i = 0; i < FK_WORDS; i++) if (mask[i]) words.push(i);
  return Int32Array.from(words);
}

// Scratch for lookupBatch (one thread, one batch at a time).
const batchHash = new Int32Array(BATCH_MAX);

export class Subtable {
  readonly words: Int32Array;
  /** mask[words[j]] at j, as int32: the hash and the compares read word j's mask beside its index. */
  private readonly maskv: Int32Array;
  /** Int32 words per cell: hash, slot + 1, one per covered word, padding. */
  private readonly stride: number;
  private cells: Int32Array;
  private capMask: number;
  /** Megaflows in the table. */
  count = 0;
  /** Hits since the last ranking (megaflow.ts halves them). */
  hits = 0;
  /** Index in MegaflowCache.subtableById while the subtable is in use (the EMC names it by this). */
  id = -1;
  /** Reads of home cells by lookupBatch, kept so that the reads stay. */
  private sink = 0;

  constructor(readonly mask: Uint32Array, private readonly seed: number) {
    this.words = maskWords(mask);
    this.maskv = Int32Array.from(this.words, (w) => mask[w] | 0);
    // Cells of 8 or 16 words (or a multiple of 16) never straddle two 64-byte cache lines.
    const need = this.words.length + 2;
    this.stride = need <= 8 ? 8 : (need + 15) & ~15;
    this.cells = new Int32Array(MIN_CELLS * this.stride);
    this.capMask = MIN_CELLS - 1;
  }

  /** Hash of the key at `ofs` under the mask. */
  hash(key: Uint32Array, ofs: number): number {
    const words = this.words, mv = this.maskv;
    let h = this.seed;
    for (let i = 0; i < words.length; i++) h = hashMix(h, key[ofs + words[i]] & mv[i]);
    return hashFinish(h) & HASH_BITS;
  }

  /** The slot + 1 of the megaflow matching the key at `ofs` (hash `h`), or 0. */
  find(key: Uint32Array, ofs: number, h: number): number {
    const cells = this.cells, words = this.words, mv = this.maskv;
    const stride = this.stride, capMask = this.capMask, nw = words.length;
    for (let i = h & capMask; ; i = (i + 1) & capMask) {
      const c = i * stride;
      const s = cells[c + 1];
      if (s === 0) return 0;
      if (cells[c] !== h) continue;
      let j = 0;
      for (; j < nw; j++) if ((key[ofs + words[j]] & mv[j]) !== cells[c + 2 + j]) break;
      if (j === nw) return s;
    }
  }

  /**
   * For the packets pkt[0..n) (indices into `keys`, FK_WORDS each), the
   * slot + 1 of each one's megaflow, or 0, into found[0..n).
   */
  lookupBatch(keys: Uint32Array, pkt: Int32Array, n: number, found: Int32Array): void {
    const hs = batchHash;
    for (let j = 0; j < n; j++) hs[j] = this.hash(keys, pkt[j] * FK_WORDS);
    const cells = this.cells, stride = this.stride, capMask = this.capMask;
    let t = 0;
    for (let j = 0; j < n; j++) t ^= cells[(hs[j] & capMask) * stride];
    this.sink = t;
    for (let j = 0; j < n; j++) found[j] = this.find(keys, pkt[j] * FK_WORDS, hs[j]);
  }

  /** Add a megaflow (whose masked key is not in the table) under hash `h`. */
  add(key: Uint32Array, ofs: number, h: number, slot: number): void {
    if ((this.count + 1) * 2 > this.capMask + 1) this.resize((this.capMask + 1) * 2);
    this.place(key, ofs, h, slot + 1);
    this.count++;
  }

  /** Remove the megaflow in `slot` (masked key at `ofs`, hash `h`); false when it is not here. */
  remove(key: Uint32Array, ofs: number, h: number, slot: number): boolean {
    const cells = this.cells, stride = this.stride, capMask = this.capMask;
    let i = h & capMask;
    for (; ; i = (i + 1) & capMask) {
      const s = cells[i * stride + 1];
      if (s === 0) return false;
      if (s === slot + 1) break;
    }
    // Shift back every cell after i that may move to i without leaving its probe path.
    for (let j = (i + 1) & capMask; cells[j * stride + 1] !== 0; j = (j + 1) & capMask) {
      const home = cells[j * stride] & capMask;
      if (((j - home) & capMask) >= ((j - i) & capMask)) {
        cells.copyWithin(i * stride, j * stride, j * stride + stride);
        i = j;
      }
    }
    cells.fill(0, i * stride, i * stride + stride);
    this.count--;
    if (this.count * 8 < this.capMask + 1 && this.capMask + 1 > MIN_CELLS) this.resize((this.capMask + 1) / 2);
    return true;
  }

  /** The table's size in bytes (for memory accounting). */
  get bytes(): number {
    return this.cells.byteLength;
  }

  private place(key: Uint32Array, ofs: number, h: number, slotPlus1: number): void {
    const cells = this.cells, stride = this.stride, capMask = this.capMask, words = this.words, mask = this.mask;
    let i = h & capMask;
    while (cells[i * stride + 1] !== 0) i = (i + 1) & capMask;
    const c = i * stride;
    cells[c] = h;
    cells[c + 1] = slotPlus1;
    for (let j = 0; j < words.length; j++) cells[c + 2 + j] = key[ofs + words[j]] & mask[words[j]];
  }

  private resize(n: number): void {
    const old = this.cells, stride = this.stride;
    this.cells = new Int32Array(n * stride);
    this.capMask = n - 1;
    for (let c = 0; c < old.length; c += stride) {
      if (old[c + 1] === 0) continue;
      let i = old[c] & this.capMask;
      while (this.cells[i * stride + 1] !== 0) i = (i + 1) & this.capMask;
      this.cells.set(old.subarray(c, c + stride), i * stride);
    }
  }
}
