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
import { REC_F64, REC_F_BYTES, REC_F_PACKETS, REC_F_USED, REC_TCP_FLAGS, REC_WORDS, SlotRecords } from './mf-records.ts';

let ufidCounter = 0;
function newUfid(): string {
  const r = () => Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, '0');
  const a = r(), b = r(), c = r();
  ufidCounter++;
  return `${a}-${b.slice(0, 4)}-${b.slice(4)}-${c.slice(0, 4)}-${c.slice(4)}${(ufidCounter & 0xffff).toString(16).padStart(4, '0')}${r()}`.slice(0, 36);
}

/**
 * A megaflow. While it is in a cache its counters live in the cache's slot
 * records (mf-records.ts; its actions also in `actionsBySlot`), by slot, so
 * that a hit writes the line it has just compared instead of an object and
 * the boxed numbers it points to; when it leaves, they move back into the
 * object.
 */
export class Megaflow {
  /** The cache that holds it (its counters), null once removed or before insertion. */
  home: MegaflowCache | null = null;
  /** Slot in the owning cache's `flows`, -1 when in no cache. */
  index = -1;
  /** Removed from its cache (revalidation, del-dp-flows, idle expiry, a flush). */
  dead = false;
  /** Counters already credited to the owner. */
  pushedPackets = 0;
  pushedBytes = 0;
  readonly ufid: string = newUfid();
  private acts: DpAction[];
  private nPackets = 0;
  private nBytes = 0;
  private used = 0;
  private flags = 0;

  constructor(
    /** The masked key. */
    readonly key: Uint32Array,
    /** The whole key of the packet that created the entry (for -m dumps and revalidation). */
    readonly origKey: Uint32Array,
    readonly mask: Uint32Array,
    actions: DpAction[],
    readonly createdMs: number,
    /** Whoever installed the entry (ofproto's translation record: rules to credit). */
    public owner: unknown,
    /** The mask's non-zero words (the words a masked compare reads). */
    readonly words: Int32Array,
  ) {
    this.acts = actions;
  }

  get actions(): DpAction[] {
    return this.acts;
  }

  set actions(a: DpAction[]) {
    this.acts = a;
    if (this.home !== null) this.home.actionsBySlot[this.index] = a;
  }

  /** Index of a counter of this megaflow's record in the home cache's records.f64. */
  private f64(counter: number): number {
    return recordOf(this.index) * REC_F64 + counter;
  }

  get packets(): number {
    return this.home === null ? this.nPackets : this.home.records.f64[this.f64(REC_F_PACKETS)];
  }

  set packets(v: number) {
    if (this.home === null) this.nPackets = v;
    else this.home.records.f64[this.f64(REC_F_PACKETS)] = v;
  }

  get bytes(): number {
    return this.home === null ? this.nBytes : this.home.records.f64[this.f64(REC_F_BYTES)];
  }

  set bytes(v: number) {
    if (this.home === null) this.nBytes = v;
    else this.home.records.f64[this.f64(REC_F_BYTES)] = v;
  }

  /** Last use, ms (0 = never). */
  get usedMs(): number {
    return this.home === null ? this.used : this.home.records.f64[this.f64(REC_F_USED)];
  }

  set usedMs(v: number) {
    if (this.home === null) this.used = v;
    else this.home.records.f64[this.f64(REC_F_USED)] = v;
  }

  get tcpFlags(): number {
    return this.home === null ? this.flags : this.home.records.words[recordOf(this.index) * REC_WORDS + REC_TCP_FLAGS];
  }

  set tcpFlags(v: number) {
    if (this.home === null) this.flags = v;
    else this.home.records.words[recordOf(this.index) * REC_WORDS + REC_TCP_FLAGS] = v;
  }

  /** Leave the cache: the counters move back into the object. */
  detach(): void {
    if (this.home === null) return;
    this.nPackets = this.packets;
    this.nBytes = this.bytes;
    this.used = this.usedMs;
    this.flags = this.tcpFlags;
    this.home = null;
  }
}

/**
 * The record (SlotRecords) of the megaflow in `slot`: record 0 is no
 * slot's, so that a subtable cell's slot + 1 (0 = empty) indexes the
 * records directly.
 */
export function recordOf(slot: number): number {
  return slot + 1;
}

/** A new, not yet credited entry: `key` is already masked, `origKey` the packet's whole key. */
export function newMegaflow(
  key: Uint32Array, origKey: Uint32Array, mask: Uint32Array, actions: DpAction[], nowMs: number, owner: unknown,
  words: Int32Array = maskWords(mask),
): Megaflow {
  return new Megaflow(key, origKey, mask, actions, nowMs, owner, words);
}

export const MEGAFLOW_DEFAULT_LIMIT = 200_000;
const NO_ACTIONS: DpAction[] = [];
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
  /** Each slot's actions (the megaflow's), read by the hit path without touching the megaflow. */
  actionsBySlot: DpAction[][] = [];
  /** Each slot's record (mf-records.ts): the first masked key words and the counters (Megaflow's getters read them), at recordOf(slot). */
  readonly records = new SlotRecords();
  /** Counts removals (and clears): a batch that looked up before a change sees it changed. */
  removals = 0;
  private freeSlots: number[] = [];
  /**
   * Each slot's generation: a number given to the megaflow that took the
   * slot (never 0, different from every earlier one in that slot), 0 while
   * the slot is empty. The EMC (emc.ts) names a megaflow by slot and
   * generation, so it can tell, by one read, that the slot's megaflow is
   * still the one it entered.
   */
  slotGen = new Int32Array(64);
  /** Each slot's subtable (Subtable.id), valid while slotGen is not 0: the EMC enters a slot without reading its megaflow. */
  slotSubtable = new Int32Array(64);
  /** The generation the next insert gives (public for tests of the wrap). */
  nextGen = 1;
  /** Bumped when generations start again from 1: an EMC that sees it change empties itself first. */
  genEpoch = 0;
  /** Subtables by Subtable.id; null where one was removed (ids are reused). */
  subtableById: (Subtable | null)[] = [];
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
   * words each) subtable by subtable, as dpcls_lookup does: slots[p] is set
   * to the slot + 1 of each packet p's megaflow, and left alone (0) for a
   * packet that misses. The same answers as lookup() one packet at a time.
   */
  lookupBatch(keys: Uint32Array, pkt: Int32Array, n: number, slots: Int32Array): void {
    const todo = this.todo, found = this.slots, sts = this.subtables;
    for (let j = 0; j < n; j++) todo[j] = pkt[j];
    let m = n;
    for (let s = 0; s < sts.length && m > 0; s++) {
      const st = sts[s];
      st.lookupBatch(keys, todo, m, found);
      let left = 0;
      for (let j = 0; j < m; j++) {
        const sl = found[j];
        if (sl !== 0) slots[todo[j]] = sl;
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
      st = new Subtable(Uint32Array.from(mask), this.seed, this.records);
      const id = this.subtableById.indexOf(null);
      st.id = id < 0 ? this.subtableById.length : id;
      this.subtableById[st.id] = st;
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
      this.actionsBySlot.push(actions);
      this.records.reserve(recordOf(mf.index) + 1);
      if (this.flows.length > this.slotGen.length) {
        const g = new Int32Array(this.slotGen.length * 2);
        g.set(this.slotGen);
        this.slotGen = g;
        const t = new Int32Array(g.length);
        t.set(this.slotSubtable);
        this.slotSubtable = t;
      }
    } else {
      mf.index = slot;
      this.flows[slot] = mf;
      this.actionsBySlot[slot] = actions;
    }
    this.records.resetCounters(recordOf(mf.index));
    this.slotGen[mf.index] = this.nextGen++;
    this.slotSubtable[mf.index] = st.id;
    if (this.nextGen > 0x3fffffff) {
      this.nextGen = 1;
      this.genEpoch++;
    }
    mf.home = this;
    st.add(masked, 0, h, mf.index);
    this.all.add(mf);
    return mf;
  }

  remove(mf: Megaflow): void {
    if (!this.all.delete(mf)) return;
    this.removals++;
    mf.dead = true;
    mf.detach();
    const st = this.byMaskObject.get(mf.mask)!;
    st.remove(mf.key, 0, st.hash(mf.key, 0), mf.index);
    this.flows[mf.index] = null;
    this.slotGen[mf.index] = 0;
    this.actionsBySlot[mf.index] = NO_ACTIONS;
    this.freeSlots.push(mf.index);
    if (st.count === 0) {
      this.subtableById[st.id] = null;
      this.byMask.delete(mf.mask.join(','));
      this.byMaskObject.delete(st.mask);
      this.subtables = this.subtables.filter((s) => s !== st);
    }
  }

  /** The subtable that holds a megaflow of this cache. */
  subtableOf(mf: Megaflow): Subtable | undefined {
    return this.byMaskObject.get(mf.mask);
  }

  entries(): Megaflow[] {
    return [...this.all];
  }

  clear(): number {
    const n = this.all.size;
    this.removals++;
    for (const e of this.all) {
      e.dead = true;
      e.detach();
    }
    this.all.clear();
    this.flows = [];
    this.actionsBySlot = [];
    this.freeSlots = [];
    this.slotGen.fill(0);
    this.subtableById = [];
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
