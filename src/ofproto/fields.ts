// Match fields (ovs-fields(7)): names and aliases, width, where each lives
// in the flow key, prerequisites, and how values are written. Also the
// read/write helpers translation uses for set_field, load and move.
//
// A field occupies `parts`: (word, bits, shift) from most to least
// significant, so a 48-bit MAC is [HI word 16 bits, LO word 32 bits] and
// ip_dscp is 6 bits at shift 2 of the TOS word.

import {
  FK_ARP_SHA_HI, FK_ARP_THA_HI, FK_CT_IPV6_DST, FK_CT_IPV6_SRC, FK_CT_LABEL, FK_CT_MARK, FK_CT_NW_DST,
  FK_CT_NW_PROTO, FK_CT_NW_SRC, FK_CT_STATE, FK_CT_TP, FK_CT_ZONE, FK_ETH_DST_HI, FK_ETH_SRC_HI, FK_ETH_TYPE,
  FK_IN_PORT, FK_IPV6_DST, FK_IPV6_LABEL, FK_IPV6_SRC, FK_METADATA_HI, FK_ND_TARGET, FK_NW_DST, FK_NW_FRAG,
  FK_NW_PROTO, FK_NW_SRC, FK_NW_TOS, FK_NW_TTL, FK_PKT_MARK, FK_REG0, FK_TCP_FLAGS, FK_TP_DST, FK_TP_SRC,
  FK_VLAN_TCI, FK_RECIRC_ID, FK_DP_HASH,
} from '../packet/flow-key.ts';
import type { FieldRef } from './actions.ts';
import { OFK_ACTSET_OUTPUT } from './match.ts';

export type FieldKind = 'int' | 'hex' | 'ipv4' | 'ipv6' | 'mac' | 'ct_state' | 'tcp_flags' | 'frag' | 'port';

/** What must be matched before a field may be: OVS's prerequisites. */
export type Prereq =
  | 'none' | 'ip' | 'ipv4' | 'ipv6' | 'arp' | 'ip_or_arp' | 'l4' | 'tcp' | 'udp' | 'sctp' | 'icmp' | 'icmpv6' | 'nd'
  | 'nd_solicit' | 'nd_advert' | 'vlan' | 'ct' | 'mpls' | 'nsh';

export interface Part {
  word: number;
  bits: number;
  shift: number;
}

export interface FieldDef {
  name: string;
  /** NXM/OXM name used by load/move text, e.g. NXM_OF_IP_SRC. */
  nxm: string;
  aliases: string[];
  bits: number;
  parts: Part[];
  kind: FieldKind;
  prereq: Prereq;
  maskable: boolean;
  /** Writable by set_field/load (ovs-fields "Read/Write"). */
  writable: boolean;
  /** false for a field swd parses and prints but does not carry (lookupRefField). */
  carried?: false;
}

const FIELDS: FieldDef[] = [];
const BY_NAME = new Map<string, FieldDef>();

function def(name: string, nxm: string, aliases: string[], parts: Part[], kind: FieldKind, prereq: Prereq, maskable = true, writable = true): void {
  const bits = parts.reduce((n, p) => n + p.bits, 0);
  const f: FieldDef = { name, nxm, aliases, bits, parts, kind, prereq, maskable, writable };
  FIELDS.push(f);
  // (An NXM name belongs to the first field that has it: NXM_OF_TCP_SRC is tcp_src, not tp_src.)
  for (const n of [name, nxm, ...aliases]) if (n === name || !BY_NAME.has(n.toLowerCase())) BY_NAME.set(n.toLowerCase(), f);
}

const w = (word: number, bits = 32, shift = 0): Part => ({ word, bits, shift });
const mac = (hi: number): Part[] => [w(hi, 16), w(hi + 1, 32)];
const v6 = (first: number): Part[] => [w(first), w(first + 1), w(first + 2), w(first + 3)];

def('in_port', 'NXM_OF_IN_PORT', [], [w(FK_IN_PORT, 16)], 'port', 'none', false);
def('in_port_oxm', 'OXM_OF_IN_PORT', [], [w(FK_IN_PORT)], 'port', 'none', false);
def('dp_hash', 'NXM_NX_DP_HASH', ['NXOXM_ET_DP_HASH'], [w(FK_DP_HASH)], 'hex', 'none', true, false);
def('recirc_id', 'NXM_NX_RECIRC_ID', [], [w(FK_RECIRC_ID)], 'hex', 'none', false, false);
def('metadata', 'OXM_OF_METADATA', [], [w(FK_METADATA_HI), w(FK_METADATA_HI + 1)], 'hex', 'none');
for (let i = 0; i < 16; i++) def(`reg${i}`, `NXM_NX_REG${i}`, [], [w(FK_REG0 + i)], 'hex', 'none');
// xregN is the register pair reg2N:reg2N+1 (OpenFlow 1.5's packet registers), xxregN four registers.
for (let i = 0; i < 8; i++) def(`xreg${i}`, `OXM_OF_PKT_REG${i}`, [], [w(FK_REG0 + 2 * i), w(FK_REG0 + 2 * i + 1)], 'hex', 'none');
for (let i = 0; i < 4; i++) def(`xxreg${i}`, `NXM_NX_XXREG${i}`, [], v6(FK_REG0 + 4 * i), 'hex', 'none');
def('pkt_mark', 'NXM_NX_PKT_MARK', [], [w(FK_PKT_MARK)], 'hex', 'none');
def('ct_state', 'NXM_NX_CT_STATE', [], [w(FK_CT_STATE, 8)], 'ct_state', 'none', true, false);
def('ct_zone', 'NXM_NX_CT_ZONE', [], [w(FK_CT_ZONE, 16)], 'hex', 'none', false, false);
def('ct_mark', 'NXM_NX_CT_MARK', [], [w(FK_CT_MARK)], 'hex', 'none');
def('ct_label', 'NXM_NX_CT_LABEL', [], v6(FK_CT_LABEL), 'hex', 'none');
def('ct_nw_src', 'NXM_NX_CT_NW_SRC', [], [w(FK_CT_NW_SRC)], 'ipv4', 'ct', true, false);
def('ct_nw_dst', 'NXM_NX_CT_NW_DST', [], [w(FK_CT_NW_DST)], 'ipv4', 'ct', true, false);
def('ct_ipv6_src', 'NXM_NX_CT_IPV6_SRC', [], v6(FK_CT_IPV6_SRC), 'ipv6', 'ct', true, false);
def('ct_ipv6_dst', 'NXM_NX_CT_IPV6_DST', [], v6(FK_CT_IPV6_DST), 'ipv6', 'ct', true, false);
def('ct_nw_proto', 'NXM_NX_CT_NW_PROTO', [], [w(FK_CT_NW_PROTO, 8)], 'int', 'ct', false, false);
def('ct_tp_src', 'NXM_NX_CT_TP_SRC', [], [w(FK_CT_TP, 16, 16)], 'int', 'ct', true, false);
def('ct_tp_dst', 'NXM_NX_CT_TP_DST', [], [w(FK_CT_TP, 16, 0)], 'int', 'ct', true, false);
def('eth_src', 'NXM_OF_ETH_SRC', ['dl_src', 'OXM_OF_ETH_SRC'], mac(FK_ETH_SRC_HI), 'mac', 'none');
def('eth_dst', 'NXM_OF_ETH_DST', ['dl_dst', 'OXM_OF_ETH_DST'], mac(FK_ETH_DST_HI), 'mac', 'none');
def('eth_type', 'NXM_OF_ETH_TYPE', ['dl_type', 'OXM_OF_ETH_TYPE'], [w(FK_ETH_TYPE, 16)], 'hex', 'none', false, false);
def('vlan_tci', 'NXM_OF_VLAN_TCI', [], [w(FK_VLAN_TCI, 16)], 'hex', 'none');
def('dl_vlan', 'OXM_OF_VLAN_VID', ['vlan_vid'], [w(FK_VLAN_TCI, 12)], 'int', 'none', false);
def('dl_vlan_pcp', 'OXM_OF_VLAN_PCP', ['vlan_pcp'], [w(FK_VLAN_TCI, 3, 13)], 'int', 'none', false);
def('nw_src', 'NXM_OF_IP_SRC', ['ip_src', 'ipv4_src', 'OXM_OF_IPV4_SRC'], [w(FK_NW_SRC)], 'ipv4', 'ipv4');
def('nw_dst', 'NXM_OF_IP_DST', ['ip_dst', 'ipv4_dst', 'OXM_OF_IPV4_DST'], [w(FK_NW_DST)], 'ipv4', 'ipv4');
def('ipv6_src', 'NXM_NX_IPV6_SRC', ['OXM_OF_IPV6_SRC'], v6(FK_IPV6_SRC), 'ipv6', 'ipv6');
def('ipv6_dst', 'NXM_NX_IPV6_DST', ['OXM_OF_IPV6_DST'], v6(FK_IPV6_DST), 'ipv6', 'ipv6');
def('ipv6_label', 'NXM_NX_IPV6_LABEL', ['OXM_OF_IPV6_FLABEL'], [w(FK_IPV6_LABEL, 20)], 'hex', 'ipv6');
def('nw_proto', 'NXM_OF_IP_PROTO', ['ip_proto', 'OXM_OF_IP_PROTO'], [w(FK_NW_PROTO, 8)], 'int', 'ip', false, false);
def('nw_tos', 'NXM_OF_IP_TOS', [], [w(FK_NW_TOS, 8)], 'int', 'ip', false);
def('ip_dscp', 'OXM_OF_IP_DSCP', [], [w(FK_NW_TOS, 6, 2)], 'int', 'ip', false);
def('nw_ecn', 'NXM_NX_IP_ECN', ['ip_ecn', 'OXM_OF_IP_ECN'], [w(FK_NW_TOS, 2)], 'int', 'ip', false);
def('nw_ttl', 'NXM_NX_IP_TTL', [], [w(FK_NW_TTL, 8)], 'int', 'ip', false);
def('ip_frag', 'NXM_NX_IP_FRAG', ['nw_frag'], [w(FK_NW_FRAG, 2)], 'frag', 'ip', true, false);
def('arp_op', 'NXM_OF_ARP_OP', ['OXM_OF_ARP_OP'], [w(FK_NW_PROTO, 16)], 'int', 'arp', false);
def('arp_spa', 'NXM_OF_ARP_SPA', ['OXM_OF_ARP_SPA'], [w(FK_NW_SRC)], 'ipv4', 'arp');
def('arp_tpa', 'NXM_OF_ARP_TPA', ['OXM_OF_ARP_TPA'], [w(FK_NW_DST)], 'ipv4', 'arp');
def('arp_sha', 'NXM_NX_ARP_SHA', ['OXM_OF_ARP_SHA'], mac(FK_ARP_SHA_HI), 'mac', 'arp');
def('arp_tha', 'NXM_NX_ARP_THA', ['OXM_OF_ARP_THA'], mac(FK_ARP_THA_HI), 'mac', 'arp');
def('tcp_src', 'NXM_OF_TCP_SRC', ['OXM_OF_TCP_SRC'], [w(FK_TP_SRC, 16)], 'int', 'tcp');
def('tcp_dst', 'NXM_OF_TCP_DST', ['OXM_OF_TCP_DST'], [w(FK_TP_DST, 16)], 'int', 'tcp');
def('udp_src', 'NXM_OF_UDP_SRC', ['OXM_OF_UDP_SRC'], [w(FK_TP_SRC, 16)], 'int', 'udp');
def('udp_dst', 'NXM_OF_UDP_DST', ['OXM_OF_UDP_DST'], [w(FK_TP_DST, 16)], 'int', 'udp');
def('sctp_src', 'OXM_OF_SCTP_SRC', [], [w(FK_TP_SRC, 16)], 'int', 'sctp');
def('sctp_dst', 'OXM_OF_SCTP_DST', [], [w(FK_TP_DST, 16)], 'int', 'sctp');
def('tp_src', 'NXM_OF_TCP_SRC', [], [w(FK_TP_SRC, 16)], 'int', 'l4');
def('tp_dst', 'NXM_OF_TCP_DST', [], [w(FK_TP_DST, 16)], 'int', 'l4');
def('tcp_flags', 'NXM_NX_TCP_FLAGS', ['ONFOXM_ET_TCP_FLAGS', 'OXM_OF_TCP_FLAGS'], [w(FK_TCP_FLAGS, 12)], 'tcp_flags', 'tcp', true, false);
def('icmp_type', 'NXM_OF_ICMP_TYPE', ['OXM_OF_ICMPV4_TYPE'], [w(FK_TP_SRC, 8)], 'int', 'icmp', false);
def('icmp_code', 'NXM_OF_ICMP_CODE', ['OXM_OF_ICMPV4_CODE'], [w(FK_TP_DST, 8)], 'int', 'icmp', false);
def('icmpv6_type', 'NXM_NX_ICMPV6_TYPE', ['OXM_OF_ICMPV6_TYPE'], [w(FK_TP_SRC, 8)], 'int', 'icmpv6', false);
def('icmpv6_code', 'NXM_NX_ICMPV6_CODE', ['OXM_OF_ICMPV6_CODE'], [w(FK_TP_DST, 8)], 'int', 'icmpv6', false);
def('nd_target', 'NXM_NX_ND_TARGET', ['OXM_OF_IPV6_ND_TARGET'], v6(FK_ND_TARGET), 'ipv6', 'nd');
def('nd_sll', 'NXM_NX_ND_SLL', ['OXM_OF_IPV6_ND_SLL'], mac(FK_ARP_SHA_HI), 'mac', 'nd_solicit');
def('nd_tll', 'NXM_NX_ND_TLL', ['OXM_OF_IPV6_ND_TLL'], mac(FK_ARP_THA_HI), 'mac', 'nd_advert');

/**
 * Fields of ovs-fields(7) that swd parses and prints but cannot carry in its
 * flow key yet (tunnel metadata, MPLS, NSH, conjunctive matches, the action
 * set's output): a flow matching one parses and prints as OVS prints it, and
 * adding it is refused ("not supported by swd"), never accepted and ignored.
 * `slot` is where ovs-ofctl prints the field within a match.
 */
export interface ExtraFieldDef {
  name: string;
  /** The name field references print (NXM_NX_TUN_ID[], OXM_OF_MPLS_LABEL[], ...). */
  nxm: string;
  kind: 'hex' | 'dec' | 'ipv4' | 'ipv6' | 'tun_flags' | 'port';
  bits: number;
  maskable: boolean;
  slot: 'meta' | 'tunnel' | 'mpls' | 'nsh';
  prereq: Prereq;
}

const EXTRA = new Map<string, ExtraFieldDef>();
const EXTRA_ORDER: string[] = [];

function extra(name: string, aliases: string[], kind: ExtraFieldDef['kind'], bits: number, maskable: boolean, slot: ExtraFieldDef['slot'], prereq: Prereq = 'none'): void {
  const f: ExtraFieldDef = { name, nxm: aliases.find(isNxmName) ?? name, kind, bits, maskable, slot, prereq };
  EXTRA_ORDER.push(name);
  for (const n of [name, ...aliases]) EXTRA.set(n.toLowerCase(), f);
}

extra('conj_id', ['NXM_NX_CONJ_ID'], 'dec', 32, false, 'meta');
extra('skb_priority', [], 'hex', 32, false, 'meta');
extra('actset_output', ['ONFOXM_ET_ACTSET_OUTPUT', 'OXM_OF_ACTSET_OUTPUT'], 'port', 32, false, 'meta');
extra('tun_id', ['tunnel_id', 'NXM_NX_TUN_ID', 'OXM_OF_TUNNEL_ID'], 'hex', 64, true, 'tunnel');
extra('tun_src', ['NXM_NX_TUN_IPV4_SRC'], 'ipv4', 32, true, 'tunnel');
extra('tun_dst', ['NXM_NX_TUN_IPV4_DST'], 'ipv4', 32, true, 'tunnel');
extra('tun_ipv6_src', ['NXM_NX_TUN_IPV6_SRC'], 'ipv6', 128, true, 'tunnel');
extra('tun_ipv6_dst', ['NXM_NX_TUN_IPV6_DST'], 'ipv6', 128, true, 'tunnel');
extra('tun_gbp_id', ['NXM_NX_TUN_GBP_ID'], 'dec', 16, true, 'tunnel');
extra('tun_gbp_flags', ['NXM_NX_TUN_GBP_FLAGS'], 'hex', 8, true, 'tunnel');
extra('tun_tos', [], 'dec', 8, false, 'tunnel');
extra('tun_ttl', [], 'dec', 8, false, 'tunnel');
extra('tun_erspan_ver', ['NXOXM_ET_ERSPAN_VER'], 'dec', 4, true, 'tunnel');
extra('tun_erspan_idx', ['NXOXM_ET_ERSPAN_IDX'], 'hex', 20, true, 'tunnel');
extra('tun_erspan_dir', ['NXOXM_ET_ERSPAN_DIR'], 'dec', 1, true, 'tunnel');
extra('tun_erspan_hwid', ['NXOXM_ET_ERSPAN_HWID'], 'hex', 6, true, 'tunnel');
extra('tun_gtpu_flags', ['NXOXM_ET_GTPU_FLAGS'], 'hex', 8, true, 'tunnel');
extra('tun_gtpu_msgtype', ['NXOXM_ET_GTPU_MSGTYPE'], 'dec', 8, true, 'tunnel');
extra('tun_flags', ['NXM_NX_TUN_FLAGS'], 'tun_flags', 1, true, 'tunnel');
for (let i = 0; i < 64; i++) extra(`tun_metadata${i}`, [`NXM_NX_TUN_METADATA${i}`], 'hex', 992, true, 'tunnel');
extra('mpls_label', ['OXM_OF_MPLS_LABEL'], 'dec', 20, false, 'mpls', 'mpls');
extra('mpls_tc', ['OXM_OF_MPLS_TC'], 'dec', 3, false, 'mpls', 'mpls');
extra('mpls_ttl', ['NXM_NX_MPLS_TTL'], 'dec', 8, false, 'mpls', 'mpls');
extra('mpls_bos', ['OXM_OF_MPLS_BOS'], 'dec', 1, false, 'mpls', 'mpls');
extra('nsh_flags', ['NXOXM_NSH_FLAGS'], 'dec', 8, true, 'nsh', 'nsh');
extra('nsh_ttl', ['NXOXM_NSH_TTL'], 'dec', 8, false, 'nsh', 'nsh');
extra('nsh_mdtype', ['NXOXM_NSH_MDTYPE'], 'dec', 8, false, 'nsh', 'nsh');
extra('nsh_np', ['NXOXM_NSH_NP'], 'dec', 8, false, 'nsh', 'nsh');
extra('nsh_spi', ['nsp', 'NXOXM_NSH_SPI'], 'hex', 24, false, 'nsh', 'nsh');
extra('nsh_si', ['nsi', 'NXOXM_NSH_SI'], 'dec', 8, false, 'nsh', 'nsh');
for (let i = 1; i <= 4; i++) extra(`nsh_c${i}`, [`nshc${i}`, `NXOXM_NSH_C${i}`], 'hex', 32, true, 'nsh', 'nsh');

export function lookupExtraField(name: string): ExtraFieldDef | undefined {
  return EXTRA.get(name.toLowerCase());
}

const EXTRA_REFS = new Map<string, FieldDef>();
/** Fields ovs-fields(7) calls read-only: set_field, load and move may not write them. */
const READ_ONLY_EXTRA = new Set(['conj_id', 'actset_output']);

/**
 * A field as load/move/set_field/output/zone= may name it: a field of the
 * flow key, or one swd does not carry (as a FieldDef without parts and with
 * `carried: false`, for parsing and printing only; a switch refuses it).
 */
export function lookupRefField(name: string): FieldDef | undefined {
  const f = lookupField(name);
  if (f) return f;
  const x = lookupExtraField(name);
  if (!x) return undefined;
  let d = EXTRA_REFS.get(x.name);
  if (!d) {
    const kind: FieldKind = x.kind === 'dec' ? 'int' : x.kind === 'tun_flags' ? 'hex' : x.kind;
    d = { name: x.name, nxm: x.nxm, aliases: [], bits: x.bits, parts: [], kind, prereq: x.prereq, maskable: x.maskable, writable: !READ_ONLY_EXTRA.has(x.name), carried: false };
    // actset_output lives in the OpenFlow flow's translation-only tail (match.ts): move, output and push read it.
    if (x.name === 'actset_output') {
      d.parts = [w(OFK_ACTSET_OUTPUT)];
      delete d.carried;
    }
    EXTRA_REFS.set(x.name, d);
  }
  return d;
}

/** ovs-ofctl's print order of the extra fields (within their slot). */
export function extraFieldRank(name: string): number {
  return EXTRA_ORDER.indexOf(name);
}

/**
 * NXM/OXM names (NXM_NX_REG0, OXM_OF_ARP_TPA, ...) name fields only in field
 * references (load, move, output:FIELD[], zone=FIELD[]); matches and
 * set_field take the keyword names, as in ovs-ofctl.
 */
export function isNxmName(name: string): boolean {
  return /^(nxm_|oxm_|nxoxm_|onfoxm_|ericoxm_)/i.test(name);
}

export function lookupField(name: string): FieldDef | undefined {
  return BY_NAME.get(name.toLowerCase());
}

export function allFields(): readonly FieldDef[] {
  return FIELDS;
}

function fieldOf(name: string): FieldDef {
  const f = lookupField(name) ?? (name === 'actset_output' ? lookupRefField(name) : undefined);
  if (!f) throw new Error(`unknown field '${name}'`);
  return f;
}

/** Read a whole field from a key. */
export function readField(key: Uint32Array, ofs: number, name: string): bigint {
  const f = fieldOf(name);
  let v = 0n;
  for (const p of f.parts) {
    const bits = (key[ofs + p.word] >>> p.shift) & (p.bits === 32 ? 0xffffffff : (1 << p.bits) - 1);
    v = (v << BigInt(p.bits)) | BigInt(bits >>> 0);
  }
  return v;
}

/** Write `value` under `mask` into a field of a key. */
export function writeField(key: Uint32Array, ofs: number, name: string, value: bigint, mask: bigint): void {
  const f = fieldOf(name);
  let shift = BigInt(f.bits);
  for (const p of f.parts) {
    shift -= BigInt(p.bits);
    const pm = Number((mask >> shift) & ((1n << BigInt(p.bits)) - 1n));
    const pv = Number((value >> shift) & ((1n << BigInt(p.bits)) - 1n));
    const wm = (pm << p.shift) >>> 0;
    const wv = (pv << p.shift) >>> 0;
    key[ofs + p.word] = ((key[ofs + p.word] & ~wm) | (wv & wm)) >>> 0;
  }
}

export function sliceMask(ref: FieldRef): bigint {
  return ((1n << BigInt(ref.nbits)) - 1n) << BigInt(ref.ofs);
}

export function readSlice(key: Uint32Array, ofs: number, ref: FieldRef): bigint {
  return (readField(key, ofs, ref.field) >> BigInt(ref.ofs)) & ((1n << BigInt(ref.nbits)) - 1n);
}

export function writeSlice(key: Uint32Array, ofs: number, ref: FieldRef, value: bigint): void {
  writeField(key, ofs, ref.field, value << BigInt(ref.ofs), sliceMask(ref));
}

/** The key words and bit masks a field (or a slice of it) covers. */
export function fieldKeyMask(name: string, sliceOfs?: number, nbits?: number): { word: number; mask: number }[] {
  const f = fieldOf(name);
  const m = sliceOfs === undefined ? (1n << BigInt(f.bits)) - 1n : ((1n << BigInt(nbits ?? f.bits)) - 1n) << BigInt(sliceOfs);
  const out: { word: number; mask: number }[] = [];
  let shift = BigInt(f.bits);
  for (const p of f.parts) {
    shift -= BigInt(p.bits);
    const pm = Number((m >> shift) & ((1n << BigInt(p.bits)) - 1n));
    if (pm) out.push({ word: p.word, mask: (pm << p.shift) >>> 0 });
  }
  return out;
}
