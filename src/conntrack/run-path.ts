// The datapath's packet path: PacketPath (execute.ts) a batch at a time.
// The shard lock a packet ends with stays held for the next packet of the
// batch, and the next packet of the same connection through the same ct()
// (a run) skips the key build and the lookup (runHit()). Once a run's
// record has stopped changing (a UDP-like connection whose tracker leaves
// it as it is, no NAT, the expiry already moved at this clock: "steady"),
// its packets take runSteady(), which only checks that the packet is the
// run's tuple and writes what the packet before got.
//
// Exactness: everything a run skips is what the full path would find or
// do again under the same lock (held throughout), so a batch gives what
// one packet at a time gives (test/conntrack/run.property.test.ts).

import {
  CS_ESTABLISHED, CS_INVALID, CS_NEW, CS_RELATED, CS_REPLY_DIR, CS_TRACKED, ETH_TYPE_IP, FK_ETH_TYPE, FK_NW_DST,
  FK_NW_FRAG, FK_NW_PROTO, FK_NW_SRC, FK_TP_DST, FK_TP_SRC, FRAG_ANY, IPPROTO_TCP,
} from '../packet/flow-key.ts';
import { CSUM_L3_GOOD, CSUM_L4_GOOD, type PacketBatch } from '../packet/batch.ts';
import { removeIfSingleShardLocked } from './expiry.ts';
import { EV_UPDATE } from './event-ring.ts';
import {
  H_CNT_INVALID, K_DST, K_META, K_PORTS, K_SRC, REC_WORDS, R_BYTES_ORIG, R_BYTES_REPLY, R_EXPIRY, R_FLAGS, R_HELPER, R_MARK,
  R_PARENT_ID, R_PKTS_ORIG, R_PKTS_REPLY, R_TCP_STATES,
} from './layout.ts';
import { getClass, UPDATE_INVALID, UPDATE_NEW, UPDATE_VALID_NEW } from './l4.ts';
import { EXTRACT_OK, extractPortsKey, runPacket, sameTuple, writeRunCtWords } from './key.ts';
import { carryConn } from './carried.ts';
import { timeoutSec } from './timeouts.ts';
import { badChecksum } from './csum.ts';
import { NO_REC, NO_SHARD, trackerFor } from './commit.ts';
import { PacketPath, type CtExec } from './execute.ts';

const CSUM_ALL = CSUM_L3_GOOD | CSUM_L4_GOOD;
/** runSteady(): done; not taken (runHit() decides); not the run's tuple (nor runHit()'s). */
const STEADY_HIT = 1;
const STEADY_NO = 0;
const STEADY_OTHER = -1;

export class RunPath extends PacketPath {
  /**
   * execute() for a caller that runs a batch: the shard lock the packet
   * ends with may stay held for the next packet (a run of packets of one
   * connection takes it once). The caller must call releaseHeld() when the
   * batch is done and before it does anything else with the table (the
   * datapath: at the end of each batch; offload hooks). Nothing else
   * changes: the lock is the same lock, held a little longer.
   */
  executeHeld(batch: PacketBatch, idx: number, key: Uint32Array, keyOfs: number, a: CtExec, nowMs: number): void {
    let run = this.runRec !== NO_REC;
    if (this.steadyProto >= 0) {
      const s = this.runSteady(batch, idx, key, keyOfs, a, nowMs);
      if (s === STEADY_HIT) return;
      // Another connection's packet (the usual case in a batch of many flows): runHit() would not take it either.
      if (s === STEADY_OTHER) run = false;
    }
    this.holding = true;
    if ((!run || !this.runHit(batch, idx, key, keyOfs, a, nowMs)) && !this.lookupHit(batch, idx, key, keyOfs, a, nowMs)) {
      this.execute(batch, idx, key, keyOfs, a, nowMs);
    }
    this.holding = false;
  }

  /**
   * A packet of an existing connection, found by a lookup: what execute()
   * does for the usual case (TCP, UDP and the like; no nat or force in the
   * ct(); no connection carried; checksums known good; the record live,
   * both its keys in the shard locked, no helper), without the rest of its
   * generality. False when the packet needs the full path: nothing is
   * changed then but the shard lock (kept in `held`, which execute() takes
   * over) and the run ended, and execute() starts over. The conn cache
   * (conn-cache.ts) is neither read nor filled: it is a hint, and the
   * lookup finds what it would.
   */
  private lookupHit(batch: PacketBatch, idx: number, key: Uint32Array, o: number, a: CtExec, nowMs: number): boolean {
    if (a.nat !== null || a.force || batch.ctConn[idx] !== 0 || batch.csum[idx] !== CSUM_ALL) return false;
    const k = this.k;
    const p = this.pkt;
    const zone = a.zone & 0xffff;
    if (!extractPortsKey(k, p, batch.data[idx], batch.l3[idx], batch.l4[idx], key, o, zone)) return false;
    const t = this.table;
    if (this.runRec !== NO_REC) this.endRun();
    this.expNow = -1;
    // The batch's look-ahead (prefetch.ts) hashed this key already, and read its lines.
    const ahead = this.ahead;
    const pf = ahead.find(batch, idx, key, o, zone, k);
    const hash = pf >= 0 ? ahead.hash[pf] : t.hashKey(k, 0);
    const shard = pf >= 0 ? ahead.shard[pf] : t.shardOfKey(k, 0);
    const bucket = pf >= 0 ? ahead.bucket[pf] : t.bucketOf(shard, hash);
    const held = this.held;
    if (held !== shard) {
      if (held !== NO_SHARD) t.unlockShard(held);
      t.lockShard(shard);
      this.held = shard;
    }
    const node = t.lookupLocked(k, 0, bucket, hash);
    if (node < 0) return false; // new
    const r = node >>> 1;
    const reply = (node & 1) === 1;
    const rec = t.rec;
    const base = r * REC_WORDS;
    // Both keys here when TCP's tracker may end the connection (so that its removal below is whole;
    // the other trackers never do, and a UDP lookup is spared the reply key's line); no helper; not expired.
    const proto = (k[K_META] >>> 16) & 0xff;
    if (t.homeShard(r) !== shard || (proto === IPPROTO_TCP && t.replyShard(r) !== shard) || rec[base + R_HELPER] !== 0 ||
      t.f64[(base + R_EXPIRY) >>> 1] <= nowMs) return false;
    const flags0 = rec[base + R_FLAGS];
    const tcp0 = rec[base + R_TCP_STATES];
    const mark0 = rec[base + R_MARK];
    const res = trackerFor(proto).update(rec, base, p, reply, proto === IPPROTO_TCP && t.seqCheck());
    if (res === UPDATE_INVALID) {
      this.held = NO_SHARD;
      this.invalidLocked(r, reply, a, zone, shard, batch, idx, key, o);
      return true;
    }
    if (res === UPDATE_NEW) {
      // The old connection is over (all of it: TCP's, both keys in this shard); execute() starts the new one.
      removeIfSingleShardLocked(t, r, shard);
      return false;
    }
    let state = res === UPDATE_VALID_NEW ? CS_NEW : CS_ESTABLISHED | (reply ? CS_REPLY_DIR : 0);
    if (rec[base + R_PARENT_ID] !== 0) state |= CS_RELATED;
    const cls = getClass(rec, base);
    t.f64[(base + R_EXPIRY) >>> 1] = nowMs + timeoutSec(t, zone, cls) * 1000;
    this.expNow = nowMs;
    this.expCls = cls;
    t.f64[(base + (reply ? R_PKTS_REPLY : R_PKTS_ORIG)) >>> 1] += 1;
    t.f64[(base + (reply ? R_BYTES_REPLY : R_BYTES_ORIG)) >>> 1] += batch.len[idx];
    if (a.commit) this.applyMarkLabelLocked(r, a.mark, a.label);
    if (t.events !== null && (rec[base + R_FLAGS] !== flags0 || rec[base + R_TCP_STATES] !== tcp0 || rec[base + R_MARK] !== mark0)) {
      t.events.postConn(EV_UPDATE, rec, r, nowMs);
    }
    // execute()'s writeCtWords(), for a connection with ports.
    writeRunCtWords(key, o, CS_TRACKED | state, zone, rec, base);
    carryConn(batch, idx, t, r, zone, reply, false);
    // The run, as execute() starts it (the shard stays held).
    this.runRec = r;
    this.runReply = reply;
    this.runA = a;
    this.runId = batch.ctConnId[idx];
    this.runMd = batch.ctConnMd[idx];
    this.runPorts = true;
    this.steadyIf(proto, rec[base + R_FLAGS] === flags0, CS_TRACKED | state);
    return true;
  }

  /**
   * The next packet of a run (runRec): the same tuple through the same
   * ct(), the record's shard held since the packet before. Does what
   * execute() would do after its lookup, for the outcomes of an existing
   * connection; false (nothing done) when the packet needs the full path.
   */
  private runHit(batch: PacketBatch, idx: number, key: Uint32Array, keyOfs: number, a: CtExec, nowMs: number): boolean {
    const k = this.k;
    const p = this.pkt;
    const t = this.table;
    const rec = t.rec;
    const r = this.runRec;
    const base = r * REC_WORDS;
    if (a !== this.runA || batch.ctConn[idx] !== 0 || !sameTuple(k, key, keyOfs, this.runPorts) ||
      runPacket(p, batch.data[idx], batch.l3[idx], batch.l4[idx], k, this.runPorts) !== EXTRACT_OK ||
      t.f64[(base + R_EXPIRY) >>> 1] <= nowMs) return false;
    const shard = this.held;
    // Until it is set again at the end; a packet whose checksums are to be checked may leave the run.
    if (batch.csum[idx] !== CSUM_ALL) this.endRun();
    else this.runRec = NO_REC;
    this.steadyProto = -1;
    this.held = NO_SHARD;
    const zone = k[K_META] & 0xffff;
    const proto = (k[K_META] >>> 16) & 0xff;
    if (batch.csum[idx] !== CSUM_ALL && badChecksum(t.hdr, batch, idx, p, proto, zone, nowMs)) {
      t.unlockShard(shard);
      batch.ctConn[idx] = 0;
      Atomics.add(t.hdr, H_CNT_INVALID, 1);
      this.writeMd(key, keyOfs, CS_TRACKED | CS_INVALID, zone, NO_REC, false);
      return true;
    }
    const reply = this.runReply;
    const { commit, mark: setMark, label: setLabel, nat } = a;
    const flags0 = rec[base + R_FLAGS];
    const tcp0 = rec[base + R_TCP_STATES];
    const mark0 = rec[base + R_MARK];
    // No helper on a run's connection: nothing for the ALG before tracking.
    const res = trackerFor(proto).update(rec, base, p, reply, proto === IPPROTO_TCP && t.seqCheck());
    if (res === UPDATE_INVALID) {
      this.flushRun(r);
      this.invalidLocked(r, reply, a, zone, shard, batch, idx, key, keyOfs);
      return true;
    }
    if (res === UPDATE_NEW) {
      // The old connection is over: the full path starts the new one, the shard still held.
      this.flushRun(r);
      removeIfSingleShardLocked(t, r, shard);
      this.held = shard;
      this.execute(batch, idx, key, keyOfs, a, nowMs);
      return true;
    }
    let state = res === UPDATE_VALID_NEW ? CS_NEW : CS_ESTABLISHED | (reply ? CS_REPLY_DIR : 0);
    if (rec[base + R_PARENT_ID] !== 0) state |= CS_RELATED;
    // One clock per batch: the expiry changes only with the clock or the timeout class.
    const cls = getClass(rec, base);
    if (nowMs !== this.expNow || cls !== this.expCls) {
      t.f64[(base + R_EXPIRY) >>> 1] = nowMs + timeoutSec(t, zone, cls) * 1000;
      this.expNow = nowMs;
      this.expCls = cls;
    }
    // Counted when the run ends (endRun(), before its lock is let go).
    this.runPkts++;
    this.runBytes += batch.len[idx];
    if (commit && (setMark !== null || setLabel !== null)) this.applyMarkLabelLocked(r, setMark, setLabel);
    if (nat !== null) state |= this.natPacketLocked(r, reply, false, batch, idx, key, keyOfs);
    if (t.events !== null && (rec[base + R_FLAGS] !== flags0 || rec[base + R_TCP_STATES] !== tcp0 || rec[base + R_MARK] !== mark0)) {
      this.flushRun(r);
      t.events.postConn(EV_UPDATE, rec, r, nowMs);
    }
    writeRunCtWords(key, keyOfs, CS_TRACKED | state, zone, rec, base);
    batch.ctConn[idx] = r + 1; // carryConn()
    batch.ctConnId[idx] = this.runId;
    batch.ctConnMd[idx] = this.runMd;
    this.held = shard;
    this.runRec = r;
    if (nat === null) this.steadyIf(proto, rec[base + R_FLAGS] === flags0, CS_TRACKED | state);
    return true;
  }

  /**
   * The run (its record's shard held, its ct() without nat, no helper) turns
   * steady when the tracker (not TCP's, which reads each segment) left the
   * record as it was (`same`): the next packet in this direction finds it so
   * again, as the update reads only the flags word; mark and label are set
   * already (setting them again changes nothing). IPv4 with ports only.
   */
  private steadyIf(proto: number, same: boolean, state: number): void {
    if (same && proto !== IPPROTO_TCP && this.runPorts && (this.k[K_META] >>> 24) === 0) {
      this.steadyState = state;
      this.steadyProto = proto;
    }
  }

  /**
   * The next packet of a steady run (steadyProto: an IPv4 connection with
   * ports whose record the packet before left unchanged, at this clock):
   * what runHit() would do, less what it would find unchanged (STEADY_HIT).
   * Nothing is done otherwise: STEADY_OTHER for a packet of another tuple
   * (runHit() would refuse it too), STEADY_NO when runHit() decides. Small,
   * so that V8 inlines it and the writer it calls.
   */
  private runSteady(batch: PacketBatch, idx: number, key: Uint32Array, o: number, a: CtExec, nowMs: number): number {
    const k = this.k;
    if (a !== this.runA || nowMs !== this.expNow || batch.ctConn[idx] !== 0 || batch.csum[idx] !== CSUM_ALL ||
      key[o + FK_ETH_TYPE] !== ETH_TYPE_IP || (key[o + FK_NW_FRAG] & FRAG_ANY) !== 0) return STEADY_NO;
    // An unfragmented IPv4 packet of another tuple: sameTuple() fails on it as well.
    if ((key[o + FK_NW_SRC] | 0) !== k[K_SRC] || (key[o + FK_NW_DST] | 0) !== k[K_DST] ||
      (((key[o + FK_TP_SRC] & 0xffff) << 16) | (key[o + FK_TP_DST] & 0xffff)) !== k[K_PORTS] ||
      (key[o + FK_NW_PROTO] & 0xff) !== this.steadyProto) return STEADY_OTHER;
    // runPacket()'s test for a protocol with ports: a whole L4 header inside the IP datagram.
    const l3 = batch.l3[idx];
    const l4 = batch.l4[idx];
    if (l3 < 0 || l4 < 0) return STEADY_NO;
    const d = batch.data[idx];
    const end = l3 + ((d[l3 + 2] << 8) | d[l3 + 3]);
    if ((end < d.length ? end : d.length) - l4 < 8) return STEADY_NO;
    const t = this.table;
    const r = this.runRec;
    const base = r * REC_WORDS;
    if (t.f64[(base + R_EXPIRY) >>> 1] <= nowMs) return STEADY_NO;
    this.runPkts++;
    this.runBytes += batch.len[idx];
    writeRunCtWords(key, o, this.steadyState, k[K_META] & 0xffff, t.rec, base);
    batch.ctConn[idx] = r + 1; // carryConn()
    batch.ctConnId[idx] = this.runId;
    batch.ctConnMd[idx] = this.runMd;
    return STEADY_HIT;
  }
}
