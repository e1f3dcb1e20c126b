// Batch look-ahead for the conntrack lookup: when a ct() needs the table for
// packet i of a batch, the next packets' keys are hashed from their flow
// keys at once, their index slots read in one loop and the records those
// slots name read in another. The reads of one loop do not depend on each
// other, so their cache misses overlap (the CPU has many in flight) instead
// of costing one full miss per packet each; the packets' own lookups then
// find the lines in cache. OVS's userspace datapath prefetches its batches
// the same way (dpcls, the EMC).
//
// Only a hint: the reads take no lock (a racy read of a slot is some slot
// value or 0, and any slot value names a record inside the slab). What a
// packet path uses later is the hash, shard and bucket of a key, and only
// when the key it builds for the packet is the one hashed here (find()),
// so a packet changed in between, another zone or a recycled batch cost
// only the wasted reads. A table small enough to stay in the caches
// (PF_MIN_RECORDS) is not looked ahead. Per thread, like the PacketPath
// that owns it.

import {
  ETH_TYPE_IP, ETH_TYPE_IPV6, FK_ETH_TYPE, FK_IPV6_DST, FK_IPV6_SRC, FK_NW_DST, FK_NW_FRAG, FK_NW_PROTO,
  FK_NW_SRC, FK_TP_DST, FK_TP_SRC, FK_WORDS, FRAG_ANY,
} from '../packet/flow-key.ts';
import type { PacketBatch } from '../packet/batch.ts';
import { AF_V6, tupleHasPorts } from '../packet/tuple.ts';
import { H_HIGH_WATER, KEY_WORDS, K_DST, K_META, K_PORTS, K_SRC, REC_WORDS, R_FLAGS, R_KEY_REPLY, R_PKTS_ORIG } from './layout.ts';
import type { ConnTable } from './table.ts';

/** Packets looked ahead at once (from the one that asks). */
export const PF_AHEAD = 16;
/** Below this many records (4 MB of them) the table stays in the caches and a look-ahead only costs. */
export const PF_MIN_RECORDS = 16384;

export class BatchPrefetch {
  private readonly keys = new Int32Array(PF_AHEAD * KEY_WORDS);
  readonly hash = new Int32Array(PF_AHEAD);
  readonly shard = new Int32Array(PF_AHEAD);
  readonly bucket = new Int32Array(PF_AHEAD);
  /** 1: keys/hash/shard/bucket hold packet from + s. */
  private readonly ok = new Uint8Array(PF_AHEAD);
  /** 1: the same key as an earlier packet of the look-ahead (its lines are read once). */
  private readonly dup = new Uint8Array(PF_AHEAD);
  private readonly slot = new Int32Array(PF_AHEAD);
  private batch: PacketBatch | null = null;
  private from = 0;
  private to = 0;
  /** Where the loaded words go, so that the loads are not dead code. */
  sink = 0;

  constructor(private readonly table: ConnTable) {}

  /** Forget the batch (the datapath's end of batch). */
  reset(): void {
    this.batch = null;
  }

  /**
   * The look-ahead slot of packet idx when its key (built by the packet
   * path, at k[0..]) is the one hashed for it, else -1. Looks the batch
   * ahead from idx first when idx is not covered. `key`/`keyOfs`: the
   * batch's flow keys (FK_WORDS per packet), `zone` the ct()'s.
   */
  find(batch: PacketBatch, idx: number, key: Uint32Array, keyOfs: number, zone: number, k: Int32Array): number {
    if (this.batch !== batch || idx < this.from || idx >= this.to) {
      if (key !== batch.keys || keyOfs !== idx * FK_WORDS || this.table.hdr[H_HIGH_WATER] < PF_MIN_RECORDS) return -1;
      this.ahead(batch, idx, zone);
    }
    const s = idx - this.from;
    if (this.ok[s] === 0) return -1;
    const o = s * KEY_WORDS;
    const pk = this.keys;
    if (
      pk[o + K_PORTS] !== k[K_PORTS] || pk[o + K_SRC] !== k[K_SRC] || pk[o + K_DST] !== k[K_DST] || pk[o] !== k[K_META] ||
      pk[o + 2] !== k[2] || pk[o + 3] !== k[3] || pk[o + 4] !== k[4] || pk[o + 6] !== k[6] || pk[o + 7] !== k[7] || pk[o + 8] !== k[8]
    ) return -1;
    return s;
  }

  // Three small loops rather than one, each small enough for V8 to inline what it calls (the hashes).
  private ahead(batch: PacketBatch, idx: number, zone: number): void {
    const n = batch.count - idx < PF_AHEAD ? batch.count - idx : PF_AHEAD;
    this.batch = batch;
    this.from = idx;
    this.to = idx + (n > 0 ? n : 0);
    for (let s = 0; s < n; s++) this.ok[s] = this.keyOf(batch, idx + s, s * KEY_WORDS, zone) ? 1 : 0;
    this.hashAll(n);
    this.readAll(n);
  }

  /** The lookup key of packet i from its flow key into keys[o..]: TCP, UDP and the like only. */
  private keyOf(batch: PacketBatch, i: number, o: number, zone: number): boolean {
    const fk = batch.keys;
    const pk = this.keys;
    const fo = i * FK_WORDS;
    const proto = fk[fo + FK_NW_PROTO] & 0xff;
    if (batch.dropped[i] !== 0 || (fk[fo + FK_NW_FRAG] & FRAG_ANY) !== 0 || !tupleHasPorts(proto)) return false;
    const et = fk[fo + FK_ETH_TYPE];
    if (et === ETH_TYPE_IP) {
      pk[o + K_META] = zone | (proto << 16);
      pk[o + K_SRC] = fk[fo + FK_NW_SRC];
      pk[o + K_SRC + 1] = 0; pk[o + K_SRC + 2] = 0; pk[o + K_SRC + 3] = 0;
      pk[o + K_DST] = fk[fo + FK_NW_DST];
      pk[o + K_DST + 1] = 0; pk[o + K_DST + 2] = 0; pk[o + K_DST + 3] = 0;
    } else if (et === ETH_TYPE_IPV6) {
      pk[o + K_META] = zone | (proto << 16) | (AF_V6 << 24);
      for (let w = 0; w < 4; w++) {
        pk[o + K_SRC + w] = fk[fo + FK_IPV6_SRC + w];
        pk[o + K_DST + w] = fk[fo + FK_IPV6_DST + w];
      }
    } else return false;
    pk[o + K_PORTS] = ((fk[fo + FK_TP_SRC] & 0xffff) << 16) | (fk[fo + FK_TP_DST] & 0xffff);
    return true;
  }

  private hashAll(n: number): void {
    const t = this.table;
    const pk = this.keys;
    let prev = -1;
    for (let s = 0; s < n; s++) {
      this.dup[s] = 0;
      if (this.ok[s] === 0) continue;
      const o = s * KEY_WORDS;
      // A run of one connection (the usual batch of a bulk flow): hashed and read once.
      if (prev >= 0 && pk[o + K_PORTS] === pk[prev + K_PORTS] && sameKey(pk, o, prev)) {
        const p = prev / KEY_WORDS;
        this.hash[s] = this.hash[p];
        this.shard[s] = this.shard[p];
        this.bucket[s] = this.bucket[p];
        this.dup[s] = 1;
        continue;
      }
      const h = t.hashKey(pk, o);
      const sh = t.shardOfKey(pk, o);
      this.hash[s] = h;
      this.shard[s] = sh;
      this.bucket[s] = t.bucketOf(sh, h);
      prev = o;
    }
  }

  /** The index slots, then the records they name: independent loads each. */
  private readAll(n: number): void {
    const t = this.table;
    const bkt = t.bkt;
    for (let s = 0; s < n; s++) this.slot[s] = this.ok[s] !== 0 && this.dup[s] === 0 ? bkt[this.bucket[s]] : 0;
    const rec = t.rec;
    const tagMask = t.tagMask;
    const nodeMask = t.nodeMask;
    let sum = 0;
    for (let s = 0; s < n; s++) {
      const v = this.slot[s];
      if (v === 0 || (v & tagMask) !== (this.hash[s] & tagMask)) continue;
      // Line 0 (flags, expiry, orig key), line 1 (what the packet updates), and a reply key's line.
      const node = (v & nodeMask) - 1;
      const base = (node >>> 1) * REC_WORDS;
      sum += rec[base + R_FLAGS] + rec[base + R_PKTS_ORIG] + ((node & 1) !== 0 ? rec[base + R_KEY_REPLY] : 0);
    }
    this.sink = sum;
  }
}

function sameKey(k: Int32Array, a: number, b: number): boolean {
  for (let i = 0; i < KEY_WORDS; i++) if (k[a + i] !== k[b + i]) return false;
  return true;
}
