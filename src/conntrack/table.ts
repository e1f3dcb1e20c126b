// The connection table: fixed-size records in one slab SharedArrayBuffer, an
// open-addressing hash index (a second SAB of 32-bit slots), and a header
// SAB with counters, locks, per-zone counts/limits and timeout policies. Any
// number of threads attach to the same buffers.
//
// Index: each connection has two keys (orig and reply tuple), both filed in
// the index as nodes `rec * 2 + dir`. A slot holds node + 1 in its low
// `nodeBits` bits (0 = empty) and, above them, a tag: the same high bits of
// the key's hash. A lookup reads the slots of the key's home bucket and the
// ones after it (linear probing, usually within one 64-byte line) and
// compares a record's key only where the tag matches, so a probe touches one
// record, the one it finds (chained nodes cost a record per node walked).
// The slots are split into shards (a shard's slots are one region, probing
// wraps inside it); a key's shard comes from a direction-symmetric hash, so
// a connection without NAT has both keys in one shard and one lock covers
// it. A NATed connection's reply key may sit in another shard. Removal
// shifts the following slots back (no tombstones), reading each moved key's
// home bucket from its record (R_BKT_*).
//
// Locking rules (what must stay true):
// - A shard lock guards its buckets, the chain links of every key in them,
//   and the body (state, expiry, mark, label, counters) of every record whose
//   ORIG key is in that shard (the record's "home" shard).
// - Lock order: shard locks in ascending shard index; the alloc lock
//   (free list, high water) is a leaf, taken while holding shard locks but
//   never the other way round. Code that needs both shards of a record locks
//   min(shardOrig, shardReply) first. The one exception is NAT: a commit
//   holding the orig key's shard S probes (and then links) the reply key in
//   shard C. It waits for C only when C > S; for C < S it uses
//   tryLockShard, which never waits, and treats a busy C as "tuple taken".
//   A thread that never waits for a lower shard than one it holds cannot be
//   part of a cycle of waiters, so the order stays deadlock-free. Removing a
//   NATed connection (force, a TCP restart) takes the other key's shard the
//   same way or leaves the record, marked expired, to the sweep.
// - Counters (nconns, zone counts, stats) are Atomics, no lock.
// - Functions named *Locked require the lock(s) they mention to be held.
//
// Memory: the slab is allocated at `capacity` records up front, but a fresh
// SharedArrayBuffer is lazily committed zero pages and records are handed
// out bump-first, so resident memory grows with the peak connection count,
// not the capacity (3M records = 624 MB of address space, untouched until
// used). The slot array is sized to the next power of two >= 2.5 slots per
// connection (both keys, at most 80 % full), at least MIN_SLOTS_PER_SHARD
// per shard. A shard whose slots are all taken refuses commits as a full table.

import { mixWord, finishHash } from './hash.ts';
import { lockWord, tryLockWord, unlockWord } from './lock.ts';
import { ExpTable } from './alg/expect.ts';
import { tableBuffer } from './memory.ts';
import {
  AF_V4, KEY_WORDS, K_META, K_PORTS, K_SRC, K_DST,
  REC_WORDS, R_FLAGS, R_KEY_ORIG, R_KEY_REPLY, R_NEXT_ORIG, R_BKT_ORIG, R_BKT_REPLY,
  RF_IN_USE, H_MAGIC, MAGIC, H_SEED, H_CAPACITY, H_NBUCKETS, H_NSHARDS, H_NCONNS, H_MAXCONNS,
  H_NEXT_ID, H_SEQ_CHK, H_ALLOC_LOCK, H_FREE_HEAD, H_HIGH_WATER, H_DEFAULT_ZONE_LIMIT,
  LOCK_STRIDE, NZONES, headerLayout, type HeaderLayout,
} from './layout.ts';
import type { EventRings } from './event-ring.ts';

export const DEFAULT_MAXCONNS = 3_000_000;
export const DEFAULT_NSHARDS = 256;
/** A shard's keys probe only its own slots: small tables still get room for
 *  keys that crowd into one shard (tuples of one address pair whose port
 *  pairs share a symmetric hash), 1 MB of index at 256 shards. */
const MIN_SLOTS_PER_SHARD = 1024;

/** Everything a thread needs to attach to a table; structured-cloneable. */
export interface TableDescriptor {
  header: SharedArrayBuffer;
  slab: SharedArrayBuffer;
  buckets: SharedArrayBuffer;
  /** ALG expectations (alg/expect.ts). */
  exp: SharedArrayBuffer;
}

export interface TableOptions {
  /** Records in the slab (upper bound on connections). Default 3,000,000. */
  capacity?: number;
  /** Initial global limit (ct-set-maxconns). Default 3,000,000. */
  maxConns?: number;
  /** Number of lock shards, a power of two. Default 256. */
  shards?: number;
  /** Hash seed; random when not given. */
  seed?: number;
  /** Slab and index on huge pages where the platform offers them (memory.ts). Default false: the
   *  daemon's one table asks for them (dpif.ts); a test that makes hundreds of tables must not,
   *  since each bucket it touches would commit a 2 MB page. */
  hugePages?: boolean;
}

function pow2AtLeast(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export class ConnTable {
  readonly hdr: Int32Array;
  readonly rec: Int32Array; // the slab as words
  readonly f64: Float64Array; // the slab as f64 (index = word / 2)
  readonly bkt: Int32Array;
  readonly layout: HeaderLayout;
  readonly seed: number;
  readonly capacity: number;
  readonly nshards: number;
  readonly shardMask: number;
  readonly bucketsPerShard: number;
  readonly bucketShift: number; // log2(bucketsPerShard)
  /** Index slots: node + 1 in the bits of nodeMask, the key hash's tag in the others. */
  readonly nodeMask: number;
  readonly tagMask: number;
  readonly descriptor: TableDescriptor;
  /** This thread's event rings (event-ring.ts); null: no events. */
  events: EventRings | null = null;
  /** Expectations of the ALG helpers, shared like the table. */
  readonly exp: ExpTable;

  private constructor(d: TableDescriptor) {
    this.descriptor = d;
    this.hdr = new Int32Array(d.header);
    if (this.hdr[H_MAGIC] !== MAGIC) throw new Error('conntrack: not a table header');
    this.rec = new Int32Array(d.slab);
    this.f64 = new Float64Array(d.slab);
    this.bkt = new Int32Array(d.buckets);
    this.exp = new ExpTable(d.exp);
    this.seed = this.hdr[H_SEED];
    this.capacity = this.hdr[H_CAPACITY];
    this.nshards = this.hdr[H_NSHARDS];
    this.shardMask = this.nshards - 1;
    this.layout = headerLayout(this.nshards);
    this.bucketsPerShard = this.hdr[H_NBUCKETS] / this.nshards;
    this.bucketShift = Math.log2(this.bucketsPerShard);
    let nodeBits = 1;
    while (nodeBits < 31 && 2 ** nodeBits <= this.capacity * 2) nodeBits++;
    this.nodeMask = nodeBits >= 31 ? 0x7fffffff : (1 << nodeBits) - 1;
    this.tagMask = ~this.nodeMask;
  }

  static create(opts: TableOptions = {}): ConnTable {
    const capacity = Math.max(16, opts.capacity ?? DEFAULT_MAXCONNS);
    const nshards = pow2AtLeast(opts.shards ?? DEFAULT_NSHARDS);
    const nbuckets = Math.max(pow2AtLeast(capacity * 2.5), nshards * MIN_SLOTS_PER_SHARD);
    const layout = headerLayout(nshards);
    const header = new SharedArrayBuffer(layout.words * 4);
    const h = new Int32Array(header);
    h[H_MAGIC] = MAGIC;
    h[H_SEED] = opts.seed ?? (Math.random() * 0x100000000) | 0;
    h[H_CAPACITY] = capacity;
    h[H_NBUCKETS] = nbuckets;
    h[H_NSHARDS] = nshards;
    h[H_MAXCONNS] = opts.maxConns ?? DEFAULT_MAXCONNS;
    h[H_SEQ_CHK] = 1;
    h.fill(-1, layout.zoneLimit, layout.zoneLimit + NZONES);
    return new ConnTable({
      header,
      slab: tableBuffer(capacity * REC_WORDS * 4, opts.hugePages ?? false),
      buckets: tableBuffer(nbuckets * 4, opts.hugePages ?? false),
      exp: ExpTable.createBuffer(undefined, h[H_SEED] ^ 0x2545f491),
    });
  }

  static attach(d: TableDescriptor): ConnTable {
    return new ConnTable(d);
  }

  // --- hashing ---

  // Both hashes skip the three address words an IPv4 key leaves zero, and
  // return int32 values (V8 keeps them small integers, never boxed).

  /** Bucket hash of a key (direction-sensitive). */
  hashKey(k: Int32Array, ofs: number): number {
    const meta = k[ofs + K_META];
    let h = mixWord(this.seed, meta);
    if (meta >>> 24 === AF_V4) {
      h = mixWord(h, k[ofs + K_SRC]);
      h = mixWord(h, k[ofs + K_DST]);
    } else {
      for (let i = 0; i < 4; i++) h = mixWord(h, k[ofs + K_SRC + i]);
      for (let i = 0; i < 4; i++) h = mixWord(h, k[ofs + K_DST + i]);
    }
    return finishHash(mixWord(h, k[ofs + K_PORTS]), KEY_WORDS * 4) | 0;
  }

  /** Shard of a key: a hash that gives the same value for a tuple and its
   *  reverse, so both keys of a non-NAT connection share one lock. */
  shardOfKey(k: Int32Array, ofs: number): number {
    const meta = k[ofs + K_META];
    let h = mixWord(this.seed ^ 0x5bd1e995, meta & 0x00ffffff);
    if (meta >>> 24 === AF_V4) h = mixWord(h, k[ofs + K_SRC] ^ k[ofs + K_DST]);
    else for (let i = 0; i < 4; i++) h = mixWord(h, k[ofs + K_SRC + i] ^ k[ofs + K_DST + i]);
    const p = k[ofs + K_PORTS];
    // ICMP keys hold id << 16 | type << 8 | code, and the type differs per
    // direction: only the id is symmetric.
    const proto = (meta >>> 16) & 0xff;
    h = mixWord(h, proto === 1 || proto === 58 ? p >>> 16 : (p >>> 16) ^ (p & 0xffff));
    return finishHash(h, 24) & this.shardMask;
  }

  bucketOf(shard: number, hash: number): number {
    return shard * this.bucketsPerShard + (hash & (this.bucketsPerShard - 1));
  }

  shardOfBucket(bucket: number): number {
    return bucket >>> this.bucketShift;
  }

  // --- locks ---

  lockShard(s: number): void {
    lockWord(this.hdr, this.layout.locks + s * LOCK_STRIDE);
  }

  /** Take shard s's lock only if free now (never waits); see the lock order. */
  tryLockShard(s: number): boolean {
    return tryLockWord(this.hdr, this.layout.locks + s * LOCK_STRIDE);
  }

  unlockShard(s: number): void {
    unlockWord(this.hdr, this.layout.locks + s * LOCK_STRIDE);
  }

  /** Lock two shards in ascending order (once when equal). */
  lockPair(a: number, b: number): void {
    if (a === b) this.lockShard(a);
    else if (a < b) { this.lockShard(a); this.lockShard(b); }
    else { this.lockShard(b); this.lockShard(a); }
  }

  unlockPair(a: number, b: number): void {
    this.unlockShard(a);
    if (a !== b) this.unlockShard(b);
  }

  /** Home shard of a record (the shard of its orig key). */
  homeShard(r: number): number {
    return this.rec[r * REC_WORDS + R_BKT_ORIG] >>> this.bucketShift;
  }

  replyShard(r: number): number {
    return this.rec[r * REC_WORDS + R_BKT_REPLY] >>> this.bucketShift;
  }

  // --- index ---

  /** Find a live key equal to k whose home bucket is `bucket` and whose
   *  hash (hashKey) is `hash`. Returns node (rec * 2 + dir) or -1.
   *  Caller holds the lock of the bucket's shard. */
  lookupLocked(k: Int32Array, ofs: number, bucket: number, hash: number): number {
    const rec = this.rec;
    const bkt = this.bkt;
    const nodeMask = this.nodeMask;
    const tag = hash & this.tagMask;
    const last = this.bucketsPerShard - 1;
    const region = bucket - (bucket & last);
    let b = bucket;
    for (let i = 0; i <= last; i++) {
      const v = bkt[b];
      if (v === 0) return -1;
      if ((v & this.tagMask) === tag) {
        const node = (v & nodeMask) - 1;
        const kb = (node >>> 1) * REC_WORDS + ((node & 1) === 0 ? R_KEY_ORIG : R_KEY_REPLY);
        if (
          rec[kb + K_PORTS] === k[ofs + K_PORTS] && rec[kb + K_META] === k[ofs + K_META] &&
          rec[kb + 1] === k[ofs + 1] && rec[kb + 5] === k[ofs + 5] &&
          rec[kb + 2] === k[ofs + 2] && rec[kb + 3] === k[ofs + 3] &&
          rec[kb + 4] === k[ofs + 4] && rec[kb + 6] === k[ofs + 6] &&
          rec[kb + 7] === k[ofs + 7] && rec[kb + 8] === k[ofs + 8]
        ) return node;
      }
      b = region + ((b + 1) & last);
    }
    return -1;
  }

  /** File node (its key's hash) in the first free slot from `bucket` on; false when its shard's slots are all taken. */
  private fileLocked(node: number, bucket: number, hash: number): boolean {
    const bkt = this.bkt;
    const last = this.bucketsPerShard - 1;
    const region = bucket - (bucket & last);
    let b = bucket;
    for (let i = 0; i <= last; i++) {
      if (bkt[b] === 0) {
        bkt[b] = (hash & this.tagMask) | (node + 1);
        return true;
      }
      b = region + ((b + 1) & last);
    }
    return false;
  }

  /** File both keys of record r (already stored in its key words) under
   *  their home buckets bo/br with hashes ho/hr. Caller holds the shards of
   *  bo and br. False (nothing filed) when a shard has no free slot. */
  insertLocked(r: number, bo: number, ho: number, br: number, hr: number): boolean {
    const base = r * REC_WORDS;
    const rec = this.rec;
    rec[base + R_BKT_ORIG] = bo;
    rec[base + R_BKT_REPLY] = br;
    // Orig first, so that when both keys are the same (a packet from an
    // address and port to themselves: the reverse tuple is the tuple) the
    // orig node comes first on the probe path and a lookup finds the orig
    // direction, as OVS's conn_key_lookup compares the forward key first.
    // Removal keeps the order of the slots it shifts.
    if (!this.fileLocked(r * 2, bo, ho)) return false;
    if (this.fileLocked(r * 2 + 1, br, hr)) return true;
    this.unfileLocked(r * 2, bo);
    return false;
  }

  /** Home bucket of the node in slot value v. */
  private homeOfSlot(v: number): number {
    const node = (v & this.nodeMask) - 1;
    return this.rec[(node >>> 1) * REC_WORDS + ((node & 1) === 0 ? R_BKT_ORIG : R_BKT_REPLY)];
  }

  /** Remove node from the probe path of its home bucket, shifting the
   *  slots after it back so that no probe path gets a hole. */
  private unfileLocked(node: number, bucket: number): void {
    const bkt = this.bkt;
    const last = this.bucketsPerShard - 1;
    const region = bucket - (bucket & last);
    const target = node + 1;
    let i = bucket;
    let n = 0;
    while ((bkt[i] & this.nodeMask) !== target) {
      if (bkt[i] === 0 || ++n > last) return; // not filed
      i = region + ((i + 1) & last);
    }
    let j = i;
    for (let step = 0; step < last; step++) {
      j = region + ((j + 1) & last);
      const v = bkt[j];
      if (v === 0) break;
      // v may move to the hole at i when i lies on its probe path (home .. j).
      const home = this.homeOfSlot(v);
      if (((j - home) & last) >= ((j - i) & last)) {
        bkt[i] = v;
        i = j;
      }
    }
    bkt[i] = 0;
  }

  /** Node of index slot value v (not 0). */
  slotNode(v: number): number {
    return (v & this.nodeMask) - 1;
  }

  /** Unlink both keys of r from the index and mark it free-able. Caller
   *  holds the shard locks of both of its keys. Does not touch counters or
   *  the free list (see releaseRecord). */
  unlinkLocked(r: number): void {
    const base = r * REC_WORDS;
    this.unfileLocked(r * 2 + 1, this.rec[base + R_BKT_REPLY]);
    this.unfileLocked(r * 2, this.rec[base + R_BKT_ORIG]);
    Atomics.store(this.rec, base + R_FLAGS, 0);
  }

  // --- records ---

  /** Take a record from the free list (or the never-used tail). -1 when the
   *  slab is full. Takes the alloc lock (a leaf lock). */
  allocRecord(): number {
    const h = this.hdr;
    lockWord(h, H_ALLOC_LOCK);
    let r = h[H_FREE_HEAD] - 1;
    if (r >= 0) {
      h[H_FREE_HEAD] = this.rec[r * REC_WORDS + R_NEXT_ORIG];
    } else if (h[H_HIGH_WATER] < this.capacity) {
      r = h[H_HIGH_WATER]++;
    }
    unlockWord(h, H_ALLOC_LOCK);
    return r;
  }

  /** Return an unlinked record to the free list. */
  freeRecord(r: number): void {
    const h = this.hdr;
    const base = r * REC_WORDS;
    this.rec.fill(0, base, base + REC_WORDS);
    lockWord(h, H_ALLOC_LOCK);
    this.rec[base + R_NEXT_ORIG] = h[H_FREE_HEAD];
    h[H_FREE_HEAD] = r + 1;
    unlockWord(h, H_ALLOC_LOCK);
  }

  highWater(): number {
    return Atomics.load(this.hdr, H_HIGH_WATER);
  }

  isInUse(r: number): boolean {
    return (Atomics.load(this.rec, r * REC_WORDS + R_FLAGS) & RF_IN_USE) !== 0;
  }

  /** isInUse() for a caller holding r's home shard (the flag changes only under it). */
  isInUseLocked(r: number): boolean {
    return (this.rec[r * REC_WORDS + R_FLAGS] & RF_IN_USE) !== 0;
  }

  // --- counters and limits ---

  nconns(): number { return Atomics.load(this.hdr, H_NCONNS); }
  maxConns(): number { return Atomics.load(this.hdr, H_MAXCONNS); }
  setMaxConns(n: number): void { Atomics.store(this.hdr, H_MAXCONNS, Math.min(n, 0x7fffffff)); }
  seqCheck(): boolean { return Atomics.load(this.hdr, H_SEQ_CHK) !== 0; }
  setSeqCheck(on: boolean): void { Atomics.store(this.hdr, H_SEQ_CHK, on ? 1 : 0); }
  nextId(): number { return Atomics.add(this.hdr, H_NEXT_ID, 1) + 1; }

  zoneCount(zone: number): number { return Atomics.load(this.hdr, this.layout.zoneCount + zone); }
  /** Effective limit of a zone (0 = unlimited). */
  zoneLimit(zone: number): number {
    const l = Atomics.load(this.hdr, this.layout.zoneLimit + zone);
    return l >= 0 ? l : Atomics.load(this.hdr, H_DEFAULT_ZONE_LIMIT);
  }
  /** The explicit limit of a zone, or -1 when it follows the default. */
  zoneLimitRaw(zone: number): number { return Atomics.load(this.hdr, this.layout.zoneLimit + zone); }
  setZoneLimit(zone: number, limit: number): void { Atomics.store(this.hdr, this.layout.zoneLimit + zone, limit); }
  delZoneLimit(zone: number): void { Atomics.store(this.hdr, this.layout.zoneLimit + zone, -1); }
  defaultZoneLimit(): number { return Atomics.load(this.hdr, H_DEFAULT_ZONE_LIMIT); }
  setDefaultZoneLimit(limit: number): void { Atomics.store(this.hdr, H_DEFAULT_ZONE_LIMIT, limit); }

  /** Reserve room for one connection in `zone`: 0 = ok, 1 = global limit,
   *  2 = zone limit. On success both counts are already incremented. */
  reserve(zone: number): number {
    const h = this.hdr;
    if (Atomics.add(h, H_NCONNS, 1) >= Atomics.load(h, H_MAXCONNS)) {
      Atomics.sub(h, H_NCONNS, 1);
      return 1;
    }
    const zl = this.zoneLimit(zone);
    const zi = this.layout.zoneCount + zone;
    if (Atomics.add(h, zi, 1) >= zl && zl > 0) {
      Atomics.sub(h, zi, 1);
      Atomics.sub(h, H_NCONNS, 1);
      return 2;
    }
    return 0;
  }

  /** Give back what reserve() took. */
  unreserve(zone: number): void {
    Atomics.sub(this.hdr, H_NCONNS, 1);
    Atomics.sub(this.hdr, this.layout.zoneCount + zone, 1);
  }

  /** Bytes of shared memory per connection slot: the record plus its share
   *  of the bucket array, at full capacity. */
  bytesPerConn(): number {
    return (this.rec.byteLength + this.bkt.byteLength) / this.capacity;
  }

  static keyZone(k: Int32Array | Uint32Array, ofs: number): number {
    return k[ofs + K_META] & 0xffff;
  }
}
