// The conntrack event stream's shared half (OVS: the conntrack event
// callbacks; Linux: ctnetlink's NFNLGRP_CONNTRACK_* multicast groups): a
// set of bounded rings in one SharedArrayBuffer that every thread attached
// to the table writes NEW / UPDATE / DESTROY events into, and that one
// reader (the daemon's main thread, src/ctl/events.ts) drains.
//
// What must stay true:
// - The datapath never waits for the reader. A producer that finds its ring
//   full drops the event and counts it (the ring's lost word and H_EV_LOST);
//   the reader reports the count in the stream. With no subscriber
//   (H_EV_LISTENERS = 0) an event point costs one Atomics.load.
// - Each thread that attaches picks a ring by an attach counter (EV_NRINGS
//   rings; PMD threads get their own unless more threads than rings exist).
//   A ring may so have several producers: each takes the ring's lock word,
//   a leaf lock (taken while holding shard locks, never the other way).
// - One reader at a time (drain() is not re-entrant across threads): it
//   reads slots tail..head and then publishes tail. head and tail are free-
//   running Int32 counters; (head - tail) | 0 survives their wrap.
// - A slot is a copy of the whole connection record (REC_WORDS words, so
//   words other helpers add travel too) plus EV_META_WORDS of meta: the
//   event type and the producer's clock (f64) when it was posted.
// - Expectations (src/conntrack/alg/) use the same slots with types
//   EV_EXP_NEW / EV_EXP_DESTROY and the layout of postExpectation() below;
//   an expectation's end is posted from its own slot (postExpectationEnd).

import { lockWord, unlockWord } from './lock.ts';
import {
  H_EV_LISTENERS, H_EV_LOST, H_EV_POSTED, KEY_WORDS, LOCK_STRIDE, R_EXPIRY, R_ID, R_KEY_ORIG, R_KEY_REPLY, R_LABEL, R_MARK,
  REC_WORDS,
} from './layout.ts';
import { E_EXPIRY, E_ID, E_KEY, E_LABEL, E_MARK, E_PARENT_KEY } from './alg/expect.ts';

export const EV_NEW = 1;
export const EV_UPDATE = 2;
export const EV_DESTROY = 3;
/** A helper created an expectation (slot layout: see postExpectation). */
export const EV_EXP_NEW = 4;
/** An expectation ended: matched, timed out, its master gone, or flushed. */
export const EV_EXP_DESTROY = 5;

export const EV_NRINGS = 16;
export const EV_RING_SLOTS = 4096; // a power of two
const SLOT_MASK = EV_RING_SLOTS - 1;
export const EV_META_WORDS = 4; // type, spare, f64 time
const C_HEAD = 0;
const C_TAIL = 1;
const C_LOST = 2;
const C_LOCK = 3;
const C_ATTACH = EV_NRINGS * LOCK_STRIDE; // attach counter, after the ring control lines

/** The rings, structured-cloneable (buffers shared). */
export interface EventRingsDescriptor {
  ctl: SharedArrayBuffer;
  data: SharedArrayBuffer;
  meta: SharedArrayBuffer;
}

export function createEventRings(): EventRingsDescriptor {
  return {
    ctl: new SharedArrayBuffer((C_ATTACH + LOCK_STRIDE) * 4),
    // Lazily committed zero pages: memory is touched only by rings in use.
    data: new SharedArrayBuffer(EV_NRINGS * EV_RING_SLOTS * REC_WORDS * 4),
    meta: new SharedArrayBuffer(EV_NRINGS * EV_RING_SLOTS * EV_META_WORDS * 4),
  };
}

/** One event as the reader sees it: `rec`/`f64` index slot `r` with the
 *  record layout (snapshotLocked(rec, f64, r) reads it). */
export type EventVisitor = (type: number, rec: Int32Array, f64: Float64Array, r: number, timeMs: number) => void;

/** A thread's handle on the rings: it posts into one ring and can drain all. */
export class EventRings {
  private readonly ctl: Int32Array;
  private readonly data: Int32Array;
  private readonly dataF64: Float64Array;
  private readonly meta: Int32Array;
  private readonly metaF64: Float64Array;
  /** Control word offset of this thread's ring. */
  private readonly mine: number;
  private readonly ring: number;

  constructor(readonly descriptor: EventRingsDescriptor, private readonly hdr: Int32Array) {
    this.ctl = new Int32Array(descriptor.ctl);
    this.data = new Int32Array(descriptor.data);
    this.dataF64 = new Float64Array(descriptor.data);
    this.meta = new Int32Array(descriptor.meta);
    this.metaF64 = new Float64Array(descriptor.meta);
    this.ring = (Atomics.add(this.ctl, C_ATTACH, 1) >>> 0) % EV_NRINGS;
    this.mine = this.ring * LOCK_STRIDE;
  }

  /** Is anybody listening? (Producers check before building an event.) */
  listening(): boolean {
    return Atomics.load(this.hdr, H_EV_LISTENERS) !== 0;
  }

  /** Reserve a slot in this thread's ring, with the ring lock held on
   *  success (-1: full, counted as lost; or nobody listens). Finish with
   *  commitSlotLocked(). */
  private claimSlot(type: number, nowMs: number): number {
    if (Atomics.load(this.hdr, H_EV_LISTENERS) === 0) return -1;
    const c = this.ctl;
    const m = this.mine;
    lockWord(c, m + C_LOCK);
    const head = c[m + C_HEAD];
    if (((head - Atomics.load(c, m + C_TAIL)) | 0) >= EV_RING_SLOTS) {
      unlockWord(c, m + C_LOCK);
      Atomics.add(c, m + C_LOST, 1);
      Atomics.add(this.hdr, H_EV_LOST, 1);
      return -1;
    }
    const slot = this.ring * EV_RING_SLOTS + (head & SLOT_MASK);
    this.meta[slot * EV_META_WORDS] = type;
    this.metaF64[(slot * EV_META_WORDS + 2) >>> 1] = nowMs;
    return slot;
  }

  private commitSlotLocked(): void {
    const c = this.ctl;
    const m = this.mine;
    Atomics.store(c, m + C_HEAD, (c[m + C_HEAD] + 1) | 0);
    unlockWord(c, m + C_LOCK);
    Atomics.add(this.hdr, H_EV_POSTED, 1);
  }

  /** Post a connection event: a copy of record r of `rec` (the table's
   *  slab). Caller holds r's home shard, so the copy is consistent. */
  postConn(type: number, rec: Int32Array, r: number, nowMs: number): void {
    const slot = this.claimSlot(type, nowMs);
    if (slot < 0) return;
    this.copyRecord(slot, rec, r);
    this.commitSlotLocked();
  }

  /** Copy record r of `rec` into a claimed slot. */
  private copyRecord(slot: number, rec: Int32Array, r: number): void {
    const src = r * REC_WORDS;
    const dst = slot * REC_WORDS;
    const d = this.data;
    for (let i = 0; i < REC_WORDS; i++) d[dst + i] = rec[src + i];
  }

  /**
   * The hook for helpers (src/conntrack/alg/): post an expectation event.
   * The slot carries the master connection's record (record r of `rec`:
   * its orig key, zone, id), with the expected tuple (KEY_WORDS words of
   * `exp` at `expOfs`, orig direction of the connection to come; a zero
   * port is a wildcard) in place of the master's reply key, the
   * expectation's id in R_ID and its expiry in R_EXPIRY. Words the helper
   * keeps in the record (R_HELPER...) travel with the copy.
   */
  postExpectation(type: number, rec: Int32Array, r: number, exp: Int32Array | Uint32Array, expOfs: number,
    expId: number, expiryMs: number, nowMs: number): void {
    const slot = this.claimSlot(type, nowMs);
    if (slot < 0) return;
    this.copyRecord(slot, rec, r);
    const dst = slot * REC_WORDS;
    const d = this.data;
    for (let i = 0; i < KEY_WORDS; i++) d[dst + R_KEY_REPLY + i] = exp[expOfs + i] | 0;
    d[dst + R_ID] = expId;
    this.dataF64[(dst + R_EXPIRY) >>> 1] = expiryMs;
    this.commitSlotLocked();
  }

  /**
   * An expectation's end (EV_EXP_DESTROY), built from its own slot (words
   * at `eb` of the expectation table `m`, expect.ts): its master may be gone
   * already, so the slot carries no copy of it. The layout is
   * postExpectation()'s, with the master's orig key (all ctnetlink prints
   * of it), its mark and labels, the rest zero. Called with the
   * expectation table's lock held (this ring's lock is a leaf below it).
   */
  postExpectationEnd(m: Int32Array, f64: Float64Array, eb: number, nowMs: number): void {
    const slot = this.claimSlot(EV_EXP_DESTROY, nowMs);
    if (slot < 0) return;
    const dst = slot * REC_WORDS;
    const d = this.data;
    d.fill(0, dst, dst + REC_WORDS);
    for (let i = 0; i < KEY_WORDS; i++) {
      d[dst + R_KEY_ORIG + i] = m[eb + E_PARENT_KEY + i];
      d[dst + R_KEY_REPLY + i] = m[eb + E_KEY + i];
    }
    d[dst + R_ID] = m[eb + E_ID];
    d[dst + R_MARK] = m[eb + E_MARK];
    for (let i = 0; i < 4; i++) d[dst + R_LABEL + i] = m[eb + E_LABEL + i];
    this.dataF64[(dst + R_EXPIRY) >>> 1] = f64[(eb + E_EXPIRY) >>> 1];
    this.commitSlotLocked();
  }

  // --- the reader (one thread) ---

  /** A subscriber arrives: producers start posting. */
  addListener(): void {
    if (Atomics.add(this.hdr, H_EV_LISTENERS, 1) === 0) this.discardAll();
  }

  removeListener(): void {
    if (Atomics.sub(this.hdr, H_EV_LISTENERS, 1) <= 0) Atomics.store(this.hdr, H_EV_LISTENERS, 0);
  }

  listeners(): number {
    return Atomics.load(this.hdr, H_EV_LISTENERS);
  }

  /** Hand every posted event to `visit` (ring by ring, in order within a
   *  ring), at most `budget` of them; returns how many. */
  drain(visit: EventVisitor, budget = Infinity): number {
    const c = this.ctl;
    let n = 0;
    for (let ring = 0; ring < EV_NRINGS && n < budget; ring++) {
      const m = ring * LOCK_STRIDE;
      let tail = c[m + C_TAIL];
      const head = Atomics.load(c, m + C_HEAD);
      while (tail !== head && n < budget) {
        const slot = ring * EV_RING_SLOTS + (tail & SLOT_MASK);
        const mo = slot * EV_META_WORDS;
        visit(this.meta[mo], this.data, this.dataF64, slot, this.metaF64[(mo + 2) >>> 1]);
        tail = (tail + 1) | 0;
        n++;
      }
      Atomics.store(c, m + C_TAIL, tail);
    }
    return n;
  }

  /** Events lost since the last call (all rings), reset to zero. */
  takeLost(): number {
    let n = 0;
    for (let ring = 0; ring < EV_NRINGS; ring++) n += Atomics.exchange(this.ctl, ring * LOCK_STRIDE + C_LOST, 0);
    return n;
  }

  /** Drop whatever is queued (events from before anybody listened). */
  private discardAll(): void {
    this.drain(() => {});
    this.takeLost();
  }

  counters(): { posted: number; lost: number } {
    return { posted: Atomics.load(this.hdr, H_EV_POSTED), lost: Atomics.load(this.hdr, H_EV_LOST) };
  }
}

/** Word offsets a formatter needs for an expectation slot. */
export const EXP_MASTER_KEY = R_KEY_ORIG;
export const EXP_TUPLE_KEY = R_KEY_REPLY;
