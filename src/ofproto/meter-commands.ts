// The meter commands of the control plane (ovs-ofctl add-meter, mod-meter,
// del-meters, dump-meters, meter-stats, meter-features) on a bridge's meter
// table, with OVS's checks and error names (ofproto's handle_meter_mod and
// the userspace datapath's meter_set). Each meter runs on one datapath meter
// (src/datapath/meter.ts), allocated lowest id first from the datapath's
// pool as OVS's backer does, so the megaflows of every bridge print
// `meter(N)` with the datapath's id. Deleting a meter deletes the flows that
// use it first (OpenFlow's rule, OVS's OFPRR_METER_DELETE), then revalidates.
// Text and wire (OFPT_METER_MOD, src/ctl/of-meter.ts) both change meters
// through applyMeterMod and read them through selectMeters/statsOf.

import { SwitchError } from './api.ts';
import type { Bridge } from './bridge.ts';
import { ParseError } from './errors.ts';
import {
  Meter, OFPM13_ALL, OFPM13_CONTROLLER, OFPM13_MAX, OFPM13_SLOWPATH, OFPMBT13_DROP, OFPMF13_BURST, OFPMF13_KBPS, OFPMF13_PKTPS,
  OFPMF13_STATS, type MeterConfig, type MeterFeatures, type MeterMod, type MeterStats,
} from './meter.ts';
import { formatMeterConfig, formatMeterFeatures, formatMeterStats } from './meter-format.ts';
import { parseMeterText, type MeterTextUse } from './meter-parse.ts';
import { MAX_DP_BANDS, MAX_DP_METERS, type MeterTable } from '../datapath/meter.ts';

/** The reply headers ovs-ofctl -O OpenFlow13 prints. */
export const METER_CONFIG_HEADER = 'OFPST_METER_CONFIG reply (OF1.3) (xid=0x2):';
export const METER_STATS_HEADER = 'OFPST_METER reply (OF1.3) (xid=0x2):';
export const METER_FEATURES_HEADER = 'OFPST_METER_FEATURES reply (OF1.3) (xid=0x2):';

/** What the userspace datapath's meters can do (dpif-netdev's, with swd's table size). */
export const METER_FEATURES: MeterFeatures = {
  maxMeters: MAX_DP_METERS,
  bandTypes: 1 << OFPMBT13_DROP,
  capabilities: OFPMF13_KBPS | OFPMF13_PKTPS | OFPMF13_BURST | OFPMF13_STATS,
  maxBands: MAX_DP_BANDS,
  maxColor: 0,
};

/** The meter commands as the daemon's RPC methods call them. */
export interface MeterApi {
  addMeter(bridge: string, text: string): { added: number };
  modMeter(bridge: string, text: string): { modified: number };
  /** `text`: null or `meter=all` for every meter, else `meter=N`. */
  delMeters(bridge: string, text: string | null): { deleted: number; flowsDeleted: number };
  dumpMeters(bridge: string, text: string | null): { meters: MeterConfig[]; lines: string[] };
  meterStats(bridge: string, text: string | null): { stats: MeterStats[]; lines: string[] };
  meterFeatures(bridge: string): { features: MeterFeatures; lines: string[] };
}

/** What the meter commands need from the switch. */
export interface MeterHost {
  bridge(name: string): Bridge;
  /** The datapath's meters. */
  meters(): MeterTable;
  revalidate(): void;
  now(): number;
}

const CMDLINE = { file: '(command line)', line: 1, col: 0 };

function parse(text: string, use: MeterTextUse): MeterConfig {
  try {
    return parseMeterText(text, use, CMDLINE);
  } catch (e) {
    if (e instanceof ParseError) throw new SwitchError('EPARSE', e.message);
    throw e;
  }
}

function refuse(code: string, what: string): never {
  throw new SwitchError(code, `${code}: ${what}`);
}

/** A reply's entries as ovs-ofctl prints them: a blank line between two. */
function entries(e: string[][]): string[] {
  return e.flatMap((lines, i) => (i === 0 ? lines : ['', ...lines]));
}

/** How many rules of `br` use meter `id` (meter-stats' flow_count). */
export function meterFlowCount(br: Bridge, id: number): number {
  let n = 0;
  for (const r of br.rules()) if (r.spec.actions.some((a) => a.type === 'meter' && a.meterId === id)) n++;
  return n;
}

export class MeterCommands implements MeterApi {
  constructor(private readonly host: MeterHost) {}

  /** ofproto's checks of a meter to add or modify (handle_meter_mod), before it looks the id up. */
  private checkId(c: MeterConfig): void {
    if (c.meterId === 0 || (c.meterId > OFPM13_MAX && c.meterId !== OFPM13_CONTROLLER && c.meterId !== OFPM13_SLOWPATH)) {
      refuse('OFPMMFC_INVALID_METER', `meter id ${c.meterId === OFPM13_ALL ? 'all' : c.meterId} is not valid for a meter`);
    }
    if (c.meterId > OFPM13_MAX) {
      // OVS runs these on a datapath meter of their own; swd meters neither packet-ins nor upcalls.
      const name = c.meterId === OFPM13_CONTROLLER ? 'controller' : 'slowpath';
      throw new SwitchError('ENOTSUP', `meter=${name} is not supported by swd (it does not meter packet-ins or upcalls)`);
    }
    if (c.bands.length > METER_FEATURES.maxBands) refuse('OFPMMFC_OUT_OF_BANDS', `a meter has at most ${METER_FEATURES.maxBands} bands`);
  }

  /** The datapath's checks (dpif_meter_set), after the id's, in the order OVS 3.1 makes them. */
  private checkConfig(c: MeterConfig): void {
    if ((c.flags & (OFPMF13_KBPS | OFPMF13_PKTPS)) === 0) refuse('OFPMMFC_BAD_FLAGS', "a meter needs 'kbps' or 'pktps'");
    if ((c.flags & OFPMF13_KBPS) && (c.flags & OFPMF13_PKTPS)) refuse('OFPMMFC_BAD_FLAGS', "a meter is either 'kbps' or 'pktps'");
    if (c.flags & ~METER_FEATURES.capabilities) refuse('OFPMMFC_BAD_FLAGS', `unsupported meter flags 0x${c.flags.toString(16)}`);
    if (c.bands.length === 0) refuse('OFPMMFC_OUT_OF_BANDS', 'a meter needs a band');
    for (const b of c.bands) if (b.rate === 0) refuse('OFPMMFC_BAD_RATE', 'a band needs a non-zero rate');
    for (const b of c.bands) if (b.type !== OFPMBT13_DROP) refuse('OFPMMFC_BAD_BAND', "swd's datapath runs only 'drop' bands");
  }

  private runOn(m: Meter): void {
    this.host.meters().set(m.dpId, { flags: m.config.flags, bands: m.config.bands.map((b) => ({ rate: b.rate, burstSize: b.burstSize })) }, this.host.now());
  }

  /**
   * Apply one meter mod, parsed from text or decoded from OFPT_METER_MOD:
   * the one place meters change, so both front ends refuse and do alike.
   * A refusal is a SwitchError whose code is OVS's OFPMMFC_* name (ENOTSUP
   * for the virtual meters), thrown before anything changed. Deleting a
   * meter that does not exist, or meter 0, deletes nothing and succeeds.
   */
  applyMeterMod(bridge: string, mm: MeterMod): { changed: number; flowsDeleted: number } {
    const br = this.host.bridge(bridge);
    const c = mm.meter;
    if (mm.command === 'delete') return this.deleteMeters(br, c.meterId);
    this.checkId(c);
    const old = br.meters.get(c.meterId);
    if (mm.command === 'add' && old) refuse('OFPMMFC_METER_EXISTS', `meter ${c.meterId} already exists`);
    if (mm.command === 'modify' && !old) refuse('OFPMMFC_UNKNOWN_METER', `meter ${c.meterId} does not exist`);
    this.checkConfig(c);
    // The datapath takes a burst of 0 as the rate, and OVS keeps what it took (dump-meters shows it).
    const config: MeterConfig = { meterId: c.meterId, flags: c.flags, bands: c.bands.map((b) => ({ ...b, burstSize: b.burstSize || b.rate })) };
    if (old) {
      // A new config: counters and buckets start again (as OVS's datapath); its flows stay.
      old.config = config;
      this.runOn(old);
      return { changed: 1, flowsDeleted: 0 };
    }
    const dpId = this.host.meters().alloc();
    if (dpId < 0) refuse('OFPMMFC_OUT_OF_METERS', `the datapath has no free meter (it holds ${MAX_DP_METERS})`);
    const m = new Meter(config, dpId, this.host.now());
    br.meters.set(c.meterId, m);
    this.runOn(m);
    return { changed: 1, flowsDeleted: 0 };
  }

  addMeter(bridge: string, text: string) {
    this.host.bridge(bridge);
    return { added: this.applyMeterMod(bridge, { command: 'add', meter: parse(text, 'add') }).changed };
  }

  modMeter(bridge: string, text: string) {
    this.host.bridge(bridge);
    return { modified: this.applyMeterMod(bridge, { command: 'modify', meter: parse(text, 'modify') }).changed };
  }

  delMeters(bridge: string, text: string | null) {
    this.host.bridge(bridge);
    const id = text === null || text.trim() === '' ? OFPM13_ALL : parse(text, 'delete').meterId;
    const r = this.applyMeterMod(bridge, { command: 'delete', meter: { meterId: id, flags: 0, bands: [] } });
    return { deleted: r.changed, flowsDeleted: r.flowsDeleted };
  }

  /** Delete a meter (OFPM13_ALL: every one) and, first, the flows that use it (OVS's OFPRR_METER_DELETE). */
  private deleteMeters(br: Bridge, id: number): { changed: number; flowsDeleted: number } {
    const gone = id === OFPM13_ALL ? [...br.meters.values()] : [br.meters.get(id)].filter((m): m is Meter => m !== undefined);
    let flowsDeleted = 0;
    for (const m of gone) {
      for (const r of [...br.rules()]) {
        if (r.spec.actions.some((a) => a.type === 'meter' && a.meterId === m.id)) {
          br.removeRule(r);
          flowsDeleted++;
        }
      }
      br.meters.delete(m.id);
    }
    if (gone.length) {
      br.generation++;
      this.host.revalidate();
    }
    // The datapath meter goes after the megaflows that used it (OVS postpones it past an RCU grace period).
    for (const m of gone) this.host.meters().free(m.dpId);
    return { changed: gone.length, flowsDeleted };
  }

  /** The meters a request selects, by id (OFPM13_ALL: every one); OFPMMFC_UNKNOWN_METER for a missing one. */
  selectMeters(bridge: string, id: number): Meter[] {
    const br = this.host.bridge(bridge);
    if (id === OFPM13_ALL) return [...br.meters.values()].sort((a, b) => a.id - b.id);
    const m = br.meters.get(id);
    if (!m) refuse('OFPMMFC_UNKNOWN_METER', `meter ${id} does not exist`);
    return [m];
  }

  private selected(br: Bridge, text: string | null): Meter[] {
    return this.selectMeters(br.name, text === null || text.trim() === '' ? OFPM13_ALL : parse(text, 'select').meterId);
  }

  /** Statistics of the meters `id` selects (OFPM13_ALL: every one). */
  statsOf(bridge: string, id: number): MeterStats[] {
    const br = this.host.bridge(bridge);
    const now = this.host.now();
    return this.selectMeters(bridge, id).map((m) => {
      const dp = this.host.meters().stats(m.dpId);
      const ms = Math.max(0, now - m.createdMs);
      return {
        meterId: m.id,
        flowCount: meterFlowCount(br, m.id),
        packetInCount: dp?.packets ?? 0,
        byteInCount: dp?.bytes ?? 0,
        durationSec: Math.floor(ms / 1000),
        durationNsec: Math.round((ms % 1000) * 1e6),
        bands: m.config.bands.map((_, i) => ({ packetCount: dp?.bands[i]?.packets ?? 0, byteCount: dp?.bands[i]?.bytes ?? 0 })),
      };
    });
  }

  dumpMeters(bridge: string, text: string | null) {
    const meters = this.selected(this.host.bridge(bridge), text).map((m) => m.config);
    return { meters, lines: [METER_CONFIG_HEADER, ...entries(meters.map(formatMeterConfig))] };
  }

  meterStats(bridge: string, text: string | null) {
    const br = this.host.bridge(bridge);
    const id = text === null || text.trim() === '' ? OFPM13_ALL : parse(text, 'select').meterId;
    const stats = this.statsOf(br.name, id);
    return { stats, lines: [METER_STATS_HEADER, ...entries(stats.map(formatMeterStats))] };
  }

  meterFeatures(bridge: string) {
    this.host.bridge(bridge);
    return { features: METER_FEATURES, lines: [METER_FEATURES_HEADER, ...formatMeterFeatures(METER_FEATURES)] };
  }
}
