// `swctl parse-flows FILE`: print each flow of a file the way
// `ovs-ofctl parse-flows` does — the OpenFlow protocols that can carry all of
// them, the one chosen, then one flow-mod line per flow. Offline.

import { readFileSync } from 'node:fs';
import {
  FK_ETH_DST_HI, FK_ETH_SRC_HI, FK_ETH_TYPE, FK_IN_PORT, FK_NW_DST, FK_NW_PROTO, FK_NW_SRC, FK_NW_TOS,
  FK_TP_DST, FK_TP_SRC, FK_VLAN_TCI, FK_WORDS, FK_METADATA_HI,
} from '../packet/flow-key.ts';
import { ParseError } from './errors.ts';
import type { FlowSpec } from './flow-spec.ts';
import { formatActions } from './format-actions.ts';
import { formatMatch } from './format-flow.ts';
import { parseFlowFile } from './parse-flow.ts';
import { of10OnlyActions } from './check-actions.ts';

// OpenFlow protocol variants, in ovs-ofctl's order of preference.
const P_OF10_STD = 1 << 0; // OpenFlow10-table_id
const P_OF10_STD_TID = 1 << 1; // OpenFlow10+table_id
const P_OF10_NXM = 1 << 2; // NXM-table_id
const P_OF10_NXM_TID = 1 << 3; // NXM+table_id
const P_OF11 = 1 << 4;
const P_OF12 = 1 << 5;
const P_OF13 = 1 << 6;
const P_OF14 = 1 << 7;
const P_OF15 = 1 << 8;
const P_OXM = P_OF12 | P_OF13 | P_OF14 | P_OF15;
const P_ANY = (1 << 9) - 1;

const NAMES: [number, string][] = [
  [P_OF10_STD, 'OpenFlow10-table_id'], [P_OF10_STD_TID, 'OpenFlow10+table_id'], [P_OF10_NXM, 'NXM-table_id'],
  [P_OF10_NXM_TID, 'NXM+table_id'], [P_OF11, 'OpenFlow11'], [P_OF12, 'OXM-OpenFlow12'], [P_OF13, 'OXM-OpenFlow13'],
  [P_OF14, 'OXM-OpenFlow14'], [P_OF15, 'OXM-OpenFlow15'],
];
const ABBREVS: [number, string][] = [
  [P_ANY, 'any'], [P_OF10_STD | P_OF10_STD_TID, 'OpenFlow10'], [P_OF10_NXM | P_OF10_NXM_TID, 'NXM'], [P_OXM, 'OXM'],
];

export function protocolsToString(set: number): string {
  const out: string[] = [];
  let rest = set;
  for (const [bits, name] of ABBREVS) {
    if ((rest & bits) === bits) {
      out.push(name);
      rest &= ~bits;
    }
  }
  for (const [bit, name] of NAMES) if (rest & bit) out.push(name);
  return out.join(',');
}

/** Which key bits OpenFlow 1.0's fixed match can express (whole fields; CIDR for nw_src/dst). */
function of10Expressible(spec: FlowSpec): boolean {
  const M = spec.match.mask;
  const allowed = new Set([FK_IN_PORT, FK_ETH_SRC_HI, FK_ETH_SRC_HI + 1, FK_ETH_DST_HI, FK_ETH_DST_HI + 1, FK_VLAN_TCI, FK_ETH_TYPE, FK_NW_TOS, FK_NW_PROTO, FK_NW_SRC, FK_NW_DST, FK_TP_SRC, FK_TP_DST]);
  for (let w = 0; w < FK_WORDS; w++) if (M[w] && !allowed.has(w)) return false;
  const exact = (w: number, full: number) => M[w] === 0 || ((M[w] & full) >>> 0) === full >>> 0;
  if (!exact(FK_ETH_SRC_HI, 0xffff) || !exact(FK_ETH_SRC_HI + 1, 0xffffffff)) return false;
  if (!exact(FK_ETH_DST_HI, 0xffff) || !exact(FK_ETH_DST_HI + 1, 0xffffffff)) return false;
  // ICMP type and code ride in the 16-bit port fields, matched as 8 bits.
  for (const w of [FK_TP_SRC, FK_TP_DST]) if (M[w] !== 0 && M[w] !== 0xff && M[w] !== 0xffff) return false;
  if (M[FK_NW_TOS] && (M[FK_NW_TOS] & 0xff) !== 0xfc) return false;
  for (const w of [FK_NW_SRC, FK_NW_DST]) {
    const inv = ~M[w] >>> 0;
    if ((inv & (inv + 1)) !== 0) return false; // not a CIDR mask
  }
  const t = M[FK_VLAN_TCI] & 0xffff;
  if (t && t !== 0x1fff && t !== 0xf000 && t !== 0xffff && t !== 0xf000 + 0x1fff - 0x1000) return false;
  // (An untagged match with the VLAN id bits masked, vlan_tci=0/0x1fff, has no OpenFlow 1.0/1.1 form.)
  if (t === 0x1fff && (spec.match.value[FK_VLAN_TCI] & 0x1000) === 0) return false;
  return true;
}

/** OpenFlow 1.1 adds ECN, metadata and arbitrary Ethernet/IPv4 masks to 1.0's match. */
function of11Expressible(spec: FlowSpec): boolean {
  const M = spec.match.mask;
  const allowed = new Set([FK_IN_PORT, FK_ETH_SRC_HI, FK_ETH_SRC_HI + 1, FK_ETH_DST_HI, FK_ETH_DST_HI + 1, FK_VLAN_TCI, FK_ETH_TYPE, FK_NW_TOS, FK_NW_PROTO, FK_NW_SRC, FK_NW_DST, FK_TP_SRC, FK_TP_DST, FK_METADATA_HI, FK_METADATA_HI + 1]);
  for (let w = 0; w < FK_WORDS; w++) if (M[w] && !allowed.has(w)) return false;
  const t = M[FK_VLAN_TCI] & 0xffff;
  if (t && t !== 0x1fff && t !== 0xf000 && t !== 0xffff && t !== 0xf000 + 0x1fff - 0x1000) return false;
  if (t === 0x1fff && (spec.match.value[FK_VLAN_TCI] & 0x1000) === 0) return false;
  return !l3OfIpv6(spec);
}

/** IPv6 beyond dl_type needs NXM or OXM. */
function l3OfIpv6(spec: FlowSpec): boolean {
  const M = spec.match.mask;
  return spec.match.value[FK_ETH_TYPE] === 0x86dd && (M[FK_NW_PROTO] !== 0 || M[FK_NW_TOS] !== 0 || M[FK_TP_SRC] !== 0 || M[FK_TP_DST] !== 0);
}

/** Actions that only NXM and OXM can carry (ct exec() setting ct_mark/ct_label). */
function needsNxmActions(spec: FlowSpec): boolean {
  return spec.actions.some((a) => a.type === 'ct' && a.exec.length > 0);
}

// Fields by the oldest protocol that matches them (OVS's usable_protocols_exact), which is
// also what a set_field to them can travel over; the others need NXM or OXM.
const OF10_FIELDS = new Set(['in_port', 'eth_src', 'eth_dst', 'eth_type', 'dl_vlan', 'dl_vlan_pcp', 'nw_src', 'nw_dst', 'nw_proto',
  'nw_tos', 'ip_dscp', 'tp_src', 'tp_dst', 'tcp_src', 'tcp_dst', 'udp_src', 'udp_dst', 'icmp_type', 'icmp_code', 'arp_op', 'arp_spa', 'arp_tpa']);
const OF11_FIELDS = new Set(['metadata', 'sctp_src', 'sctp_dst', 'nw_ecn', 'mpls_label', 'mpls_tc']);

function setFieldProtocols(spec: FlowSpec): number {
  let p = P_ANY;
  for (const a of spec.actions) {
    if (a.type !== 'set_field' || OF10_FIELDS.has(a.field)) continue;
    p &= OF11_FIELDS.has(a.field) ? P_OF11 | P_OF10_NXM | P_OF10_NXM_TID | P_OXM : P_OF10_NXM | P_OF10_NXM_TID | P_OXM;
  }
  return p;
}

export function usableProtocols(spec: FlowSpec): number {
  let p = setFieldProtocols(spec);
  // VLAN tag actions: push_vlan exists from OpenFlow 1.1 on; OpenFlow 1.0's strip_vlan only over 1.0/NXM.
  if (spec.actions.some((a) => a.type === 'push_vlan')) p &= P_OF11 | P_OXM;
  // meter is an OpenFlow 1.3 instruction; set_queue+pop_queue... travel as OpenFlow 1.0/NXM actions.
  if (spec.actions.some((a) => a.type === 'meter')) p &= P_OF13 | P_OF14 | P_OF15;
  // (OpenFlow 1.1+ pops a tag only from a flow that matches one.)
  const tagged = (spec.match.mask[FK_VLAN_TCI] & spec.match.value[FK_VLAN_TCI] & 0x1000) !== 0;
  if (!tagged && spec.actions.some((a) => a.type === 'pop_vlan' || a.type === 'strip_vlan')) p &= P_OF10_STD | P_OF10_STD_TID | P_OF10_NXM | P_OF10_NXM_TID;
  if (of10OnlyActions(spec)) p &= P_OF10_STD | P_OF10_STD_TID | P_OF10_NXM | P_OF10_NXM_TID;
  // Fields outside the flow key (conj_id, tunnel, MPLS, NSH, packet_type, ...) need NXM or OXM.
  const extra = (spec.match.extra?.length ?? 0) > 0;
  if (extra || !of10Expressible(spec) || l3OfIpv6(spec) || needsNxmActions(spec)) p &= ~(P_OF10_STD | P_OF10_STD_TID);
  if (extra || !of11Expressible(spec) || needsNxmActions(spec)) p &= ~P_OF11;
  // Any table=N, even table=0, needs a protocol that carries a table id (OVS: OFPUTIL_P_TID).
  if (spec.tableGiven) p &= ~(P_OF10_STD | P_OF10_NXM);
  return p;
}

export function formatParseFlows(specs: FlowSpec[]): string {
  let usable = P_ANY;
  for (const s of specs) usable &= usableProtocols(s);
  // Like ovs-ofctl without -O, parse-flows speaks OpenFlow 1.0 (with or without NXM and table ids):
  // flows that need OpenFlow 1.1 or later (meter, push_vlan, ...) have no usable protocol.
  if ((usable & (P_OF10_STD | P_OF10_STD_TID | P_OF10_NXM | P_OF10_NXM_TID)) === 0) {
    throw new ParseError('ENOPROTO', `no usable protocol (usable: ${protocolsToString(usable)}; parse-flows speaks OpenFlow 1.0 + NXM)`, 'flows', 1, 1);
  }
  const lines = [`usable protocols: ${protocolsToString(usable)}`];
  const chosen = NAMES.find(([bit]) => usable & bit)!;
  lines.push(`chosen protocol: ${chosen[1]}`);
  const nxm = chosen[0] === P_OF10_NXM || chosen[0] === P_OF10_NXM_TID;
  const tid = chosen[0] === P_OF10_STD_TID || chosen[0] === P_OF10_NXM_TID;
  specs.forEach((s, i) => {
    let l = `${nxm ? 'NXT_FLOW_MOD' : 'OFPT_FLOW_MOD'} (xid=0x${(i + 1).toString(16)}): ADD`;
    const table = s.tableGiven ? s.table : 255;
    if (tid && table !== 0) l += ` table:${table}`;
    const m = formatMatch(s.match, s.priority);
    if (m) l += ` ${m}`;
    // An all-ones cookie means "none" in a flow mod; importance exists from OpenFlow 1.4 only.
    if (s.cookie !== 0n && s.cookie !== (1n << 64n) - 1n) l += ` cookie:0x${s.cookie.toString(16)}`;
    if (s.idleTimeout) l += ` idle:${s.idleTimeout}`;
    if (s.hardTimeout) l += ` hard:${s.hardTimeout}`;
    for (const f of s.flags) l += ` ${f}`;
    l += ` actions=${formatActions(s.actions)}`;
    lines.push(l);
  });
  return lines.join('\n') + '\n';
}

export function parseFlowsCommand(path: string): { ok: true; text: string } | { ok: false; error: string } {
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (e) {
    return { ok: false, error: `cannot read ${path}: ${(e as Error).message}` };
  }
  try {
    return { ok: true, text: formatParseFlows(parseFlowFile(text, path, 'add')) };
  } catch (e) {
    if (e instanceof ParseError) return { ok: false, error: e.message };
    throw e;
  }
}
