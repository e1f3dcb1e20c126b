// Actions -> text as ovs-ofctl prints them over OpenFlow 1.0 + Nicira
// extensions (what dump-flows and parse-flows show by default): set_field
// of a field OpenFlow 1.0 can rewrite prints as its mod_* action, other
// set_fields as load:VALUE->NXM_FIELD[], pop_vlan as strip_vlan.

import { formatNat } from '../datapath/dp-actions.ts';
import { OFPP_CONTROLLER, OFPP_MAX, type CtAction, type FieldRef, type OfAction } from './actions.ts';
import { lookupRefField } from './fields.ts';
import { ipv4Str, macStr } from '../packet/odp-format.ts';
import { portLabel } from './field-text.ts';
import { formatMoreAction } from './format-actions-more.ts';

const hex = (v: bigint | number) => `0x${v.toString(16)}`;
/** printf's %#x: 0 is "0". */
const hexOvs = (v: bigint | number) => (v === 0 || v === 0n ? '0' : hex(v));

export function formatFieldRef(r: FieldRef): string {
  const f = lookupRefField(r.field)!;
  if (r.ofs === 0 && r.nbits === f.bits) return `${f.nxm}[]`;
  if (r.nbits === 1) return `${f.nxm}[${r.ofs}]`;
  return `${f.nxm}[${r.ofs}..${r.ofs + r.nbits - 1}]`;
}

/**
 * A set_field to a field without an NXM register code (OXM-only, variable-length tunnel metadata)
 * travels as NXAST_REG_LOAD2 and reads back as set_field; OXM_OF_* fields such as mpls_label still
 * travel as NXM register loads.
 */
export function setFieldStaysSetField(field: string): boolean {
  const f = lookupRefField(field);
  return f !== undefined && f.carried === false && (!(f.nxm.startsWith('NXM_NX_') || f.nxm.startsWith('OXM_OF_')) || f.name.startsWith('tun_metadata'));
}

function formatSetField(a: Extract<OfAction, { type: 'set_field' }>): string {
  const f = lookupRefField(a.field)!;
  const full = (1n << BigInt(f.bits)) - 1n;
  const mask = a.mask ?? full;
  if (setFieldStaysSetField(a.field)) {
    const v = f.kind === 'int' ? String(a.value) : hexOvs(a.value);
    return `set_field:${v}${mask === full ? '' : `/${hexOvs(mask)}`}->${f.name}`;
  }
  if (mask === full) {
    switch (f.name) {
      case 'nw_src': return `mod_nw_src:${ipv4Str(Number(a.value))}`;
      case 'nw_dst': return `mod_nw_dst:${ipv4Str(Number(a.value))}`;
      case 'eth_src': return `mod_dl_src:${macStr(Number(a.value >> 32n), Number(a.value & 0xffffffffn))}`;
      case 'eth_dst': return `mod_dl_dst:${macStr(Number(a.value >> 32n), Number(a.value & 0xffffffffn))}`;
      case 'tp_src': case 'tcp_src': case 'udp_src': return `mod_tp_src:${a.value}`;
      case 'tp_dst': case 'tcp_dst': case 'udp_dst': return `mod_tp_dst:${a.value}`;
      case 'dl_vlan': return `mod_vlan_vid:${a.value}`;
      case 'dl_vlan_pcp': return `mod_vlan_pcp:${a.value}`;
      case 'ip_dscp': return `mod_nw_tos:${a.value << 2n}`;
      case 'nw_tos': return `mod_nw_tos:${a.value}`;
    }
    // NXM register loads carry at most 64 bits: wider fields become several loads.
    if (f.bits > 64) {
      const parts: string[] = [];
      for (let ofs = 0; ofs < f.bits; ofs += 64) {
        const v = (a.value >> BigInt(ofs)) & ((1n << 64n) - 1n);
        parts.push(`load:${hexOvs(v)}->${formatFieldRef({ field: f.name, ofs, nbits: Math.min(64, f.bits - ofs) })}`);
      }
      return parts.join(',');
    }
    return `load:${hexOvs(a.value)}->${f.nxm}[]`;
  }
  // A masked set_field becomes one load per contiguous run of mask bits.
  const loads: string[] = [];
  let bit = 0;
  while (bit < f.bits) {
    if (!((mask >> BigInt(bit)) & 1n)) {
      bit++;
      continue;
    }
    let end = bit;
    while (end + 1 < f.bits && (mask >> BigInt(end + 1)) & 1n) end++;
    const n = end - bit + 1;
    const v = (a.value >> BigInt(bit)) & ((1n << BigInt(n)) - 1n);
    loads.push(`load:${hexOvs(v)}->${formatFieldRef({ field: f.name, ofs: bit, nbits: n })}`);
    bit = end + 1;
  }
  return loads.join(',');
}

function formatCt(a: CtAction): string {
  const p: string[] = [];
  if (a.commit) p.push('commit');
  if (a.force) p.push('force');
  if (a.table !== null) p.push(`table=${a.table}`);
  if (a.zoneSrc) p.push(`zone=${formatFieldRef(a.zoneSrc)}`);
  else if (a.zone) p.push(`zone=${a.zone}`);
  // Nested actions print inside exec() when there are any besides nat.
  if (a.exec.length && a.nat && a.natFirst) p.push(formatNat(a.nat), `exec(${formatActions(a.exec)})`);
  else if (a.exec.length) p.push(`exec(${formatActions(a.exec)}${a.nat ? ',' + formatNat(a.nat) : ''})`);
  else if (a.nat) p.push(formatNat(a.nat));
  if (a.alg) p.push(`alg=${a.alg}`);
  return `ct(${p.join(',')})`;
}

export function formatAction(a: OfAction): string {
  switch (a.type) {
    case 'output':
      // Output to CONTROLLER is a packet-in of the whole packet (OVS prints its max_len).
      if (a.port === OFPP_CONTROLLER) return `CONTROLLER:${a.maxLen ?? 65535}`;
      if (a.maxLen !== undefined) return `output(port=${portLabel(a.port)},max_len=${a.maxLen})`;
      return a.port < OFPP_MAX ? `output:${portLabel(a.port)}` : portLabel(a.port);
    case 'output_reg': return `output:${formatFieldRef(a.src)}`;
    case 'controller':
      if (a.reason === undefined && a.id === undefined && a.userdata === undefined && !a.pause && a.meterId === undefined) return `CONTROLLER:${a.maxLen}`;
      return `controller(${[a.reason ? `reason=${a.reason}` : null, a.maxLen !== 65535 ? `max_len=${a.maxLen}` : null, a.id !== undefined ? `id=${a.id}` : null, a.userdata ? `userdata=${a.userdata}` : null, a.pause ? 'pause' : null, a.meterId !== undefined ? `meter_id=${a.meterId}` : null].filter(Boolean).join(',')})`;
    case 'resubmit':
      if (a.table === null && !a.ct) return `resubmit:${portLabel(a.port ?? 0xfff8)}`;
      return `resubmit(${a.port === null ? '' : portLabel(a.port)},${a.table === null ? '' : a.table}${a.ct ? ',ct' : ''})`;
    // OpenFlow 1.0 has no goto_table: over 1.0/NXM it travels as resubmit(,N).
    case 'goto_table': return `resubmit(,${a.table})`;
    case 'set_field': return formatSetField(a);
    case 'load': {
      // Variable-length fields (tunnel metadata) have no NXM register load: they travel as set_field.
      if (a.dst.field.startsWith('tun_metadata')) {
        const whole = a.dst.ofs === 0 && a.dst.nbits === lookupRefField(a.dst.field)!.bits;
        const mask = ((1n << BigInt(a.dst.nbits)) - 1n) << BigInt(a.dst.ofs);
        return `set_field:${hexOvs(a.value << BigInt(a.dst.ofs))}${whole ? '' : `/${hexOvs(mask)}`}->${a.dst.field}`;
      }
      // An NXM register load carries at most 64 bits: a wider load travels as several.
      if (a.dst.nbits <= 64) return `load:${hexOvs(a.value)}->${formatFieldRef(a.dst)}`;
      const parts: string[] = [];
      for (let ofs = 0; ofs < a.dst.nbits; ofs += 64) {
        const n = Math.min(64, a.dst.nbits - ofs);
        parts.push(`load:${hexOvs((a.value >> BigInt(ofs)) & ((1n << BigInt(n)) - 1n))}->${formatFieldRef({ field: a.dst.field, ofs: a.dst.ofs + ofs, nbits: n })}`);
      }
      return parts.join(',');
    }
    case 'move': return `move:${formatFieldRef(a.src)}->${formatFieldRef(a.dst)}`;
    case 'mod_dl_src': case 'mod_dl_dst': return `${a.type}:${a.mac}`;
    case 'mod_nw_src': case 'mod_nw_dst': return `${a.type}:${a.addr}`;
    case 'mod_tp_src': case 'mod_tp_dst': return `${a.type}:${a.port}`;
    case 'mod_nw_tos': return `mod_nw_tos:${a.tos}`;
    // OpenFlow 1.1 actions travel as register loads over OpenFlow 1.0.
    case 'mod_nw_ecn': return `load:${hex(a.ecn)}->NXM_NX_IP_ECN[]`;
    case 'mod_nw_ttl': return `load:${hex(a.ttl)}->NXM_NX_IP_TTL[]`;
    case 'dec_ttl': return a.ids ? `dec_ttl(${a.ids.join(',')})` : 'dec_ttl';
    case 'push_vlan': return `push_vlan:${hex(a.ethertype)}`;
    case 'pop_vlan': case 'strip_vlan': return 'strip_vlan';
    // (set_vlan_*: OpenFlow 1.1's, which push no tag; OpenFlow 1.0 has only the mod_vlan_* kind.)
    case 'mod_vlan_vid': return `${a.noPush ? 'set' : 'mod'}_vlan_vid:${a.vid}`;
    case 'mod_vlan_pcp': return `${a.noPush ? 'set' : 'mod'}_vlan_pcp:${a.pcp}`;
    case 'note': {
      // The note is padded so the action is a multiple of 8 bytes long (OpenFlow action alignment).
      const len = Math.max(6, a.bytes.length + ((8 - ((a.bytes.length + 10) % 8)) % 8));
      const b = new Uint8Array(len);
      b.set(a.bytes);
      return `note:${[...b].map((x) => x.toString(16).padStart(2, '0')).join('.')}`;
    }
    case 'write_metadata': return a.mask === null ? `write_metadata:${hex(a.value)}` : `write_metadata:${hex(a.value)}/${hex(a.mask)}`;
    case 'clear_actions': return 'clear_actions';
    case 'group': return `group:${a.groupId}`;
    case 'ct': return formatCt(a);
    case 'ct_clear': return 'ct_clear';
    case 'conjunction': return `conjunction(${a.id},${a.clause}/${a.nClauses})`;
    default: return formatMoreAction(a, { ref: formatFieldRef, list: formatActions }) ?? a.type;
  }
}

export function formatActions(actions: OfAction[]): string {
  if (actions.length === 0) return 'drop';
  // After another instruction (write_actions, clear_actions, write_metadata) goto_table stays an
  // instruction: as resubmit it would be an action out of order, and the text would not read back.
  const instr = actions.findIndex((a) => a.type === 'write_actions' || a.type === 'clear_actions' || a.type === 'write_metadata');
  return actions.map((a, i) => (a.type === 'goto_table' && instr >= 0 && instr < i ? `goto_table:${a.table}` : formatAction(a))).join(',');
}
