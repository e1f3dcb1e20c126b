// Meters as ovs-ofctl prints them (lib/ofp-meter.c): dump-meters entries,
// meter-stats entries and meter-features. Each entry is a list of lines
// (a meter's bands go one a line, as OVS prints them).

import {
  OFPM13_ALL, OFPM13_CONTROLLER, OFPM13_MAX, OFPM13_SLOWPATH, OFPMBT13_DROP, OFPMBT13_DSCP_REMARK, OFPMF13_BURST,
  OFPMF13_KBPS, OFPMF13_PKTPS, OFPMF13_STATS, type MeterBand, type MeterConfig, type MeterFeatures, type MeterStats,
} from './meter.ts';

/** `meter=1`, `meter:all`, ... (ofputil_format_meter_id). */
export function formatMeterId(id: number, sep: '=' | ':'): string {
  if (id <= OFPM13_MAX) return `meter${sep}${id}`;
  const name = id === OFPM13_SLOWPATH ? 'slowpath' : id === OFPM13_CONTROLLER ? 'controller' : id === OFPM13_ALL ? 'all' : 'unknown';
  return `meter${sep}${name}`;
}

function formatFlags(flags: number): string {
  let s = '';
  if (flags & OFPMF13_KBPS) s += 'kbps ';
  if (flags & OFPMF13_PKTPS) s += 'pktps ';
  if (flags & OFPMF13_BURST) s += 'burst ';
  if (flags & OFPMF13_STATS) s += 'stats ';
  const rest = flags & ~(OFPMF13_KBPS | OFPMF13_PKTPS | OFPMF13_BURST | OFPMF13_STATS);
  if (rest) s += `flags:0x${rest.toString(16)} `;
  return s;
}

function formatBand(flags: number, b: MeterBand): string {
  const type = b.type === OFPMBT13_DROP ? 'drop' : b.type === OFPMBT13_DSCP_REMARK ? 'dscp_remark' : String(b.type);
  let s = `type=${type} rate=${b.rate}`;
  if (flags & OFPMF13_BURST) s += ` burst_size=${b.burstSize}`;
  if (b.type === OFPMBT13_DSCP_REMARK) s += ` prec_level=${b.precLevel}`;
  return s;
}

/** A meter as dump-meters prints it: `meter=1 kbps stats bands=` and then one line per band. */
export function formatMeterConfig(c: MeterConfig): string[] {
  return [`${formatMeterId(c.meterId, '=')} ${formatFlags(c.flags)}bands=`, ...c.bands.map((b) => formatBand(c.flags, b))];
}

/** The one-line text of a meter (dump-meters' lines joined with spaces): what add-meter takes back. */
export function meterText(c: MeterConfig): string {
  return formatMeterConfig(c).join(' ');
}

/** OVS's ofp_print_duration: whole seconds bare, milliseconds as 3 decimals, finer as needed. */
export function formatDuration(sec: number, nsec: number): string {
  if (nsec <= 0) return `${sec}s`;
  if (nsec % 1_000_000 === 0) return `${sec}.${String(nsec / 1_000_000).padStart(3, '0')}s`;
  return `${sec}.${String(nsec).padStart(9, '0').replace(/0+$/, '')}s`;
}

/** A meter's statistics as meter-stats prints them: the meter's line and one line per band. */
export function formatMeterStats(s: MeterStats): string[] {
  return [
    `${formatMeterId(s.meterId, ':')} flow_count:${s.flowCount} packet_in_count:${s.packetInCount} byte_in_count:${s.byteInCount} duration:${formatDuration(s.durationSec, s.durationNsec)} bands:`,
    ...s.bands.map((b, i) => `${i}: packet_count:${b.packetCount} byte_count:${b.byteCount}`),
  ];
}

function bitNames(bits: number, name: (bit: number) => string | null): string {
  const out: string[] = [];
  for (let i = 0; i < 32; i++) {
    const bit = (1 << i) >>> 0;
    if ((bits & bit) === 0) continue;
    out.push(name(bit) ?? `0x${bit.toString(16)}`);
  }
  return out.join(' ');
}

/** meter-features' lines. */
export function formatMeterFeatures(f: MeterFeatures): string[] {
  const band = (bit: number) => (bit === 1 << OFPMBT13_DROP ? 'drop' : bit === 1 << OFPMBT13_DSCP_REMARK ? 'dscp_remark' : null);
  const cap = (bit: number) => ({ [OFPMF13_KBPS]: 'kbps', [OFPMF13_PKTPS]: 'pktps', [OFPMF13_BURST]: 'burst', [OFPMF13_STATS]: 'stats' } as Record<number, string>)[bit] ?? null;
  return [
    `max_meter:${f.maxMeters} max_bands:${f.maxBands} max_color:${f.maxColor}`,
    `band_types: ${bitNames(f.bandTypes, band)}`,
    `capabilities: ${bitNames(f.capabilities, cap)}`,
  ];
}
