// The megaflow cache: masked flow entries, looked up by tuple-space search
// (one subtable per distinct mask, each a hash table over the masked key),
// like dpif-netdev's dpcls. Entries carry their datapath actions and the
// counters dump-dp-flows prints. Each subtable counts its hits; every 1024
// hits the subtables are re-sorted, most hit first, and the counts halved
// (so recent hits weigh most), as dpcls ranks its subtables. A new
// subtable goes last until the next sort.
//
// Every entry in the cache has a slot (`index`) in `flows`, so the
// signature cache in front (emc.ts) can name it by a small integer and find
// out, by looking, that it is gone; removal sets `dead` for the exact-match
// cache, which holds entries themselves. Hash values stay in V8's small
// integer range (30 bits) so that the subtables' Map keys are never boxed.
//
// Single-threaded: the PMD that owns a cache is the only one touching it.

import { FK_WORDS } from '../packet/flow-key.ts';
import type { DpAction } from './dp-actions.ts';
import { hashFinish, hashMix } from '../packet/hash.ts';

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

interface Subtable {
  mask: Uint32Array;
  words: Int32Array;
  table: Map<number, Megaflow | Megaflow[]>;
  count: number;
  hits: number;
}

let ufidCounter = 0;
function newUfid(): string {
  const r = () => Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, '0');
  const a = r(), b = r(), c = r();
  ufidCounter++;
  return `${a}-${b.slice(0, 4)}-${b.slice(4)}-${c.slice(0, 4)}-${c.slice(4)}${(ufidCounter & 0xffff).toString(16).padStart(4, '0')}${r()}`.slice(0, 36);
}

function hashMasked(key: Uint32Array, ofs: number, mask: Uint32Array, words: Int32Array, seed: number): number {
  let h = seed;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    h = hashMix(h, key[ofs + w] & mask[w]);
  }
  return hashFinish(h) & 0x3fffffff;
}

function maskWords(mask: Uint32Array): Int32Array {
  const words: number[] = [];
  for (let i = 0; i < FK_WORDS; i++) if (mask[i]) words.push(i);
  return Int32Array.from(words);
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

export class MegaflowCache {
  private subtables: Subtable[] = [];
  private readonly byMask = new Map<string, Subtable>();
  private readonly all = new Set<Megaflow>();
  private readonly seed = (Math.random() * 0x100000000) >>> 0;
  private lookups = 0;
  /** Insert attempts refused because the cache was full. */
  refused = 0;
  /** Entries by slot (Megaflow.index); null where one was removed. */
  flows: (Megaflow | null)[] = [];
  private freeSlots: number[] = [];
  /** Subtables probed by lookups that hit (pmd-stats-show's subtable lookups per megaflow hit). */
  hitProbes = 0;

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
      const h = hashMasked(key, ofs, st.mask, st.words, this.seed);
      const e = st.table.get(h);
      if (e === undefined) continue;
      if (!Array.isArray(e)) {
        if (matches(e, key, ofs, st.words)) {
          this.hit(st, s);
          return e;
        }
      } else {
        for (let i = 0; i < e.length; i++) {
          if (matches(e[i], key, ofs, st.words)) {
            this.hit(st, s);
            return e[i];
          }
        }
      }
    }
    return null;
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
      st = { mask: Uint32Array.from(mask), words: maskWords(mask), table: new Map(), count: 0, hits: 0 };
      this.byMask.set(mk, st);
      this.subtables.push(st);
    }
    const masked = new Uint32Array(FK_WORDS);
    for (let i = 0; i < FK_WORDS; i++) masked[i] = (key[ofs + i] & mask[i]) >>> 0;
    // An identical megaflow may exist (two packets of one flow raced into the upcall): replace it.
    const h = hashMasked(masked, 0, st.mask, st.words, this.seed);
    const cur = st.table.get(h);
    const list = cur === undefined ? [] : Array.isArray(cur) ? cur : [cur];
    for (const e of list) {
      if (matches(e, masked, 0, st.words)) {
        e.actions = actions;
        e.owner = owner;
        return e;
      }
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
    list.push(mf);
    st.table.set(h, list.length === 1 ? mf : list);
    st.count++;
    this.all.add(mf);
    return mf;
  }

  remove(mf: Megaflow): void {
    if (!this.all.delete(mf)) return;
    mf.dead = true;
    this.flows[mf.index] = null;
    this.freeSlots.push(mf.index);
    const st = this.byMask.get(mf.mask.join(','))!;
    const h = hashMasked(mf.key, 0, st.mask, st.words, this.seed);
    const cur = st.table.get(h);
    if (cur === mf) st.table.delete(h);
    else if (Array.isArray(cur)) {
      const rest = cur.filter((e) => e !== mf);
      if (rest.length === 0) st.table.delete(h);
      else st.table.set(h, rest.length === 1 ? rest[0] : rest);
    }
    if (--st.count === 0) {
      this.byMask.delete(mf.mask.join(','));
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

  private hit(st: Subtable, probed: number): void {
    this.hitProbes += probed + 1;
    st.hits++;
    if ((++this.lookups & 1023) === 0) this.resort();
  }

  /** Most-hit subtables first (dpcls subtable ranking). */
  private resort(): void {
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
