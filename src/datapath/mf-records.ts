// Each megaflow slot's record (MegaflowCache.flows' slot, megaflow.ts): one
// 64-byte cache line holding what a hit reads and writes — the megaflow's
// masked key words (the first REC_KEY_WORDS of its mask's words, in mask
// order; the subtable compares a packet's key against them) and its
// counters (packets, bytes, last use, TCP flags).
//
// Why one line: at 100,000 megaflows a hit read a 64-byte subtable cell
// holding the key out of a 16 MiB table, then the counters out of another
// 3.2 MB, two memory misses per packet. The subtable now holds only
// 8-byte (hash, slot) cells, a table small enough to stay in the CPU's
// caches, and the slot's record holds the key and the counters: one miss
// per packet, over 6.4 MB of records instead of 19 MB. Records are by slot,
// which a megaflow keeps for its life in the cache: the counters never
// move when a subtable grows, shrinks or shifts cells on removal.
//
// Layout (int32 words; the float64 words at the record's 8-byte-aligned end):
//   [0, REC_KEY_WORDS)  masked key words
//   REC_TCP_FLAGS       TCP flags seen (int32 word 9)
//   float64 REC_F_PACKETS, REC_F_BYTES, REC_F_USED (float64 words 5, 6, 7)
// Record 0 is no slot's and stays zero: the megaflow in slot s has record
// s + 1 (megaflow.ts recordOf), so that a subtable cell's slot + 1, which
// is 0 for an empty cell, indexes the records without a test.
//
// Single-threaded, as the cache that owns it.

import { lineAlignedInt32 } from './cache-memory.ts';

/** Int32 words per record: one 64-byte line. */
export const REC_WORDS = 16;
/** Float64 words per record. */
export const REC_F64 = REC_WORDS / 2;
/** Masked key words a record holds; a wider mask keeps the rest in its subtable's cells. */
export const REC_KEY_WORDS = 9;
export const REC_TCP_FLAGS = 9;
/** Float64 indexes (within the record's REC_F64) of the counters. */
export const REC_F_PACKETS = 5;
export const REC_F_BYTES = 6;
/** Last use, ms; 0 = never. */
export const REC_F_USED = 7;

export class SlotRecords {
  /** The records as int32 words, REC_WORDS per slot; replaced (copied) when the store grows. */
  words: Int32Array;
  /** The same memory as float64 words, REC_F64 per slot. */
  f64: Float64Array;

  constructor(records = 64) {
    this.words = lineAlignedInt32(records * REC_WORDS);
    this.f64 = new Float64Array(this.words.buffer, this.words.byteOffset, records * REC_F64);
  }

  /** Records the store has room for. */
  get capacity(): number {
    return this.words.length / REC_WORDS;
  }

  /** Room for at least `records` records (doubling), the records kept. */
  reserve(records: number): void {
    let cap = this.capacity;
    if (records <= cap) return;
    while (cap < records) cap *= 2;
    const w = lineAlignedInt32(cap * REC_WORDS);
    w.set(this.words);
    this.words = w;
    this.f64 = new Float64Array(w.buffer, w.byteOffset, cap * REC_F64);
  }

  /** Zero a record's counters (a new megaflow takes its slot). */
  resetCounters(record: number): void {
    this.words[record * REC_WORDS + REC_TCP_FLAGS] = 0;
    const f = record * REC_F64;
    this.f64[f + REC_F_PACKETS] = 0;
    this.f64[f + REC_F_BYTES] = 0;
    this.f64[f + REC_F_USED] = 0;
  }
}
