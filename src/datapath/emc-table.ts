// The exact-match cache's table (emc.ts describes the flow cache it is
// part of and what must stay true): EMC_ENTRIES cells of one 64-byte line
// each, naming a megaflow by slot and generation with the masked key words
// it matched, and OVS's probabilistic insertion and replacement.
//
// Single-threaded, as the FlowCache that owns it.

import { xorshift32 } from '../packet/hash.ts';
import { lineAlignedInt32 } from './cache-memory.ts';
import { megaflowMatches, type Megaflow, type MegaflowCache } from './megaflow.ts';

/** EMC entries (OVS: EM_FLOW_HASH_ENTRIES); a key may sit in one of two, picked by two 13-bit parts of its hash. */
export const EMC_SHIFT = 13, EMC_ENTRIES = 1 << EMC_SHIFT;
const EMC_MASK = EMC_ENTRIES - 1;
export const DEFAULT_EMC_INSERT_INV_PROB = 100;

/** Int32 words per EMC cell, one 64-byte line: hash, slot + 1 (0 = empty), the slot's generation, subtable id, masked words. */
const EMC_CELL = 16;
const C_HASH = 0, C_SLOT = 1, C_GEN = 2, C_SUBTABLE = 3, C_WORDS = 4;
/** Masked key words a cell holds; a megaflow whose mask covers more is compared through the megaflow (C_SUBTABLE = EMC_WIDE). */
export const EMC_CELL_WORDS = EMC_CELL - C_WORDS;
const EMC_WIDE = -1;

export class ExactMatchCache {
  /**
   * The entries, EMC_CELL words each, flat so that a hit reads one line (a
   * reference to the megaflow made a hit read the object, its key and the
   * key's store: several cache misses once the EMC is cold).
   */
  readonly cells = lineAlignedInt32(EMC_ENTRIES * EMC_CELL);
  /** A draw at or below this inserts (OVS's emc_insert_min); 0 = EMC off. */
  private insertMin = 0;
  private invProb = 0;
  private rng: number;
  /** Entries written (new or replaced), for tests and the bench. */
  inserts = 0;

  constructor(readonly cache: MegaflowCache, insertInvProb = DEFAULT_EMC_INSERT_INV_PROB, seed = (Math.random() * 0xffffffff) | 1) {
    this.rng = seed | 1;
    this.insertInvProb = insertInvProb;
  }

  get insertInvProb(): number {
    return this.invProb;
  }

  /** 0: off (and emptied); 1: insert every time; N: insert with probability 1/N. */
  set insertInvProb(n: number) {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`emc-insert-inv-prob must be an integer >= 0, not ${n}`);
    this.invProb = n;
    this.insertMin = n === 0 ? 0 : Math.floor(0xffffffff / n);
    if (n === 0) this.clear();
  }

  get enabled(): boolean {
    return this.insertMin !== 0;
  }

  /** The megaflow entered for the key at `ofs` (hash `h`), if it still lives and matches the key. */
  lookup(keys: Uint32Array, ofs: number, h: number): Megaflow | null {
    const s = this.lookupSlot(keys, ofs, h);
    return s === 0 ? null : this.cache.flows[s - 1];
  }

  /** As lookup(), as the slot + 1 of the megaflow (MegaflowCache.flows), or 0. */
  lookupSlot(keys: Uint32Array, ofs: number, h: number): number {
    const cells = this.cells;
    let c = (h & EMC_MASK) * EMC_CELL;
    for (let seg = 0; seg < 2; seg++) {
      if (cells[c + C_HASH] === h && cells[c + C_SLOT] !== 0) {
        const s = this.answer(keys, ofs, c);
        if (s !== 0) return s;
      }
      c = ((h >>> EMC_SHIFT) & EMC_MASK) * EMC_CELL;
    }
    return 0;
  }

  /**
   * The slot + 1 cell `c` names, when the slot still holds the megaflow the
   * cell was written for (same generation) and the key matches it under its
   * mask, else 0; a cell whose megaflow went away is let go.
   */
  private answer(keys: Uint32Array, ofs: number, c: number): number {
    const cells = this.cells, mc = this.cache;
    const sp1 = cells[c + C_SLOT];
    if (mc.slotGen[sp1 - 1] !== cells[c + C_GEN]) {
      cells[c + C_SLOT] = 0;
      return 0;
    }
    const id = cells[c + C_SUBTABLE];
    if (id === EMC_WIDE) return megaflowMatches(mc.flows[sp1 - 1]!, keys, ofs) ? sp1 : 0;
    // A live megaflow's subtable lives: the id still names it.
    const st = mc.subtableById[id]!;
    const words = st.words, mask = st.mask;
    for (let j = 0; j < words.length; j++) {
      const w = words[j];
      if ((keys[ofs + w] & mask[w]) !== cells[c + C_WORDS + j]) return 0;
    }
    return sp1;
  }

  /** Whether cell `c` names a megaflow that is still in its slot. */
  private live(c: number): boolean {
    const sp1 = this.cells[c + C_SLOT];
    return sp1 !== 0 && this.cache.slotGen[sp1 - 1] === this.cells[c + C_GEN];
  }

  /** Insert with probability 1/insertInvProb (OVS's emc_probabilistic_insert). */
  maybeInsert(keys: Uint32Array, ofs: number, h: number, mf: Megaflow): void {
    if (this.draw()) this.insert(keys, ofs, h, mf);
  }

  /**
   * One draw of maybeInsert's: whether this miss is entered. Apart so that
   * a caller can draw before it reads what an insert needs (the hash, the
   * megaflow): 99 misses in 100 then cost the draw alone.
   */
  draw(): boolean {
    const min = this.insertMin;
    if (min === 0) return false;
    if (min !== 0xffffffff) {
      this.rng = xorshift32(this.rng);
      if (this.rng >>> 0 > min) return false;
    }
    return true;
  }

  /** Enter key -> mf (a megaflow of this cache), as insertAt(). */
  insert(keys: Uint32Array, ofs: number, h: number, mf: Megaflow): void {
    if (mf.home === this.cache) this.insertAt(keys, ofs, h, mf.index, mf.key, 0);
  }

  /**
   * Enter the megaflow in `slot` that the classifier has just returned for
   * the key at `ofs`, with the key's own masked words (the megaflow's, as it
   * matched): nothing of the megaflow is read, a cold object at 100k flows.
   */
  insertMatched(keys: Uint32Array, ofs: number, h: number, slot: number): void {
    this.insertAt(keys, ofs, h, slot, keys, ofs);
  }

  /**
   * Enter `slot` for the key at `ofs` (cell words from `src` at `so`, masked):
   * over the entry that already answers for the key, else a free one of the
   * two, else the one with the lower hash (OVS's replacement).
   */
  private insertAt(keys: Uint32Array, ofs: number, h: number, slot: number, src: Uint32Array, so: number): void {
    const cells = this.cells;
    const c1 = (h & EMC_MASK) * EMC_CELL;
    const c2 = ((h >>> EMC_SHIFT) & EMC_MASK) * EMC_CELL;
    for (let seg = 0, c = c1; seg < 2; seg++, c = c2) {
      if (cells[c + C_HASH] === h && cells[c + C_SLOT] !== 0 && this.answer(keys, ofs, c) !== 0) {
        this.write(c, h, slot, src, so);
        return;
      }
    }
    // Whether a used cell's megaflow lives is not read (a dependent miss): lookups and sweep() free stale cells.
    let v: number;
    if (cells[c1 + C_SLOT] === 0) v = c1;
    else if (cells[c2 + C_SLOT] === 0) v = c2;
    else v = cells[c2 + C_HASH] >>> 0 < cells[c1 + C_HASH] >>> 0 ? c2 : c1;
    this.write(v, h, slot, src, so);
    this.inserts++;
  }

  private write(c: number, h: number, slot: number, src: Uint32Array, so: number): void {
    const cells = this.cells, mc = this.cache;
    const id = mc.slotSubtable[slot];
    const st = mc.subtableById[id]!;
    cells[c + C_HASH] = h;
    cells[c + C_SLOT] = slot + 1;
    cells[c + C_GEN] = mc.slotGen[slot];
    const words = st.words, mask = st.mask;
    if (words.length > EMC_CELL_WORDS) {
      cells[c + C_SUBTABLE] = EMC_WIDE;
      return;
    }
    cells[c + C_SUBTABLE] = id;
    for (let j = 0; j < words.length; j++) cells[c + C_WORDS + j] = src[so + words[j]] & mask[words[j]];
  }

  clear(): void {
    this.cells.fill(0);
  }

  /** Let go of entries whose megaflow went away (they would only be skipped), as OVS's emc_cache_slow_sweep. */
  sweep(): void {
    const cells = this.cells;
    for (let c = 0; c < cells.length; c += EMC_CELL) if (cells[c + C_SLOT] !== 0 && !this.live(c)) cells[c + C_SLOT] = 0;
  }

  /** Entries in use, for tests. */
  get size(): number {
    let n = 0;
    for (let c = 0; c < this.cells.length; c += EMC_CELL) if (this.live(c)) n++;
    return n;
  }
}

