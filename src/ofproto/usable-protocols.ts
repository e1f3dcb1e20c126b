// Which OpenFlow protocol variants can carry a flow, computed as ovs-ofctl
// computes it (OVS's enum ofputil_protocol): each match field narrows the set
// by how it is matched (meta-flow's usable_protocols_exact / _cidr /
// _bitwise, mf_set()), flags and table ids narrow it (parse_ofp_str__), and
// so do actions, once when parsed (parse_PUSH_VLAN, parse_SET_FIELD, ...)
// and once when checked against the match (ofpacts_check's
// inconsistent_match(): an action on a header the match does not pin is
// valid only over OpenFlow 1.0, whose switches skip it). Slow path.

import {
  ETH_TYPE_IP, ETH_TYPE_IPV6, ETH_TYPE_MPLS, ETH_TYPE_MPLS_MCAST, ETH_TYPE_NSH, FK_ETH_TYPE, FK_NW_FRAG, FK_NW_PROTO,
  FK_NW_TOS, FK_TP_DST, FK_TP_SRC, FK_VLAN_TCI, FRAG_LATER, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, VLAN_CFI,
} from '../packet/flow-key.ts';
import type { OfAction } from './actions.ts';
import type { FlowSpec } from './flow-spec.ts';
import type { Match } from './match.ts';

// The protocol variants, in ovs-ofctl's order of preference (its bit order).
export const P_OF10_STD = 1 << 0; // OpenFlow10-table_id
export const P_OF10_STD_TID = 1 << 1; // OpenFlow10+table_id
export const P_OF10_NXM = 1 << 2; // NXM-table_id
export const P_OF10_NXM_TID = 1 << 3; // NXM+table_id
export const P_OF11 = 1 << 4;
export const P_OF12 = 1 << 5;
export const P_OF13 = 1 << 6;
export const P_OF14 = 1 << 7;
export const P_OF15 = 1 << 8;
export const P_ANY = (1 << 9) - 1;
export const P_OF10_ANY = P_OF10_STD | P_OF10_STD_TID | P_OF10_NXM | P_OF10_NXM_TID;
export const P_OXM = P_OF12 | P_OF13 | P_OF14 | P_OF15;
export const P_OF11_UP = P_OF11 | P_OXM;
export const P_OF12_UP = P_OXM;
export const P_OF13_UP = P_OF13 | P_OF14 | P_OF15;
export const P_OF15_UP = P_OF15;
const P_NXM_ANY = P_OF10_NXM | P_OF10_NXM_TID;
export const P_NXM_OF11_UP = P_NXM_ANY | P_OF11_UP;
export const P_NXM_OXM_ANY = P_NXM_ANY | P_OXM;
/** The variants that carry a table id (OFPUTIL_P_TID). */
export const P_TID = P_OF10_STD_TID | P_OF10_NXM_TID | P_OF11 | P_OXM;

export const PROTOCOL_NAMES: [number, string][] = [
  [P_OF10_STD, 'OpenFlow10-table_id'], [P_OF10_STD_TID, 'OpenFlow10+table_id'], [P_OF10_NXM, 'NXM-table_id'],
  [P_OF10_NXM_TID, 'NXM+table_id'], [P_OF11, 'OpenFlow11'], [P_OF12, 'OXM-OpenFlow12'], [P_OF13, 'OXM-OpenFlow13'],
  [P_OF14, 'OXM-OpenFlow14'], [P_OF15, 'OXM-OpenFlow15'],
];
const ABBREVS: [number, string][] = [
  [P_ANY, 'any'], [P_OF10_STD | P_OF10_STD_TID, 'OpenFlow10'], [P_NXM_ANY, 'NXM'], [P_OXM, 'OXM'],
];

/** ovs-ofctl's ofputil_protocols_to_string. */
export function protocolsToString(set: number): string {
  const out: string[] = [];
  let rest = set;
  for (const [bits, name] of ABBREVS) {
    if ((rest & bits) === bits) {
      out.push(name);
      rest &= ~bits;
    }
  }
  for (const [bit, name] of PROTOCOL_NAMES) if (rest & bit) out.push(name);
  return out.join(',');
}

// Per field (by every name it has): the protocols that can match it exactly, with a CIDR mask, and
// with any other mask, from the OF1.0 / OF1.1 / NXM-OXM columns of ovs-fields(7) as OVS's
// extract-ofp-fields derives them. A = any, B = NXM, OpenFlow 1.1 and OXM, N = NXM and OXM,
// 0 = none. Fields not listed are NXM/OXM only, maskable: "NNN".
const CLASS: Record<string, number> = { A: P_ANY, B: P_NXM_OF11_UP, N: P_NXM_OXM_ANY, '0': 0 };
const FIELD_CLASSES: Record<string, string> = {};
for (const [cls, names] of Object.entries({
  N00: 'recirc_id packet_type conj_id actset_output ct_zone ct_nw_proto mpls_bos mpls_ttl nw_ttl icmpv6_type icmpv6_code nd_reserved nd_options_type nsh_mdtype nsh_np nsh_spi nsp nsh_si nsi nsh_ttl',
  '000': 'tun_ttl tun_tos skb_priority',
  BBB: 'metadata',
  A00: 'in_port eth_type dl_type dl_vlan dl_vlan_pcp vlan_pcp nw_proto ip_proto nw_tos ip_dscp arp_op icmp_type icmp_code',
  B00: 'in_port_oxm mpls_label mpls_tc nw_ecn ip_ecn',
  ABB: 'eth_src dl_src eth_dst dl_dst',
  ANN: 'vlan_tci vlan_vid tcp_src tp_src tcp_dst tp_dst udp_src udp_dst',
  AAB: 'ip_src nw_src ip_dst nw_dst arp_spa arp_tpa',
  BNN: 'sctp_src sctp_dst',
})) for (const n of names.split(' ')) FIELD_CLASSES[n] = cls;

/**
 * What matching field `name` (of `bits` bits) with `mask` allows (OVS's
 * mf_set): exact -> the exact set, an empty mask -> any (except tunnel
 * metadata, whose presence is still matched), otherwise the CIDR set when
 * the mask's first 32 bits are a prefix, else the bitwise set.
 */
export function fieldUsable(name: string, bits: number, mask: bigint): number {
  const cls = FIELD_CLASSES[name.toLowerCase()] ?? 'NNN';
  const full = (1n << BigInt(bits)) - 1n;
  if ((mask & full) === full) return CLASS[cls[0]];
  if (mask === 0n && !name.startsWith('tun_metadata')) return P_ANY;
  if (cls[1] === cls[2]) return CLASS[cls[1]];
  // (OVS reads the mask's first 32 bits as an IPv4 netmask; only IPv4 fields differ here.)
  const m32 = Number(bits >= 32 ? (mask >> BigInt(bits - 32)) & 0xffffffffn : mask << BigInt(32 - bits));
  const inv = ~m32 >>> 0;
  return CLASS[(inv & (inv + 1)) === 0 ? cls[1] : cls[2]];
}

/** The protocols a set_field to `name` can travel over (mf->usable_protocols_exact). */
export function setFieldUsable(name: string): number {
  return CLASS[(FIELD_CLASSES[name.toLowerCase()] ?? 'NNN')[0]];
}

const SET_FIELD_NAMES: Record<string, string> = { tp_src: 'tcp_src', tp_dst: 'tcp_dst', dl_vlan: 'vlan_vid' };

/**
 * The actions' part, as OVS's ofpacts_parse_instructions (restrictions while
 * parsing) and ofpacts_check (inconsistencies with the match) compute it.
 */
export function actionsUsable(spec: FlowSpec): number {
  return parseUsable(spec.actions, { usable: P_ANY }, true) & checkUsable(spec.actions, flowOf(spec.match));
}

function parseUsable(actions: OfAction[], acc: { usable: number }, instructions: boolean): number {
  for (const a of actions) {
    switch (a.type) {
      case 'push_vlan': acc.usable &= P_OF11_UP; break;
      case 'set_field': acc.usable &= setFieldUsable(SET_FIELD_NAMES[a.field] ?? a.field); break;
      case 'write_metadata': acc.usable &= P_NXM_OF11_UP; break;
      case 'meter': acc.usable &= instructions ? P_OF13_UP : P_OF13_UP & P_OF15_UP; break;
      case 'encap': acc.usable &= P_OF13_UP; break;
      // OVS parses clone()'s actions with the same accumulator, which it first resets to "any":
      // what came before a clone no longer narrows the set (ofpacts_parse_copy).
      case 'clone': acc.usable = P_ANY; parseUsable(a.actions, acc, false); break;
      case 'write_actions': parseUsable(a.actions, acc, false); break;
      case 'ct': acc.usable &= parseUsable(a.exec, { usable: P_ANY }, false); break;
      default: break;
    }
  }
  return acc.usable;
}

/** The match's values as ofpacts_check sees them (the flow it temporarily changes). */
interface CheckFlow {
  ethernet: boolean;
  dlType: number;
  nwProto: number;
  later: boolean;
  vlans: number[];
}

function flowOf(m: Match): CheckFlow {
  const pt = /^packet_type=\((\d+),0x([0-9a-f]+)\)$/.exec(m.extra?.find((e) => e.name === 'packet_type')?.text ?? '');
  return {
    ethernet: pt === null || (pt[1] === '0' && pt[2] === '0'),
    dlType: pt && pt[1] === '1' ? parseInt(pt[2], 16) : m.value[FK_ETH_TYPE],
    nwProto: m.value[FK_NW_PROTO] & 0xff,
    later: (m.value[FK_NW_FRAG] & FRAG_LATER) !== 0,
    vlans: [m.value[FK_VLAN_TCI] & 0xffff, 0],
  };
}

const isIpAny = (f: CheckFlow) => f.dlType === ETH_TYPE_IP || f.dlType === ETH_TYPE_IPV6;
const isMpls = (t: number) => t === ETH_TYPE_MPLS || t === ETH_TYPE_MPLS_MCAST;

function checkUsable(actions: OfAction[], f: CheckFlow): number {
  let usable = P_ANY;
  const inconsistent = () => { usable &= P_OF10_ANY; };
  // (ofpacts_check restores the flow after the list; nested lists see the changes so far.)
  const saved = { ...f, vlans: [...f.vlans] };
  for (const a of actions) {
    switch (a.type) {
      case 'mod_vlan_vid': case 'mod_vlan_pcp':
        if ((f.vlans[0] & VLAN_CFI) === 0 && a.noPush) inconsistent();
        f.vlans[0] |= VLAN_CFI;
        break;
      case 'strip_vlan': case 'pop_vlan':
        if ((f.vlans[0] & VLAN_CFI) === 0) inconsistent();
        f.vlans = [f.vlans[1], 0];
        break;
      case 'push_vlan':
        f.vlans = [f.vlans[0] | VLAN_CFI, f.vlans[0]];
        break;
      case 'set_field':
        if (a.field === 'vlan_tci') f.vlans[0] = Number(a.value) & 0xffff;
        break;
      case 'mod_nw_src': case 'mod_nw_dst':
        if (f.dlType !== ETH_TYPE_IP) inconsistent();
        break;
      case 'mod_nw_tos': case 'mod_nw_ecn': case 'mod_nw_ttl': case 'dec_ttl':
        if (!isIpAny(f)) inconsistent();
        break;
      case 'mod_tp_src': case 'mod_tp_dst':
        if (!isIpAny(f) || f.later || (f.nwProto !== IPPROTO_TCP && f.nwProto !== IPPROTO_UDP && f.nwProto !== IPPROTO_SCTP)) inconsistent();
        break;
      case 'set_mpls_label': case 'set_mpls_tc': case 'set_mpls_ttl': case 'dec_mpls_ttl':
        if (!isMpls(f.dlType)) inconsistent();
        break;
      case 'push_mpls':
        // The MPLS payload is opaque: no network protocol after it.
        if (!f.ethernet) inconsistent();
        f.dlType = a.ethertype;
        f.nwProto = 0;
        break;
      case 'pop_mpls':
        if (!f.ethernet || !isMpls(f.dlType)) inconsistent();
        f.dlType = a.ethertype;
        break;
      case 'fin_timeout':
        if (f.nwProto !== IPPROTO_TCP) inconsistent();
        break;
      case 'dec_nsh_ttl':
        if (f.dlType !== ETH_TYPE_NSH) inconsistent();
        break;
      case 'decap':
        // After a decap the packet type is known only at run time (check_DECAP).
        if (f.ethernet) f.ethernet = false;
        else f.dlType = 0xffff;
        break;
      case 'encap':
        f.ethernet = a.header === 'ethernet';
        if (!isIpAny(f)) f.nwProto = 0;
        break;
      case 'clone':
        usable &= checkUsable(a.actions, f);
        break;
      case 'ct':
        usable &= checkUsable(a.exec, f);
        break;
      // (write_actions are checked on a copy: an action set's consistency cannot be known.)
      default:
        break;
    }
  }
  Object.assign(f, saved);
  return usable;
}

/**
 * The whole flow's usable protocols, as parse_ofp_str__ leaves them: its
 * match fields (`spec.matchUsable`, gathered while parsing), flags, table
 * id, IPv6's L3/L4 fields, and its actions.
 */
export function usableProtocols(spec: FlowSpec): number {
  let p = spec.matchUsable ?? P_ANY;
  if (spec.flags.includes('reset_counts')) p &= P_OF12_UP;
  if (spec.flags.includes('no_packet_counts') || spec.flags.includes('no_byte_counts')) p &= P_OF13_UP;
  if (spec.tableGiven) p &= P_TID;
  const M = spec.match.mask;
  // Only NXM and OXM match L3 and L4 fields within IPv6 (packet_type=(1,0x86dd) counts as IPv6).
  if (flowOf(spec.match).dlType === ETH_TYPE_IPV6 && (M[FK_NW_PROTO] || M[FK_NW_TOS] || M[FK_TP_SRC] || M[FK_TP_DST])) p &= P_NXM_OXM_ANY;
  return p & actionsUsable(spec);
}
