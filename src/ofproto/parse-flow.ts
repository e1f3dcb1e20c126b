// Flow text (ovs-ofctl(8) "Flow Syntax") -> FlowSpec. Slow path. Every
// error is a ParseError naming file, line and column; nothing is returned
// half-parsed.

import {
  ETH_TYPE_ARP, ETH_TYPE_IP, ETH_TYPE_IPV6, FK_ETH_TYPE, FK_NW_FRAG, FK_NW_PROTO, FK_NW_TOS, FK_VLAN_TCI,
  FRAG_ANY, FRAG_LATER, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, VLAN_CFI,
  FK_TP_SRC, FK_TP_DST, FK_CT_STATE, FK_CT_NW_PROTO, FK_CT_TP, ETH_TYPE_RARP, ETH_TYPE_MPLS, ETH_TYPE_MPLS_MCAST, ETH_TYPE_NSH,
  CS_DST_NAT, CS_ESTABLISHED, CS_INVALID, CS_NEW, CS_RELATED, CS_REPLY_DIR, CS_SRC_NAT, CS_TRACKED,
} from '../packet/flow-key.ts';
import { fail, splitTopLevel, type TextPos } from './errors.ts';
import { extraFieldRank, isNxmName, lookupExtraField, lookupField, readField, writeField, type ExtraFieldDef, type FieldDef } from './fields.ts';
import { OFP_DEFAULT_PRIORITY, type FlowSpec } from './flow-spec.ts';
import { actsetPortWord, ctStateValid, emptyMatch, OFK_ACTSET_OUTPUT, setMatchWord, type Match } from './match.ts';
import { parseActions } from './parse-actions.ts';
import { checkActionPrereqs } from './check-actions.ts';
import { parseFieldValue, parsePort, parseUint, portLabel, refusingExtraFields } from './field-text.ts';
import { fieldUsable, usableProtocols } from './usable-protocols.ts';

export type FlowMode = 'add' | 'mod' | 'del' | 'dump';

const SHORTHANDS: Record<string, [number, number | null]> = {
  ip: [ETH_TYPE_IP, null], ipv4: [ETH_TYPE_IP, null], ip4: [ETH_TYPE_IP, null], ipv6: [ETH_TYPE_IPV6, null],
  ip6: [ETH_TYPE_IPV6, null], arp: [ETH_TYPE_ARP, null], mpls: [ETH_TYPE_MPLS, null], mplsm: [ETH_TYPE_MPLS_MCAST, null],
  rarp: [ETH_TYPE_RARP, null], tcp: [ETH_TYPE_IP, IPPROTO_TCP], udp: [ETH_TYPE_IP, IPPROTO_UDP],
  sctp: [ETH_TYPE_IP, IPPROTO_SCTP], icmp: [ETH_TYPE_IP, IPPROTO_ICMP], tcp6: [ETH_TYPE_IPV6, IPPROTO_TCP],
  udp6: [ETH_TYPE_IPV6, IPPROTO_UDP], sctp6: [ETH_TYPE_IPV6, IPPROTO_SCTP], icmp6: [ETH_TYPE_IPV6, IPPROTO_ICMPV6],
};

const FLAG_WORDS = ['send_flow_rem', 'check_overlap', 'reset_counts', 'no_packet_counts', 'no_byte_counts'];
// dump-flows' statistics, ignored so that its output can be fed back (as ovs-ofctl does).
const STATS_WORDS = ['duration', 'n_packets', 'n_bytes', 'idle_age', 'hard_age'];

/** Narrow the flow's usable protocols by one match field (OVS's mf_set). */
function narrow(spec: FlowSpec, name: string, bits: number, mask: bigint): void {
  spec.matchUsable = (spec.matchUsable ?? 0x1ff) & fieldUsable(name, bits, mask);
}

/** Parse flow text. `pos` locates `text` for errors. */
export function parseFlowText(text: string, mode: FlowMode, pos: TextPos): FlowSpec {
  const spec: FlowSpec = {
    table: 0, priority: OFP_DEFAULT_PRIORITY, cookie: 0n, cookieMask: null, idleTimeout: 0, hardTimeout: 0,
    importance: 0, flags: [], match: emptyMatch(), actions: [], outPort: null, outGroup: null, tableGiven: false,
  };
  // As ovs-ofctl: the actions start after the first '=' that follows the word "action" ("actions=" or "action=").
  let matchText = text;
  let actionsAt = -1;
  const word = text.indexOf('action');
  if (word >= 0) {
    const eq = text.indexOf('=', word);
    if (eq < 0) fail(pos, word, 'ENOACTIONS', "must specify an action ('actions=...' or 'action=...')");
    const between = text.slice(word, eq).trim();
    if (between !== 'action' && between !== 'actions') fail(pos, word, 'EACTIONS', `'${between}' is not 'actions=' (write actions=... or action=...)`);
    actionsAt = eq + 1;
    matchText = text.slice(0, text.slice(0, word).endsWith('apply_') ? word - 6 : word);
  }
  if ((mode === 'add' || mode === 'mod') && actionsAt < 0) fail(pos, text.length, 'ENOACTIONS', "must specify an action (add 'actions=...')");
  if ((mode === 'del' || mode === 'dump') && actionsAt >= 0) fail(pos, word, 'EACTIONS', 'actions are not allowed here');
  const used: { f: FieldDef; at: number }[] = [];
  for (const tok of splitTopLevel(matchText.replace(/\s+$/, ''), pos, 0, true)) parseMatchToken(spec, tok.text, tok.at, pos, used, mode);
  // A switch refuses a field whose prerequisites the match lacks; offline, ovs-ofctl's parse-flows
  // accepts it and its encoder leaves the field out (parse-flows-cmd.ts does the same).
  if (refusingExtraFields()) checkPrereqs(spec.match, used, pos);
  // OVS carries ct_nw_proto, ct_tp_src and ct_tp_dst only when ct_nw_proto is non-zero (nx-match.c):
  // without it a ct_tp_* match is dropped on the way into the switch, so it is dropped here too.
  if (spec.match.value[FK_CT_NW_PROTO] === 0) {
    spec.match.mask[FK_CT_NW_PROTO] = 0;
    spec.match.mask[FK_CT_TP] = 0;
    spec.match.value[FK_CT_TP] = 0;
  }
  if (actionsAt >= 0) {
    const atext = text.slice(actionsAt);
    spec.actions = parseActions(atext.trim(), { ...pos, col: pos.col + actionsAt + (atext.length - atext.trimStart().length) });
    checkActionPrereqs(spec, pos, actionsAt);
    // A flow no OpenFlow protocol can carry (a field or action none has, or none consistently with the match).
    if (usableProtocols(spec) === 0) fail(pos, actionsAt, 'OFPBAC_MATCH_INCONSISTENT', 'actions are invalid with specified match (OFPBAC_MATCH_INCONSISTENT): no OpenFlow protocol can carry this match with these actions');
  }
  return spec;
}

function parseMatchToken(spec: FlowSpec, tok: string, at: number, pos: TextPos, used: { f: FieldDef; at: number }[], mode: FlowMode): void {
  const m = spec.match;
  const eq = tok.search(/[=:]/);
  const name = (eq < 0 ? tok : tok.slice(0, eq)).trim().toLowerCase();
  const value = eq < 0 ? null : tok.slice(eq + 1).trim();
  const valAt = at + (eq < 0 ? 0 : eq + 1);
  if (value === null) {
    const sh = SHORTHANDS[name];
    if (sh) {
      setMatchWord(m, FK_ETH_TYPE, sh[0], 0xffff);
      if (sh[1] !== null) setMatchWord(m, FK_NW_PROTO, sh[1], 0xff);
      return;
    }
    if (FLAG_WORDS.includes(name)) {
      spec.flags.push(name);
      return;
    }
    if (name === 'no_readonly_table' || name === 'allow_hidden_fields') return;
    const bare = lookupField(name) ?? lookupExtraField(name);
    // A field without a value matches on its presence: "0/0" (ovs-ofctl), which only tunnel metadata keeps.
    if (bare && !isNxmName(name)) return parseMatchToken(spec, `${name}=0/0`, at, pos, used, mode);
    if (lookupField(name)) fail(pos, at, 'EVALUE', `field ${name} needs a value (${name}=...)`);
    fail(pos, at, 'EFIELD', `unknown field '${name}'`);
  }
  if (value === '') fail(pos, valAt, 'EVALUE', `${name}: missing value`);
  if (STATS_WORDS.includes(name)) return;
  if (name.includes('[')) return parseSubfieldMatch(spec, name, value, pos, at, valAt, used);
  if (isNxmName(name)) fail(pos, at, 'EFIELD', `unknown keyword ${tok.slice(0, eq).trim()} (NXM/OXM names are for field references such as load:1->${tok.slice(0, eq).trim()}[])`);
  switch (name) {
    case 'table': {
      const t = Number(parseUint(value, 255n, pos, valAt, 'table'));
      if (t === 255 && (mode === 'add')) fail(pos, valAt, 'ERANGE', 'table 255 is not a valid table for adding flows (0..254)');
      spec.table = t;
      spec.tableGiven = t !== 255;
      return;
    }
    case 'priority':
      spec.priority = Number(parseUint(value, 65535n, pos, valAt, 'priority'));
      return;
    case 'cookie': {
      const [v, mk] = value.split('/');
      spec.cookie = parseUint(v, (1n << 64n) - 1n, pos, valAt, 'cookie');
      if (mk !== undefined) {
        if (mode === 'add') fail(pos, valAt, 'EMASK', 'cookie masks are only for modifying, deleting and dumping flows');
        spec.cookieMask = parseUint(mk, (1n << 64n) - 1n, pos, valAt, 'cookie mask');
      } else if (mode !== 'add') spec.cookieMask = (1n << 64n) - 1n;
      return;
    }
    case 'idle_timeout':
      spec.idleTimeout = Number(parseUint(value, 65535n, pos, valAt, 'idle_timeout'));
      return;
    case 'hard_timeout':
      spec.hardTimeout = Number(parseUint(value, 65535n, pos, valAt, 'hard_timeout'));
      return;
    case 'importance':
      spec.importance = Number(parseUint(value, 65535n, pos, valAt, 'importance'));
      return;
    case 'out_port':
      spec.outPort = parsePort(value, pos, valAt);
      return;
    case 'out_group':
      spec.outGroup = Number(parseUint(value, 0xffffffffn, pos, valAt, 'out_group'));
      return;
    case 'dl_vlan':
    case 'vlan_vid': {
      // As OVS: 0xffff is "no tag"; other values keep their low 12 bits (flow_set_dl_vlan).
      const v = Number(parseUint(value, 0xffffn, pos, valAt, name));
      if (v === 0xffff) setMatchWord(m, FK_VLAN_TCI, 0, 0xffff);
      else setMatchWord(m, FK_VLAN_TCI, VLAN_CFI | (v & 0x0fff), VLAN_CFI | 0x0fff);
      narrow(spec, name, 16, 0xffffn);
      return;
    }
    case 'dl_vlan_pcp':
    case 'vlan_pcp': {
      const v = Number(parseUint(value, 7n, pos, valAt, name));
      setMatchWord(m, FK_VLAN_TCI, VLAN_CFI | (v << 13), VLAN_CFI | 0xe000);
      narrow(spec, name, 8, 0xffn);
      return;
    }
    case 'nw_tos': {
      const v = Number(parseUint(value, 255n, pos, valAt, name));
      if (v & 3) fail(pos, valAt, 'EVALUE', `nw_tos: ${value} has ECN bits set (nw_tos is the DSCP bits: a multiple of 4)`);
      used.push({ f: lookupField('nw_tos')!, at });
      setMatchWord(m, FK_NW_TOS, v, 0xfc);
      narrow(spec, name, 8, 0xffn);
      return;
    }
    case 'ip_dscp': {
      const v = Number(parseUint(value, 63n, pos, valAt, name));
      used.push({ f: lookupField('ip_dscp')!, at });
      setMatchWord(m, FK_NW_TOS, v << 2, 0xfc);
      narrow(spec, name, 8, 0xffn);
      return;
    }
    case 'ip_frag':
    case 'nw_frag': {
      const vals: Record<string, [number, number]> = {
        no: [0, FRAG_ANY], yes: [FRAG_ANY, FRAG_ANY], first: [FRAG_ANY, FRAG_ANY | FRAG_LATER],
        later: [FRAG_ANY | FRAG_LATER, FRAG_ANY | FRAG_LATER], not_later: [0, FRAG_LATER],
      };
      const v = vals[value];
      if (!v) fail(pos, valAt, 'EVALUE', `${name}: '${value}' is not one of no, yes, first, later, not_later`);
      used.push({ f: lookupField('ip_frag')!, at });
      setMatchWord(m, FK_NW_FRAG, v[0], v[1]);
      narrow(spec, 'ip_frag', 8, BigInt(v[1]));
      return;
    }
    case 'packet_type': {
      // swd's packets are all Ethernet: (0,0) is every packet; other packet types cannot occur.
      const pt = /^\(\s*(0x[0-9a-f]+|\d+)\s*,\s*(0x[0-9a-f]+|\d+)\s*\)$/i.exec(value);
      if (!pt) fail(pos, valAt, 'EVALUE', `packet_type: '${value}' is not (NAMESPACE,TYPE), e.g. (0,0)`);
      const ns = Number(pt[1]), type = Number(pt[2]);
      narrow(spec, 'packet_type', 32, 0xffffffffn);
      if (ns === 0 && type === 0) return;
      if (refusingExtraFields()) fail(pos, at, 'ENOTSUP', 'field packet_type is not supported by swd (only Ethernet packets, packet_type=(0,0))');
      addExtra(m, { name: 'packet_type', slot: 'meta' } as ExtraFieldDef, `packet_type=(${ns},0x${type.toString(16)})`);
      return;
    }
    case 'nw_proto':
    case 'ip_proto': {
      const v = Number(parseUint(value, 255n, pos, valAt, name));
      used.push({ f: lookupField('nw_proto')!, at });
      setMatchWord(m, FK_NW_PROTO, v, 0xff);
      narrow(spec, name, 8, 0xffn);
      return;
    }
  }
  const f = lookupField(name);
  if (!f) {
    const x = lookupExtraField(name);
    if (!x) fail(pos, at, 'EFIELD', `unknown field '${name}'`);
    if (refusingExtraFields() && x.name !== 'conj_id' && x.name !== 'actset_output') fail(pos, at, 'ENOTSUP', `field ${x.name} is not supported by swd (${EXTRA_WHY[x.slot]})`);
    used.push({ f: { name: x.name, prereq: x.prereq } as FieldDef, at });
    narrow(spec, name, x.bits, extraMask(x, value));
    if (x.name.startsWith('tun_metadata') && m.extra?.some((e) => e.name === x.name)) fail(pos, at, 'EVALUE', `field ${x.name} set multiple times`);
    const text = formatExtraValue(x, value, pos, valAt);
    if (text !== null) addExtra(m, x, text);
    if (x.name.startsWith('tun_metadata')) tunMetadataRoom(m, x.name, value, pos, at);
    if (x.name === 'conj_id') m.conjId = Number(parseUint(value, 0xffffffffn, pos, valAt, 'conj_id'));
    if (x.name === 'actset_output') setMatchWord(m, OFK_ACTSET_OUTPUT, actsetPortWord(parsePort(value, pos, valAt, x.name)), 0xffffffff);
    return;
  }
  const [v, mk] = parseFieldValue(f, value, pos, valAt);
  used.push({ f, at });
  narrow(spec, name, f.bits, mk);
  // A field given again replaces what the flow matched of it (OVS's mf_set), unlike FIELD[a..b].
  const whole = (1n << BigInt(f.bits)) - 1n;
  writeField(m.value, 0, f.name, 0n, whole);
  writeField(m.mask, 0, f.name, 0n, whole);
  const scratchV = new Uint32Array(m.value.length);
  const scratchM = new Uint32Array(m.value.length);
  writeField(scratchV, 0, f.name, v, mk);
  writeField(scratchM, 0, f.name, mk, mk);
  // ICMP type and code are the whole transport port fields in OVS's flow (match_set_icmp_type).
  if (ICMP_FIELDS.has(f.name)) for (const w of [FK_TP_SRC, FK_TP_DST]) if (scratchM[w]) scratchM[w] = 0xffff;
  for (let i = 0; i < scratchM.length; i++) if (scratchM[i]) setMatchWord(m, i, scratchV[i], scratchM[i]);
}

const ICMP_FIELDS = new Set(['icmp_type', 'icmp_code', 'icmpv6_type', 'icmpv6_code']);

/**
 * FIELD[a..b]=VALUE: match bits a..b of a field, keeping what the flow
 * already matches of its other bits (OVS's parse_subfield).
 */
function parseSubfieldMatch(spec: FlowSpec, name: string, value: string, pos: TextPos, at: number, valAt: number, used: { f: FieldDef; at: number }[]): void {
  const sm = /^([a-z0-9_]+)\[(\d+)(?:\.\.(\d+))?\]$/.exec(name);
  const f = sm ? lookupField(sm[1]) : undefined;
  if (!sm || !f || isNxmName(sm[1])) fail(pos, at, 'EFIELD', `unknown field '${name}'`);
  const lo = Number(sm[2]), hi = sm[3] === undefined ? lo : Number(sm[3]);
  if (hi < lo || hi >= f.bits) fail(pos, at, 'ERANGE', `${name}: bits ${lo}..${hi} are outside the field's ${f.bits} bits`);
  const nbits = hi - lo + 1;
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(value)) fail(pos, valAt, 'EVALUE', `${name}: cannot parse integer value: ${value}`);
  const v = BigInt(value);
  if (v >> BigInt(nbits) !== 0n) fail(pos, valAt, 'ERANGE', `${name}: value ${value} does not fit into ${nbits} bits`);
  const m = spec.match;
  const bitsMask = ((1n << BigInt(nbits)) - 1n) << BigInt(lo);
  const mask = readField(m.mask, 0, f.name) | bitsMask;
  const val = (readField(m.value, 0, f.name) & ~bitsMask) | (v << BigInt(lo));
  used.push({ f, at });
  narrow(spec, f.name, f.bits, mask);
  writeField(m.value, 0, f.name, val, mask);
  writeField(m.mask, 0, f.name, mask, mask);
}

/** The mask a value of a field swd does not carry is given with (all ones when none). */
function extraMask(x: ExtraFieldDef, value: string): bigint {
  const full = (1n << BigInt(x.bits)) - 1n;
  const slash = value.indexOf('/');
  if (slash < 0) return full;
  const ms = value.slice(slash + 1);
  if (/^(0x)?0+$/i.test(ms) || ms === '0.0.0.0' || ms === '::') return 0n;
  if (/^(0x[0-9a-f]+|\d+)$/i.test(ms) && x.kind !== 'ipv4' && x.kind !== 'ipv6') return BigInt(ms) & full;
  return full >> 1n; // an address mask: not all ones, not empty
}

/** OVS's tunnel metadata options share 256 bytes per flow; each field counts the bytes of its value or mask. */
function tunMetadataRoom(m: Match, name: string, value: string, pos: TextPos, at: number): void {
  const bytes = (s: string | undefined) => {
    if (s === undefined || !/^(0x[0-9a-f]+|\d+)$/i.test(s)) return 0;
    const n = BigInt(s);
    return n === 0n ? 0 : Math.ceil(n.toString(16).length / 2);
  };
  const [v, mk] = value.split('/');
  const len = mk !== undefined ? Math.max(bytes(v), bytes(mk)) : bytes(v);
  const used = (m.extra ?? []).filter((e) => e.name.startsWith('tun_metadata') && e.name !== name).reduce((n, e) => n + (e.bytes ?? 0), 0);
  if (used + len > 256) fail(pos, at, 'EVALUE', `field ${name} exceeds maximum size for tunnel metadata (used ${used + len}, max 256)`);
  const e = m.extra!.find((x) => x.name === name)!;
  e.bytes = len;
}

const EXTRA_WHY: Record<ExtraFieldDef['slot'], string> = {
  meta: 'yet', tunnel: 'swd has no tunnel ports', mpls: 'swd does not carry MPLS packets', nsh: 'swd does not carry NSH packets',
};

function addExtra(m: Match, x: ExtraFieldDef, text: string): void {
  const list = (m.extra ??= []);
  const i = list.findIndex((e) => e.name === x.name);
  const e = { name: x.name, slot: x.slot, rank: extraFieldRank(x.name), text };
  if (i >= 0) list[i] = e;
  else list.push(e);
  list.sort((a, b) => a.rank - b.rank);
}

// Tunnel fields OVS 3.1 prints by value alone; with a mask it matches value/value&mask (match.c's
// match_set_tun_erspan_ver_masked and friends take the value as the mask), and it names GTP-U's without "tun_".
const VALUE_ONLY: Record<string, [string, 'dec' | 'hex' | 'bare']> = {
  tun_tos: ['tun_tos', 'bare'], tun_ttl: ['tun_ttl', 'dec'], tun_erspan_ver: ['tun_erspan_ver', 'dec'], tun_erspan_dir: ['tun_erspan_dir', 'dec'],
  tun_erspan_hwid: ['tun_erspan_hwid', 'hex'], tun_gtpu_flags: ['gtpu_flags', 'hex'], tun_gtpu_msgtype: ['gtpu_msgtype', 'dec'],
};

/** A field swd does not carry, normalised as ovs-ofctl prints it; null when the match leaves it out (an empty mask). */
function formatExtraValue(x: ExtraFieldDef, value: string, pos: TextPos, at: number): string | null {
  const slash = value.indexOf('/');
  if (slash >= 0 && !x.maskable) fail(pos, at + slash, 'EMASK', `field ${x.name} does not support a mask`);
  const parts = slash < 0 ? [value] : [value.slice(0, slash), value.slice(slash + 1)];
  const full = (1n << BigInt(x.bits)) - 1n;
  if (extraMask(x, value) === 0n && !x.name.startsWith('tun_metadata')) return null;
  const vo = VALUE_ONLY[x.name];
  if (vo) {
    const v = parts.map((p, i) => parseUint(p, full, pos, i ? at + slash + 1 : at, x.name));
    const shown = v.length === 1 ? v[0] : v[0] & v[1];
    if ((v.length === 1 ? full : v[0]) === 0n) return null;
    const t = vo[1] === 'dec' ? String(shown) : vo[1] === 'bare' ? shown.toString(16) : shown === 0n ? '0' : `0x${shown.toString(16)}`;
    return `${vo[0]}=${t}`;
  }
  if (x.name.startsWith('tun_metadata')) {
    // Its length is its value's (or mask's) length in bytes: a mask of all ones over it is no mask.
    if (parts.length === 2 && /^(0x)?0+$/i.test(parts[1])) return x.name;
    if (parts.length === 2) {
      const [v, mk] = parts.map((p, i) => parseUint(p, full, pos, i ? at + slash + 1 : at, x.name));
      const len = Math.max(v.toString(16).length, mk.toString(16).length);
      const ones = (1n << BigInt(4 * (len + (len & 1)))) - 1n;
      const hexs = (n: bigint) => (n === 0n ? '0' : `0x${n.toString(16)}`);
      return mk === ones ? `${x.name}=${hexs(v & mk)}` : `${x.name}=${hexs(v & mk)}/${hexs(mk)}`;
    }
  }
  switch (x.kind) {
    case 'ipv4': case 'ipv6': {
      const f = { name: x.name, kind: x.kind, bits: x.bits, maskable: true, parts: [] } as unknown as FieldDef;
      parseFieldValue(f, value, pos, at);
      return `${x.name}=${value}`;
    }
    case 'tun_flags': {
      if (!/^([+-]oam)+$|^(0x[0-9a-f]+|\d+)(\/(0x[0-9a-f]+|\d+))?$/i.test(value)) fail(pos, at, 'EVALUE', `tun_flags: '${value}' is not a flag list like +oam`);
      return `${x.name}=${value}`;
    }
    case 'port':
      return `${x.name}=${portLabel(parsePort(value, pos, at, x.name))}`;
    default: {
      const v = parts.map((p, i) => parseUint(p, full, pos, i ? at + slash + 1 : at, x.name));
      const hexs = (n: bigint) => (n === 0n ? '0' : `0x${n.toString(16)}`);
      if (x.kind === 'dec' && v.length === 1) return `${x.name}=${v[0]}`;
      if (v.length === 1 || v[1] === full) return `${x.name}=${hexs(v[0])}`;
      return `${x.name}=${hexs(v[0] & v[1])}/${hexs(v[1])}`;
    }
  }
}

function checkPrereqs(m: Match, used: { f: FieldDef; at: number }[], pos: TextPos): void {
  // packet_type=(1,TYPE) is a packet without Ethernet header whose ethertype is TYPE (OVS's get_dl_type).
  const pt = /^packet_type=\(1,0x([0-9a-f]+)\)$/.exec(m.extra?.find((e) => e.name === 'packet_type')?.text ?? '');
  const type = m.mask[FK_ETH_TYPE] === 0xffff ? m.value[FK_ETH_TYPE] : pt ? parseInt(pt[1], 16) : -1;
  const proto = (m.mask[FK_NW_PROTO] & 0xff) === 0xff ? m.value[FK_NW_PROTO] : -1;
  const isIp = type === ETH_TYPE_IP || type === ETH_TYPE_IPV6;
  const later = (m.value[FK_NW_FRAG] & FRAG_LATER) !== 0;
  for (const { f, at } of used) {
    let ok = true;
    let need = '';
    switch (f.prereq) {
      case 'ip': ok = isIp || (f.name === 'nw_proto' && (type === ETH_TYPE_ARP || type === ETH_TYPE_RARP)); need = 'ip or ipv6'; break;
      case 'ipv4': ok = type === ETH_TYPE_IP || type === ETH_TYPE_ARP || type === ETH_TYPE_RARP; need = 'ip (or arp)'; break;
      case 'ipv6': ok = type === ETH_TYPE_IPV6; need = 'ipv6'; break;
      case 'arp': ok = type === ETH_TYPE_ARP || type === ETH_TYPE_RARP; need = 'arp'; break;
      case 'l4': ok = isIp && (proto === IPPROTO_TCP || proto === IPPROTO_UDP || proto === IPPROTO_SCTP) && !later; need = 'tcp, udp or sctp'; break;
      // (A later fragment has no transport header: OVS's MFP_TCP/UDP/SCTP exclude ip_frag=later.)
      case 'tcp': ok = isIp && proto === IPPROTO_TCP && !later; need = 'tcp or tcp6 (and not ip_frag=later)'; break;
      case 'udp': ok = isIp && proto === IPPROTO_UDP && !later; need = 'udp or udp6 (and not ip_frag=later)'; break;
      case 'sctp': ok = isIp && proto === IPPROTO_SCTP && !later; need = 'sctp (and not ip_frag=later)'; break;
      case 'icmp': ok = (type === ETH_TYPE_IP && proto === IPPROTO_ICMP) || (type === ETH_TYPE_IPV6 && proto === IPPROTO_ICMPV6); need = 'icmp or icmp6'; break;
      case 'icmpv6': ok = type === ETH_TYPE_IPV6 && proto === IPPROTO_ICMPV6; need = 'icmp6'; break;
      case 'nd': case 'nd_solicit': case 'nd_advert': {
        const t = m.mask[FK_TP_SRC] & 0xff ? m.value[FK_TP_SRC] : -1;
        const want = f.prereq === 'nd_solicit' ? [135] : f.prereq === 'nd_advert' ? [136] : [135, 136];
        ok = type === ETH_TYPE_IPV6 && proto === IPPROTO_ICMPV6 && want.includes(t);
        need = `icmp6 with icmp_type=${want.join(' or ')}`;
        break;
      }
      case 'ct': {
        // OVS's is_ct_valid: a bit that implies a valid connection (+new, +est, +rel, +rpl, +snat,
        // +dnat), or +trk together with an explicit -inv.
        ok = ctStateValid(m);
        need = 'a valid tracked connection (ct_state=+trk-inv, +new, +est, +rel, +rpl, +snat or +dnat)';
        break;
      }
      case 'mpls': ok = type === ETH_TYPE_MPLS || type === ETH_TYPE_MPLS_MCAST; need = 'mpls or mplsm'; break;
      case 'nsh': ok = type === ETH_TYPE_NSH; need = 'dl_type=0x894f (NSH)'; break;
      default: ok = true;
    }
    if (!ok) fail(pos, at, 'OFPBMC_BAD_PREREQ', `OFPBMC_BAD_PREREQ: field ${f.name} needs ${need} to be matched too`);
  }
}

/** One flow given as a string (command line): errors are located at "(command line):1:COL". */
export function parseFlow(text: string, mode: FlowMode, file = '(command line)', line = 1): FlowSpec {
  return parseFlowText(text, mode, { file, line, col: 0 });
}

export type FlowModCommand = 'add' | 'modify' | 'modify_strict' | 'delete' | 'delete_strict';

export interface FlowModLine {
  command: FlowModCommand;
  spec: FlowSpec;
  /** 1-based line number in the file, and the line itself. */
  line: number;
  text: string;
}

const COMMANDS: FlowModCommand[] = ['add', 'delete', 'delete_strict', 'modify', 'modify_strict'];

/**
 * An add-flows file, as ovs-ofctl add-flows reads it: each line may start
 * with a command (add, modify, modify_strict, delete, delete_strict, or an
 * abbreviation, tried in ovs-ofctl's order); a line without one adds.
 */
export function parseFlowModFile(text: string, file: string): FlowModLine[] {
  const out: FlowModLine[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    // As ovs-ofctl (ds_get_preprocessed_line): "#" starts a comment anywhere on a line.
    const raw = lines[i].replace(/\r$/, '').replace(/#.*$/, '');
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) continue;
    let lead = raw.length - raw.trimStart().length;
    const first = /^[^,\s]*/.exec(t)![0];
    const command = first === '' ? undefined : COMMANDS.find((c) => c.startsWith(first));
    let body = t;
    if (command) {
      body = t.slice(first.length);
      lead += first.length;
    }
    const mode: FlowMode = command === undefined || command === 'add' ? 'add' : command.startsWith('modify') ? 'mod' : 'del';
    out.push({ command: command ?? 'add', spec: parseFlowText(body, mode, { file, line: i + 1, col: lead }), line: i + 1, text: raw });
  }
  return out;
}

/** A flows file: one flow per line; blank lines and lines starting with # are skipped. */
export function parseFlowFile(text: string, file: string, mode: FlowMode): FlowSpec[] {
  const out: FlowSpec[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    // As ovs-ofctl (ds_get_preprocessed_line): "#" starts a comment anywhere on a line.
    const raw = lines[i].replace(/\r$/, '').replace(/#.*$/, '');
    const lead = raw.length - raw.trimStart().length;
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) continue;
    out.push(parseFlowText(t, mode, { file, line: i + 1, col: lead }));
  }
  return out;
}
