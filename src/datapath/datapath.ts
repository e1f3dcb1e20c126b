// The datapath (fast path), modelled on OVS's dpif-netdev: ports, the
// megaflow cache, upcalls on a miss, action execution and recirculation.
// It knows nothing of OpenFlow: translation is the `upcall` function the
// owner passes in, and conntrack is the `ConntrackHook`.
//
// Packet path per batch: extract keys -> megaflow lookup of the whole batch
// (emc.ts, megaflow.ts) -> per packet: a miss looked up again, else an upcall
// and install; execute actions (output, set, vlan, ct, recirc). Ports that
// offload (flowtable.ts) take their packets one by one.
// The packet that caused an upcall is not counted in the new megaflow's
// stats (OVS counts it against the OpenFlow rules during translation).
// Single-threaded per Datapath instance.

import { IPF_HELD } from '../conntrack/ipf.ts';
import { BATCH_MAX, PacketBatch } from '../packet/batch.ts';
import { extractBatch, extractBatchZeroed, extractHeaders, FK_HEADER_FIRST, ParseStats } from '../packet/extract.ts';
import {
  ETH_TYPE_IPV6, FK_CT_IPV6_DST, FK_CT_STATE, FK_IN_PORT, FK_NW_FRAG, FK_NW_PROTO, FK_PKT_MARK, FK_RECIRC_ID,
  FK_TCP_FLAGS, FK_WORDS, FRAG_ANY, IPPROTO_TCP,
} from '../packet/flow-key.ts';
import {
  DPA_CT, DPA_CT_CLEAR, DPA_OUTPUT, DPA_POP_VLAN, DPA_PUSH_VLAN, DPA_RECIRC, DPA_SET, DPA_SET_PKT_MARK,
  DPA_USERSPACE, DPA_METER, DPA_CHECK_PKT_LEN, type DpAction,
} from './dp-actions.ts';
import { MeterTable } from './meter.ts';
import { MeterBatch } from './meter-batch.ts';
import { MegaflowCache, recordOf, type Megaflow } from './megaflow.ts';
import { REC_F64, REC_F_BYTES, REC_F_PACKETS, REC_F_USED, REC_TCP_FLAGS, REC_WORDS } from './mf-records.ts';
import { FlowCache, LOOKUP_EMC, LOOKUP_SMC } from './emc.ts';
import { applySet } from './set-fields.ts';
import { popVlan, pushVlan } from './vlan.ts';
import { sameActions, sameMask } from './dp-actions.ts';
import { FlowTable, FlowtableConfig, type FlowtableHost, type OffloadConntrack } from './flowtable.ts';
import { UPCALL_QUEUED, type DatapathStats, type Revalidate, type Upcall, type UpcallResult } from './dp-types.ts';
export { UPCALL_QUEUED, type DatapathStats, type Revalidate, type Upcall, type UpcallResult } from './dp-types.ts';
import { isRxBackend, type DpPort } from './port.ts';
import { PortMap } from './port-map.ts';
import type { ConntrackHook } from './ct-hook.ts';
export { conntrackHook, type ConntrackHook } from './ct-hook.ts';

/** OVS's limit on recirculations of one packet. */
export const MAX_RECIRC_DEPTH = 6;
export const MEGAFLOW_IDLE_MS = 10_000;

export class Datapath implements FlowtableHost {
  readonly ports = new PortMap();
  /** The offload fast path (flowtable.ts); its configuration is shared with the PMD threads. */
  flowtable: FlowTable;
  readonly cache = new MegaflowCache();
  /** The datapath's meters (meter.ts): one shared block for the main thread and every PMD thread. */
  meters = new MeterTable();
  private readonly meterBatch = new MeterBatch();
  /** Set while processBatch runs a batch meter-batch.ts prepared. */
  private meterBatched = false;
  /** The exact-match and signature caches in front of `cache` (emc.ts). */
  readonly flowCache = new FlowCache(this.cache);
  readonly parseStats = new ParseStats();
  readonly stats: DatapathStats = {
    hit: 0, emcHit: 0, smcHit: 0, recirc: 0, missed: 0, lost: 0, dropped: 0, recircTooDeep: 0, ctUnavailable: 0, controller: 0,
  };
  private readonly batch = new PacketBatch();
  private readonly upcallKey = new Uint32Array(FK_WORDS);
  // lookupAndRun's scratch: the packets looked up, and each one's megaflow (slot + 1) and lookup stage.
  private readonly batchPkt = new Int32Array(BATCH_MAX);
  private readonly batchSlots = new Int32Array(BATCH_MAX);
  private readonly levels = new Uint8Array(BATCH_MAX);
  private now = 0;
  /** The next lookup is a resumed packet's: 1 = not a hit in the stats, 2 = nor in the megaflow's counters. */
  private resumeSkip = 0;

  constructor(
    private readonly upcall: Upcall,
    public conntrack: ConntrackHook | null = null,
    /** Without one, revalidate() drops every megaflow (PMD threads refill on demand). */
    private readonly retranslate: Revalidate | null = null,
    offloadConfig: FlowtableConfig = new FlowtableConfig(),
  ) {
    const c = conntrack;
    this.flowtable = new FlowTable(offloadConfig, c?.offloadBegin && c.offloadHit && c.offloadCredit && c.offloadEnd ? (c as OffloadConntrack) : null);
  }

  addPort(port: DpPort): void {
    if (this.ports.has(port.number)) throw new Error(`datapath port ${port.number} already exists`);
    this.ports.set(port.number, port);
  }

  removePort(n: number): void {
    const p = this.ports.get(n);
    if (!p) return;
    this.ports.delete(n);
    this.flowtable.flush();
    p.close();
  }

  /** Receive packets on port `inPort` (copied into the batch buffers). Returns how many were processed. */
  receive(inPort: number, packets: Uint8Array[], nowMs: number): number {
    const port = this.ports.get(inPort);
    if (!port) return 0;
    const b = this.batch;
    let n = 0;
    for (let i = 0; i < packets.length; ) {
      b.clear();
      while (i < packets.length && b.count < 32) {
        const p = packets[i++];
        if (b.push(p) < 0) {
          port.stats.rxDropped++;
          continue;
        }
        port.stats.rxPackets++;
        port.stats.rxBytes += p.length;
      }
      this.processBatch(b, inPort, nowMs);
      n += b.count;
    }
    return n;
  }

  /**
   * Run one packet (an OpenFlow packet-out) through actions `translate`
   * computes from its key, as if it arrived on `inPort` (slow path).
   */
  executePacket(inPort: number, packet: Uint8Array, nowMs: number, translate: (key: Uint32Array) => DpAction[]): void {
    const b = this.batch;
    this.now = nowMs;
    b.clear();
    if (b.push(packet) < 0) return;
    extractBatch(b, this.parseStats);
    b.keys.fill(0, 0, FK_HEADER_FIRST);
    b.keys[FK_IN_PORT] = inPort;
    const actions = translate(Uint32Array.from(b.keys.subarray(0, FK_WORDS)));
    this.execute(b, 0, actions, 0);
    this.conntrack?.endBatch?.();
    for (const p of this.ports.values()) if (p.txPending) p.flush();
  }

  /** Process a filled batch that arrived on `inPort`. */
  processBatch(b: PacketBatch, inPort: number, nowMs: number): void {
    this.now = nowMs;
    extractBatchZeroed(b, this.parseStats);
    const keys = b.keys;
    for (let i = 0; i < b.count; i++) keys[i * FK_WORDS + FK_IN_PORT] = inPort;
    this.conntrack?.ipf?.expire(nowMs);
    if (this.flowtable.config.words[inPort & 0xffff] === 0) this.lookupAndRun(b, nowMs);
    else {
      for (let i = 0; i < b.count; i++) {
        this.processPacket(b, i, 0);
        if (b.ipf[i] >= 0) this.releaseFragments(b, i);
      }
      this.flowtable.endBatch();
    }
    this.conntrack?.endBatch?.();
    for (const p of this.ports.values()) if (p.txPending) p.flush();
  }

  /**
   * A batch from a port that offloads nothing: every megaflow looked up
   * together (FlowCache.lookupBatch), then the actions run in batch order. A
   * miss, or a megaflow gone meanwhile, takes the one-packet path, which looks
   * again first (an earlier packet's upcall may have installed it, as OVS's
   * fast_path_processing looks again before an upcall).
   */
  private lookupAndRun(b: PacketBatch, nowMs: number): void {
    const n = b.count;
    const slots = this.batchSlots, pkt = this.batchPkt, levels = this.levels, cache = this.cache;
    const removals = cache.removals;
    for (let i = 0; i < n; i++) pkt[i] = i;
    this.flowCache.lookupBatch(b.keys, pkt, n, slots, levels);
    // Meters per megaflow and batch (meter-batch.ts): this port offloads nothing, so every packet meets its megaflow.
    const metered = this.meters.any;
    if (metered) this.meterBatch.prepare(b, slots, cache.actionsBySlot, this.meters, nowMs);
    this.meterBatched = metered;
    // Each hit's record (its counters) was read by the lookup's compare (mf-records.ts): credit() writes a line in the cache.
    for (let i = 0; i < n; i++) {
      const s = slots[i] - 1;
      // Nothing removed since the lookup (an upcall's flush, say): the slot still holds that megaflow.
      if (s >= 0 && cache.removals === removals) {
        this.credit(s, b, i, levels[i], 0);
        this.execute(b, i, cache.actionsBySlot[s], 0);
      } else this.processPacketFull(b, i, 0);
      if (b.ipf[i] >= 0) this.releaseFragments(b, i);
    }
    if (metered) this.meterBatch.end(n);
    this.meterBatched = false;
  }

  /** A lookup of packet i found the megaflow in `slot` at stage `level` (LOOKUP_*): the stats and its counters (resumeSkip's `skip`). */
  private credit(slot: number, b: PacketBatch, i: number, level: number, skip: number): void {
    if (skip === 0) {
      this.stats.hit++;
      if (level === LOOKUP_EMC) this.stats.emcHit++;
      else if (level === LOOKUP_SMC) this.stats.smcHit++;
    }
    const rec = this.cache.records;
    const r = recordOf(slot);
    const c = rec.f64, o = r * REC_F64;
    if (skip !== 2) {
      c[o + REC_F_PACKETS] += 1;
      c[o + REC_F_BYTES] += b.len[i];
    }
    c[o + REC_F_USED] = this.now;
    const k = i * FK_WORDS;
    if (b.keys[k + FK_NW_PROTO] === IPPROTO_TCP) rec.words[r * REC_WORDS + REC_TCP_FLAGS] |= b.keys[k + FK_TCP_FLAGS];
  }

  /**
   * Read what a real-traffic port has received, batch by batch, up to
   * `maxBatches`; never blocks. Returns the number of packets processed.
   */
  pollPort(port: DpPort, maxBatches: number, nowMs: number): number {
    const be = port.backend;
    if (!isRxBackend(be)) return 0;
    const b = this.batch;
    let n = 0;
    for (let k = 0; k < maxBatches; k++) {
      b.clear();
      if (be.receive(b, BATCH_MAX, port.stats) === 0) break;
      this.processBatch(b, port.number, nowMs);
      n += b.count;
      this.batches++;
    }
    return n;
  }

  /**
   * Run packets that waited for an upcall (UPCALL_QUEUED) from where they
   * missed: `meta` holds each one's metadata words (FK_HEADER_FIRST each) at
   * the miss, `depth` its recirculation depth; headers are parsed again. A
   * resumed lookup is not a hit (it was a miss); one with `credited[i]` (the
   * translation credited the rules) is not in the megaflow's counters either.
   */
  processResumed(b: PacketBatch, meta: Uint32Array, depth: Uint8Array, credited: Uint8Array, nowMs: number): void {
    this.now = nowMs;
    extractBatch(b, this.parseStats);
    const keys = b.keys;
    for (let i = 0; i < b.count; i++) {
      const k = i * FK_WORDS;
      for (let w = 0; w < FK_HEADER_FIRST; w++) keys[k + w] = meta[i * FK_HEADER_FIRST + w];
    }
    for (let i = 0; i < b.count; i++) {
      this.resumeSkip = credited[i] ? 2 : 1;
      this.processPacket(b, i, depth[i]);
      if (b.ipf[i] >= 0) this.releaseFragments(b, i);
    }
    this.flowtable.endBatch();
    this.conntrack?.endBatch?.();
    this.resumeSkip = 0;
    for (const p of this.ports.values()) if (p.txPending) p.flush();
  }

  /** Batches processed by pollPort (pmd-stats-show). */
  batches = 0;

  /** A reassembled packet's processing has ended: its fragments are freed (ipf.ts). */
  private releaseFragments(b: PacketBatch, i: number): void {
    this.conntrack?.ipf?.release(b.ipf[i], true);
    b.ipf[i] = -1;
  }

  private processPacket(b: PacketBatch, i: number, depth: number): void {
    const ft = this.flowtable;
    // Fragments are never offloaded: they meet the reassembly at ct() (ipf.ts).
    if (depth === 0 && this.resumeSkip === 0 && (b.keys[i * FK_WORDS + FK_NW_FRAG] & FRAG_ANY) === 0) {
      if (ft.tryHit(this, b, i, this.now)) return;
      if (ft.tracing) {
        this.processPacketFull(b, i, 0);
        ft.traceEnd(b, i, this.now);
        return;
      }
    }
    this.processPacketFull(b, i, depth);
  }

  private processPacketFull(b: PacketBatch, i: number, depth: number): void {
    const keys = b.keys;
    const k = i * FK_WORDS;
    const mf = this.flowCache.lookup(keys, k);
    if (this.flowtable.tracing) {
      if (mf !== null) this.flowtable.traceMegaflow(mf);
      else this.flowtable.traceFail();
    }
    const skip = this.resumeSkip;
    this.resumeSkip = 0;
    let actions: DpAction[];
    if (mf !== null) {
      this.credit(mf.index, b, i, this.flowCache.level, skip);
      actions = mf.actions;
    } else {
      this.stats.missed++;
      const uk = this.upcallKey;
      for (let w = 0; w < FK_WORDS; w++) uk[w] = keys[k + w];
      let res: UpcallResult | null;
      try {
        res = this.upcall(Uint32Array.from(uk), b.len[i], b, i, depth);
      } catch {
        res = null;
      }
      if (res === UPCALL_QUEUED) return;
      if (res === null || res.error) {
        this.stats.lost++;
        return;
      }
      const inst = this.cache.insert(uk, 0, res.mask, res.actions, this.now, res.owner ?? null);
      if (inst !== null) this.flowCache.installed(uk, 0, inst);
      actions = res.actions;
    }
    this.execute(b, i, actions, depth);
  }

  private execute(b: PacketBatch, i: number, actions: DpAction[], depth: number): void {
    if (actions.length === 0) {
      // A reassembled datagram dropped is its fragments dropped (the packets that came in).
      this.stats.dropped += b.ipf[i] >= 0 && this.conntrack?.ipf ? this.conntrack.ipf.fragments(b.ipf[i]) : 1;
      return;
    }
    b.dropped[i] = 0;
    this.runActions(b, i, actions, depth);
  }

  /** Run `actions` on packet i; false when the packet's processing ended (dropped, held, recirculated too deep). */
  private runActions(b: PacketBatch, i: number, actions: DpAction[], depth: number): boolean {
    const keys = b.keys;
    const k = i * FK_WORDS;
    for (let a = 0; a < actions.length; a++) {
      const act = actions[a];
      switch (act.t) {
        case DPA_OUTPUT: {
          if (this.flowtable.tracing) this.flowtable.traceOutput(act.port, keys, k);
          this.outputTo(act.port, b, i);
          break;
        }
        case DPA_SET:
          applySet(b, i, act.words, act.values);
          break;
        case DPA_PUSH_VLAN:
          this.flowtable.traceFail();
          pushVlan(b, i, act.tpid, act.tci);
          break;
        case DPA_POP_VLAN:
          this.flowtable.traceFail();
          popVlan(b, i);
          break;
        case DPA_CT:
          if (this.conntrack === null) {
            this.stats.ctUnavailable++;
            return false;
          }
          // A fragment is held until its datagram is whole (ipf.ts), then tracked whole.
          if (((keys[k + FK_NW_FRAG] & FRAG_ANY) !== 0 || b.ipf[i] >= 0) && this.conntrack.ipf
            && this.conntrack.ipf.preprocess(b, i, keys, k, act.exec.zone, this.now) === IPF_HELD) return false;
          this.conntrack.execute(b, i, keys, k, act, this.now);
          if (b.dropped[i]) return false;
          if (this.flowtable.tracing) {
            if (b.ipf[i] >= 0) this.flowtable.traceFail();
            else this.flowtable.traceCt(b, i);
          }
          break;
        case DPA_CT_CLEAR:
          // ct_state through ct_ipv6_dst, ct_label included (flow-key.ts keeps the ct words together).
          for (let w = FK_CT_STATE; w <= FK_CT_IPV6_DST + 3; w++) keys[k + w] = 0;
          b.ctConn[i] = 0;
          break;
        case DPA_RECIRC:
          // As dpif-netdev: a packet may recirculate MAX_RECIRC_DEPTH times (depth 0..MAX-1 may recirculate).
          if (depth >= MAX_RECIRC_DEPTH) {
            this.stats.recircTooDeep++;
            return false;
          }
          keys[k + FK_RECIRC_ID] = act.id;
          this.stats.recirc++;
          this.processPacketFull(b, i, depth + 1);
          break;
        case DPA_USERSPACE:
          this.flowtable.traceFail();
          this.stats.controller++;
          // Slow path by nature (OVS's upcall): a copy of the packet for the controller connections.
          if (this.onUserspace !== null) this.onUserspace(keys[k + FK_IN_PORT], b.bytes(i).slice(), act.userdata ?? 0);
          break;
        case DPA_SET_PKT_MARK:
          keys[k + FK_PKT_MARK] = act.mark;
          break;
        case DPA_METER:
          // A hit of an offloaded entry would skip the bucket: a metered path is never offloaded.
          this.flowtable.traceFail();
          {
            // Charged with the rest of its megaflow's packets of the batch (meter-batch.ts), or now.
            const v = depth === 0 && this.meterBatched ? this.meterBatch.verdict(i, act) : -1;
            if (v === 0 || (v < 0 && !this.meters.run(act.id, b.len[i], this.now))) return false;
          }
          break;
        case DPA_CHECK_PKT_LEN:
          this.flowtable.traceFail();
          if (!this.runActions(b, i, b.len[i] > act.size ? act.gt : act.le, depth)) return false;
          break;
      }
    }
    return true;
  }

  applySetTo(b: PacketBatch, i: number, words: Int32Array, values: Uint32Array): void {
    applySet(b, i, words, values);
  }

  outputTo(port: number, b: PacketBatch, i: number): void {
    const p = this.ports.port(port);
    if (p === undefined) return;
    // A reassembled datagram leaves as its original fragments (ipf.ts).
    if (b.ipf[i] >= 0 && this.conntrack?.ipf) this.conntrack.ipf.transmitFragments(b.ipf[i], b, i, p, this.now);
    else p.transmit(b.data[i], b.start[i], b.len[i], this.now, b.gso[i]);
  }

  // ---------------------------------------------------------------- management

  /** Re-translate every megaflow: drop those whose mask changed or whose translation fails, update the actions of those whose actions changed. Returns how many were removed or updated. */
  revalidate(): number {
    this.flowtable.flush();
    let removed = 0;
    for (const mf of this.cache.entries()) {
      let res: UpcallResult | null;
      try {
        res = this.retranslate ? this.retranslate(Uint32Array.from(mf.origKey)) : null;
      } catch {
        res = null;
      }
      if (res === null || res.error || !sameMask(res.mask, mf.mask)) {
        this.onRemove?.(mf);
        this.cache.remove(mf);
        removed++;
      } else if (!sameActions(res.actions, mf.actions)) {
        // Same match, new actions: modified in place, keeping its counters
        // (OVS's revalidator does the same, UKEY_MODIFY). What it carried so
        // far is credited to its old owner first.
        this.onRemove?.(mf);
        mf.actions = res.actions;
        mf.owner = res.owner ?? mf.owner;
        removed++;
      } else mf.owner = res.owner ?? mf.owner;
    }
    // The cache checks each entry's megaflow on lookup, so a revalidation that
    // removed none (a flow mod no megaflow went through) skips the sweep.
    if (removed > 0) this.flowCache.sweep();
    return removed;
  }

  /** Called for each megaflow before it leaves the cache (to push its last stats). */
  onRemove: ((mf: Megaflow) => void) | null = null;
  /** Where controller-bound packets (userspace action) go; null (a PMD thread's datapath): counted only. */
  onUserspace: ((dpInPort: number, packet: Uint8Array, userdata: number) => void) | null = null;

  /** Idle time after which a megaflow is removed (OVS other_config:max-idle). */
  maxIdleMs = MEGAFLOW_IDLE_MS;

  expire(nowMs: number): number {
    const dead = this.cache.expire(nowMs, this.maxIdleMs);
    if (dead.length > 0) {
      this.flowtable.dropMegaflows(dead);
      this.flowCache.sweep();
    }
    this.flowtable.expire(nowMs);
    for (const mf of dead) this.onRemove?.(mf);
    return dead.length;
  }

  flushFlows(): number {
    this.flowtable.flush();
    for (const mf of this.cache.entries()) this.onRemove?.(mf);
    this.flowCache.clear();
    return this.cache.clear();
  }
}


export { extractHeaders, ETH_TYPE_IPV6 };
