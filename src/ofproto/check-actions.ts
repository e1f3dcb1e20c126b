// OVS's check that a flow's actions fit its match (ofpacts_check), run by
// the flow parser once match and actions are parsed: an action that reads or
// rewrites a header needs that header to be matched
// (OFPBAC_MATCH_INCONSISTENT), and ct_mark/ct_label are written only inside
// ct(commit,exec(...)).

import {
  ETH_TYPE_ARP, ETH_TYPE_IP, ETH_TYPE_IPV6, ETH_TYPE_RARP, FK_ETH_TYPE, FK_NW_PROTO, FK_VLAN_TCI, IPPROTO_SCTP, IPPROTO_TCP,
  IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6, VLAN_CFI, FK_NW_FRAG, FRAG_LATER, ETH_TYPE_MPLS, ETH_TYPE_MPLS_MCAST, ETH_TYPE_NSH, FK_TP_SRC,
} from '../packet/flow-key.ts';
import { fail, type TextPos } from './errors.ts';
import { refusingExtraFields } from './field-text.ts';
import { lookupField, lookupRefField } from './fields.ts';
import type { FlowSpec } from './flow-spec.ts';
import { ctStateValid } from './match.ts';

const ETHERNET_FIELDS = new Set(['eth_src', 'eth_dst', 'eth_type', 'vlan_tci', 'dl_vlan', 'dl_vlan_pcp']);

/**
 * OVS's check that actions fit the match (ofpacts_check): an action that
 * reads or rewrites a header needs that header to be matched.
 */
export function checkActionPrereqs(spec: FlowSpec, pos: TextPos, at: number): void {
  const m = spec.match;
  // (packet_type=(1,TYPE) is a packet of that ethertype without Ethernet header: OVS's get_dl_type.)
  const pt = /^packet_type=\(1,0x([0-9a-f]+)\)$/.exec(m.extra?.find((e) => e.name === 'packet_type')?.text ?? '');
  let type = m.mask[FK_ETH_TYPE] === 0xffff ? m.value[FK_ETH_TYPE] : pt ? parseInt(pt[1], 16) : -1;
  let proto = (m.mask[FK_NW_PROTO] & 0xff) === 0xff ? m.value[FK_NW_PROTO] : -1;
  let ip = type === ETH_TYPE_IP || type === ETH_TYPE_IPV6;
  let l4 = ip && (proto === IPPROTO_TCP || proto === IPPROTO_UDP || proto === IPPROTO_SCTP);
  // push_mpls/pop_mpls change the packet's type for the actions after them.
  const retype = (t: number) => {
    type = t;
    proto = -1;
    ip = type === ETH_TYPE_IP || type === ETH_TYPE_IPV6;
    l4 = false;
  };
  const vlan = (m.mask[FK_VLAN_TCI] & VLAN_CFI) !== 0 && (m.value[FK_VLAN_TCI] & VLAN_CFI) !== 0;
  const later = (m.value[FK_NW_FRAG] & FRAG_LATER) !== 0;
  const bad = (what: string) =>
    fail(pos, at, 'EMATCHINCONSISTENT', `actions are invalid with specified match (OFPBAC_MATCH_INCONSISTENT): ${what}`);
  // Ethernet fields need an Ethernet packet: not one matched by packet_type=(1,...), nor one decapsulated.
  let ethernet = !pt;
  const icmpType = (m.mask[FK_TP_SRC] & 0xff) === 0xff ? m.value[FK_TP_SRC] : -1;
  const fieldOk = (name: string, write: boolean): boolean => {
    const f = lookupRefField(name);
    if (!f) return true;
    if (!ethernet && ETHERNET_FIELDS.has(f.name)) return false;
    if (write && f.name === 'dl_vlan' || write && f.name === 'dl_vlan_pcp') return vlan;
    switch (f.prereq) {
      case 'ip': return ip;
      case 'ipv4': return type === ETH_TYPE_IP || (!write && (type === ETH_TYPE_ARP || type === ETH_TYPE_RARP));
      case 'ipv6': return type === ETH_TYPE_IPV6;
      case 'arp': return type === ETH_TYPE_ARP || type === ETH_TYPE_RARP;
      case 'l4': return l4 && !later;
      case 'tcp': return ip && proto === IPPROTO_TCP && !later;
      case 'udp': return ip && proto === IPPROTO_UDP && !later;
      case 'sctp': return ip && proto === IPPROTO_SCTP && !later;
      case 'icmp': return ip && (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6);
      case 'icmpv6': return type === ETH_TYPE_IPV6 && proto === IPPROTO_ICMPV6;
      case 'nd': return type === ETH_TYPE_IPV6 && proto === IPPROTO_ICMPV6 && (icmpType === 135 || icmpType === 136);
      case 'nd_solicit': return type === ETH_TYPE_IPV6 && proto === IPPROTO_ICMPV6 && icmpType === 135;
      case 'nd_advert': return type === ETH_TYPE_IPV6 && proto === IPPROTO_ICMPV6 && icmpType === 136;
      case 'mpls': return type === ETH_TYPE_MPLS || type === ETH_TYPE_MPLS_MCAST;
      case 'nsh': return type === ETH_TYPE_NSH;
      default: return true;
    }
  };
  // A read-only field (ovs-fields(7): eth_type, ct_state, actset_output, ...) is no destination (OVS's mf_check_dst,
  // after the prerequisites). Offline, ovs-ofctl parses a load into one and fails only decoding it back, so only a
  // switch refuses a load.
  const writeTo = (field: string, load = false) => {
    if (load && !refusingExtraFields()) return;
    const f = lookupRefField(field);
    if (f && !f.writable) {
      fail(pos, at, 'OFPBAC_BAD_SET_ARGUMENT', `actions are invalid with specified match (OFPBAC_BAD_SET_ARGUMENT): destination field ${f.name} is not writable`);
    }
  };
  // ct_mark and ct_label are written only by ct(commit,exec(...)), whose actions are checked apart.
  const ctOutside = (field: string) => {
    if (field === 'ct_mark' || field === 'ct_label') fail(pos, at, 'EACTION', 'cannot set CT fields outside of ct action');
  };
  const walk = (acts: FlowSpec['actions']) => {
    for (const a of acts) {
      switch (a.type) {
        // (mod_nw_*, mod_tp_* and dec_ttl on a match without their header are OpenFlow 1.0's:
        // accepted, see of10OnlyActions; on a packet without the header they do nothing.)
        case 'set_field':
          if (!fieldOk(a.field, true)) bad(`set_field ${a.field} lacks its prerequisites`);
          ctOutside(a.field);
          break;
        case 'load':
          if (!fieldOk(a.dst.field, true)) bad(`load to ${a.dst.field} lacks its prerequisites`);
          writeTo(a.dst.field, true);
          ctOutside(a.dst.field);
          break;
        case 'move':
          if (!fieldOk(a.src.field, false) || !fieldOk(a.dst.field, true)) bad('move between fields that lack their prerequisites');
          writeTo(a.dst.field);
          ctOutside(a.dst.field);
          break;
        case 'output_reg':
          if (!fieldOk(a.src.field, false)) bad(`output from ${a.src.field} lacks its prerequisites`);
          break;
        case 'ct':
          if (!ip) bad('ct needs ip or ipv6');
          if (a.alg && proto !== (a.alg === 'ftp' ? IPPROTO_TCP : IPPROTO_UDP)) bad(`ct alg=${a.alg} needs ${a.alg === 'ftp' ? 'tcp' : 'udp'}`);
          if (a.nat?.addrMin) {
            const v6 = a.nat.addrMin.includes(':');
            if (v6 !== (type === ETH_TYPE_IPV6)) bad(`nat with ${v6 ? 'IPv6' : 'IPv4'} addresses needs ${v6 ? 'ipv6' : 'ip'}`);
          }
          for (const e of a.exec) if (e.type === 'set_field' && !fieldOk(e.field, true)) bad(`set_field ${e.field} lacks its prerequisites`);
          break;
        case 'goto_table':
          // goto_table only goes forward (OFPBIC_BAD_TABLE_ID).
          if (spec.tableGiven && a.table <= spec.table) {
            fail(pos, at, 'OFPBIC_BAD_TABLE_ID', `actions are invalid with specified match (OFPBIC_BAD_TABLE_ID): goto_table:${a.table} does not go past table ${spec.table}`);
          }
          break;
        case 'resubmit':
          // resubmit(,,ct) looks up with the connection's original tuple: it needs a valid connection.
          if (a.ct && !ctStateValid(m)) bad('resubmit(,,ct) needs a valid tracked connection (ct_state=+trk-inv, +new, +est, ...)');
          break;
        case 'clone': case 'write_actions':
          walk(a.actions);
          break;
        case 'push_mpls':
          retype(a.ethertype);
          break;
        case 'encap':
          // The packet becomes the encapsulation's type (check_ENCAP); only encap(ethernet) makes an Ethernet packet.
          if (a.header === 'ethernet') ethernet = true;
          else {
            ethernet = false;
            retype(a.header === 'nsh' ? ETH_TYPE_NSH : a.header === 'mpls' ? ETH_TYPE_MPLS : ETH_TYPE_MPLS_MCAST);
          }
          break;
        case 'decap':
          // Decapsulating a packet that is not Ethernet leaves a type known only at run time (check_DECAP).
          if (pt) retype(-1);
          ethernet = false;
          break;
        case 'pop_mpls':
          retype(a.ethertype);
          break;
        case 'stack_push':
          if (!fieldOk(a.src.field, false)) bad(`push from ${a.src.field} lacks its prerequisites`);
          break;
        case 'stack_pop':
          if (!fieldOk(a.dst.field, true)) bad(`pop to ${a.dst.field} lacks its prerequisites`);
          writeTo(a.dst.field);
          ctOutside(a.dst.field);
          break;
        case 'multipath': case 'bundle': case 'check_pkt_larger': {
          const dst = a.type === 'bundle' ? a.dst : a.dst;
          if (dst && !fieldOk(dst.field, true)) bad(`${a.type} to ${dst.field} lacks its prerequisites`);
          // (check_pkt_larger's result, like a load, fails only when ovs-ofctl decodes it back.)
          if (dst) writeTo(dst.field, a.type === 'check_pkt_larger');
          break;
        }
        case 'learn':
          checkLearn(a, (f) => fieldOk(f, false), bad);
          for (const s of a.specs) if (s.kind === 'load') writeTo(s.dst.field);
          break;
        default:
          break;
      }
    }
  };
  walk(spec.actions);
}

/**
 * OVS's inconsistent_match(): OpenFlow 1.0 actions that rewrite a header the
 * match does not pin (mod_nw_src without ip, mod_tp_dst without tcp/udp/sctp,
 * mod_nw_tos/ecn/ttl or dec_ttl without ip) are valid only over OpenFlow 1.0
 * (with or without NXM), whose switches skip them on packets without it.
 */
export function of10OnlyActions(spec: FlowSpec): boolean {
  const m = spec.match;
  const type = m.mask[FK_ETH_TYPE] === 0xffff ? m.value[FK_ETH_TYPE] : -1;
  const proto = (m.mask[FK_NW_PROTO] & 0xff) === 0xff ? m.value[FK_NW_PROTO] : -1;
  const ip = type === ETH_TYPE_IP || type === ETH_TYPE_IPV6;
  const l4 = ip && (proto === IPPROTO_TCP || proto === IPPROTO_UDP || proto === IPPROTO_SCTP) && (m.value[FK_NW_FRAG] & FRAG_LATER) === 0;
  // The packet's type as the actions go: push_mpls makes it MPLS, pop_mpls the popped ethertype.
  let cur = type;
  let curProto = proto;
  return spec.actions.some((a) => {
    switch (a.type) {
      case 'push_mpls': cur = ETH_TYPE_MPLS; return false;
      case 'pop_mpls': {
        const was = cur;
        cur = a.ethertype;
        curProto = -1;
        return was !== ETH_TYPE_MPLS && was !== ETH_TYPE_MPLS_MCAST;
      }
      case 'fin_timeout': return !((cur === ETH_TYPE_IP || cur === ETH_TYPE_IPV6) && curProto === IPPROTO_TCP);
      case 'mod_nw_src': case 'mod_nw_dst': return type !== ETH_TYPE_IP;
      case 'mod_nw_tos': case 'mod_nw_ecn': case 'mod_nw_ttl': case 'dec_ttl': return !ip;
      case 'mod_tp_src': case 'mod_tp_dst': return !l4;
      default: return false;
    }
  });
}

/**
 * learn's checks (OVS learn_check): the fields it reads must exist in the
 * learning flow's packets, and the learned flow's own match must meet the
 * prerequisites of the fields it matches, from the values its earlier specs
 * give (a field copied from the packet counts as an unknown value).
 */
function checkLearn(l: Extract<FlowSpec['actions'][number], { type: 'learn' }>, readable: (f: string) => boolean, bad: (what: string) => never): void {
  let type = -1, proto = -1;
  for (const s of l.specs) {
    const src = s.kind === 'output' ? s.src : s.src;
    if (src && !readable(src.field)) bad(`learn reads ${src.field}, which lacks its prerequisites`);
    if (s.kind !== 'match') {
      if (s.kind === 'load' && !learnedOk(s.dst.field, type, proto)) bad(`learn loads ${s.dst.field}, which the learned flow's match lacks the prerequisites for`);
      continue;
    }
    const f = lookupField(s.dst.field);
    if (!learnedOk(s.dst.field, type, proto)) bad(`learn matches ${s.dst.field} without its prerequisites in the learned flow`);
    const full = f !== undefined && s.dst.ofs === 0 && s.dst.nbits === f.bits;
    if (f?.name === 'eth_type' || f?.name === 'dl_type') type = full && s.value !== null ? Number(s.value) : -2;
    if (f?.name === 'nw_proto') proto = full && s.value !== null ? Number(s.value) : -2;
  }
}

function learnedOk(field: string, type: number, proto: number): boolean {
  const f = lookupField(field);
  if (!f) return true;
  const ip = type === ETH_TYPE_IP || type === ETH_TYPE_IPV6;
  switch (f.prereq) {
    case 'ip': return ip;
    case 'ipv4': return type === ETH_TYPE_IP || type === ETH_TYPE_ARP || type === ETH_TYPE_RARP;
    case 'ipv6': return type === ETH_TYPE_IPV6;
    case 'arp': return type === ETH_TYPE_ARP || type === ETH_TYPE_RARP;
    case 'l4': return ip && (proto === IPPROTO_TCP || proto === IPPROTO_UDP || proto === IPPROTO_SCTP);
    case 'tcp': return ip && proto === IPPROTO_TCP;
    case 'udp': return ip && proto === IPPROTO_UDP;
    case 'sctp': return ip && proto === IPPROTO_SCTP;
    case 'icmp': return ip && (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6);
    case 'icmpv6': case 'nd': case 'nd_solicit': case 'nd_advert': return type === ETH_TYPE_IPV6 && proto === IPPROTO_ICMPV6;
    default: return true;
  }
}
