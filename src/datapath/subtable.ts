// One subtable of the megaflow classifier (megaflow.ts): the megaflows of
// one mask, in an open-addressing hash table (linear probing) laid out in
// one Int32Array. A cell is [hash, megaflow slot + 1, the masked key words
// beyond the first REC_KEY_WORDS..., padding to 2, 4, 8 or 16 words]; the
// first REC_KEY_WORDS masked words live in the slot's record
// (mf-records.ts), beside its counters. For the usual mask a cell is 8
// bytes: the table of 100,000 megaflows is 2 MiB, which stays in the CPU's
// caches, and a hit misses only on the record, the line it then credits.
// (A cell of the whole key was 64 bytes, 16 MiB for 100,000 megaflows: a
// miss to memory on the cell and another on the counters.) Slot 0 in a
// cell means empty; removal shifts the cells after it back (no
// tombstones), so a probe ends at the first empty cell.
//
// Hashes are the murmur3 mix of the covered words (the seed varies per
// cache), kept in 30 bits so they stay V8 small integers. The table grows
// at half full and shrinks at an eighth.
//
// lookupBatch() works in stages across the batch, as dpcls_lookup does
// with its prefetches: every hash (word by word across the packets, so the
// CPU overlaps their multiply chains), then every home cell, then the
// compares with the records (their cache misses overlapping instead of
// queueing one behind the other); only a packet whose megaflow is not in
// its home cell probes on alone.
//
// Single-threaded, as the cache that owns it.

import { FK_WORDS } from '../packet/flow-key.ts';
import { BATCH_MAX } from '../packet/batch.ts';
import { hashFinish, hashMix } from '../packet/hash.ts';
import { lineAlignedInt32 } from './cache-memory.ts';
import { REC_KEY_WORDS, REC_WORDS, type SlotRecords } from './mf-records.ts';
import { compileBatchLookup, type BatchLookup } from './subtable-lookup.ts';

/** SWD_SUBTABLE_GENERIC=1: no specialized lookups (subtable-lookup.ts), for measurements. */
const GENERIC = process.env.SWD_SUBTABLE_GENERIC === '1';

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
const batchOfs = new Int32Array(BATCH_MAX);
const batchCell = new Int32Array(BATCH_MAX);
const batchRec = new Int32Array(BATCH_MAX);
const batchDiff = new Int32Array(BATCH_MAX);

export class Subtable {
  readonly words: Int32Array;
  /** mask[words[j]] at j, as int32: the hash and the compares read word j's mask beside its index. */
  private readonly maskv: Int32Array;
  /** Masked words in the slot's record (the first ones), and the rest in the cell after hash and slot. */
  private readonly nRec: number;
  /** Int32 words per cell: hash, slot + 1, the words beyond the record's, padding. */
  private readonly stride: number;
  private cells: Int32Array;
  private capMask: number;
  /** Megaflows in the table. */
  count = 0;
  /** Hits since the last ranking (megaflow.ts halves them). */
  hits = 0;
  /** Index in MegaflowCache.subtableById while the subtable is in use (the EMC names it by this). */
  id = -1;
  /** lookupBatch made for this mask (subtable-lookup.ts), or null: the generic loops. */
  private readonly compiled: BatchLookup | null;

  /** `records`: the cache's slot records, where add() writes a megaflow's first masked words. */
  constructor(readonly mask: Uint32Array, private readonly seed: number, private readonly records: SlotRecords) {
    this.words = maskWords(mask);
    this.maskv = Int32Array.from(this.words, (w) => mask[w] | 0);
    this.nRec = Math.min(this.words.length, REC_KEY_WORDS);
    // Cells of 2, 4, 8 or 16 words (or a multiple of 16) never straddle two 64-byte cache lines.
    const need = 2 + this.words.length - this.nRec;
    let stride = 2;
    while (stride < need && stride < 16) stride *= 2;
    this.stride = need <= stride ? stride : (need + 15) & ~15;
    this.cells = lineAlignedInt32(MIN_CELLS * this.stride);
    this.capMask = MIN_CELLS - 1;
    this.compiled = GENERIC ? null : compileBatchLookup(this.words, this.maskv, this.nRec, this.stride, seed);
  }

  /** Hash of the key at `ofs` under the mask. */
  hash(key: Uint32Array, ofs: number): number {
    const words = this.words, mv = this.maskv;
    let h = this.seed;
    for (let i = 0; i < words.length; i++) h = hashMix(h, key[ofs + words[i]] & mv[i]);
    return hashFinish(h) & HASH_BITS;
  }

  /**
   * hash() of the packets pkt[0..n) into hs[0..n) (and each key's offset
   * into ofs), word by word across the batch: each packet's hash is a chain
   * of dependent multiplies, and running the packets side by side lets the
   * CPU overlap the chains.
   */
  private hashBatch(keys: Uint32Array, pkt: Int32Array, n: number, hs: Int32Array, ofs: Int32Array): void {
    const words = this.words, mv = this.maskv;
    const seed = this.seed;
    for (let j = 0; j < n; j++) {
      ofs[j] = pkt[j] * FK_WORDS;
      hs[j] = seed;
    }
    for (let i = 0; i < words.length; i++) {
      const w = words[i], m = mv[i];
      for (let j = 0; j < n; j++) hs[j] = hashMix(hs[j], keys[ofs[j] + w] & m);
    }
    for (let j = 0; j < n; j++) hs[j] = hashFinish(hs[j]) & HASH_BITS;
  }

  /** The slot + 1 of the megaflow matching the key at `ofs` (hash `h`), or 0. */
  find(key: Uint32Array, ofs: number, h: number): number {
    const cells = this.cells, words = this.words, mv = this.maskv, rec = this.records.words;
    const stride = this.stride, capMask = this.capMask, nw = words.length, nr = this.nRec;
    for (let i = h & capMask; ; i = (i + 1) & capMask) {
      const c = i * stride;
      const s = cells[c + 1];
      if (s === 0) return 0;
      if (cells[c] !== h) continue;
      // The record of slot s - 1 is record s (mf-records.ts).
      const r = s * REC_WORDS;
      let j = 0;
      for (; j < nr; j++) if ((key[ofs + words[j]] & mv[j]) !== rec[r + j]) break;
      if (j < nr) continue;
      for (; j < nw; j++) if ((key[ofs + words[j]] & mv[j]) !== cells[c + 2 + j - nr]) break;
      if (j === nw) return s;
    }
  }

  /** Whether the whole masked key is in the slot records (matchesRecord() can answer). */
  get inRecord(): boolean {
    return this.nRec === this.words.length;
  }

  /** Whether the key at `ofs` matches this subtable's megaflow in `slot`, by its record (inRecord subtables only). */
  matchesRecord(key: Uint32Array, ofs: number, slot: number): boolean {
    const words = this.words, mv = this.maskv, rec = this.records.words, r = (slot + 1) * REC_WORDS;
    for (let j = 0; j < words.length; j++) if ((key[ofs + words[j]] & mv[j]) !== rec[r + j]) return false;
    return true;
  }

  /**
   * For the packets pkt[0..n) (indices into `keys`, FK_WORDS each), the
   * slot + 1 of each one's megaflow, or 0, into found[0..n).
   */
  lookupBatch(keys: Uint32Array, pkt: Int32Array, n: number, found: Int32Array): void {
    const f = this.compiled;
    if (f !== null) f(keys, pkt, n, found, this.cells, this.capMask, this.records.words, this);
    else this.lookupBatchGeneric(keys, pkt, n, found);
  }

  /** lookupBatch() without the specialized code (the fallback, and what tests hold that code to). */
  lookupBatchGeneric(keys: Uint32Array, pkt: Int32Array, n: number, found: Int32Array): void {
    const hs = batchHash, ofs = batchOfs, at = batchCell, rs = batchRec, diff = batchDiff;
    this.hashBatch(keys, pkt, n, hs, ofs);
    const cells = this.cells, stride = this.stride, capMask = this.capMask, rec = this.records.words;
    // Every home cell (a table that stays in the caches): its slot's record, and whether the hash agrees.
    for (let j = 0; j < n; j++) {
      const c = (hs[j] & capMask) * stride;
      const s = cells[c + 1];
      at[j] = c;
      // An empty cell (s = 0) names record 0, which is no slot's; it is a miss either way.
      rs[j] = s * REC_WORDS;
      diff[j] = (cells[c] ^ hs[j]) | ((s - 1) >> 31);
    }
    // The records' words compared word by word across the batch: their cache misses overlap.
    const words = this.words, mv = this.maskv, nw = words.length, nr = this.nRec;
    for (let i = 0; i < nr; i++) {
      const w = words[i], m = mv[i];
      for (let j = 0; j < n; j++) diff[j] |= (keys[ofs[j] + w] & m) ^ rec[rs[j] + i];
    }
    for (let i = nr; i < nw; i++) {
      const w = words[i], m = mv[i];
      for (let j = 0; j < n; j++) diff[j] |= (keys[ofs[j] + w] & m) ^ cells[at[j] + 2 + i - nr];
    }
    // A packet whose megaflow is not in its home cell (a collision, or no megaflow) probes on.
    for (let j = 0; j < n; j++) found[j] = diff[j] === 0 ? cells[at[j] + 1] : this.find(keys, ofs[j], hs[j]);
  }

  /**
   * Add a megaflow (whose masked key is not in the table) under hash `h`,
   * its first masked words into its slot's record (which the cache has made
   * room for).
   */
  add(key: Uint32Array, ofs: number, h: number, slot: number): void {
    if ((this.count + 1) * 2 > this.capMask + 1) this.resize((this.capMask + 1) * 2);
    this.place(key, ofs, h, slot + 1);
    const rec = this.records.words, words = this.words, mask = this.mask;
    const r = (slot + 1) * REC_WORDS;
    for (let j = 0; j < this.nRec; j++) rec[r + j] = key[ofs + words[j]] & mask[words[j]];
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

  /** The table's size in bytes (for memory accounting; the records are the cache's). */
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
    for (let j = this.nRec; j < words.length; j++) cells[c + 2 + j - this.nRec] = key[ofs + words[j]] & mask[words[j]];
  }

  private resize(n: number): void {
    const old = this.cells, stride = this.stride;
    this.cells = lineAlignedInt32(n * stride);
    this.capMask = n - 1;
    for (let c = 0; c < old.length; c += stride) {
      if (old[c + 1] === 0) continue;
      let i = old[c] & this.capMask;
      while (this.cells[i * stride + 1] !== 0) i = (i + 1) & this.capMask;
      this.cells.set(old.subarray(c, c + stride), i * stride);
    }
  }
}
