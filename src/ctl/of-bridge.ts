// What an OpenFlow connection does to one bridge: apply flow mods and
// answer the statistics requests, on the same Bridge objects `swctl
// add-flow` and `swctl dump-flows` use (so a flow added over the wire is the
// flow swctl shows, and the other way round). Everything a request changes
// is checked first; a refused flow mod leaves the tables as they were.
// Errors leave as OfError, the OpenFlow error the connection sends.

import { checkActionPrereqs } from '../ofproto/check-actions.ts';
import { checkActions, checkFlow } from '../ofproto/flow-commands.ts';
import { Group, OFPG_ALL, OFPG_MAX, type GroupSpec } from '../ofproto/group.ts';
import { groupError, OFPGMFC_GROUP_EXISTS, OFPGMFC_INVALID_GROUP, OFPGMFC_UNKNOWN_GROUP, OFPGMFC_WATCH_UNSUPPORTED, type GroupMod, type GroupStats } from '../openflow/group-mod.ts';
import { OFPP_LOCAL } from '../ofproto/actions.ts';
import { SwitchError } from '../ofproto/api.ts';
import type { Bridge } from '../ofproto/bridge.ts';
import type { FlowSpec } from '../ofproto/flow-spec.ts';
import type { Rule } from '../ofproto/rule.ts';
import type { Switch } from '../ofproto/switch.ts';
import { packetOut } from '../ofproto/packet-out.ts';
import type { PacketOut } from '../openflow/packet.ts';
import type { MeterConfig, MeterMod, MeterStats } from '../ofproto/meter.ts';
import { meterModError } from '../openflow/meter-mod.ts';
import type { CtFlush } from '../openflow/ct-flush.ts';
import {
  OFPBAC_BAD_ARGUMENT, OFPBAC_BAD_OUT_GROUP, OFPBIC_BAD_TABLE_ID, OFPET_BAD_ACTION, OFPET_BAD_INSTRUCTION, OFPET_FLOW_MOD_FAILED,
  OFPFMFC_OVERLAP, OFPFMFC_UNKNOWN, OfError,
} from '../openflow/errors.ts';
import type { FlowMod } from '../openflow/flow-mod.ts';
import type { FlowStatsEntry, PortStatsEntry, TableStats } from '../openflow/multipart.ts';
import { OFPPC_PORT_DOWN, OFPPS_LINK_DOWN, OFPPS_LIVE, type PortDesc } from '../openflow/switch-msgs.ts';

const OFPBAC_MATCH_INCONSISTENT = 10;
/** Tables an OpenFlow controller sees (OVS hides its last table, 254). */
export const OF_TABLES = 254;

/** A SwitchError from the bridge as the OpenFlow error OVS sends for it. */
function asOfError(e: unknown): never {
  if (e instanceof OfError) throw e;
  if (e instanceof SwitchError) {
    if (e.code === 'OFPBAC_BAD_OUT_GROUP') throw new OfError(OFPET_BAD_ACTION, OFPBAC_BAD_OUT_GROUP, e.message);
    if (e.code === 'EINVAL') throw new OfError(OFPET_BAD_INSTRUCTION, OFPBIC_BAD_TABLE_ID, e.message);
    if (e.code === 'ENOTSUP') throw new OfError(OFPET_BAD_ACTION, OFPBAC_BAD_ARGUMENT, e.message);
    // [ofmeter] A flow naming a meter the bridge lacks (OFPMMFC_INVALID_METER), as OVS's ofproto_check_ofpacts.
    if (e.code.startsWith('OFPMMFC_')) throw meterModError(e.code, e.message)!;
  }
  const code = (e as { code?: string }).code;
  if (code === 'EMATCHINCONSISTENT') throw new OfError(OFPET_BAD_ACTION, OFPBAC_MATCH_INCONSISTENT, (e as Error).message);
  throw new OfError(OFPET_FLOW_MOD_FAILED, OFPFMFC_UNKNOWN, (e as Error).message);
}

/** A meter command's refusal as its OFPMMFC_* error (the virtual meters swd does not run: INVALID_METER). */
function asMeterError(e: unknown): never {
  if (e instanceof SwitchError) throw meterModError(e.code, e.message) ?? asOfError(e);
  throw e;
}

const pendingSaves = new Set<() => void>();
const SAVE_COALESCE_MS = 100;

export class OfBridge {
  constructor(
    private readonly sw: Switch,
    readonly name: string,
    /** Called after a change that must be saved (the daemon writes its database). */
    private readonly onChange: () => void,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The database save after a change, at most one per SAVE_COALESCE_MS: a
   * client sending flow mods one round trip at a time (ovs-ofctl add-flows
   * waits for a barrier after each) must not wait for a database write
   * (an fsync) per flow. swd saves on stop as well.
   */
  private changed(): void {
    if (pendingSaves.has(this.onChange)) return;
    pendingSaves.add(this.onChange);
    setTimeout(() => {
      pendingSaves.delete(this.onChange);
      this.onChange();
    }, SAVE_COALESCE_MS).unref();
  }

  get bridge(): Bridge {
    const br = this.sw.bridges.get(this.name);
    if (!br) throw new OfError(OFPET_FLOW_MOD_FAILED, OFPFMFC_UNKNOWN, `bridge ${this.name} is gone`);
    return br;
  }

  get datapathId(): bigint {
    return this.bridge.datapathId;
  }

  /** Apply one flow mod (OpenFlow 1.1+ semantics: a modify that selects nothing adds nothing). */
  flowMod(fm: FlowMod): void {
    const br = this.bridge;
    const s = fm.spec;
    const isDel = fm.command === 'delete' || fm.command === 'delete_strict';
    try {
      if (!isDel) {
        checkActionPrereqs(s, { file: 'openflow', line: 1, col: 0 }, 0);
        checkFlow(br, s, null);
      }
    } catch (e) {
      asOfError(e);
    }
    const now = this.now();
    const strict = fm.command.endsWith('_strict');
    let changed = 0;
    switch (fm.command) {
      case 'add':
        if (s.flags.includes('check_overlap') && overlaps(br, s)) throw new OfError(OFPET_FLOW_MOD_FAILED, OFPFMFC_OVERLAP, 'flow overlaps an existing flow');
        br.addFlow(s, now);
        changed = 1;
        break;
      case 'modify': case 'modify_strict':
        if (br.select(s, strict).length) changed = br.modFlows(s, strict, now);
        break;
      default:
        changed = br.delFlows(s, strict);
    }
    if (changed) {
      if (this.batch) this.batch.changed = true;
      else this.sw.revalidate();
      this.changed();
    }
  }

  /** While a bundle is applied: its flow mods revalidate the datapath once, at the end. */
  private batch: { changed: boolean } | null = null;

  /** Apply a group mod, checked as swctl's group commands check one. */
  groupMod(gm: GroupMod): void {
    const br = this.bridge;
    const g = gm.spec;
    if (gm.command === 'delete') {
      let n = 0;
      if (g.groupId === OFPG_ALL) for (const id of [...br.groups.keys()]) n += br.deleteGroup(id) ? 1 : 0;
      else n = br.deleteGroup(g.groupId) ? 1 : 0;
      if (n) {
        this.sw.revalidate();
        this.changed();
      }
      return;
    }
    if (g.groupId > OFPG_MAX) throw groupError(OFPGMFC_INVALID_GROUP, `group_id ${g.groupId} is reserved`);
    if (gm.command === 'add' && br.groups.has(g.groupId)) throw groupError(OFPGMFC_GROUP_EXISTS, `group ${g.groupId} already exists`);
    if (gm.command === 'modify' && !br.groups.has(g.groupId)) throw groupError(OFPGMFC_UNKNOWN_GROUP, `group ${g.groupId} does not exist`);
    if (g.type === 'indirect' && g.buckets.length !== 1) throw groupError(OFPGMFC_INVALID_GROUP, 'an indirect group needs exactly one bucket');
    for (const b of g.buckets) {
      if ((g.type === 'all' || g.type === 'indirect') && (b.watchPort !== null || b.watchGroup !== null)) {
        throw groupError(OFPGMFC_WATCH_UNSUPPORTED, `${g.type} groups do not watch ports or groups`);
      }
      try {
        checkActions(b.actions, null);
      } catch (e) {
        asOfError(e);
      }
    }
    br.putGroup(new Group(g, this.now()));
    this.sw.revalidate();
    this.changed();
  }

  groupDescs(): GroupSpec[] {
    return [...this.bridge.groups.values()].sort((a, b) => a.id - b.id).map((g) => g.spec);
  }

  groupStats(groupId: number): GroupStats[] {
    this.sw.dp.pushStats();
    const br = this.bridge;
    const now = this.now();
    return [...br.groups.values()]
      .filter((g) => groupId === OFPG_ALL || g.id === groupId)
      .sort((a, b) => a.id - b.id)
      .map((g) => {
        const ms = Math.max(0, now - g.createdMs);
        return {
          groupId: g.id, refCount: br.groupRefCount(g.id), packetCount: BigInt(g.nPackets), byteCount: BigInt(g.nBytes),
          durationSec: Math.floor(ms / 1000), durationNsec: (ms % 1000) * 1_000_000,
          buckets: g.bucketPackets.map((p, i) => ({ packetCount: BigInt(p), byteCount: BigInt(g.bucketBytes[i]) })),
        };
      });
  }

  // [ofmeter] Meters (of-meter.ts): the same MeterCommands as swctl's meter commands.
  /** Apply a decoded OFPT_METER_MOD; a refusal is its OFPMMFC_* error. */
  meterMod(mm: MeterMod): void {
    const br = this.bridge;
    let r: { changed: number };
    try {
      r = this.sw.meters.applyMeterMod(br.name, mm);
    } catch (e) {
      asMeterError(e);
    }
    if (r.changed) this.changed();
  }

  meterConfigs(meterId: number): MeterConfig[] {
    const br = this.bridge;
    try {
      return this.sw.meters.selectMeters(br.name, meterId).map((m) => m.config);
    } catch (e) {
      asMeterError(e);
    }
  }

  meterStats(meterId: number): MeterStats[] {
    // The meters' counters are the datapath's shared ones: nothing to push first.
    const br = this.bridge;
    try {
      return this.sw.meters.statsOf(br.name, meterId);
    } catch (e) {
      asMeterError(e);
    }
  }

  /** Flush connections (NXT_CT_FLUSH_ZONE / NXT_CT_FLUSH), as `swctl flush-conntrack` does. */
  ctFlush(f: CtFlush): number {
    const n = this.sw.dp.conntrack.flush(f);
    this.sw.revalidate(true);
    return n;
  }

  /** Execute a packet-out as if the packet arrived on its in_port. */
  packetOut(po: PacketOut): void {
    if (po.bufferId !== 0xffffffff) throw new OfError(1, 8, 'swd keeps no packet buffers (OFPBRC_BUFFER_UNKNOWN)');
    try {
      packetOut(this.sw.dp, this.bridge, po.inPort, po.actions, po.packet, this.now());
    } catch (e) {
      asOfError(e);
    }
    this.sw.revalidate();
  }

  /**
   * Apply several flow mods (a committed bundle) all or nothing: every one
   * is checked before any is applied.
   */
  flowMods(mods: FlowMod[]): void {
    const br = this.bridge;
    for (const fm of mods) {
      if (fm.command.startsWith('delete')) continue;
      try {
        checkActionPrereqs(fm.spec, { file: 'openflow', line: 1, col: 0 }, 0);
        checkFlow(br, fm.spec, null);
      } catch (e) {
        asOfError(e);
      }
    }
    const batch = (this.batch = { changed: false });
    try {
      for (const fm of mods) this.flowMod(fm);
    } finally {
      this.batch = null;
      if (batch.changed) this.sw.revalidate();
    }
  }

  private selected(filter: FlowSpec): Rule[] {
    this.sw.dp.pushStats();
    const rules = this.bridge.select(filter, false).filter((r) => r.table < OF_TABLES);
    rules.sort((a, b) => a.table - b.table || b.priority - a.priority || a.id - b.id);
    return rules;
  }

  flowStats(filter: FlowSpec): FlowStatsEntry[] {
    const now = this.now();
    return this.selected(filter).map((r) => {
      const ms = Math.max(0, now - r.createdMs);
      return { spec: r.spec, durationSec: Math.floor(ms / 1000), durationNsec: (ms % 1000) * 1_000_000, packetCount: BigInt(r.nPackets), byteCount: BigInt(r.nBytes) };
    });
  }

  aggregate(filter: FlowSpec): { packets: bigint; bytes: bigint; flows: number } {
    const rules = this.selected(filter);
    let packets = 0n, bytes = 0n;
    for (const r of rules) {
      packets += BigInt(r.nPackets);
      bytes += BigInt(r.nBytes);
    }
    return { packets, bytes, flows: rules.length };
  }

  tableStats(): TableStats[] {
    const br = this.bridge;
    const out: TableStats[] = [];
    for (let t = 0; t < OF_TABLES; t++) out.push({ tableId: t, activeCount: br.tables[t].count, lookupCount: 0n, matchedCount: 0n });
    return out;
  }

  private ports() {
    const ports = this.bridge.sortedPorts();
    // OVS lists LOCAL first.
    return ports.sort((a, b) => (a.ofport === OFPP_LOCAL ? -1 : b.ofport === OFPP_LOCAL ? 1 : a.ofport - b.ofport));
  }

  portStats(port: number | null): PortStatsEntry[] {
    const now = this.now();
    void now;
    return this.ports()
      .filter((p) => port === null || p.ofport === port)
      .map((p) => {
        const c = this.sw.dp.portStats(p.dpPort);
        const b = (n: number) => BigInt(n);
        return {
          portNo: p.ofport, rxPackets: b(c.rxPackets), txPackets: b(c.txPackets), rxBytes: b(c.rxBytes), txBytes: b(c.txBytes),
          rxDropped: b(c.rxDropped), txDropped: b(c.txDropped), rxErrors: b(c.rxErrors), txErrors: b(c.txErrors), durationSec: 0, durationNsec: 0,
        };
      });
  }

  portDescs(): PortDesc[] {
    return this.ports().map((p) => ({
      portNo: p.ofport,
      hwAddr: portMac(this.bridge.datapathId, p.ofport),
      name: p.name,
      config: p.up ? 0 : OFPPC_PORT_DOWN,
      state: p.up ? OFPPS_LIVE : OFPPS_LINK_DOWN,
      // swd does not know a link's speed or medium: none, as OVS reports for its dummy ports.
      curr: 0,
      advertised: 0,
      supported: 0,
      peer: 0,
      currSpeed: 0,
      maxSpeed: 0,
    }));
  }
}

/** A stable locally administered MAC for a port (swd's dummy ports have none of their own). */
function portMac(dpid: bigint, ofport: number): Buffer {
  const b = Buffer.alloc(6);
  b[0] = 0xaa;
  b[1] = Number((dpid >> 8n) & 0xffn);
  b[2] = Number(dpid & 0xffn);
  b.writeUInt16BE(0, 3);
  b.writeUInt16BE(ofport & 0xffff, 4);
  return b;
}

function overlaps(br: Bridge, s: FlowSpec): boolean {
  for (const e of br.tables[s.table].rules()) {
    if (e.data.priority !== s.priority) continue;
    // Two matches overlap when no bit both care about differs.
    let disjoint = false;
    const a = e.data.spec.match, m = s.match;
    for (let i = 0; i < a.value.length && !disjoint; i++) if ((a.value[i] ^ m.value[i]) & a.mask[i] & m.mask[i]) disjoint = true;
    if (!disjoint) return true;
  }
  return false;
}

export { asOfError };
