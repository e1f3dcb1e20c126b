// The conntrack packet path: the ct() action's engine. Looks a packet's tuple up in its
// zone, runs the L4 tracker, commits new connections when asked (within the
// global and per-zone limits), and writes ct_state / ct_zone / ct_mark /
// ct_label / the original-direction tuple into the packet's flow key, with
// the semantics of OVS's userspace datapath (ovs-actions(7) "ct",
// ovs-fields(7) ct_state).
//
// Threads: every PMD worker attaches its own Conntrack (and so its own
// PacketPath) to the same shared table. A PacketPath holds only per-thread
// scratch, so it must not be shared between threads. Locking is
// table.ts's: execute() holds the shard lock of the packet's key while it
// looks up and updates; when a key and its record's home shard differ (NAT)
// it drops the first lock before taking the home one and re-validates.
//
// NAT (src/nat): a commit whose ct() has nat(src=..)/nat(dst=..) picks the
// translated tuple (select.ts, probing this table for uniqueness under the
// lock rules of table.ts), stores it as the record's reply key and its NF_*
// flags, and links both keys. Any ct() with a nat clause then rewrites the
// packets of a NATed connection in both directions (and ICMP errors about
// it), sets +snat/+dnat and updates the flow key's header words. A commit
// that finds no free tuple drops the packet and creates nothing.

import {
  FK_CT_STATE, FK_NW_PROTO, CS_NEW, CS_ESTABLISHED, CS_RELATED, CS_REPLY_DIR,
  CS_INVALID, CS_TRACKED, CS_SRC_NAT, CS_DST_NAT, IPPROTO_TCP,
} from '../packet/flow-key.ts';
import type { NatRange } from '../nat/range.ts';
import { CONN_MD_NAT, CONN_MD_REPLY, CONN_MD_ZONE, CSUM_L3_GOOD, CSUM_L4_GOOD, type PacketBatch } from '../packet/batch.ts';
import { carryConn, executeCarried, lockCarried, type CarriedHost } from './carried.ts';
import type { ConnTable } from './table.ts';
import { removeIfSingleShardLocked } from './expiry.ts';
import { EV_UPDATE } from './event-ring.ts';
import {
  KEY_WORDS, K_META, REC_WORDS, R_FLAGS, R_ID, R_EXPIRY, R_MARK, R_PKTS_ORIG, R_PKTS_REPLY,
  R_BYTES_ORIG, R_BYTES_REPLY, H_CNT_INVALID, H_CNT_EXPIRED, H_CNT_RELATED, H_CNT_NAT_EXHAUSTED, R_TCP_STATES,
  R_HELPER, R_PARENT_ID, H_HIGH_WATER,
} from './layout.ts';
import { type L4Pkt, getClass, UPDATE_INVALID, UPDATE_NEW, UPDATE_VALID_NEW } from './l4.ts';
import { extractKey, writeCtWords, keyHasPorts, EXTRACT_FAIL, EXTRACT_ICMP_ERROR } from './key.ts';
import { AlgPath } from './alg/run.ts';
import { ALG_INVALID } from './alg/helper.ts';
import { timeoutSec } from './timeouts.ts';
import { natExhaustedLog } from './warnings.ts';
import { badChecksum } from './csum.ts';
import { ConnCache } from './conn-cache.ts';
import { BatchPrefetch, PF_MIN_RECORDS } from './prefetch.ts';
import { natPacketLocked } from './nat-packet.ts';
import {
  applyMarkLabelLocked, Committer, NAT_EXHAUSTED, NO_REC, NO_SHARD, trackerFor, type LabelSet, type MarkSet,
} from './commit.ts';

const CSUM_ALL = CSUM_L3_GOOD | CSUM_L4_GOOD;

export type { MarkSet, LabelSet } from './commit.ts';

/**
 * A ct() action compiled for the fast path, once per megaflow (the
 * datapath's ct action carries it): `zone`; `commit` creates the
 * connection when new; `force` ends a connection found in the reply
 * direction and starts a new one; `mark`/`label` (from exec()) apply only
 * with commit; `nat` (src/nat/range.ts) sets up NAT on commit and rewrites
 * the packets of NATed connections, and when no tuple is free the packet
 * is marked dropped.
 */
export interface CtExec {
  zone: number;
  commit: boolean;
  force: boolean;
  mark: MarkSet | null;
  label: LabelSet | null;
  nat: NatRange | null;
  /** ALG_* helper (alg/helper.ts) given to a connection this action commits; 0 = none. */
  alg: number;
}

export class PacketPath implements CarriedHost {
  // Per-thread scratch: the packet's key, its reverse, and a temp.
  readonly k = new Int32Array(KEY_WORDS);
  private readonly rk = new Int32Array(KEY_WORDS);
  private readonly tmp = new Int32Array(KEY_WORDS);
  protected readonly pkt: L4Pkt = { data: new Uint8Array(0), l4: 0, l4Len: 0, v6: 0 };
  private readonly alg: AlgPath;
  /** The connections this thread found last (conn-cache.ts), and the batch's look-ahead (prefetch.ts). */
  private readonly cache = new ConnCache();
  protected readonly ahead: BatchPrefetch;
  /** executeHeld(): a shard lock kept between packets of a batch (NO_SHARD = none). */
  protected held = NO_SHARD;
  protected holding = false;
  /** The run: the connection the previous packet ended on with its shard still held (executeHeld()),
   *  its direction and the ct() that found it. The next packet of the same tuple through the same ct()
   *  skips the key build and the lookup: the lock was never let go, so the record is the one the
   *  lookup would find. Valid for the next call only (reset on entry). */
  protected runRec = NO_REC;
  protected runReply = false;
  protected runA: CtExec | null = null;
  /** What carryConn() writes for the run's packets (its record's id, CONN_MD_*). */
  protected runId = 0;
  protected runMd = 0;
  protected runPorts = false; // keyHasPorts(), once per run
  /** Packets and bytes of the run's hits not yet added to the record (endRun()). */
  protected runPkts = 0;
  protected runBytes = 0;
  /** The clock and timeout class the run's record's expiry was last computed from (valid with runRec). */
  protected expNow = -1;
  protected expCls = -1;
  /** A steady run (run-path.ts runSteady()): its protocol (-1: not steady; valid with runRec) and
   *  the ct_state its packets get. */
  protected steadyProto = -1;
  protected steadyState = 0;

  /** New connections (commit.ts). */
  private readonly committer: Committer;

  constructor(readonly table: ConnTable) {
    this.alg = new AlgPath(table);
    this.ahead = new BatchPrefetch(table);
    this.committer = new Committer(table, this.alg, this.pkt);
  }

  /** Run packet `idx` of `batch` through conntrack in `zone` and write the ct_* fields into
   *  key[keyOfs..], as the compiled ct() action `a` says (see CtExec). Never throws, never allocates. */
  execute(batch: PacketBatch, idx: number, key: Uint32Array, keyOfs: number, a: CtExec, nowMs: number): void {
    const { commit, force, mark: setMark, label: setLabel, nat } = a;
    let zone = a.zone;
    const t = this.table;
    const k = this.k;
    const p = this.pkt;
    zone &= 0xffff;
    // The shard the previous packet left locked (executeHeld()): kept only
    // for a cache hit on that same shard, released before anything else.
    if (this.runRec !== NO_REC) this.endRun();
    let held = this.held;
    this.held = NO_SHARD;
    if (held !== NO_SHARD && (batch.ctConn[idx] !== 0 || force)) {
      t.unlockShard(held);
      held = NO_SHARD;
    }
    // The connection an earlier ct() in this zone found for this packet (carried.ts).
    let carriedRec = NO_REC;
    if (batch.ctConn[idx] !== 0 && !force && (batch.ctConnMd[idx] & CONN_MD_ZONE) === zone) {
      if ((batch.ctConnMd[idx] & CONN_MD_NAT) === 0) {
        if (executeCarried(this, batch, idx, key, keyOfs, a)) return;
      } else carriedRec = batch.ctConn[idx] - 1;
    }
    const carriedReply = (batch.ctConnMd[idx] & CONN_MD_REPLY) !== 0;
    this.expNow = -1; // the expiry memo is the run's only (runHit())
    const ex = extractKey(k, 0, this.tmp, p, batch.data[idx], batch.l3[idx], batch.l4[idx], key, keyOfs, zone);
    if (ex === EXTRACT_FAIL || (batch.csum[idx] !== CSUM_ALL && badChecksum(t.hdr, batch, idx, p, key[keyOfs + FK_NW_PROTO] & 0xff, zone, nowMs))) {
      if (held !== NO_SHARD) t.unlockShard(held);
      batch.ctConn[idx] = 0;
      Atomics.add(t.hdr, H_CNT_INVALID, 1);
      this.writeMd(key, keyOfs, CS_TRACKED | CS_INVALID, zone, NO_REC, false);
      return;
    }
    const related = ex === EXTRACT_ICMP_ERROR;
    const rec = t.rec;
    const proto = (k[K_META] >>> 16) & 0xff;
    const tracker = trackerFor(proto);
    const pktLen = batch.len[idx];

    const carried = carriedRec !== NO_REC && lockCarried(t, batch, idx) >= 0;
    batch.ctConn[idx] = 0;
    // The key's bucket (and hash), computed only when a lookup or a commit needs them.
    let hash = 0;
    let bucket = -1;
    let shard = NO_SHARD;
    let node = -1;
    let fromCache = false;
    if (carried) {
      shard = t.homeShard(carriedRec);
      node = (carriedRec << 1) | (carriedReply ? 1 : 0);
    } else {
      // This thread's cache first (conn-cache.ts): valid only under the home shard lock. A table
      // past the caches is looked ahead instead (prefetch.ts), which hashes every key anyway.
      const cc = this.cache;
      const c = t.hdr[H_HIGH_WATER] < PF_MIN_RECORDS ? cc.find(k) : -1;
      if (c >= 0) {
        shard = cc.shard[c];
        if (shard !== held) {
          if (held !== NO_SHARD) t.unlockShard(held);
          t.lockShard(shard);
        }
        held = NO_SHARD;
        const n = cc.node[c];
        if (t.isInUseLocked(n >>> 1) && rec[(n >>> 1) * REC_WORDS + R_ID] === cc.id[c]) {
          node = n;
          fromCache = true;
        } else {
          t.unlockShard(shard);
          cc.drop(c);
          shard = NO_SHARD;
        }
      }
      if (held !== NO_SHARD) t.unlockShard(held);
      if (shard === NO_SHARD) {
        // The batch's look-ahead (prefetch.ts) hashed this key already, and read its lines.
        const pf = this.ahead.find(batch, idx, key, keyOfs, zone, k);
        hash = pf >= 0 ? this.ahead.hash[pf] : t.hashKey(k, 0);
        shard = pf >= 0 ? this.ahead.shard[pf] : t.shardOfKey(k, 0);
        bucket = pf >= 0 ? this.ahead.bucket[pf] : t.bucketOf(shard, hash);
        t.lockShard(shard);
        node = t.lookupLocked(k, 0, bucket, hash);
      }
    }
    let r = NO_REC;
    let reply = false;
    // What to cache for this key when the packet ends on a record: its index node.
    let cacheNode = -1;
    if (node >= 0) {
      r = node >>> 1;
      reply = (node & 1) === 1;
      // An orig key sits in its record's home shard; only a reply key (NAT) may not.
      const home = reply ? t.homeShard(r) : shard;
      if (home !== shard) {
        // Reply key of a NATed connection: move to the record's home lock.
        const id = rec[r * REC_WORDS + R_ID];
        t.unlockShard(shard);
        t.lockShard(home);
        shard = home;
        if (!t.isInUse(r) || rec[r * REC_WORDS + R_ID] !== id) r = NO_REC;
      }
      if (r !== NO_REC && !carried && !fromCache) cacheNode = node;
    }
    if (r !== NO_REC && t.f64[(r * REC_WORDS + R_EXPIRY) >>> 1] <= nowMs) {
      // Expired but not swept yet: gone for this packet.
      removeIfSingleShardLocked(t, r, shard);
      Atomics.add(t.hdr, H_CNT_EXPIRED, 1);
      r = NO_REC;
    }

    if (related) {
      let state = CS_TRACKED | CS_INVALID;
      if (r !== NO_REC) {
        state = CS_TRACKED | CS_RELATED | (reply ? CS_REPLY_DIR : 0);
        Atomics.add(t.hdr, H_CNT_RELATED, 1);
        if (commit) this.applyMarkLabelLocked(r, setMark, setLabel);
        if (nat !== null) state |= this.natPacketLocked(r, reply, true, batch, idx, key, keyOfs);
      } else Atomics.add(t.hdr, H_CNT_INVALID, 1);
      this.writeMd(key, keyOfs, state, zone, r, false);
      t.unlockShard(shard);
      return;
    }

    if (r !== NO_REC && force && reply) {
      removeIfSingleShardLocked(t, r, shard);
      r = NO_REC;
    }

    let state = 0;
    if (r !== NO_REC) {
      const base = r * REC_WORDS;
      // What an UPDATE event reports as changed: state, timeout class, mark.
      const flags0 = rec[base + R_FLAGS];
      const tcp0 = rec[base + R_TCP_STATES];
      const mark0 = rec[base + R_MARK];
      if (!carried) this.alg.beforeTrackLocked(r, reply, nat !== null, batch, idx, proto);
      const res = tracker.update(rec, base, p, reply, proto === IPPROTO_TCP && t.seqCheck());
      if (res === UPDATE_INVALID) {
        this.invalidLocked(r, reply, a, zone, shard, batch, idx, key, keyOfs);
        return;
      }
      if (res === UPDATE_NEW) {
        removeIfSingleShardLocked(t, r, shard);
        r = NO_REC;
      } else {
        state = res === UPDATE_VALID_NEW ? CS_NEW : CS_ESTABLISHED | (reply ? CS_REPLY_DIR : 0);
        if (rec[base + R_PARENT_ID] !== 0) state |= CS_RELATED;
        const cls = getClass(rec, base);
        t.f64[(base + R_EXPIRY) >>> 1] = nowMs + timeoutSec(t, zone, cls) * 1000;
        this.expNow = nowMs;
        this.expCls = cls;
        const pi = (base + (reply ? R_PKTS_REPLY : R_PKTS_ORIG)) >>> 1;
        const bi = (base + (reply ? R_BYTES_REPLY : R_BYTES_ORIG)) >>> 1;
        if (!carried) {
          t.f64[pi] += 1;
          t.f64[bi] += pktLen;
        }
        if (commit) this.applyMarkLabelLocked(r, setMark, setLabel);
        // A packet translated in this zone already keeps its translation (OVS's handle_nat()).
        const natted = carried ? key[keyOfs + FK_CT_STATE] & (CS_SRC_NAT | CS_DST_NAT) : 0;
        if (natted !== 0) state |= natted;
        else if (nat !== null) state |= this.natPacketLocked(r, reply, false, batch, idx, key, keyOfs);
        if (t.events !== null && (rec[base + R_FLAGS] !== flags0 || rec[base + R_TCP_STATES] !== tcp0 || rec[base + R_MARK] !== mark0)) {
          t.events.postConn(EV_UPDATE, rec, r, nowMs);
        }
        // The helper read (and under NAT rewrote) this packet at the ct() it carries the connection from.
        if (!carried && rec[base + R_HELPER] !== 0 &&
          this.alg.inspectLocked(r, reply, nat !== null, batch, idx, proto, nowMs) === ALG_INVALID) state = CS_INVALID;
      }
    }

    if (r === NO_REC) {
      if (!tracker.validNew(p)) {
        Atomics.add(t.hdr, H_CNT_INVALID, 1);
        this.writeMd(key, keyOfs, CS_TRACKED | CS_INVALID, zone, NO_REC, true);
        t.unlockShard(shard);
        return;
      }
      state = CS_NEW;
      const expected = this.alg.lookupLocked(k, 0, nowMs, false);
      if (expected) state |= CS_RELATED;
      if (commit) {
        // The packet's key shard is the orig key's shard; without NAT the
        // reply key hashes to the same shard (symmetric shard hash).
        if (bucket < 0) {
          hash = t.hashKey(k, 0);
          bucket = t.bucketOf(t.shardOfKey(k, 0), hash);
        }
        if (shard !== t.shardOfBucket(bucket)) {
          t.unlockShard(shard);
          shard = t.shardOfBucket(bucket);
          t.lockShard(shard);
          node = t.lookupLocked(k, 0, bucket, hash);
          cacheNode = -1;
          if (node >= 0) {
            // Someone committed it meanwhile: treat as tracked-new of theirs.
            r = node >>> 1;
            reply = (node & 1) === 1;
          }
        }
        if (r === NO_REC) {
          r = this.committer.commitLocked(k, hash, bucket, shard, zone, nowMs, pktLen, setMark, setLabel, nat, a.alg, expected);
          if (r === NAT_EXHAUSTED) {
            Atomics.add(t.hdr, H_CNT_NAT_EXHAUSTED, 1);
            Atomics.add(t.hdr, t.layout.natExhausted + zone, 1);
            if (natExhaustedLog.enter(nowMs)) natExhaustedLog.emit({ zone }, `zone ${zone}: packet dropped: unable to NAT due to tuple space exhaustion`, nowMs);
            batch.dropped[idx] = 1;
            r = NO_REC;
          } else if (r !== NO_REC) {
            reply = false;
            cacheNode = r << 1;
            if (nat !== null) state |= this.natPacketLocked(r, false, false, batch, idx, key, keyOfs);
            if (a.alg !== 0 && this.alg.inspectLocked(r, false, nat !== null, batch, idx, proto, nowMs) === ALG_INVALID) {
              state = CS_INVALID;
            }
          }
        }
      }
    }
    this.writeMd(key, keyOfs, CS_TRACKED | state, zone, r, r === NO_REC);
    if (r !== NO_REC) {
      carryConn(batch, idx, t, r, zone, reply, nat !== null);
      if (cacheNode >= 0 && t.hdr[H_HIGH_WATER] < PF_MIN_RECORDS) this.cache.put(k, cacheNode, rec[r * REC_WORDS + R_ID], t.homeShard(r));
    }
    if (this.holding) {
      this.held = shard;
      // A helper's connection takes the full path (the helper sees every packet).
      if (r !== NO_REC && !force && !carried && rec[r * REC_WORDS + R_HELPER] === 0) {
        this.runRec = r;
        this.runReply = reply;
        this.runA = a;
        this.runId = batch.ctConnId[idx]; this.runMd = batch.ctConnMd[idx];
        this.runPorts = keyHasPorts(this.k);
      }
    } else t.unlockShard(shard);
  }

  /** The run is over: its packets' counts go to its record (whose shard is still held). */
  protected endRun(): void {
    this.flushRun(this.runRec);
    this.runRec = NO_REC;
    this.steadyProto = -1;
  }

  protected flushRun(r: number): void {
    if (this.runPkts === 0) return;
    const f = this.table.f64;
    const base = r * REC_WORDS;
    f[(base + (this.runReply ? R_PKTS_REPLY : R_PKTS_ORIG)) >>> 1] += this.runPkts;
    f[(base + (this.runReply ? R_BYTES_REPLY : R_BYTES_ORIG)) >>> 1] += this.runBytes;
    this.runPkts = 0;
    this.runBytes = 0;
  }

  /** Unlock what executeHeld() left locked. */
  releaseHeld(): void {
    this.ahead.reset();
    if (this.runRec !== NO_REC) this.endRun();
    if (this.held !== NO_SHARD) {
      this.table.unlockShard(this.held);
      this.held = NO_SHARD;
    }
  }

  /**
   * Rewrite packet idx of a NATed connection r for its direction (`reply`),
   * or, when `related`, the ICMP error about it, and refresh the flow key's
   * header words. Returns the ct_state NAT bits (0 when r has no NAT).
   * Caller holds r's home shard; this.k is the packet's key.
   */
  natPacketLocked(r: number, reply: boolean, related: boolean, batch: PacketBatch, idx: number,
    key: Uint32Array, o: number): number {
    return natPacketLocked(this.table.rec, r, this.k, this.rk, reply, related, batch, idx, key, o);
  }

  /** Packet idx of connection r is invalid: counted; as OVS, r's NAT and the commit's mark/label still apply (idempotent). Lets go of `shard`. */
  protected invalidLocked(r: number, reply: boolean, a: CtExec, zone: number, shard: number, batch: PacketBatch, idx: number, key: Uint32Array, keyOfs: number): void {
    const t = this.table;
    Atomics.add(t.hdr, H_CNT_INVALID, 1);
    if (a.commit) this.applyMarkLabelLocked(r, a.mark, a.label);
    const cs = a.nat !== null ? this.natPacketLocked(r, reply, false, batch, idx, key, keyOfs) : 0;
    this.writeMd(key, keyOfs, CS_TRACKED | CS_INVALID | cs, zone, r, false);
    carryConn(batch, idx, t, r, zone, reply, a.nat !== null);
    t.unlockShard(shard);
  }

  applyMarkLabelLocked(r: number, setMark: MarkSet | null, setLabel: LabelSet | null): void {
    applyMarkLabelLocked(this.table.rec, r, setMark, setLabel);
  }

  protected writeMd(key: Uint32Array, o: number, state: number, zone: number, r: number, usePktKey: boolean): void {
    writeCtWords(key, o, state, zone, this.table.rec, r, this.k, usePktKey);
  }
}
