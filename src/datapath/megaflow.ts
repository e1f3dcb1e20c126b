// The megaflow cache: masked flow entries, looked up by tuple-space search
// (one subtable per distinct mask, each a flat hash table over the masked
// key, subtable.ts), like dpif-netdev's dpcls. Entries carry their datapath actions and the
// counters dump-dp-flows prints. Each subtable counts its hits; every 1024
// hits the subtables are re-sorted, most hit first, and the counts halved
// (so recent hits weigh most), as dpcls ranks its subtables. A new
// subtable goes last until the next sort.
//
// Every entry in the cache has a slot (`index`) in `flows`, so the
// signature cache in front (emc.ts) can name it by a small integer and find
// out, by looking, that it is gone; removal sets `dead` for the exact-match
// cache, which holds entries themselves. lookupBatch() takes a batch's
// packets through the subtables together (dpcls_lookup), so the cache
// misses of a large table overlap.
//
// Single-threaded: the PMD that owns a cache is the only one touching it.

import { FK_WORDS } from '../packet/flow-key.ts';
import type { DpAction } from './dp-actions.ts';
import { BATCH_MAX } from '../packet/batch.ts';
import { maskWords, Subtable } from './subtable.ts';

export interface Megaflow {
  readonly key: Uint32Array; // masked key
  /** The whole key of the packet that created the entry (for -m dumps and revalidation). */
  readonly origKey: Uint32Array;
  readonly mask: Uint32Array;
  actions: DpAction[];
  packets: number;
  bytes: number;
  usedMs: number; // 0 = never
  tcpFlags: number;
  readonly createdMs: number;
  /** Whoever installed the entry (ofproto's translation record: rules to credit). */
  owner: unknown;
  /** Counters already credited to the owner. */
  pushedPackets: number;
  pushedBytes: number;
  ufid: string;
  dead: boolean;
  /** The mask's non-zero words (the words a masked compare reads). */
  readonly words: Int32Array;
  /** Slot in the owning cache's `flows`, -1 when in no cache. */
  index: number;
}

let ufidCounter = 0;
function newUfid(): string {
  const r = () => Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, '0');
  const a = r(), b = r(), c = r();
  ufidCounter++;
  return `${a}-${b.slice(0, 4)}-${b.slice(4)}-${c.slice(0, 4)}-${c.slice(4)}${(ufidCounter & 0xffff).toString(16).padStart(4, '0')}${r()}`.slice(0, 36);
}

/** A new, not yet credited entry: `key` is already masked, `origKey` the packet's whole key. */
export function newMegaflow(
  key: Uint32Array, origKey: Uint32Array, mask: Uint32Array, actions: DpAction[], nowMs: number, owner: unknown,
  words: Int32Array = maskWords(mask),
): Megaflow {
  return {
    key, origKey, mask, actions, packets: 0, bytes: 0, usedMs: 0, tcpFlags: 0, createdMs: nowMs,
    owner, pushedPackets: 0, pushedBytes: 0, ufid: newUfid(), dead: false, words, index: -1,
  };
}

export const MEGAFLOW_DEFAULT_LIMIT = 200_000;
/** Hits between two rankings of the subtables. */
const RANK_EVERY = 1024;

export class MegaflowCache {
  private subtables: Subtable[] = [];
  private readonly byMask = new Map<string, Subtable>();
  private readonly byMaskObject = new Map<Uint32Array, Subtable>();
  private readonly all = new Set<Megaflow>();
  private readonly seed = ((Math.random() * 0x100000000) >>> 0) & 0x3fffffff;
  /** Hits since the last subtable ranking. */
  private lookups = 0;
  /** Insert attempts refused because the cache was full. */
  refused = 0;
  /** Entries by slot (Megaflow.index); null where one was removed. */
  flows: (Megaflow | null)[] = [];
  private freeSlots: number[] = [];
  /** Subtables probed by lookups that hit (pmd-stats-show's subtable lookups per megaflow hit). */
  hitProbes = 0;
  // lookupBatch's scratch: the packets still unmatched, and what a subtable found for them.
  private readonly todo = new Int32Array(BATCH_MAX);
  private readonly slots = new Int32Array(BATCH_MAX);

  constructor(readonly limit = MEGAFLOW_DEFAULT_LIMIT) {}

  get size(): number {
    return this.all.size;
  }

  get maskCount(): number {
    return this.subtables.length;
  }

  lookup(key: Uint32Array, ofs: number): Megaflow | null {
    const sts = this.subtables;
    for (let s = 0; s < sts.length; s++) {
      const st = sts[s];
      const slot = st.find(key, ofs, st.hash(key, ofs));
      if (slot !== 0) {
        this.hitProbes += s + 1;
        st.hits++;
        if (++this.lookups >= RANK_EVERY) this.resort();
        return this.flows[slot - 1];
      }
    }
    return null;
  }

  /**
   * Look up the packets pkt[0..n) of a batch (indices into `keys`, FK_WORDS
   * words each) subtable by subtable, as dpcls_lookup does: found[p] is
   * set to the megaflow of each packet p that hits and left alone for the
   * others. The same answers as lookup() one packet at a time.
   */
  lookupBatch(keys: Uint32Array, pkt: Int32Array, n: number, found: (Megaflow | null)[]): void {
    const todo = this.todo, slots = this.slots, flows = this.flows, sts = this.subtables;
    for (let j = 0; j < n; j++) todo[j] = pkt[j];
    let m = n;
    for (let s = 0; s < sts.length && m > 0; s++) {
      const st = sts[s];
      st.lookupBatch(keys, todo, m, slots);
      let left = 0;
      for (let j = 0; j < m; j++) {
        const sl = slots[j];
        if (sl !== 0) found[todo[j]] = flows[sl - 1];
        else todo[left++] = todo[j];
      }
      const hits = m - left;
      if (hits !== 0) {
        this.hitProbes += hits * (s + 1);
        st.hits += hits;
        this.lookups += hits;
      }
      m = left;
    }
    if (this.lookups >= RANK_EVERY) this.resort();
  }

  /** Install (key & mask) -> actions; returns the entry, or null when the cache is full. */
  insert(key: Uint32Array, ofs: number, mask: Uint32Array, actions: DpAction[], nowMs: number, owner: unknown): Megaflow | null {
    if (this.all.size >= this.limit) {
      this.refused++;
      return null;
    }
    const mk = mask.join(',');
    let st = this.byMask.get(mk);
    if (!st) {
      st = new Subtable(Uint32Array.from(mask), this.seed);
      this.byMask.set(mk, st);
      this.byMaskObject.set(st.mask, st);
      this.subtables.push(st);
    }
    const masked = new Uint32Array(FK_WORDS);
    for (let i = 0; i < FK_WORDS; i++) masked[i] = (key[ofs + i] & mask[i]) >>> 0;
    // An identical megaflow may exist (two packets of one flow raced into the upcall): replace its actions.
    const h = st.hash(masked, 0);
    const cur = st.find(masked, 0, h);
    if (cur !== 0) {
      const e = this.flows[cur - 1]!;
      e.actions = actions;
      e.owner = owner;
      return e;
    }
    const mf = newMegaflow(masked, Uint32Array.from(key.subarray(ofs, ofs + FK_WORDS)), st.mask, actions, nowMs, owner, st.words);
    const slot = this.freeSlots.pop();
    if (slot === undefined) {
      mf.index = this.flows.length;
      this.flows.push(mf);
    } else {
      mf.index = slot;
      this.flows[slot] = mf;
    }
    st.add(masked, 0, h, mf.index);
    this.all.add(mf);
    return mf;
  }

  remove(mf: Megaflow): void {
    if (!this.all.delete(mf)) return;
    mf.dead = true;
    const st = this.byMaskObject.get(mf.mask)!;
    st.remove(mf.key, 0, st.hash(mf.key, 0), mf.index);
    this.flows[mf.index] = null;
    this.freeSlots.push(mf.index);
    if (st.count === 0) {
      this.byMask.delete(mf.mask.join(','));
      this.byMaskObject.delete(st.mask);
      this.subtables = this.subtables.filter((s) => s !== st);
    }
  }

  entries(): Megaflow[] {
    return [...this.all];
  }

  clear(): number {
    const n = this.all.size;
    for (const e of this.all) e.dead = true;
    this.all.clear();
    this.flows = [];
    this.freeSlots = [];
    this.byMask.clear();
    this.byMaskObject.clear();
    this.subtables = [];
    return n;
  }

  /** Remove entries idle for longer than idleMs; returns them. */
  expire(nowMs: number, idleMs: number): Megaflow[] {
    const dead: Megaflow[] = [];
    for (const e of this.all) if (nowMs - (e.usedMs || e.createdMs) > idleMs) dead.push(e);
    for (const e of dead) this.remove(e);
    return dead;
  }

  /** Most-hit subtables first (dpcls subtable ranking), counts halved so that recent hits weigh most. */
  private resort(): void {
    this.lookups = 0;
    this.subtables.sort((a, b) => b.hits - a.hits);
    for (const st of this.subtables) st.hits >>>= 1;
  }
}

/** Whether the key at `ofs` agrees with entry `e` under its mask. */
export function megaflowMatches(e: Megaflow, key: Uint32Array, ofs: number): boolean {
  return matches(e, key, ofs, e.words);
}

function matches(e: Megaflow, key: Uint32Array, ofs: number, words: Int32Array): boolean {
  const mk = e.mask, v = e.key;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (((key[ofs + w] & mk[w]) >>> 0) !== v[w]) return false;
  }
  return true;
}
