// The ALG expectation table: connections a helper (ftp.ts, tftp.ts) has
// announced and that are not there yet, e.g. the data connection of an FTP
// PORT command. Like the connection table it lives in one SharedArrayBuffer
// that every PMD thread attaches to (the buffer travels in the table's
// descriptor), so an expectation created by one thread is matched by another.
//
// Layout: a header (lock, count, capacity, buckets), the bucket heads, then
// fixed slots of EXP_WORDS words. A slot is found by hash of (zone, proto,
// family, destination address, destination port): the expected source port
// is always a wildcard, the source address optionally (E_F_SRC_WC).
//
// Locking: one lock word (X_LOCK) guards everything here. It is a leaf lock:
// taken while holding conntrack shard locks (table.ts), never the other way
// round, and held only for a bucket walk or a slot copy. Expectations are
// rare (one per FTP command), so one lock is enough; lookups skip the lock
// entirely while the table is empty (X_COUNT, read with Atomics).
//
// Lifetime: an expectation ends when a new connection matches it and is
// committed (match), when it times out (EXP_TIMEOUT_MS, checked on lookup and
// by sweep()), or when its parent connection is removed (removeByParent(),
// from conntrack's removal path) or flushed. Each end is reported to
// onEndLocked (ct-events' [DESTROY], event-ring.ts), called with the lock
// held before the slot is cleared; it may take only leaf locks below this
// one (an event ring's).

import { lockWord, unlockWord } from '../lock.ts';
import { hashWords } from '../hash.ts';
import { KEY_WORDS, K_META, K_SRC, K_DST, K_PORTS } from '../../packet/tuple.ts';

// header words
const X_LOCK = 0;
const X_COUNT = 1;
const X_CAP = 2;
const X_NBKT = 3;
const X_SEED = 4;
const X_LAST_ID = 5; // the last expectation id handed out
const X_HDR = 16;

// slot words (slot base is even, so the f64 expiry is 8-byte aligned)
export const E_NEXT = 0; // chain link: slot + 1, 0 = end
export const E_FLAGS = 1; // E_F_*
export const E_EXPIRY = 2; // f64, words 2..3
export const E_KEY = 4; // KEY_WORDS: meta, src (0 with E_F_SRC_WC), dst, ports (sport 0 = any)
export const E_TSRC = 14; // 4 words: the data connection's source after NAT
export const E_TDST = 18; // 4 words: its destination after NAT
export const E_TDPORT = 22; // its destination port after NAT
export const E_PARENT_ID = 23;
export const E_MARK = 24;
export const E_LABEL = 25; // 4 words
export const E_PARENT_KEY = 29; // KEY_WORDS: the parent's orig key
export const E_ID = 39; // the expectation's id (set by add())
export const EXP_WORDS = 40;

export const E_F_IN_USE = 0x1;
export const E_F_SRC_WC = 0x2;

/** How long an unused expectation lives (Linux's FTP helper: 5 minutes). */
export const EXP_TIMEOUT_MS = 300_000;
export const DEFAULT_EXP_CAPACITY = 4096;

/** An expectation as the control plane sees it (dump-conntrack-exp). */
export interface ExpInfo {
  zone: number;
  proto: number;
  v6: boolean;
  /** Expected key words (KEY_WORDS), source port 0. */
  key: number[];
  parentKey: number[];
  mark: number;
  label: [number, number, number, number];
  srcWildcard: boolean;
  expiryMs: number;
}

/** Told of an expectation's end: slot words at `b` of `m` (f64 view `f64`);
 *  `nowMs` 0 when the caller has no clock (a parent's removal, a flush). */
export type ExpEndHook = (m: Int32Array, f64: Float64Array, b: number, nowMs: number) => void;

export class ExpTable {
  /** See the header: each expectation's end, lock held. */
  onEndLocked: ExpEndHook | null = null;
  readonly m: Int32Array;
  readonly f64: Float64Array;
  readonly cap: number;
  readonly nbkt: number;
  private readonly slots: number; // word offset of slot 0
  private readonly seed: number;

  constructor(readonly buf: SharedArrayBuffer) {
    this.m = new Int32Array(buf);
    this.f64 = new Float64Array(buf);
    this.cap = this.m[X_CAP];
    this.nbkt = this.m[X_NBKT];
    this.seed = this.m[X_SEED];
    this.slots = X_HDR + this.nbkt + (this.nbkt & 1);
  }

  static createBuffer(capacity = DEFAULT_EXP_CAPACITY, seed = 0): SharedArrayBuffer {
    let nbkt = 1;
    while (nbkt < capacity) nbkt *= 2;
    const words = X_HDR + nbkt + (nbkt & 1) + capacity * EXP_WORDS;
    const buf = new SharedArrayBuffer(words * 4);
    const m = new Int32Array(buf);
    m[X_CAP] = capacity;
    m[X_NBKT] = nbkt;
    m[X_SEED] = seed;
    return buf;
  }

  count(): number {
    return Atomics.load(this.m, X_COUNT);
  }

  private base(slot: number): number {
    return this.slots + slot * EXP_WORDS;
  }

  /** Bucket of an expected key: zone/proto/family, destination, destination port. */
  private bucketOf(k: Int32Array, ofs: number): number {
    const m = this.m;
    const h0 = k[ofs + K_META] ^ (k[ofs + K_PORTS] & 0xffff);
    let h = hashWords(k, ofs + K_DST, 4, this.seed ^ h0);
    h ^= h >>> 15;
    return h & (m[X_NBKT] - 1);
  }

  /** Does slot b (a word base) expect key k? */
  private matches(b: number, k: Int32Array, ofs: number): boolean {
    const m = this.m;
    if (m[b + E_KEY + K_META] !== k[ofs + K_META]) return false;
    if ((m[b + E_KEY + K_PORTS] & 0xffff) !== (k[ofs + K_PORTS] & 0xffff)) return false;
    for (let i = 0; i < 4; i++) if (m[b + E_KEY + K_DST + i] !== k[ofs + K_DST + i]) return false;
    if ((m[b + E_FLAGS] & E_F_SRC_WC) !== 0) return true;
    for (let i = 0; i < 4; i++) if (m[b + E_KEY + K_SRC + i] !== k[ofs + K_SRC + i]) return false;
    return true;
  }

  /** Unlink slot s from bucket bk and free it. Lock held. */
  private freeLocked(s: number, bk: number, nowMs: number): void {
    const m = this.m;
    const hb = X_HDR + bk;
    const b = this.base(s);
    if (this.onEndLocked !== null) this.onEndLocked(m, this.f64, b, nowMs);
    if (m[hb] === s + 1) m[hb] = m[b + E_NEXT];
    else {
      let n = m[hb];
      while (n !== 0) {
        const nb = this.base(n - 1);
        if (m[nb + E_NEXT] === s + 1) { m[nb + E_NEXT] = m[b + E_NEXT]; break; }
        n = m[nb + E_NEXT];
      }
    }
    m.fill(0, b, b + EXP_WORDS);
    Atomics.sub(m, X_COUNT, 1);
  }

  /**
   * Add an expectation whose words the caller filled into `src` (an
   * EXP_WORDS scratch, E_NEXT/E_FLAGS in-use bit and E_EXPIRY set here).
   * An equal expectation already present is refreshed instead. Returns the
   * new expectation's id (> 0) when created, 0 when refreshed, -1 when the
   * table is full.
   */
  add(src: Int32Array, expiryMs: number): number {
    const m = this.m;
    const bk = this.bucketOf(src, E_KEY);
    lockWord(m, X_LOCK);
    let n = m[X_HDR + bk];
    while (n !== 0) {
      const b = this.base(n - 1);
      if (this.matches(b, src, E_KEY) && m[b + E_PARENT_ID] === src[E_PARENT_ID]) {
        this.f64[(b + E_EXPIRY) >>> 1] = expiryMs;
        unlockWord(m, X_LOCK);
        return 0;
      }
      n = m[b + E_NEXT];
    }
    let free = -1;
    for (let s = 0; s < this.cap; s++) {
      if ((m[this.base(s) + E_FLAGS] & E_F_IN_USE) === 0) { free = s; break; }
    }
    if (free < 0) { unlockWord(m, X_LOCK); return -1; }
    const b = this.base(free);
    for (let i = E_KEY; i < EXP_WORDS; i++) m[b + i] = src[i];
    m[b + E_FLAGS] = (src[E_FLAGS] | E_F_IN_USE);
    this.f64[(b + E_EXPIRY) >>> 1] = expiryMs;
    const id = ((m[X_LAST_ID] + 1) & 0x7fffffff) || 1;
    m[X_LAST_ID] = id;
    m[b + E_ID] = id;
    m[b + E_NEXT] = m[X_HDR + bk];
    m[X_HDR + bk] = free + 1;
    Atomics.add(m, X_COUNT, 1);
    unlockWord(m, X_LOCK);
    return id;
  }

  /**
   * Find an unexpired expectation for the packet key k and copy it into
   * `out` (EXP_WORDS). With `take` it is removed (the connection is being
   * committed). Expired ones met on the way are removed and counted in
   * `expired[0]`. Returns whether one was found. Never allocates.
   */
  lookup(k: Int32Array, ofs: number, nowMs: number, take: boolean, out: Int32Array, expired: Int32Array): boolean {
    if (Atomics.load(this.m, X_COUNT) === 0) return false;
    const m = this.m;
    const bk = this.bucketOf(k, ofs);
    let found = false;
    lockWord(m, X_LOCK);
    let n = m[X_HDR + bk];
    while (n !== 0) {
      const s = n - 1;
      const b = this.base(s);
      n = m[b + E_NEXT];
      if (!this.matches(b, k, ofs)) continue;
      if (this.f64[(b + E_EXPIRY) >>> 1] <= nowMs) {
        this.freeLocked(s, bk, nowMs);
        expired[0]++;
        continue;
      }
      for (let i = 0; i < EXP_WORDS; i++) out[i] = m[b + i];
      if (take) this.freeLocked(s, bk, nowMs);
      found = true;
      break;
    }
    unlockWord(m, X_LOCK);
    return found;
  }

  /** Remove every expectation of parent connection `parentId` (it is going
   *  away). Returns how many. Callers may hold shard locks (leaf lock). */
  removeByParent(parentId: number, nowMs = 0): number {
    if (Atomics.load(this.m, X_COUNT) === 0) return 0;
    return this.removeWhere((b) => this.m[b + E_PARENT_ID] === parentId, nowMs);
  }

  /** Remove expectations whose time is up. Returns how many. */
  sweep(nowMs: number): number {
    if (Atomics.load(this.m, X_COUNT) === 0) return 0;
    return this.removeWhere((b) => this.f64[(b + E_EXPIRY) >>> 1] <= nowMs, nowMs);
  }

  /** Remove all (optionally of one zone). */
  flush(zone?: number, nowMs = 0): number {
    return this.removeWhere((b) => zone === undefined || (this.m[b + E_KEY + K_META] & 0xffff) === zone, nowMs);
  }

  private removeWhere(pred: (b: number) => boolean, nowMs: number): number {
    const m = this.m;
    let n = 0;
    lockWord(m, X_LOCK);
    for (let s = 0; s < this.cap; s++) {
      const b = this.base(s);
      if ((m[b + E_FLAGS] & E_F_IN_USE) === 0 || !pred(b)) continue;
      this.freeLocked(s, this.bucketOf(m, b + E_KEY), nowMs);
      n++;
    }
    unlockWord(m, X_LOCK);
    return n;
  }

  /** Copies of the live slots (EXP_WORDS each, E_EXPIRY as stored), for
   *  the save file (exp-save.ts). Slow path. */
  liveSlots(): Int32Array[] {
    const m = this.m;
    const out: Int32Array[] = [];
    lockWord(m, X_LOCK);
    for (let s = 0; s < this.cap; s++) {
      const b = this.base(s);
      if ((m[b + E_FLAGS] & E_F_IN_USE) !== 0) out.push(m.slice(b, b + EXP_WORDS));
    }
    unlockWord(m, X_LOCK);
    return out;
  }

  /** Snapshot of the live expectations (slow path), optionally of one zone. */
  dump(zone?: number, nowMs?: number): ExpInfo[] {
    const m = this.m;
    const out: ExpInfo[] = [];
    lockWord(m, X_LOCK);
    for (let s = 0; s < this.cap; s++) {
      const b = this.base(s);
      if ((m[b + E_FLAGS] & E_F_IN_USE) === 0) continue;
      const meta = m[b + E_KEY + K_META];
      if (zone !== undefined && (meta & 0xffff) !== zone) continue;
      const expiryMs = this.f64[(b + E_EXPIRY) >>> 1];
      if (nowMs !== undefined && expiryMs <= nowMs) continue;
      out.push({
        zone: meta & 0xffff,
        proto: (meta >>> 16) & 0xff,
        v6: (meta >>> 24) !== 0,
        key: Array.from(m.subarray(b + E_KEY, b + E_KEY + KEY_WORDS)),
        parentKey: Array.from(m.subarray(b + E_PARENT_KEY, b + E_PARENT_KEY + KEY_WORDS)),
        mark: m[b + E_MARK] >>> 0,
        label: [m[b + E_LABEL] >>> 0, m[b + E_LABEL + 1] >>> 0, m[b + E_LABEL + 2] >>> 0, m[b + E_LABEL + 3] >>> 0],
        srcWildcard: (m[b + E_FLAGS] & E_F_SRC_WC) !== 0,
        expiryMs,
      });
    }
    unlockWord(m, X_LOCK);
    return out;
  }
}
