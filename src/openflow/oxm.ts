// Matches on the wire: OXM (OpenFlow 1.2+) and NXM (Nicira, OpenFlow 1.0)
// TLVs <-> the flow-key Match the flow-text parser builds. One table maps
// each wire field to the swd field of the same meaning (src/ofproto/fields.ts);
// the encoder emits fields in the order OVS's nx_put_raw does, so a match
// OVS encodes re-encodes byte for byte. Decoding refuses what OVS refuses,
// with OVS's error: unknown field OFPBMC_BAD_FIELD, wrong length
// OFPBMC_BAD_LEN, a mask on an unmaskable field OFPBMC_BAD_MASK, value bits
// outside the mask OFPBMC_BAD_WILDCARDS, a field twice OFPBMC_DUP_FIELD, a
// missing prerequisite OFPBMC_BAD_PREREQ.

import {
  CS_DST_NAT, CS_ESTABLISHED, CS_INVALID, CS_NEW, CS_RELATED, CS_REPLY_DIR, CS_SRC_NAT, CS_TRACKED,
  FK_CT_NW_PROTO, FK_CT_STATE, FK_ETH_TYPE, FK_IN_PORT, FK_NW_FRAG, FK_NW_PROTO, FK_NW_TOS, FK_NW_TTL, FK_RECIRC_ID,
  FK_TP_DST, FK_TP_SRC, FK_VLAN_TCI, FRAG_LATER,
} from '../packet/flow-key.ts';
import { extraFieldRank, lookupField, lookupRefField, readField, writeField } from '../ofproto/fields.ts';
import { portLabel } from '../ofproto/field-text.ts';
import { emptyMatch, OFK_ACTSET_OUTPUT, type Match } from '../ofproto/match.ts';
import { Reader, Writer } from './buffer.ts';
import {
  OFPBMC_BAD_FIELD, OFPBMC_BAD_LEN, OFPBMC_BAD_MASK, OFPBMC_BAD_PREREQ, OFPBMC_BAD_TYPE, OFPBMC_BAD_VALUE,
  OFPBMC_BAD_WILDCARDS, OFPBMC_DUP_FIELD, OFPET_BAD_MATCH, OfError,
} from './errors.ts';
import { portFromOf11, portToOf11 } from './ports.ts';

export const OFPXMC_NXM_0 = 0x0000;
export const OFPXMC_NXM_1 = 0x0001;
export const OFPXMC_OPENFLOW_BASIC = 0x8000;
export const OFPXMC_PACKET_REGS = 0x8001;
export const OFPXMC_EXPERIMENTER = 0xffff;
export const ONF_EXPERIMENTER_ID = 0x4f4e4600;
export const NX_EXPERIMENTER_ID = 0x00002320;

/** One wire field: its class/field (and experimenter), width, and the swd field it carries. */
export interface WireField {
  /** swd field name (fields.ts), or a special conversion. */
  name: string;
  cls: number;
  field: number;
  exp?: number;
  bytes: number;
  maskable: boolean;
  /** Converts between wire and swd values where they differ. */
  conv?: 'in_port32' | 'vid' | 'dscp_tos' | 'frag' | 'packet_type';
}

const TABLE: WireField[] = [];
const f = (name: string, cls: number, field: number, bytes: number, maskable: boolean, extra: Partial<WireField> = {}) => {
  const w: WireField = { name, cls, field, bytes, maskable, ...extra };
  TABLE.push(w);
  return w;
};
const B = OFPXMC_OPENFLOW_BASIC, N0 = OFPXMC_NXM_0, N1 = OFPXMC_NXM_1;
const NXM_CONJ_ID = 37;

// NXM_OF_* (class 0) and NXM_NX_* (class 1).
const NXM: Record<string, WireField> = {
  in_port: f('in_port', N0, 0, 2, false),
  eth_dst: f('eth_dst', N0, 1, 6, true),
  eth_src: f('eth_src', N0, 2, 6, true),
  eth_type: f('eth_type', N0, 3, 2, false),
  vlan_tci: f('vlan_tci', N0, 4, 2, true),
  nw_tos: f('nw_tos', N0, 5, 1, false, { conv: 'dscp_tos' }),
  nw_proto: f('nw_proto', N0, 6, 1, false),
  nw_src: f('nw_src', N0, 7, 4, true),
  nw_dst: f('nw_dst', N0, 8, 4, true),
  tcp_src: f('tcp_src', N0, 9, 2, true),
  tcp_dst: f('tcp_dst', N0, 10, 2, true),
  udp_src: f('udp_src', N0, 11, 2, true),
  udp_dst: f('udp_dst', N0, 12, 2, true),
  icmp_type: f('icmp_type', N0, 13, 1, false),
  icmp_code: f('icmp_code', N0, 14, 1, false),
  arp_op: f('arp_op', N0, 15, 2, false),
  arp_spa: f('arp_spa', N0, 16, 4, true),
  arp_tpa: f('arp_tpa', N0, 17, 4, true),
  arp_sha: f('arp_sha', N1, 17, 6, true),
  arp_tha: f('arp_tha', N1, 18, 6, true),
  ipv6_src: f('ipv6_src', N1, 19, 16, true),
  ipv6_dst: f('ipv6_dst', N1, 20, 16, true),
  icmpv6_type: f('icmpv6_type', N1, 21, 1, false),
  icmpv6_code: f('icmpv6_code', N1, 22, 1, false),
  nd_target: f('nd_target', N1, 23, 16, true),
  nd_sll: f('nd_sll', N1, 24, 6, true),
  nd_tll: f('nd_tll', N1, 25, 6, true),
  ip_frag: f('ip_frag', N1, 26, 1, true, { conv: 'frag' }),
  ipv6_label: f('ipv6_label', N1, 27, 4, true),
  nw_ecn: f('nw_ecn', N1, 28, 1, false),
  nw_ttl: f('nw_ttl', N1, 29, 1, false),
  pkt_mark: f('pkt_mark', N1, 33, 4, true),
  tcp_flags: f('tcp_flags', N1, 34, 2, true),
  dp_hash: f('dp_hash', N1, 35, 4, true),
  recirc_id: f('recirc_id', N1, 36, 4, false),
  ct_state: f('ct_state', N1, 105, 4, true),
  ct_zone: f('ct_zone', N1, 106, 2, false),
  ct_mark: f('ct_mark', N1, 107, 4, true),
  ct_label: f('ct_label', N1, 108, 16, true),
  ct_nw_proto: f('ct_nw_proto', N1, 119, 1, false),
  ct_nw_src: f('ct_nw_src', N1, 120, 4, true),
  ct_nw_dst: f('ct_nw_dst', N1, 121, 4, true),
  ct_ipv6_src: f('ct_ipv6_src', N1, 122, 16, true),
  ct_ipv6_dst: f('ct_ipv6_dst', N1, 123, 16, true),
  ct_tp_src: f('ct_tp_src', N1, 124, 2, true),
  ct_tp_dst: f('ct_tp_dst', N1, 125, 2, true),
};
for (let i = 0; i < 16; i++) NXM[`reg${i}`] = f(`reg${i}`, N1, i, 4, true);
for (let i = 0; i < 4; i++) NXM[`xxreg${i}`] = f(`xxreg${i}`, N1, 111 + i, 16, true);

// OXM basic (class 0x8000), the packet registers (0x8001) and the experimenter fields OVS uses in 1.3.
const OXM: Record<string, WireField> = {
  in_port: f('in_port', B, 0, 4, false, { conv: 'in_port32' }),
  metadata: f('metadata', B, 2, 8, true),
  eth_dst: f('eth_dst', B, 3, 6, true),
  eth_src: f('eth_src', B, 4, 6, true),
  eth_type: f('eth_type', B, 5, 2, false),
  vlan_vid: f('vlan_tci', B, 6, 2, true, { conv: 'vid' }),
  vlan_pcp: f('dl_vlan_pcp', B, 7, 1, false),
  ip_dscp: f('ip_dscp', B, 8, 1, false),
  nw_ecn: f('nw_ecn', B, 9, 1, false),
  nw_proto: f('nw_proto', B, 10, 1, false),
  nw_src: f('nw_src', B, 11, 4, true),
  nw_dst: f('nw_dst', B, 12, 4, true),
  tcp_src: f('tcp_src', B, 13, 2, true),
  tcp_dst: f('tcp_dst', B, 14, 2, true),
  udp_src: f('udp_src', B, 15, 2, true),
  udp_dst: f('udp_dst', B, 16, 2, true),
  sctp_src: f('sctp_src', B, 17, 2, true),
  sctp_dst: f('sctp_dst', B, 18, 2, true),
  icmp_type: f('icmp_type', B, 19, 1, false),
  icmp_code: f('icmp_code', B, 20, 1, false),
  arp_op: f('arp_op', B, 21, 2, false),
  arp_spa: f('arp_spa', B, 22, 4, true),
  arp_tpa: f('arp_tpa', B, 23, 4, true),
  arp_sha: f('arp_sha', B, 24, 6, true),
  arp_tha: f('arp_tha', B, 25, 6, true),
  ipv6_src: f('ipv6_src', B, 26, 16, true),
  ipv6_dst: f('ipv6_dst', B, 27, 16, true),
  ipv6_label: f('ipv6_label', B, 28, 4, true),
  icmpv6_type: f('icmpv6_type', B, 29, 1, false),
  icmpv6_code: f('icmpv6_code', B, 30, 1, false),
  nd_target: f('nd_target', B, 31, 16, true),
  nd_sll: f('nd_sll', B, 32, 6, true),
  nd_tll: f('nd_tll', B, 33, 6, true),
  tcp_flags: f('tcp_flags', OFPXMC_EXPERIMENTER, 42, 2, true, { exp: ONF_EXPERIMENTER_ID }),
  tcp_flags15: f('tcp_flags', B, 42, 2, true),
  packet_type: f('packet_type', B, 44, 4, false, { conv: 'packet_type' }),
  dp_hash: f('dp_hash', OFPXMC_EXPERIMENTER, 0, 4, true, { exp: NX_EXPERIMENTER_ID }),
  // The action set's output (match.ts keeps it in OpenFlow 1.1's port form): ONF's field before 1.5, also in NXM.
  actset_output: f('actset_output', OFPXMC_EXPERIMENTER, 43, 4, false, { exp: ONF_EXPERIMENTER_ID }),
  actset_output15: f('actset_output', B, 43, 4, false),
};
for (let i = 0; i < 8; i++) OXM[`xreg${i}`] = f(`xreg${i}`, OFPXMC_PACKET_REGS, i, 8, true);

const byKey = new Map<string, WireField>();
const wireKey = (cls: number, field: number, exp?: number) => `${cls}:${field}:${exp ?? ''}`;
for (const w of TABLE) byKey.set(wireKey(w.cls, w.field, w.exp), w);

/** The wire field for a header, if swd knows it. */
export function wireFieldOf(cls: number, field: number, exp?: number): WireField | undefined {
  return byKey.get(wireKey(cls, field, exp));
}

/** The header a field reference (load/move/set_field) uses: NXM where it has one, else OXM. */
export function refWireField(name: string, oxm: boolean): WireField | undefined {
  if (oxm) {
    if (name === 'tp_src' || name === 'tp_dst') return undefined;
    if (name === 'dl_vlan') return OXM.vlan_vid;
    if (name === 'dl_vlan_pcp') return OXM.vlan_pcp;
    return OXM[name] && name !== 'in_port' ? OXM[name] : (NXM[name] ?? OXM[name]);
  }
  return NXM[name] ?? OXM[name];
}

export function putHeader(w: Writer, wf: WireField, hasMask: boolean, bytes = wf.bytes): void {
  const len = bytes * (hasMask ? 2 : 1) + (wf.exp !== undefined ? 4 : 0);
  w.u32(((wf.cls << 16) | (wf.field << 9) | (hasMask ? 0x100 : 0) | len) >>> 0);
  if (wf.exp !== undefined) w.u32(wf.exp);
}

/** A 32-bit header (and experimenter id) as NXM field references write it. */
export function headerWord(wf: WireField, hasMask = false): number {
  return ((wf.cls << 16) | (wf.field << 9) | (hasMask ? 0x100 : 0) | (wf.bytes * (hasMask ? 2 : 1) + (wf.exp !== undefined ? 4 : 0))) >>> 0;
}

export interface WireHeader {
  wf: WireField | undefined;
  cls: number;
  field: number;
  hasMask: boolean;
  /** Payload length (value, and mask when hasMask), without the experimenter id. */
  len: number;
  exp?: number;
}

export function pullHeader(r: Reader): WireHeader {
  const h = r.u32();
  const cls = h >>> 16, field = (h >>> 9) & 0x7f, hasMask = (h & 0x100) !== 0;
  let len = h & 0xff;
  let exp: number | undefined;
  if (cls === OFPXMC_EXPERIMENTER) {
    if (len < 4) throw new OfError(OFPET_BAD_MATCH, OFPBMC_BAD_LEN, 'experimenter OXM shorter than its experimenter id');
    exp = r.u32();
    len -= 4;
  }
  return { wf: wireFieldOf(cls, field, exp), cls, field, hasMask, len, exp };
}

// -------------------------------------------------------------- value access

const ones = (bytes: number) => (1n << BigInt(bytes * 8)) - 1n;
/** The mask meaning "exactly": all wire bits, but VID and OFPVID_PRESENT only for vlan_vid. */
const fullMask = (wf: WireField) => (wf.conv === 'vid' ? 0x1fffn : ones(wf.bytes));

/** The wire value and mask of a field in a match (after conversion). */
function getWire(m: Match, wf: WireField): [bigint, bigint] {
  switch (wf.conv) {
    case 'in_port32': {
      const p = readField(m.value, 0, 'in_port');
      return [BigInt(portToOf11(Number(p))), readField(m.mask, 0, 'in_port') ? 0xffffffffn : 0n];
    }
    case 'vid':
      return [readField(m.value, 0, 'vlan_tci') & 0x1fffn, readField(m.mask, 0, 'vlan_tci') & 0x1fffn];
    case 'frag': {
      const mk = readField(m.mask, 0, 'ip_frag');
      return [readField(m.value, 0, 'ip_frag'), mk === 3n ? 0xffn : mk];
    }
    case 'dscp_tos':
      return [readField(m.value, 0, 'nw_tos') & 0xfcn, readField(m.mask, 0, 'nw_tos') & 0xfcn ? 0xffn : 0n];
  }
  const v = readField(m.value, 0, wf.name), k = readField(m.mask, 0, wf.name);
  const def = lookupField(wf.name) ?? lookupRefField(wf.name)!;
  // A field narrower than its wire width (ct_state, vlan_pcp, ...): fully matched = all wire bits.
  return [v, k === (1n << BigInt(def.bits)) - 1n ? ones(wf.bytes) : k];
}

function setWire(m: Match, wf: WireField, v: bigint, k: bigint): void {
  switch (wf.conv) {
    case 'packet_type':
      // Only Ethernet (0) is a packet type swd has; OVS's default.
      if (v !== 0n) throw new OfError(OFPET_BAD_MATCH, OFPBMC_BAD_VALUE, 'only packet_type=(0,0) (Ethernet) is supported');
      return;
    case 'in_port32': {
      const p = portFromOf11(Number(v));
      if (p === null) throw new OfError(OFPET_BAD_MATCH, OFPBMC_BAD_VALUE, `in_port ${v} is out of range`);
      writeField(m.value, 0, 'in_port', BigInt(p), 0xffffn);
      writeField(m.mask, 0, 'in_port', 0xffffn, 0xffffn);
      return;
    }
    case 'vid':
      if (v & ~0x1fffn || k & ~0x1fffn) throw new OfError(OFPET_BAD_MATCH, OFPBMC_BAD_VALUE, 'vlan_vid has bits above OFPVID_PRESENT');
      writeField(m.value, 0, 'vlan_tci', v, k);
      writeField(m.mask, 0, 'vlan_tci', k, k);
      return;
    case 'frag':
      writeField(m.value, 0, 'ip_frag', v & 3n, 3n);
      writeField(m.mask, 0, 'ip_frag', k & 3n, 3n);
      return;
    case 'dscp_tos':
      if (v & 3n) throw new OfError(OFPET_BAD_MATCH, OFPBMC_BAD_VALUE, 'NXM_OF_IP_TOS has ECN bits set');
      writeField(m.value, 0, 'nw_tos', v, 0xfcn);
      writeField(m.mask, 0, 'nw_tos', 0xfcn, 0xfcn);
      return;
  }
  const def = lookupField(wf.name) ?? lookupRefField(wf.name)!;
  const full = (1n << BigInt(def.bits)) - 1n;
  if ((v & ~full) !== 0n || (k !== ones(wf.bytes) && (k & ~full) !== 0n)) {
    throw new OfError(OFPET_BAD_MATCH, OFPBMC_BAD_VALUE, `value out of range for ${wf.name}`);
  }
  const km = k & full;
  writeField(m.value, 0, wf.name, v, km);
  writeField(m.mask, 0, wf.name, km, full);
}

// -------------------------------------------------------------- encoding

function put(w: Writer, m: Match, wf: WireField, exact = false): void {
  const [v, k] = getWire(m, wf);
  if (k === 0n && !exact) return;
  const full = exact || k === fullMask(wf);
  putHeader(w, wf, !full);
  w.uint(full ? v : v & k, wf.bytes);
  if (!full) w.uint(k, wf.bytes);
}

const isSet = (m: Match, name: string) => readField(m.mask, 0, name) !== 0n;

/** The match's TLVs in nx_put_raw's order; `oxm` for OpenFlow 1.2+ (else NXM). */
export function encodeMatchFields(w: Writer, m: Match, oxm: boolean, version = 4): void {
  const other = m.extra?.filter((x) => x.name !== 'conj_id' && x.name !== 'actset_output');
  if (other?.length) throw new OfError(OFPET_BAD_MATCH, OFPBMC_BAD_FIELD, `field ${other[0].name} cannot be encoded by swd`);
  // NXM_NX_CONJ_ID (class 1, field 84), before the key's fields as OVS writes it.
  if (m.conjId !== undefined) w.u32(((N1 << 16) | (NXM_CONJ_ID << 9) | 4) >>> 0).u32(m.conjId);
  const T = oxm ? OXM : NXM;
  put(w, m, NXM.dp_hash);
  if (m.mask[FK_RECIRC_ID]) put(w, m, NXM.recirc_id);
  if (m.mask[FK_IN_PORT]) put(w, m, T.in_port);
  if (m.mask[OFK_ACTSET_OUTPUT]) put(w, m, oxm && version >= 6 ? OXM.actset_output15 : OXM.actset_output);
  put(w, m, T.eth_src);
  put(w, m, T.eth_dst);
  put(w, m, T.eth_type);
  if (oxm) {
    put(w, m, OXM.vlan_vid);
    if (m.value[FK_VLAN_TCI] & 0x1fff && m.mask[FK_VLAN_TCI] & 0xe000) put(w, m, OXM.vlan_pcp);
  } else put(w, m, NXM.vlan_tci);
  const type = m.mask[FK_ETH_TYPE] ? m.value[FK_ETH_TYPE] : -1;
  if (type === 0x0800 || type === 0x86dd) {
    if (type === 0x0800) {
      put(w, m, T.nw_src);
      put(w, m, T.nw_dst);
    } else {
      put(w, m, T.ipv6_src);
      put(w, m, T.ipv6_dst);
    }
    put(w, m, NXM.ip_frag);
    if (m.mask[FK_NW_TOS] & 0xfc) put(w, m, oxm ? OXM.ip_dscp : NXM.nw_tos, true);
    if (m.mask[FK_NW_TOS] & 3) put(w, m, T.nw_ecn, true);
    if (m.mask[FK_NW_TTL]) put(w, m, NXM.nw_ttl, true);
    put(w, m, T.ipv6_label);
    if (m.mask[FK_NW_PROTO]) {
      put(w, m, T.nw_proto, true);
      const proto = m.value[FK_NW_PROTO];
      if (proto === 6) {
        put(w, m, T.tcp_src);
        put(w, m, T.tcp_dst);
        put(w, m, oxm ? (version >= 6 ? OXM.tcp_flags15 : OXM.tcp_flags) : NXM.tcp_flags);
      } else if (proto === 17) {
        put(w, m, T.udp_src);
        put(w, m, T.udp_dst);
      } else if (proto === 132) {
        put(w, m, OXM.sctp_src);
        put(w, m, OXM.sctp_dst);
      } else if (proto === 1 && type === 0x0800) {
        if (m.mask[FK_TP_SRC]) put(w, m, T.icmp_type, true);
        if (m.mask[FK_TP_DST]) put(w, m, T.icmp_code, true);
      } else if (proto === 58 && type === 0x86dd) {
        if (m.mask[FK_TP_SRC]) put(w, m, T.icmpv6_type, true);
        if (m.mask[FK_TP_DST]) put(w, m, T.icmpv6_code, true);
        const t = m.value[FK_TP_SRC];
        if ((t === 135 || t === 136) && m.value[FK_TP_DST] === 0) {
          put(w, m, T.nd_target);
          if (t === 135) put(w, m, T.nd_sll);
          else put(w, m, T.nd_tll);
        }
      }
    }
  } else if (type === 0x0806 || type === 0x8035) {
    if (m.mask[FK_NW_PROTO]) put(w, m, T.arp_op, true);
    put(w, m, T.arp_spa);
    put(w, m, T.arp_tpa);
    put(w, m, T.arp_sha);
    put(w, m, T.arp_tha);
  }
  if (version >= 6) for (let i = 0; i < 8; i++) put(w, m, OXM[`xreg${i}`]);
  else for (let i = 0; i < 16; i++) put(w, m, NXM[`reg${i}`]);
  put(w, m, NXM.pkt_mark);
  put(w, m, NXM.ct_state);
  put(w, m, NXM.ct_zone);
  put(w, m, NXM.ct_mark);
  put(w, m, NXM.ct_label);
  put(w, m, NXM.ct_nw_src);
  put(w, m, NXM.ct_ipv6_src);
  put(w, m, NXM.ct_nw_dst);
  put(w, m, NXM.ct_ipv6_dst);
  if (m.value[FK_CT_NW_PROTO]) {
    put(w, m, NXM.ct_nw_proto);
    put(w, m, NXM.ct_tp_src);
    put(w, m, NXM.ct_tp_dst);
  }
  if (oxm) put(w, m, OXM.metadata);
}

/** struct ofp_match (OXM type 1): type, length, the fields, padding to 8. */
export function encodeOxmMatch(w: Writer, m: Match, version = 4): void {
  const start = w.len;
  w.u16(1).u16(0);
  encodeMatchFields(w, m, true, version);
  w.put16(start + 2, w.len - start);
  w.pad(8, start);
}

// -------------------------------------------------------------- decoding

const badMatch = (code: number, msg: string) => new OfError(OFPET_BAD_MATCH, code, msg);

/** Decode the TLVs in `r` (to its end) into a match. */
export function decodeMatchFields(r: Reader, allowNxmCookie = false): { match: Match; cookie?: [bigint, bigint] } {
  const m = emptyMatch();
  const seen = new Set<WireField>();
  const names = new Set<string>();
  let cookie: [bigint, bigint] | undefined;
  while (r.left > 0) {
    if (r.left < 4) throw badMatch(OFPBMC_BAD_LEN, 'match field header truncated');
    const h = pullHeader(r);
    if (h.cls === N1 && h.field === NXM_CONJ_ID && !h.wf) {
      if (h.hasMask || h.len !== 4) throw badMatch(OFPBMC_BAD_LEN, 'NXM_NX_CONJ_ID: bad length or mask');
      if (m.conjId !== undefined) throw badMatch(OFPBMC_DUP_FIELD, 'conj_id appears twice');
      m.conjId = r.u32();
      (m.extra ??= []).push({ name: 'conj_id', slot: 'meta', rank: extraFieldRank('conj_id'), text: String(m.conjId) });
      continue;
    }
    if (allowNxmCookie && h.cls === N1 && h.field === 30 && !h.wf) {
      if (h.len !== (h.hasMask ? 16 : 8)) throw badMatch(OFPBMC_BAD_LEN, 'NXM_NX_COOKIE: bad length');
      const v = r.u64();
      cookie = [v, h.hasMask ? r.u64() : 0xffffffffffffffffn];
      continue;
    }
    const wf = h.wf;
    if (!wf) {
      r.skip(Math.min(h.len, r.left));
      throw badMatch(OFPBMC_BAD_FIELD, `unknown match field class 0x${h.cls.toString(16)} field ${h.field}`);
    }
    if (h.len !== wf.bytes * (h.hasMask ? 2 : 1)) throw badMatch(OFPBMC_BAD_LEN, `${wf.name}: bad length ${h.len}`);
    if (h.hasMask && !wf.maskable) throw badMatch(OFPBMC_BAD_MASK, `${wf.name} may not be masked`);
    const v = r.uint(wf.bytes);
    const k = h.hasMask ? r.uint(wf.bytes) : fullMask(wf);
    if (v & ~k) throw badMatch(OFPBMC_BAD_WILDCARDS, `${wf.name}: value has bits outside the mask`);
    if (seen.has(wf) || (names.has(wf.name) && !wf.name.startsWith('xreg'))) throw badMatch(OFPBMC_DUP_FIELD, `${wf.name} appears twice`);
    seen.add(wf);
    names.add(wf.name);
    setWire(m, wf, v, k);
    if (wf.name === 'actset_output') {
      const p = portFromOf11(Number(v));
      if (p === null) throw badMatch(OFPBMC_BAD_VALUE, `actset_output ${v} is out of range`);
      (m.extra ??= []).push({ name: 'actset_output', slot: 'meta', rank: extraFieldRank('actset_output'), text: `actset_output=${portLabel(p)}` });
      m.extra.sort((a, b) => a.rank - b.rank);
    }
  }
  for (const name of names) if (!prereqOk(m, name)) throw badMatch(OFPBMC_BAD_PREREQ, `${name} lacks its prerequisites`);
  return { match: m, cookie };
}

/** struct ofp_match: type 1 (OXM), its length, fields, padding. */
export function decodeOxmMatch(r: Reader): Match {
  const start = r.pos;
  if (r.left < 4) throw badMatch(OFPBMC_BAD_LEN, 'ofp_match truncated');
  const type = r.u16(), len = r.u16();
  if (type !== 1) throw badMatch(OFPBMC_BAD_TYPE, `match type ${type} is not OXM`);
  if (len < 4) throw badMatch(OFPBMC_BAD_LEN, `ofp_match length ${len}`);
  const padded = (len + 7) & ~7;
  if (start + padded > r.end) throw badMatch(OFPBMC_BAD_LEN, 'ofp_match longer than the message');
  const fields = r.sub(len - 4, () => badMatch(OFPBMC_BAD_LEN, 'match field truncated'));
  r.skip(padded - len);
  return decodeMatchFields(fields).match;
}

// -------------------------------------------------------------- prerequisites

const ANY_VALID = CS_NEW | CS_ESTABLISHED | CS_RELATED | CS_REPLY_DIR | CS_SRC_NAT | CS_DST_NAT;

/** OVS's field prerequisites, on what the match matches exactly. */
export function prereqOk(m: Match, name: string): boolean {
  const def = lookupField(name);
  if (!def) return true;
  const type = m.mask[FK_ETH_TYPE] === 0xffff ? m.value[FK_ETH_TYPE] : -1;
  const proto = (m.mask[FK_NW_PROTO] & 0xff) === 0xff ? m.value[FK_NW_PROTO] : -1;
  const ip = type === 0x0800 || type === 0x86dd;
  const later = (m.value[FK_NW_FRAG] & FRAG_LATER) !== 0;
  switch (def.prereq) {
    case 'ip': return ip || (name === 'nw_proto' && (type === 0x0806 || type === 0x8035));
    case 'ipv4': return type === 0x0800 || type === 0x0806 || type === 0x8035;
    case 'ipv6': return type === 0x86dd;
    case 'arp': return type === 0x0806 || type === 0x8035;
    case 'l4': return ip && (proto === 6 || proto === 17 || proto === 132) && !later;
    case 'tcp': return ip && proto === 6 && !later;
    case 'udp': return ip && proto === 17 && !later;
    case 'sctp': return ip && proto === 132 && !later;
    case 'icmp': return (type === 0x0800 && proto === 1) || (type === 0x86dd && proto === 58);
    case 'icmpv6': return type === 0x86dd && proto === 58;
    case 'nd': case 'nd_solicit': case 'nd_advert': {
      const t = m.mask[FK_TP_SRC] & 0xff ? m.value[FK_TP_SRC] : -1;
      const want = def.prereq === 'nd_solicit' ? [135] : def.prereq === 'nd_advert' ? [136] : [135, 136];
      return type === 0x86dd && proto === 58 && want.includes(t) && m.value[FK_TP_DST] === 0;
    }
    case 'ct': {
      const v = m.value[FK_CT_STATE], k = m.mask[FK_CT_STATE];
      return (v & ANY_VALID) !== 0 || ((v & CS_TRACKED) !== 0 && (k & CS_INVALID) !== 0 && (v & CS_INVALID) === 0);
    }
    default: return true;
  }
}
