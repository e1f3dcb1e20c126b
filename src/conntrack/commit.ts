// Committing a new connection (the commit of a ct() action): a record from
// the slab, its keys, the NAT translation chosen by src/nat/select.ts (the
// reply key probed for uniqueness, possibly in another shard), its L4
// state, mark and label, linked into the index. Per thread, like
// PacketPath (execute.ts), which owns one; the lock rules are table.ts's.

import { IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP } from '../packet/flow-key.ts';
import { NAT_DST, NAT_SRC, type NatRange } from '../nat/range.ts';
import { selectTuple, NAT_SEED, type TupleProbe } from '../nat/select.ts';
import type { ConnTable } from './table.ts';
import { EV_NEW } from './event-ring.ts';
import {
  KEY_WORDS, K_META, REC_WORDS, R_FLAGS, R_ID, R_EXPIRY, R_MARK, R_LABEL, R_KEY_ORIG, R_KEY_REPLY, R_PKTS_ORIG,
  R_PKTS_REPLY, R_BYTES_ORIG, R_BYTES_REPLY, RF_IN_USE, H_CNT_FULL, H_CNT_ZONE_FULL, H_CNT_COMMITS, H_CNT_NAT_CONNS,
  RF_NAT_SHIFT, NF_SRC, NF_DST, R_HELPER, R_PARENT_ID,
} from './layout.ts';
import { type L4Pkt, type L4Tracker, getClass } from './l4.ts';
import { tcpTracker } from './tcp.ts';
import { otherTracker } from './udp.ts';
import { icmpTracker } from './icmp.ts';
import { reverseKey } from './key.ts';
import type { AlgPath } from './alg/run.ts';
import { E_PARENT_ID, E_MARK, E_LABEL } from './alg/expect.ts';
import { timeoutSec } from './timeouts.ts';
import { tableFullLog } from './warnings.ts';

/** Set bits of ct_mark: new = (old & ~mask) | (value & mask). */
export interface MarkSet { value: number; mask: number }
/** Set bits of ct_label, four words, most significant first. */
export interface LabelSet { value: Uint32Array; mask: Uint32Array }

export function trackerFor(proto: number): L4Tracker {
  if (proto === IPPROTO_TCP) return tcpTracker;
  if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) return icmpTracker;
  return otherTracker;
}

export const NO_REC = -1;
/** commitLocked(): no free NAT tuple (the packet is dropped). */
export const NAT_EXHAUSTED = -2;
export const NO_SHARD = -1;
/** try-lock attempts on a lower shard before calling a candidate taken. */
const TRYLOCK_SPINS = 64;

/** Apply a commit's mark and label to record r (record words `rec`). Caller holds r's home shard. */
export function applyMarkLabelLocked(rec: Int32Array, r: number, setMark: MarkSet | null, setLabel: LabelSet | null): void {
  const base = r * REC_WORDS;
  if (setMark !== null) {
    rec[base + R_MARK] = (rec[base + R_MARK] & ~setMark.mask) | (setMark.value & setMark.mask);
  }
  if (setLabel !== null) {
    for (let i = 0; i < 4; i++) {
      const m = setLabel.mask[i];
      rec[base + R_LABEL + i] = (rec[base + R_LABEL + i] & ~m) | (setLabel.value[i] & m);
    }
  }
}

export class Committer implements TupleProbe {
  private readonly rk = new Int32Array(KEY_WORDS);
  // NAT tuple probing (taken()): the shard the commit holds, and the other
  // shard left locked for the chosen reply key (NO_SHARD when none).
  private probeShard = NO_SHARD;
  private probeHeld = NO_SHARD;

  /** `pkt`: the packet path's L4 view of the packet being committed. */
  constructor(readonly table: ConnTable, private readonly alg: AlgPath, private readonly pkt: L4Pkt) {}

  /** Create and link a record for key k. Caller holds `shard`, the shard of
   *  k (and, without NAT, of its reverse). With NAT the reply key is chosen
   *  by src/nat/select.ts and may live in another shard, locked here while
   *  it is probed and linked. Returns the record, -1 (limits) or
   *  NAT_EXHAUSTED; on failure nothing is left behind (the expectation
   *  of a related connection stays, the NAT count is as before).
   *  `expected`: execute.ts peeked an expectation for k under this shard. */
  commitLocked(k: Int32Array, hash: number, bucket: number, shard: number, zone: number, nowMs: number,
    pktLen: number, setMark: MarkSet | null, setLabel: LabelSet | null, nat: NatRange | null, alg: number,
    expected: boolean): number {
    const t = this.table;
    const why = t.reserve(zone);
    if (why !== 0) {
      Atomics.add(t.hdr, why === 1 ? H_CNT_FULL : H_CNT_ZONE_FULL, 1);
      if (tableFullLog.enter(nowMs)) {
        tableFullLog.emit({ zone, limit: why === 1 ? t.maxConns() : t.zoneLimit(zone) }, why === 1
          ? `connection not committed: the table is full (maxconns ${t.maxConns()})`
          : `connection not committed: zone ${zone} is at its limit of ${t.zoneLimit(zone)}`, nowMs);
      }
      return NO_REC;
    }
    const r = t.allocRecord();
    if (r < 0) {
      t.unreserve(zone);
      Atomics.add(t.hdr, H_CNT_FULL, 1);
      return NO_REC;
    }
    const rec = t.rec;
    const base = r * REC_WORDS;
    for (let i = 0; i < KEY_WORDS; i++) rec[base + R_KEY_ORIG + i] = k[i];
    const rk = this.rk;
    reverseKey(rk, 0, k, 0);
    let natFlags = 0;
    if (expected && nat !== null) {
      // A related connection is translated as its parent announced it.
      const nf = this.alg.relatedReplyKey(k, rk);
      if (nf !== 0) {
        this.probeShard = shard;
        this.probeHeld = NO_SHARD;
        const busy = this.taken(rk, 0);
        this.probeShard = NO_SHARD;
        if (busy) {
          t.freeRecord(r);
          t.unreserve(zone);
          return NAT_EXHAUSTED;
        }
        natFlags = ((nf & 1) !== 0 ? NF_SRC : 0) | ((nf & 2) !== 0 ? NF_DST : 0);
        Atomics.add(t.hdr, H_CNT_NAT_CONNS, 1);
      }
    } else if (nat !== null && (nat.action & (NAT_SRC | NAT_DST)) !== 0) {
      this.probeShard = shard;
      this.probeHeld = NO_SHARD;
      if (!selectTuple(nat, k, 0, rk, 0, t.seed ^ NAT_SEED, this)) {
        this.probeShard = NO_SHARD;
        t.freeRecord(r);
        t.unreserve(zone);
        return NAT_EXHAUSTED;
      }
      this.probeShard = NO_SHARD;
      natFlags = this.natFlagsOf(nat.action);
      Atomics.add(t.hdr, H_CNT_NAT_CONNS, 1);
    }
    for (let i = 0; i < KEY_WORDS; i++) rec[base + R_KEY_REPLY + i] = rk[i];
    const rshard = t.shardOfKey(rk, 0);
    const rhash = t.hashKey(rk, 0);
    const rbucket = t.bucketOf(rshard, rhash);
    rec[base + R_ID] = t.nextId();
    rec[base + R_MARK] = 0;
    for (let i = 0; i < 4; i++) rec[base + R_LABEL + i] = 0;
    rec[base + R_HELPER] = alg;
    rec[base + R_PARENT_ID] = 0;
    const tracker = trackerFor((k[K_META] >>> 16) & 0xff);
    tracker.newConn(rec, base, this.pkt);
    t.f64[(base + R_EXPIRY) >>> 1] = nowMs + timeoutSec(t, zone, getClass(rec, base)) * 1000;
    t.f64[(base + R_PKTS_ORIG) >>> 1] = 1;
    t.f64[(base + R_BYTES_ORIG) >>> 1] = pktLen;
    t.f64[(base + R_PKTS_REPLY) >>> 1] = 0;
    t.f64[(base + R_BYTES_REPLY) >>> 1] = 0;
    rec[base + R_FLAGS] |= natFlags << RF_NAT_SHIFT;
    if (!t.insertLocked(r, bucket, hash, rbucket, rhash)) {
      // A shard's index slots are all taken (only a table far past its sizing gets here): as a full table.
      if (this.probeHeld !== NO_SHARD) {
        t.unlockShard(this.probeHeld);
        this.probeHeld = NO_SHARD;
      }
      t.freeRecord(r);
      t.unreserve(zone);
      if (natFlags !== 0) Atomics.sub(t.hdr, H_CNT_NAT_CONNS, 1);
      Atomics.add(t.hdr, H_CNT_FULL, 1);
      return NO_REC;
    }
    // Related: the parent's mark and label, then this action's own. The
    // expectation (peeked by execute.ts) is consumed only now that the
    // connection is linked, so a failed commit leaves it for the next try;
    // if another thread's connection used it up since the peek (a wildcard
    // expectation matches keys of other shards), this one is not related.
    if (expected && this.alg.lookupLocked(k, 0, nowMs, true)) {
      const e = this.alg.found;
      rec[base + R_PARENT_ID] = e[E_PARENT_ID];
      rec[base + R_MARK] = e[E_MARK];
      for (let i = 0; i < 4; i++) rec[base + R_LABEL + i] = e[E_LABEL + i];
    }
    applyMarkLabelLocked(rec, r, setMark, setLabel);
    Atomics.or(rec, base + R_FLAGS, RF_IN_USE);
    Atomics.add(t.hdr, H_CNT_COMMITS, 1);
    if (t.events !== null) t.events.postConn(EV_NEW, rec, r, nowMs);
    if (this.probeHeld !== NO_SHARD) {
      t.unlockShard(this.probeHeld);
      this.probeHeld = NO_SHARD;
    }
    return r;
  }

  /** NF_* of a translation: the configured side only. When DNAT also has
   *  to move the client's source port (its reply tuple would collide), OVS
   *  still marks the connection +dnat alone; the packets are rewritten to
   *  the stored reply tuple either way, so the port moves in both
   *  directions regardless of these flags. */
  private natFlagsOf(action: number): number {
    return (action & NAT_SRC) !== 0 ? NF_SRC : NF_DST;
  }

  /**
   * TupleProbe for src/nat/select.ts, called from commitLocked() with
   * probeShard held: is candidate reply key k taken? A free candidate in
   * another shard leaves that shard locked (probeHeld) until it is linked,
   * so nobody can take it meanwhile. Lower shards only by try-lock.
   */
  taken(k: Int32Array, ofs: number): boolean {
    const t = this.table;
    const c = t.shardOfKey(k, ofs);
    const h = t.hashKey(k, ofs);
    const b = t.bucketOf(c, h);
    if (c === this.probeShard) return t.lookupLocked(k, ofs, b, h) >= 0;
    if (c > this.probeShard) {
      t.lockShard(c);
    } else {
      let got = false;
      for (let i = 0; i < TRYLOCK_SPINS && !got; i++) got = t.tryLockShard(c);
      if (!got) return true; // busy: skip this candidate rather than wait out of order
    }
    if (t.lookupLocked(k, ofs, b, h) >= 0) {
      t.unlockShard(c);
      return true;
    }
    this.probeHeld = c;
    return false;
  }
}
