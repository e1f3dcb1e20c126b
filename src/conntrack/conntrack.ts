// Conntrack: one thread's handle on the shared connection table. The
// packet path (the ct() action) is in execute.ts, a batch at a time in
// run-path.ts, expiry and removal in expiry.ts; this facade adds what the control plane asks of conntrack
// (dpctl/*: dumps, flushes, limits, timeout policies, counters).
//
// Threads: every PMD worker attaches its own Conntrack to the same shared
// table (`Conntrack.attach(other.shared())`); a Conntrack must not be
// shared between threads (its packet path keeps per-thread scratch). The
// control-plane calls lock one record at a time (table.ts's rules), so
// they can run while PMDs process packets.

import type { PacketBatch } from '../packet/batch.ts';
import { ConnTable, type TableDescriptor, type TableOptions } from './table.ts';
import {
  K_META, REC_WORDS, R_KEY_ORIG, H_CNT_INVALID, H_CNT_FULL, H_CNT_ZONE_FULL, H_CNT_EXPIRED, H_CNT_COMMITS,
  H_CNT_RELATED, H_CNT_NAT_EXHAUSTED, H_CNT_NAT_CONNS, H_CNT_EXP_CREATED, H_CNT_EXP_MATCHED, H_CNT_EXP_EXPIRED,
  H_CNT_ALG_MALFORMED, H_CNT_BAD_CSUM,
} from './layout.ts';
import type { ExpInfo } from './alg/expect.ts';
import type { CtExec } from './execute.ts';
import { RunPath } from './run-path.ts';
import { createEventRings, EventRings, type EventRingsDescriptor } from './event-ring.ts';
import { Ipf } from './ipf.ts';
import { IpfShared } from './ipf-shared.ts';
import { removeIf, sweep } from './expiry.ts';
import { initDefaultPolicy, setZonePolicy, delZonePolicy, getZonePolicy, type TimeoutAttr } from './timeouts.ts';
import { snapshotLocked, tupleMatches, type ConnInfo, type TupleFilter } from './conn.ts';
import type { SaveSection } from './save.ts';
import { expectationsSection } from './alg/exp-save.ts';

export interface ConntrackOptions extends TableOptions {}

export interface ConntrackDescriptor {
  table: TableDescriptor;
  /** The event rings (ct-events); every attached thread posts into them. */
  events: EventRingsDescriptor;
  /** The fragment module's shared configuration and counters (ipf-shared.ts). */
  ipf: SharedArrayBuffer;
}

export interface FlushFilter {
  zone?: number;
  orig?: TupleFilter;
  reply?: TupleFilter;
}

export interface ConntrackCounters {
  invalid: number;
  limitDrops: number;
  zoneLimitDrops: number;
  expired: number;
  commits: number;
  related: number;
  /** Packets dropped because no NAT tuple was free. */
  natExhausted: number;
  /** NATed connections committed. */
  natConns: number;
  /** ALG expectations created, matched by a new connection, expired or removed unused, and malformed control messages. */
  expCreated: number;
  expMatched: number;
  expExpired: number;
  algMalformed: number;
  /** Packets found invalid for a wrong IPv4 header or L4 checksum (csum.ts). */
  badChecksum: number;
}

export class Conntrack {
  readonly table: ConnTable;
  /** Save-file sections of state kept beside the table (e.g. the ALG
   *  expectation table registers one when it is created); the core
   *  sections (records, limits, policies) are always written. */
  readonly saveSections: SaveSection[] = [expectationsSection];
  private readonly path: RunPath;
  /** This thread's fragment reassembly (ipf.ts), before the ct() lookup. */
  readonly ipf: Ipf;

  /** This thread's handle on the event rings (event-ring.ts). */
  readonly events: EventRings;

  private constructor(table: ConnTable, events: EventRingsDescriptor, ipf: IpfShared) {
    this.table = table;
    this.events = new EventRings(events, table.hdr);
    table.events = this.events;
    this.path = new RunPath(table);
    this.ipf = new Ipf(ipf);
  }

  static create(opts: ConntrackOptions = {}): Conntrack {
    const t = ConnTable.create(opts);
    initDefaultPolicy(t);
    return new Conntrack(t, createEventRings(), IpfShared.create());
  }

  /** What a worker needs to attach (structured-cloneable, buffers shared). */
  shared(): ConntrackDescriptor {
    return { table: this.table.descriptor, events: this.events.descriptor, ipf: this.ipf.shared.sab };
  }

  static attach(d: ConntrackDescriptor): Conntrack {
    return new Conntrack(ConnTable.attach(d.table), d.events, IpfShared.attach(d.ipf));
  }

  /** Run packet `idx` of `batch` through the compiled ct() action `a` (execute.ts). */
  execute(batch: PacketBatch, idx: number, key: Uint32Array, keyOfs: number, a: CtExec, nowMs: number): void {
    this.path.execute(batch, idx, key, keyOfs, a, nowMs);
  }

  /**
   * execute() for the datapath, which runs packets a batch at a time: the
   * lock a packet ends with may stay held for the next packet of the batch
   * (see RunPath.executeHeld). endBatch() must follow each batch, before
   * this thread does anything else with the table.
   */
  executeInBatch(batch: PacketBatch, idx: number, key: Uint32Array, keyOfs: number, a: CtExec, nowMs: number): void {
    this.path.executeHeld(batch, idx, key, keyOfs, a, nowMs);
  }

  /** The batch is done: unlock what executeInBatch() kept. */
  endBatch(): void {
    this.path.releaseHeld();
  }

  /** Run every packet of the batch not marked dropped through execute(). */
  executeBatch(batch: PacketBatch, a: CtExec, nowMs: number, keyStride: number): void {
    for (let i = 0; i < batch.count; i++) {
      if (batch.dropped[i] !== 0) continue;
      this.path.execute(batch, i, batch.keys, i * keyStride, a, nowMs);
    }
  }

  /** Remove expired connections among the next `budget` slab slots (expiry.ts). */
  sweep(nowMs: number, budget: number): number {
    this.path.releaseHeld();
    const gone = this.table.exp.sweep(nowMs);
    if (gone !== 0) Atomics.add(this.table.hdr, H_CNT_EXP_EXPIRED, gone);
    return sweep(this.table, nowMs, budget);
  }

  /** Outstanding ALG expectations (dpctl/dump-conntrack-exp), optionally of one zone. */
  dumpExpectations(zone?: number, nowMs?: number): ExpInfo[] {
    return this.table.exp.dump(zone, nowMs);
  }

  // --- control plane (slow path) ---

  /** Delete connections matching the filter (all when empty). Returns the count. */
  flush(filter: FlushFilter = {}): number {
    this.path.releaseHeld();
    const t = this.table;
    const hw = t.highWater();
    let n = 0;
    const plain = filter.orig === undefined && filter.reply === undefined;
    for (let r = 0; r < hw; r++) {
      if (!t.isInUse(r)) continue;
      const ok = removeIf(t, r, (rr) => {
        const zone = t.rec[rr * REC_WORDS + R_KEY_ORIG + K_META] & 0xffff;
        if (filter.zone !== undefined && zone !== filter.zone) return false;
        if (plain) return true;
        const c = snapshotLocked(t.rec, t.f64, rr);
        if (filter.orig && !tupleMatches(c.orig, c.proto, filter.orig)) return false;
        if (filter.reply && !tupleMatches(c.reply, c.proto, filter.reply)) return false;
        return true;
      });
      if (ok) n++;
    }
    if (plain) {
      const gone = this.table.exp.flush(filter.zone);
      if (gone !== 0) Atomics.add(t.hdr, H_CNT_EXP_EXPIRED, gone);
    }
    return n;
  }

  /** Visit a consistent snapshot of every live (unexpired when nowMs is
   *  given) connection, optionally of one zone. */
  forEachConn(cb: (c: ConnInfo) => void, zone?: number, nowMs?: number): void {
    this.path.releaseHeld();
    const t = this.table;
    const hw = t.highWater();
    for (let r = 0; r < hw; r++) {
      if (!t.isInUse(r)) continue;
      const s = t.homeShard(r);
      t.lockShard(s);
      let c: ConnInfo | null = null;
      if (t.isInUse(r) && t.homeShard(r) === s) c = snapshotLocked(t.rec, t.f64, r);
      t.unlockShard(s);
      if (c === null) continue;
      if (zone !== undefined && c.zone !== zone) continue;
      if (nowMs !== undefined && c.expiryMs <= nowMs) continue;
      cb(c);
    }
  }

  /** Snapshot of the connections; a related one carries its parent's tuple when the parent is still there. */
  dump(zone?: number, nowMs?: number): ConnInfo[] {
    const out: ConnInfo[] = [];
    this.forEachConn((c) => out.push(c), zone, nowMs);
    if (out.some((c) => c.parentId !== 0)) {
      const byId = new Map(out.map((c) => [c.id, c.orig]));
      for (const c of out) {
        const p = c.parentId !== 0 ? byId.get(c.parentId) : undefined;
        if (p) c.parent = p;
      }
    }
    return out;
  }

  nconns(): number { return this.table.nconns(); }
  getMaxConns(): number { return this.table.maxConns(); }
  setMaxConns(n: number): void { this.table.setMaxConns(n); }
  getTcpSeqCheck(): boolean { return this.table.seqCheck(); }
  setTcpSeqCheck(on: boolean): void { this.table.setSeqCheck(on); }

  /** ct-set-limits: `default` applies to zones without a limit of their own; 0 = unlimited. */
  setLimits(defaultLimit: number | undefined, zones: { zone: number; limit: number }[]): void {
    if (defaultLimit !== undefined) this.table.setDefaultZoneLimit(defaultLimit);
    for (const z of zones) this.table.setZoneLimit(z.zone & 0xffff, z.limit);
  }

  delLimits(zones: number[]): void {
    for (const z of zones) this.table.delZoneLimit(z & 0xffff);
  }

  /** ct-get-limits: the default and, for the zones asked for (or every zone
   *  with a limit of its own), limit and count. */
  getLimits(zones?: number[]): { defaultLimit: number; zones: { zone: number; limit: number; count: number }[] } {
    const t = this.table;
    let list = zones;
    if (list === undefined) {
      list = []; // every zone with its own limit (a plain loop: no 65,536-entry array to filter)
      for (let z = 0; z < 65536; z++) if (t.zoneLimitRaw(z) >= 0) list.push(z);
    }
    return {
      defaultLimit: t.defaultZoneLimit(),
      zones: list.map((zone) => ({ zone, limit: t.zoneLimit(zone), count: t.zoneCount(zone) })),
    };
  }

  zoneCount(zone: number): number { return this.table.zoneCount(zone); }

  /** Packets of `zone` dropped because no NAT tuple was free. */
  natExhausted(zone: number): number {
    return Atomics.load(this.table.hdr, this.table.layout.natExhausted + (zone & 0xffff));
  }

  setTimeoutPolicy(zone: number, attrs: Partial<Record<TimeoutAttr, number>>): void { setZonePolicy(this.table, zone, attrs); }
  delTimeoutPolicy(zone: number): void { delZonePolicy(this.table, zone); }
  getTimeoutPolicy(zone: number): Record<TimeoutAttr, number> { return getZonePolicy(this.table, zone); }

  counters(): ConntrackCounters {
    const h = this.table.hdr;
    return {
      invalid: Atomics.load(h, H_CNT_INVALID),
      limitDrops: Atomics.load(h, H_CNT_FULL),
      zoneLimitDrops: Atomics.load(h, H_CNT_ZONE_FULL),
      expired: Atomics.load(h, H_CNT_EXPIRED),
      commits: Atomics.load(h, H_CNT_COMMITS),
      related: Atomics.load(h, H_CNT_RELATED),
      natExhausted: Atomics.load(h, H_CNT_NAT_EXHAUSTED),
      natConns: Atomics.load(h, H_CNT_NAT_CONNS),
      expCreated: Atomics.load(h, H_CNT_EXP_CREATED),
      expMatched: Atomics.load(h, H_CNT_EXP_MATCHED),
      expExpired: Atomics.load(h, H_CNT_EXP_EXPIRED),
      algMalformed: Atomics.load(h, H_CNT_ALG_MALFORMED),
      badChecksum: Atomics.load(h, H_CNT_BAD_CSUM),
    };
  }
}
