// OpenFlow meters (OpenFlow 1.3 section 5.7; ovs-ofctl(8) "Meter Syntax",
// ovs-actions(7) "meter"): the model every front end shares. The text
// parser (meter-parse.ts) and printer (meter-format.ts), the commands
// (meter-commands.ts) and the OpenFlow codec's METER_MOD / meter multipart
// messages all speak these plain types; numbers are the wire's (OFPMF13_*
// flags, OFPMBT13_* band types), so a codec copies fields one to one.
//
// An installed Meter is its config plus the datapath meter it runs on
// (src/datapath/meter.ts, a slot of the shared bucket block) and the time it
// was added. Packet counters live in the datapath (one set, shared by every
// PMD thread); the flow count is the bridge's rules that use the meter.

/** Largest ordinary meter id; the ids above are virtual meters. */
export const OFPM13_MAX = 0xffff0000;
export const OFPM13_SLOWPATH = 0xfffffffd;
export const OFPM13_CONTROLLER = 0xfffffffe;
export const OFPM13_ALL = 0xffffffff;

/** Meter flags (OFPMF13_*): the rate unit, whether bands have a burst size, whether to count. */
export const OFPMF13_KBPS = 1 << 0;
export const OFPMF13_PKTPS = 1 << 1;
export const OFPMF13_BURST = 1 << 2;
export const OFPMF13_STATS = 1 << 3;

/** Band types (OFPMBT13_*). */
export const OFPMBT13_DROP = 1;
export const OFPMBT13_DSCP_REMARK = 2;

/** One band: above `rate` (kbps or pktps, by the meter's flags) the band applies. */
export interface MeterBand {
  type: number;
  rate: number;
  /** Kilobits or packets; 0 when the meter has no `burst` flag. */
  burstSize: number;
  /** dscp_remark only: how many drop precedence levels to add. */
  precLevel: number;
}

/** A meter's configuration (ofputil_meter_config; the body of OFPMC13_ADD/MODIFY). */
export interface MeterConfig {
  meterId: number;
  /** OFPMF13_* bits. */
  flags: number;
  bands: MeterBand[];
}

export type MeterCommand = 'add' | 'modify' | 'delete';

/** A meter modification (OFPT_METER_MOD): for 'delete' only meterId counts (OFPM13_ALL: every meter). */
export interface MeterMod {
  command: MeterCommand;
  meter: MeterConfig;
}

/** A meter's statistics (OFPMP13_METER reply entry). */
export interface MeterStats {
  meterId: number;
  flowCount: number;
  packetInCount: number;
  byteInCount: number;
  durationSec: number;
  durationNsec: number;
  /** Per band: the packets and bytes it applied to (dropped, for a drop band). */
  bands: { packetCount: number; byteCount: number }[];
}

/** What the switch's meters can do (OFPMP13_METER_FEATURES reply). */
export interface MeterFeatures {
  maxMeters: number;
  /** Bit 1 << OFPMBT13_* per supported band type. */
  bandTypes: number;
  /** OFPMF13_* bits supported. */
  capabilities: number;
  maxBands: number;
  maxColor: number;
}

/** An installed meter. */
export class Meter {
  constructor(
    public config: MeterConfig,
    /** The datapath meter (slot of src/datapath/meter.ts) it runs on. */
    readonly dpId: number,
    readonly createdMs: number,
  ) {}

  get id(): number {
    return this.config.meterId;
  }
}
