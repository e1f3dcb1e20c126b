// Groups as ovs-ofctl prints them: dump-groups lines and dump-group-stats
// lines.

import { lookupField, type FieldDef } from './fields.ts';
import { formatActions } from './format-actions.ts';
import { portLabel } from './field-text.ts';
import { DEFAULT_SELECT_WEIGHT, OVS_FIELD_NAME, type Group, type GroupSpec, type HashField } from './group.ts';
import { ipv4Str, ipv6Str, macStr } from '../packet/odp-format.ts';

function formatMaskValue(f: FieldDef, m: bigint): string {
  switch (f.kind) {
    case 'ipv4': return ipv4Str(Number(m));
    case 'ipv6': return ipv6Str([0, 1, 2, 3].map((i) => Number((m >> BigInt(96 - 32 * i)) & 0xffffffffn)));
    case 'mac': return macStr(Number(m >> 32n), Number(m & 0xffffffffn));
    case 'hex': return `0x${m.toString(16)}`;
    default: return m.toString();
  }
}

function formatHashField(h: HashField): string {
  const f = lookupField(h.field)!;
  const name = OVS_FIELD_NAME[f.name] ?? f.name;
  const full = (1n << BigInt(f.bits)) - 1n;
  return h.mask === full ? name : `${name}=${formatMaskValue(f, h.mask)}`;
}

/** A group as `ovs-ofctl dump-groups` prints it (without the leading space). */
export function formatGroup(g: GroupSpec): string {
  let s = `group_id=${g.groupId},type=${g.type}`;
  if (g.selectionMethod) {
    s += `,selection_method=${g.selectionMethod}`;
    if (g.selectionMethodParam) s += `,selection_method_param=${g.selectionMethodParam}`;
    if (g.fields.length === 1) s += `,fields=${formatHashField(g.fields[0])}`;
    else if (g.fields.length > 1) s += `,fields(${g.fields.map(formatHashField).join(',')})`;
  }
  for (const b of g.buckets) {
    s += `,bucket=bucket_id:${b.bucketId},`;
    if (b.weight !== (g.type === 'select' ? DEFAULT_SELECT_WEIGHT : 0)) s += `weight:${b.weight},`;
    if (b.watchPort !== null) s += `watch_port:${portLabel(b.watchPort)},`;
    if (b.watchGroup !== null) s += `watch_group:${b.watchGroup},`;
    s += `actions=${formatActions(b.actions)}`;
  }
  return s;
}

/** One dump-group-stats line (without the leading space), as ovs-ofctl prints it. */
export function formatGroupStats(g: Group, refCount: number, nowMs: number): string {
  const dur = Math.max(0, nowMs - g.createdMs) / 1000;
  let s = `group_id=${g.id},duration=${dur.toFixed(3)}s,ref_count=${refCount},packet_count=${g.nPackets},byte_count=${g.nBytes}`;
  for (let i = 0; i < g.bucketPackets.length; i++) s += `,bucket${i}:packet_count=${g.bucketPackets[i]},byte_count=${g.bucketBytes[i]}`;
  return s;
}
