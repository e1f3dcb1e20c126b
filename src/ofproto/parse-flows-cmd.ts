// `swctl parse-flows FILE`: print each flow of a file the way
// `ovs-ofctl parse-flows` does — the OpenFlow protocols that can carry all of
// them (usable-protocols.ts), the one chosen, then one flow-mod line per
// flow, as the flow reads back after being encoded in that protocol:
// ovs-ofctl speaks OpenFlow 1.0 (with NXM and table ids) by default, whose
// encoding leaves out match fields the match lacks the prerequisites for,
// the action set's instructions (write_actions, clear_actions) and
// goto_table (sent as resubmit), and whose decoder refuses actions that
// exist only in OpenFlow 1.3+ extensions. Offline.

import { readFileSync } from 'node:fs';
import {
  ETH_TYPE_ARP, ETH_TYPE_IP, ETH_TYPE_IPV6, ETH_TYPE_MPLS, ETH_TYPE_MPLS_MCAST, ETH_TYPE_NSH, ETH_TYPE_RARP, FK_ARP_SHA_HI, FK_ARP_THA_HI,
  FK_CT_IPV6_DST, FK_CT_IPV6_SRC, FK_CT_NW_DST, FK_CT_NW_PROTO, FK_CT_NW_SRC, FK_VLAN_TCI,
  FK_ETH_DST_HI, FK_ETH_SRC_HI, FK_ETH_TYPE, FK_IPV6_DST, FK_IPV6_LABEL, FK_IPV6_SRC, FK_ND_TARGET, FK_NW_DST, FK_NW_FRAG,
  FK_NW_PROTO, FK_NW_SRC, FK_NW_TOS, FK_NW_TTL, FK_TCP_FLAGS, FK_TP_DST, FK_TP_SRC, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP,
  IPPROTO_TCP, IPPROTO_UDP,
} from '../packet/flow-key.ts';
import type { OfAction } from './actions.ts';
import { ParseError } from './errors.ts';
import { lookupRefField } from './fields.ts';
import type { FlowSpec } from './flow-spec.ts';
import { formatActions, setFieldStaysSetField } from './format-actions.ts';
import { formatMatch } from './format-flow.ts';
import { ctStateValid, type Match } from './match.ts';
import { parseFlowFile } from './parse-flow.ts';
import {
  P_ANY, P_OF10_ANY, P_OF10_NXM, P_OF10_NXM_TID, P_OF10_STD_TID, PROTOCOL_NAMES, protocolsToString, usableProtocols,
} from './usable-protocols.ts';

export { protocolsToString, usableProtocols };

/** Where the flows came from, for errors: the file and each flow's line. */
export interface FlowsWhere {
  file: string;
  lines: number[];
}

let where: FlowsWhere = { file: 'flows', lines: [] };
let current = 0;

export function formatParseFlows(specs: FlowSpec[], from?: FlowsWhere): string {
  where = from ?? { file: 'flows', lines: [] };
  let usable = P_ANY;
  let first = -1;
  specs.forEach((s, i) => {
    usable &= usableProtocols(s);
    if (first < 0 && (usable & P_OF10_ANY) === 0) first = i;
  });
  // Like ovs-ofctl without -O, parse-flows speaks OpenFlow 1.0 (with or without NXM and table ids):
  // flows that need OpenFlow 1.1 or later (meter, push_vlan, reset_counts, ...) have no usable protocol.
  if ((usable & P_OF10_ANY) === 0) {
    current = first;
    fail('ENOPROTO', `no usable protocol (usable: ${protocolsToString(usable)}; parse-flows speaks OpenFlow 1.0 + NXM)`);
  }
  const lines = [`usable protocols: ${protocolsToString(usable)}`];
  const chosen = PROTOCOL_NAMES.find(([bit]) => usable & bit)!;
  lines.push(`chosen protocol: ${chosen[1]}`);
  const nxm = chosen[0] === P_OF10_NXM || chosen[0] === P_OF10_NXM_TID;
  const tid = chosen[0] === P_OF10_STD_TID || chosen[0] === P_OF10_NXM_TID;
  specs.forEach((s, i) => {
    current = i;
    let l = `${nxm ? 'NXT_FLOW_MOD' : 'OFPT_FLOW_MOD'} (xid=0x${(i + 1).toString(16)}): ADD`;
    const table = s.tableGiven ? s.table : 255;
    if (tid && table !== 0) l += ` table:${table}`;
    const m = formatMatch(carriedMatch(s.match, nxm), s.priority);
    if (m) l += ` ${m}`;
    // An all-ones cookie means "none" in a flow mod; importance exists from OpenFlow 1.4 only.
    if (s.cookie !== 0n && s.cookie !== (1n << 64n) - 1n) l += ` cookie:0x${s.cookie.toString(16)}`;
    if (s.idleTimeout) l += ` idle:${s.idleTimeout}`;
    if (s.hardTimeout) l += ` hard:${s.hardTimeout}`;
    for (const f of s.flags) l += ` ${f}`;
    l += ` actions=${formatActions(of10Actions(s.actions, isIpAny(s.match)))}`;
    lines.push(l);
  });
  return lines.join('\n') + '\n';
}

const LEGACY_SET_FIELDS = new Set(['nw_src', 'nw_dst', 'eth_src', 'eth_dst', 'tp_src', 'tcp_src', 'udp_src', 'tp_dst', 'tcp_dst', 'udp_dst', 'dl_vlan', 'dl_vlan_pcp', 'ip_dscp', 'nw_tos']);

/** An error about the flow being printed, located at its line. */
function fail(code: string, detail: string): never {
  throw new ParseError(code, detail, where.file, where.lines[current] ?? 1, 1);
}

function decodeError(code: string, what: string): never {
  return fail(code, `${code}: ${what} (as ovs-ofctl decodes the OpenFlow 1.0 flow mod it encoded)`);
}

/**
 * The actions as they read back from OpenFlow 1.0 + Nicira extensions:
 * write_actions and clear_actions are not sent, NX actions defined from
 * OpenFlow 1.3 on (decap, dec_nsh_ttl) and OVS's test actions do not
 * decode (OFPBAC_BAD_VENDOR_TYPE), and write_metadata, an instruction, may
 * no longer be followed by actions (goto_table became resubmit).
 */
function isIpAny(m: Match): boolean {
  const pt = /^packet_type=\(1,0x([0-9a-f]+)\)$/.exec(m.extra?.find((e) => e.name === 'packet_type')?.text ?? '');
  const type = m.mask[FK_ETH_TYPE] ? m.value[FK_ETH_TYPE] : pt ? parseInt(pt[1], 16) : -1;
  return type === ETH_TYPE_IP || type === ETH_TYPE_IPV6;
}

function of10Actions(actions: OfAction[], ip: boolean): OfAction[] {
  const out: OfAction[] = [];
  for (const a of actions) {
    // OpenFlow 1.0 has no ECN or TTL action: they travel as register loads, which the decoder checks against the match.
    if ((a.type === 'mod_nw_ecn' || a.type === 'mod_nw_ttl') && !ip) decodeError('OFPBAC_MATCH_INCONSISTENT', `${a.type} without ip`);
    if (a.type === 'write_actions' || a.type === 'clear_actions') continue;
    if (a.type === 'decap' || a.type === 'dec_nsh_ttl' || a.type === 'debug_recirc' || a.type === 'debug_slow') {
      decodeError('OFPBAC_BAD_VENDOR_TYPE', `${a.type} has no OpenFlow 1.0 encoding`);
    }
    if (out.length && out[out.length - 1].type === 'write_metadata') {
      decodeError('OFPBAC_UNSUPPORTED_ORDER', `${a.type === 'goto_table' ? 'resubmit' : a.type} after write_metadata`);
    }
    out.push(...of10Action(a, ip));
  }
  return out;
}

function of10Action(a: OfAction, ip: boolean): OfAction[] {
  switch (a.type) {
    case 'clone': return [{ ...a, actions: of10Actions(a.actions, ip) }];
    case 'goto_table': return [{ type: 'resubmit', port: null, table: a.table }];
    // OpenFlow 1.0's VLAN actions push a tag when there is none.
    case 'mod_vlan_vid': case 'mod_vlan_pcp': return [{ ...a, noPush: undefined }];
    // A load's destination is checked when the flow mod is decoded: a read-only one does not decode.
    case 'load':
      if (lookupRefField(a.dst.field)?.writable === false) {
        decodeError('OFPBAC_BAD_SET_ARGUMENT', `destination field ${a.dst.field} is not writable`);
      }
      return [a];
    case 'set_field': {
      // OpenFlow 1.0 has no set_field: a field its own actions set travels as those actions, the mask
      // dropped (OVS's set_field_to_legacy_openflow); vlan_tci as set_vlan_vid+set_vlan_pcp, or strip_vlan.
      if (a.field !== 'vlan_tci') {
        if (LEGACY_SET_FIELDS.has(a.field)) return [{ ...a, mask: null }];
        // A field without an NXM register code travels as NXAST_REG_LOAD2, value and mask as written:
        // the decoder refuses value bits outside the mask.
        if (a.mask !== null && (a.value & ~a.mask) !== 0n && setFieldStaysSetField(a.field)) {
          decodeError('OFPBMC_BAD_WILDCARDS', `set_field:${a.field} has value bits outside its mask`);
        }
        return [a];
      }
      const tci = Number(a.value);
      return tci & 0x1000 ? [{ type: 'mod_vlan_vid', vid: tci & 0xfff }, { type: 'mod_vlan_pcp', pcp: tci >> 13 }] : [{ type: 'strip_vlan' }];
    }
    default: return [a];
  }
}

/**
 * The match as it reads back from OpenFlow 1.0 (ofputil_normalize_match)
 * or NXM (nx_put_raw): fields whose prerequisites the match lacks are not
 * sent.
 */
function carriedMatch(m: Match, nxm: boolean): Match {
  const pt = /^packet_type=\((\d+),0x([0-9a-f]+)\)$/.exec(m.extra?.find((e) => e.name === 'packet_type')?.text ?? '');
  const type = pt ? (pt[1] === '1' ? parseInt(pt[2], 16) : -1) : m.mask[FK_ETH_TYPE] ? m.value[FK_ETH_TYPE] : -1;
  const proto = m.mask[FK_NW_PROTO] ? m.value[FK_NW_PROTO] : 0;
  const icmpType = m.value[FK_TP_SRC];
  const ip4 = type === ETH_TYPE_IP, ip6 = type === ETH_TYPE_IPV6, arp = type === ETH_TYPE_ARP || type === ETH_TYPE_RARP;
  const value = Uint32Array.from(m.value), mask = Uint32Array.from(m.mask);
  const clear = (w: number, n = 1) => {
    for (let i = 0; i < n; i++) value[w + i] = mask[w + i] = 0;
  };
  if (pt && !(pt[1] === '0' && pt[2] === '0')) {
    clear(FK_ETH_SRC_HI, 2);
    clear(FK_ETH_DST_HI, 2);
  }
  if (!ip4 && !arp) {
    clear(FK_NW_SRC);
    clear(FK_NW_DST);
  }
  if (!ip4 && !ip6 && !arp) clear(FK_NW_PROTO);
  if (!ip4 && !ip6) {
    clear(FK_NW_TOS);
    clear(FK_NW_TTL);
    clear(FK_NW_FRAG);
  }
  if (!ip6) {
    clear(FK_IPV6_SRC, 4);
    clear(FK_IPV6_DST, 4);
    clear(FK_IPV6_LABEL);
  }
  const l4 = (ip4 || ip6) && (proto === IPPROTO_TCP || proto === IPPROTO_UDP || proto === IPPROTO_SCTP || (ip4 && proto === IPPROTO_ICMP) || (ip6 && proto === IPPROTO_ICMPV6));
  if (!l4) {
    clear(FK_TP_SRC);
    clear(FK_TP_DST);
  }
  if (nxm && !((ip4 || ip6) && proto === IPPROTO_TCP)) clear(FK_TCP_FLAGS);
  const nd = ip6 && proto === IPPROTO_ICMPV6 && (icmpType === 135 || icmpType === 136);
  if (!nd) clear(FK_ND_TARGET, 4);
  if (!arp && !(nd && icmpType === 135)) clear(FK_ARP_SHA_HI, 2);
  if (!arp && !(nd && icmpType === 136)) clear(FK_ARP_THA_HI, 2);
  const mpls = type === ETH_TYPE_MPLS || type === ETH_TYPE_MPLS_MCAST;
  const extra = m.extra?.filter((e) => e.slot !== 'mpls' || mpls);
  if (nxm) {
    // NXM sends these fields whatever the match, and its decoder checks their prerequisites.
    const bad = (field: string) => decodeError('OFPBMC_BAD_PREREQ', `field ${field} lacks its prerequisites`);
    if (pt && !(pt[1] === '0' && pt[2] === '0')) {
      for (const [w, name] of [[FK_ETH_SRC_HI, 'eth_src'], [FK_ETH_SRC_HI + 1, 'eth_src'], [FK_ETH_DST_HI, 'eth_dst'], [FK_ETH_DST_HI + 1, 'eth_dst'], [FK_ETH_TYPE, 'eth_type'], [FK_VLAN_TCI, 'vlan_tci']] as const) {
        if (m.mask[w]) bad(name);
      }
    }
    if (!ctStateValid(m)) {
      for (const [w, n, name] of [[FK_CT_NW_SRC, 1, 'ct_nw_src'], [FK_CT_NW_DST, 1, 'ct_nw_dst'], [FK_CT_IPV6_SRC, 4, 'ct_ipv6_src'], [FK_CT_IPV6_DST, 4, 'ct_ipv6_dst'], [FK_CT_NW_PROTO, 1, 'ct_nw_proto']] as const) {
        for (let i = 0; i < n; i++) if (m.mask[w + i]) bad(name);
      }
    }
    const nsh = m.extra?.find((e) => e.slot === 'nsh');
    if (nsh && type !== ETH_TYPE_NSH) bad(nsh.name);
  }
  return { ...m, value, mask, ...(extra ? { extra } : {}) };
}

export function parseFlowsCommand(path: string): { ok: true; text: string } | { ok: false; error: string } {
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (e) {
    return { ok: false, error: `cannot read ${path}: ${(e as Error).message}` };
  }
  try {
    // (parseFlowFile skips blank and comment lines: the same lines are skipped here.)
    const lines = text.split('\n').map((l, i) => [l.replace(/\r$/, '').replace(/#.*$/, '').trim(), i + 1] as const).filter(([l]) => l !== '').map(([, n]) => n);
    return { ok: true, text: formatParseFlows(parseFlowFile(text, path, 'add'), { file: path, lines }) };
  } catch (e) {
    if (e instanceof ParseError) return { ok: false, error: e.message };
    throw e;
  }
}
