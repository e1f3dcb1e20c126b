// Match and flow -> text, in ovs-ofctl's canonical form (field order,
// shorthands, value/mask spelling), for dump-flows, parse-flows and trace.

import {
  ETH_TYPE_ARP, ETH_TYPE_IP, ETH_TYPE_IPV6, FK_ARP_SHA_HI, FK_ARP_THA_HI, FK_CT_IPV6_DST, FK_CT_IPV6_SRC,
  FK_CT_LABEL, FK_CT_MARK, FK_CT_NW_DST, FK_CT_NW_PROTO, FK_CT_NW_SRC, FK_CT_STATE, FK_CT_TP, FK_CT_ZONE,
  FK_ETH_DST_HI, FK_ETH_SRC_HI, FK_ETH_TYPE, FK_IN_PORT, FK_IPV6_DST, FK_IPV6_LABEL, FK_IPV6_SRC,
  FK_METADATA_HI, FK_ND_TARGET, FK_NW_DST, FK_NW_FRAG, FK_NW_PROTO, FK_NW_SRC, FK_NW_TOS, FK_NW_TTL,
  FK_PKT_MARK, FK_RECIRC_ID, FK_DP_HASH, FK_REG0, FK_TCP_FLAGS, FK_TP_DST, FK_TP_SRC, FK_VLAN_TCI, FRAG_ANY, FRAG_LATER,
  IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, VLAN_CFI, ETH_TYPE_RARP, ETH_TYPE_MPLS, ETH_TYPE_MPLS_MCAST,
} from '../packet/flow-key.ts';
import { ipv4Str, ipv6Str, macStr } from '../packet/odp-format.ts';
import type { FlowSpec } from './flow-spec.ts';
import { OFP_DEFAULT_PRIORITY } from './flow-spec.ts';
import { formatActions } from './format-actions.ts';
import type { Match } from './match.ts';
import { CT_STATE_FLAGS, portLabel, TCP_FLAGS } from './field-text.ts';

const hex = (v: number | bigint) => `0x${v.toString(16)}`;

/** printf's %#x, as OVS prints hex fields: 0 is "0", not "0x0". */
const hexOvs = (v: number) => (v === 0 ? '0' : hex(v));

function u32(name: string, v: number, m: number, full = 0xffffffff): string | null {
  if (m === 0) return null;
  if ((m >>> 0) === full >>> 0) return `${name}=${hexOvs(v >>> 0)}`;
  return `${name}=${hexOvs(v >>> 0)}/${hexOvs(m >>> 0)}`;
}

function ip4(name: string, v: number, m: number): string | null {
  if (m === 0) return null;
  if (m >>> 0 === 0xffffffff) return `${name}=${ipv4Str(v)}`;
  // A CIDR mask prints as a prefix length.
  const inv = ~m >>> 0;
  if ((inv & (inv + 1)) === 0) {
    let n = 0;
    for (let x = m >>> 0; x; x = (x << 1) >>> 0) n++;
    return `${name}=${ipv4Str(v)}/${n}`;
  }
  return `${name}=${ipv4Str(v)}/${ipv4Str(m)}`;
}

function ip6(name: string, mt: Match, w: number): string | null {
  const m = [0, 1, 2, 3].map((i) => mt.mask[w + i]);
  if (m.every((x) => x === 0)) return null;
  const v = [0, 1, 2, 3].map((i) => mt.value[w + i]);
  if (m.every((x) => x === 0xffffffff)) return `${name}=${ipv6Str(v)}`;
  let big = 0n;
  for (const x of m) big = (big << 32n) | BigInt(x);
  const inv = ~big & ((1n << 128n) - 1n);
  if ((inv & (inv + 1n)) === 0n) {
    let n = 0;
    for (let x = big; x & (1n << 127n); x = (x << 1n) & ((1n << 128n) - 1n)) n++;
    return `${name}=${ipv6Str(v)}/${n}`;
  }
  return `${name}=${ipv6Str(v)}/${ipv6Str(m)}`;
}

function macF(name: string, mt: Match, w: number): string | null {
  const mh = mt.mask[w] & 0xffff, ml = mt.mask[w + 1];
  if (!mh && !ml) return null;
  const v = macStr(mt.value[w], mt.value[w + 1]);
  if (mh === 0xffff && ml === 0xffffffff) return `${name}=${v}`;
  return `${name}=${v}/${macStr(mh, ml)}`;
}

function dec(name: string, v: number, m: number, full: number): string | null {
  if (m === 0) return null;
  if ((m & full) === full) return `${name}=${v}`;
  return `${name}=${hex(v)}/${hex(m)}`;
}

export function flagsText(v: number, m: number, names: [string, number][]): string {
  let s = '';
  for (const [n, bit] of names) if (m & bit) s += (v & bit ? '+' : '-') + n;
  return s;
}

/** The match part of a flow, as ovs-ofctl prints it (priority first when not the default). */
export function formatMatch(mt: Match, priority?: number, opts: { packetTypeEth?: boolean } = {}): string {
  const V = mt.value, M = mt.mask;
  const out: (string | null)[] = [];
  if (priority !== undefined && priority !== OFP_DEFAULT_PRIORITY) out.push(`priority=${priority}`);
  out.push(u32('pkt_mark', V[FK_PKT_MARK], M[FK_PKT_MARK]));
  out.push(u32('recirc_id', V[FK_RECIRC_ID], M[FK_RECIRC_ID]));
  out.push(u32('dp_hash', V[FK_DP_HASH], M[FK_DP_HASH]));
  for (const x of mt.extra ?? []) if (x.slot === 'meta') out.push(x.text);
  if (M[FK_CT_STATE] & 0xff) {
    const full = M[FK_CT_STATE] & 0xff;
    out.push(`ct_state=${flagsText(V[FK_CT_STATE], full, CT_STATE_FLAGS)}`);
  }
  out.push(dec('ct_zone', V[FK_CT_ZONE], M[FK_CT_ZONE] & 0xffff, 0xffff));
  out.push(u32('ct_mark', V[FK_CT_MARK], M[FK_CT_MARK]));
  {
    let v = 0n, m = 0n;
    for (let i = 0; i < 4; i++) {
      v = (v << 32n) | BigInt(V[FK_CT_LABEL + i]);
      m = (m << 32n) | BigInt(M[FK_CT_LABEL + i]);
    }
    if (m) out.push(m === (1n << 128n) - 1n ? `ct_label=${hex(v)}` : `ct_label=${hex(v)}/${hex(m)}`);
  }
  out.push(ip4('ct_nw_src', V[FK_CT_NW_SRC], M[FK_CT_NW_SRC]));
  out.push(ip6('ct_ipv6_src', mt, FK_CT_IPV6_SRC));
  out.push(ip4('ct_nw_dst', V[FK_CT_NW_DST], M[FK_CT_NW_DST]));
  out.push(ip6('ct_ipv6_dst', mt, FK_CT_IPV6_DST));
  // As OVS's match_format: the original-direction ports print only with ct_nw_proto.
  if (M[FK_CT_NW_PROTO] & 0xff) {
    out.push(`ct_nw_proto=${V[FK_CT_NW_PROTO]}`);
    out.push(dec('ct_tp_src', V[FK_CT_TP] >>> 16, M[FK_CT_TP] >>> 16, 0xffff));
    out.push(dec('ct_tp_dst', V[FK_CT_TP] & 0xffff, M[FK_CT_TP] & 0xffff, 0xffff));
  }

  const typeExact = (M[FK_ETH_TYPE] & 0xffff) === 0xffff;
  // packet_type=(1,TYPE) names the L3 type of a packet without Ethernet header (match_format's dl_type).
  const pt = /^packet_type=\(1,0x([0-9a-f]+)\)$/.exec(mt.extra?.find((e) => e.name === 'packet_type')?.text ?? '');
  const type = typeExact ? V[FK_ETH_TYPE] : pt ? parseInt(pt[1], 16) : -1;
  const protoExact = (M[FK_NW_PROTO] & 0xff) === 0xff;
  const proto = protoExact ? V[FK_NW_PROTO] : -1;
  let skipType = false, skipProto = false;
  // Megaflows in trace output name the packet type ("eth") before the shorthand.
  if (opts.packetTypeEth) out.push('eth');
  if (!typeExact) {
    // (no shorthand without dl_type)
  } else if (type === ETH_TYPE_IP || type === ETH_TYPE_IPV6) {
    const six = type === ETH_TYPE_IPV6;
    skipType = true;
    skipProto = true;
    if (proto === IPPROTO_ICMP && !six) out.push('icmp');
    else if (proto === IPPROTO_ICMPV6 && six) out.push('icmp6');
    else if (proto === IPPROTO_TCP) out.push(six ? 'tcp6' : 'tcp');
    else if (proto === IPPROTO_UDP) out.push(six ? 'udp6' : 'udp');
    else if (proto === IPPROTO_SCTP) out.push(six ? 'sctp6' : 'sctp');
    else {
      out.push(six ? 'ipv6' : 'ip');
      skipProto = false;
    }
  } else if (type === ETH_TYPE_ARP) {
    out.push('arp');
    skipType = true;
  } else if (type === ETH_TYPE_RARP) {
    out.push('rarp');
    skipType = true;
  } else if (type === ETH_TYPE_MPLS || type === ETH_TYPE_MPLS_MCAST) {
    out.push(type === ETH_TYPE_MPLS ? 'mpls' : 'mplsm');
    skipType = true;
  }
  for (let i = 0; i < 16; i++) out.push(u32(`reg${i}`, V[FK_REG0 + i], M[FK_REG0 + i]));
  // ERSPAN's index belongs to version 1, direction and hardware id to version 2 (match_format).
  const erspanVer = mt.extra?.find((x) => x.name === 'tun_erspan_ver')?.text;
  for (const x of mt.extra ?? []) {
    if (x.slot !== 'tunnel') continue;
    if (x.name === 'tun_erspan_idx' && erspanVer !== 'tun_erspan_ver=1') continue;
    if ((x.name === 'tun_erspan_dir' || x.name === 'tun_erspan_hwid') && erspanVer !== 'tun_erspan_ver=2') continue;
    out.push(x.text);
  }
  {
    const mh = M[FK_METADATA_HI], ml = M[FK_METADATA_LO()];
    if (mh || ml) {
      const v = (BigInt(V[FK_METADATA_HI]) << 32n) | BigInt(V[FK_METADATA_LO()]);
      const m = (BigInt(mh) << 32n) | BigInt(ml);
      out.push(m === (1n << 64n) - 1n ? `metadata=${v === 0n ? '0' : hex(v)}` : `metadata=${v === 0n ? '0' : hex(v)}/${hex(m)}`);
    }
  }
  if (M[FK_IN_PORT] & 0xffff) out.push(`in_port=${portLabel(V[FK_IN_PORT])}`);
  const tm = M[FK_VLAN_TCI] & 0xffff;
  // A megaflow's "untagged" (CFI matched as 0) is implied by its packet type.
  const impliedUntagged = opts.packetTypeEth && tm === 0x1000 && (V[FK_VLAN_TCI] & 0x1000) === 0;
  if (tm && !impliedUntagged) {
    const tci = V[FK_VLAN_TCI];
    const vidM = tm & 0x0fff, pcpM = tm & 0xe000, cfi = tm & VLAN_CFI;
    if (cfi && tci & VLAN_CFI && (!vidM || vidM === 0x0fff) && (!pcpM || pcpM === 0xe000) && (vidM || pcpM)) {
      if (vidM) out.push(`dl_vlan=${tci & 0x0fff}`);
      if (pcpM) out.push(`dl_vlan_pcp=${(tci >> 13) & 7}`);
    } else if (tm === 0xffff) out.push(`vlan_tci=0x${tci.toString(16).padStart(4, '0')}`);
    else out.push(`vlan_tci=0x${tci.toString(16).padStart(4, '0')}/0x${tm.toString(16).padStart(4, '0')}`);
  }
  out.push(macF('dl_src', mt, FK_ETH_SRC_HI));
  out.push(macF('dl_dst', mt, FK_ETH_DST_HI));
  if (!skipType && M[FK_ETH_TYPE]) out.push(`dl_type=0x${V[FK_ETH_TYPE].toString(16).padStart(4, '0')}`);
  if (type === ETH_TYPE_IPV6) {
    out.push(ip6('ipv6_src', mt, FK_IPV6_SRC));
    out.push(ip6('ipv6_dst', mt, FK_IPV6_DST));
    if (M[FK_IPV6_LABEL]) {
      const lm = M[FK_IPV6_LABEL] & 0xfffff;
      const lv = `0x${V[FK_IPV6_LABEL].toString(16).padStart(5, '0')}`;
      out.push(lm === 0xfffff ? `ipv6_label=${lv}` : `ipv6_label=${lv}/0x${lm.toString(16).padStart(5, '0')}`);
    }
  }
  const isArp = type === ETH_TYPE_ARP || type === ETH_TYPE_RARP;
  // NSH's context headers print only with nsh_mdtype=1 (match_format).
  const mdType1 = mt.extra?.some((x) => x.text === 'nsh_mdtype=1');
  for (const x of mt.extra ?? []) if (x.slot === 'nsh' && (mdType1 || !/^nsh_c[1-4]$/.test(x.name))) out.push(x.text);
  out.push(ip4(isArp ? 'arp_spa' : 'nw_src', V[FK_NW_SRC], M[FK_NW_SRC]));
  out.push(ip4(isArp ? 'arp_tpa' : 'nw_dst', V[FK_NW_DST], M[FK_NW_DST]));
  if (!skipProto && M[FK_NW_PROTO] & 0xff) out.push(`${isArp ? 'arp_op' : 'nw_proto'}=${V[FK_NW_PROTO]}`);
  if (isArp) {
    out.push(macF('arp_sha', mt, FK_ARP_SHA_HI));
    out.push(macF('arp_tha', mt, FK_ARP_THA_HI));
  }
  if (M[FK_NW_TOS] & 0xfc) out.push(`nw_tos=${V[FK_NW_TOS] & 0xfc}`);
  if (M[FK_NW_TOS] & 0x03) out.push(`nw_ecn=${V[FK_NW_TOS] & 0x03}`);
  if (M[FK_NW_TTL] & 0xff) out.push(`nw_ttl=${V[FK_NW_TTL]}`);
  for (const x of mt.extra ?? []) if (x.slot === 'mpls') out.push(x.text);
  const fm = M[FK_NW_FRAG] & (FRAG_ANY | FRAG_LATER);
  if (fm) {
    const fv = V[FK_NW_FRAG];
    let t: string;
    if (fm === FRAG_ANY) t = fv & FRAG_ANY ? 'yes' : 'no';
    else if (fm === FRAG_LATER) t = fv & FRAG_LATER ? 'later' : 'not_later';
    else t = !(fv & FRAG_ANY) ? 'no' : fv & FRAG_LATER ? 'later' : 'first';
    out.push(`nw_frag=${t}`);
  }
  if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) {
    out.push(dec('icmp_type', V[FK_TP_SRC], M[FK_TP_SRC] & 0xff, 0xff));
    out.push(dec('icmp_code', V[FK_TP_DST], M[FK_TP_DST] & 0xff, 0xff));
    if (type === ETH_TYPE_IPV6) {
      out.push(ip6('nd_target', mt, FK_ND_TARGET));
      out.push(macF('nd_sll', mt, FK_ARP_SHA_HI));
      out.push(macF('nd_tll', mt, FK_ARP_THA_HI));
    }
  } else {
    out.push(dec('tp_src', V[FK_TP_SRC], M[FK_TP_SRC] & 0xffff, 0xffff));
    out.push(dec('tp_dst', V[FK_TP_DST], M[FK_TP_DST] & 0xffff, 0xffff));
  }
  if (M[FK_TCP_FLAGS] & 0xfff) {
    const m = M[FK_TCP_FLAGS] & 0xfff;
    out.push(`tcp_flags=${flagsText(V[FK_TCP_FLAGS], m, TCP_FLAGS)}`);
  }
  return out.filter((x): x is string => x !== null).join(',');
}

function FK_METADATA_LO(): number {
  return FK_METADATA_HI + 1;
}

export interface FlowStats {
  durationSec: number;
  nPackets: number;
  nBytes: number;
  idleAgeSec?: number;
}

/** A dump-flows line (with stats) or the --no-stats form. */
export function formatFlow(spec: FlowSpec, stats?: FlowStats): string {
  const parts: string[] = [];
  if (stats) {
    parts.push(`cookie=${hex(spec.cookie)}`, `duration=${stats.durationSec.toFixed(3)}s`, `table=${spec.table}`);
    parts.push(`n_packets=${stats.nPackets}`, `n_bytes=${stats.nBytes}`);
    if (spec.idleTimeout) parts.push(`idle_timeout=${spec.idleTimeout}`);
    if (spec.hardTimeout) parts.push(`hard_timeout=${spec.hardTimeout}`);
    if (stats.idleAgeSec !== undefined) parts.push(`idle_age=${stats.idleAgeSec}`);
  } else {
    if (spec.cookie !== 0n) parts.push(`cookie=${hex(spec.cookie)}`);
    if (spec.table !== 0) parts.push(`table=${spec.table}`);
    if (spec.idleTimeout) parts.push(`idle_timeout=${spec.idleTimeout}`);
    if (spec.hardTimeout) parts.push(`hard_timeout=${spec.hardTimeout}`);
  }
  const match = formatMatch(spec.match, spec.priority);
  const head = parts.length ? `${parts.join(', ')}, ` : '';
  return ` ${head}${match}${match ? ' ' : ''}actions=${formatActions(spec.actions)}`;
}
