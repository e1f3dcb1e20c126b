// Flow text (ovs-ofctl(8) "Flow Syntax") -> FlowSpec. Slow path. Every
// error is a ParseError naming file, line and column; nothing is returned
// half-parsed.

import {
  ETH_TYPE_ARP, ETH_TYPE_IP, ETH_TYPE_IPV6, FK_ETH_TYPE, FK_NW_FRAG, FK_NW_PROTO, FK_NW_TOS, FK_VLAN_TCI,
  FRAG_ANY, FRAG_LATER, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, VLAN_CFI,
  FK_TP_SRC,
} from '../packet/flow-key.ts';
import { fail, splitTopLevel, type TextPos } from './errors.ts';
import { lookupField, writeField, type FieldDef } from './fields.ts';
import { OFP_DEFAULT_PRIORITY, type FlowSpec } from './flow-spec.ts';
import { emptyMatch, setMatchWord, type Match } from './match.ts';
import { parseActions } from './parse-actions.ts';
import { ETH_TYPE_RARP, parseFieldValue, parsePort, parseUint } from './field-text.ts';

export type FlowMode = 'add' | 'mod' | 'del' | 'dump';

const SHORTHANDS: Record<string, [number, number | null]> = {
  ip: [ETH_TYPE_IP, null], ipv4: [ETH_TYPE_IP, null], ipv6: [ETH_TYPE_IPV6, null], arp: [ETH_TYPE_ARP, null],
  rarp: [ETH_TYPE_RARP, null], tcp: [ETH_TYPE_IP, IPPROTO_TCP], udp: [ETH_TYPE_IP, IPPROTO_UDP],
  sctp: [ETH_TYPE_IP, IPPROTO_SCTP], icmp: [ETH_TYPE_IP, IPPROTO_ICMP], tcp6: [ETH_TYPE_IPV6, IPPROTO_TCP],
  udp6: [ETH_TYPE_IPV6, IPPROTO_UDP], sctp6: [ETH_TYPE_IPV6, IPPROTO_SCTP], icmp6: [ETH_TYPE_IPV6, IPPROTO_ICMPV6],
};

const FLAG_WORDS = ['send_flow_rem', 'check_overlap', 'reset_counts', 'no_packet_counts', 'no_byte_counts'];

/** Parse flow text. `pos` locates `text` for errors. */
export function parseFlowText(text: string, mode: FlowMode, pos: TextPos): FlowSpec {
  const spec: FlowSpec = {
    table: 0, priority: OFP_DEFAULT_PRIORITY, cookie: 0n, cookieMask: null, idleTimeout: 0, hardTimeout: 0,
    importance: 0, flags: [], match: emptyMatch(), actions: [], outPort: null, outGroup: null, tableGiven: false,
  };
  let matchText = text;
  let actionsAt = -1;
  const am = /(^|[\s,])(actions?|apply_actions)\s*[=:]/i.exec(text);
  if (am) {
    actionsAt = am.index + am[0].length;
    matchText = text.slice(0, am.index + am[1].length);
  }
  if ((mode === 'add' || mode === 'mod') && actionsAt < 0) fail(pos, text.length, 'ENOACTIONS', "must specify an action (add 'actions=...')");
  if ((mode === 'del' || mode === 'dump') && actionsAt >= 0) fail(pos, am!.index + am![1].length, 'EACTIONS', 'actions are not allowed here');
  const used: { f: FieldDef; at: number }[] = [];
  for (const tok of splitTopLevel(matchText.replace(/\s+$/, ''), pos)) parseMatchToken(spec, tok.text, tok.at, pos, used, mode);
  checkPrereqs(spec.match, used, pos);
  if (actionsAt >= 0) {
    const atext = text.slice(actionsAt);
    spec.actions = parseActions(atext.trim(), { ...pos, col: pos.col + actionsAt + (atext.length - atext.trimStart().length) });
    checkActionPrereqs(spec, pos, actionsAt);
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
    if (lookupField(name)) fail(pos, at, 'EVALUE', `field ${name} needs a value (${name}=...)`);
    fail(pos, at, 'EFIELD', `unknown field '${name}'`);
  }
  if (value === '') fail(pos, valAt, 'EVALUE', `${name}: missing value`);
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
      const v = Number(parseUint(value, 0xffffn, pos, valAt, name));
      if (v === 0xffff) setMatchWord(m, FK_VLAN_TCI, 0, 0xffff);
      else if (v > 0xfff) fail(pos, valAt, 'ERANGE', `${name}: ${value} is not a VLAN id (0..4095, or 0xffff for none)`);
      else setMatchWord(m, FK_VLAN_TCI, VLAN_CFI | v, VLAN_CFI | 0x0fff);
      return;
    }
    case 'dl_vlan_pcp':
    case 'vlan_pcp': {
      const v = Number(parseUint(value, 7n, pos, valAt, name));
      setMatchWord(m, FK_VLAN_TCI, VLAN_CFI | (v << 13), VLAN_CFI | 0xe000);
      return;
    }
    case 'nw_tos': {
      const v = Number(parseUint(value, 255n, pos, valAt, name));
      if (v & 3) fail(pos, valAt, 'EVALUE', `nw_tos: ${value} has ECN bits set (nw_tos is the DSCP bits: a multiple of 4)`);
      used.push({ f: lookupField('nw_tos')!, at });
      setMatchWord(m, FK_NW_TOS, v, 0xfc);
      return;
    }
    case 'ip_dscp': {
      const v = Number(parseUint(value, 63n, pos, valAt, name));
      used.push({ f: lookupField('ip_dscp')!, at });
      setMatchWord(m, FK_NW_TOS, v << 2, 0xfc);
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
      return;
    }
    case 'nw_proto':
    case 'ip_proto': {
      const v = Number(parseUint(value, 255n, pos, valAt, name));
      used.push({ f: lookupField('nw_proto')!, at });
      setMatchWord(m, FK_NW_PROTO, v, 0xff);
      return;
    }
  }
  const f = lookupField(name);
  if (!f) fail(pos, at, 'EFIELD', `unknown field '${name}'`);
  const [v, mk] = parseFieldValue(f, value, pos, valAt);
  used.push({ f, at });
  const scratchV = new Uint32Array(m.value.length);
  const scratchM = new Uint32Array(m.value.length);
  writeField(scratchV, 0, f.name, v, mk);
  writeField(scratchM, 0, f.name, mk, mk);
  for (let i = 0; i < scratchM.length; i++) if (scratchM[i]) setMatchWord(m, i, scratchV[i], scratchM[i]);
}

function checkPrereqs(m: Match, used: { f: FieldDef; at: number }[], pos: TextPos): void {
  const type = m.mask[FK_ETH_TYPE] === 0xffff ? m.value[FK_ETH_TYPE] : -1;
  const proto = (m.mask[FK_NW_PROTO] & 0xff) === 0xff ? m.value[FK_NW_PROTO] : -1;
  const isIp = type === ETH_TYPE_IP || type === ETH_TYPE_IPV6;
  for (const { f, at } of used) {
    let ok = true;
    let need = '';
    switch (f.prereq) {
      case 'ip': ok = isIp || (f.name === 'nw_proto' && (type === ETH_TYPE_ARP || type === ETH_TYPE_RARP)); need = 'ip or ipv6'; break;
      case 'ipv4': ok = type === ETH_TYPE_IP || type === ETH_TYPE_ARP || type === ETH_TYPE_RARP; need = 'ip (or arp)'; break;
      case 'ipv6': ok = type === ETH_TYPE_IPV6; need = 'ipv6'; break;
      case 'arp': ok = type === ETH_TYPE_ARP || type === ETH_TYPE_RARP; need = 'arp'; break;
      case 'l4': ok = isIp && (proto === IPPROTO_TCP || proto === IPPROTO_UDP || proto === IPPROTO_SCTP); need = 'tcp, udp or sctp'; break;
      case 'tcp': ok = isIp && proto === IPPROTO_TCP; need = 'tcp or tcp6'; break;
      case 'udp': ok = isIp && proto === IPPROTO_UDP; need = 'udp or udp6'; break;
      case 'sctp': ok = isIp && proto === IPPROTO_SCTP; need = 'sctp'; break;
      case 'icmp': ok = (type === ETH_TYPE_IP && proto === IPPROTO_ICMP) || (type === ETH_TYPE_IPV6 && proto === IPPROTO_ICMPV6); need = 'icmp or icmp6'; break;
      case 'icmpv6': ok = type === ETH_TYPE_IPV6 && proto === IPPROTO_ICMPV6; need = 'icmp6'; break;
      case 'nd': {
        const t = m.mask[FK_TP_SRC] & 0xff ? m.value[FK_TP_SRC] : -1;
        ok = type === ETH_TYPE_IPV6 && proto === IPPROTO_ICMPV6 && (t === 135 || t === 136);
        need = 'icmp6 with icmp_type=135 or 136';
        break;
      }
      default: ok = true;
    }
    if (!ok) fail(pos, at, 'EPREREQ', `field ${f.name} needs ${need} to be matched too (prerequisites not met)`);
  }
  void FK_NW_TOS;
}

/** One flow given as a string (command line): errors are located at "(command line):1:COL". */
export function parseFlow(text: string, mode: FlowMode, file = '(command line)', line = 1): FlowSpec {
  return parseFlowText(text, mode, { file, line, col: 0 });
}

/** A flows file: one flow per line; blank lines and lines starting with # are skipped. */
export function parseFlowFile(text: string, file: string, mode: FlowMode): FlowSpec[] {
  const out: FlowSpec[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].replace(/\r$/, '');
    const lead = raw.length - raw.trimStart().length;
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) continue;
    out.push(parseFlowText(t, mode, { file, line: i + 1, col: lead }));
  }
  return out;
}

/**
 * OVS's check that actions fit the match (ofpacts_check): an action that
 * reads or rewrites a header needs that header to be matched.
 */
export function checkActionPrereqs(spec: FlowSpec, pos: TextPos, at: number): void {
  const m = spec.match;
  const type = m.mask[FK_ETH_TYPE] === 0xffff ? m.value[FK_ETH_TYPE] : -1;
  const proto = (m.mask[FK_NW_PROTO] & 0xff) === 0xff ? m.value[FK_NW_PROTO] : -1;
  const ip = type === ETH_TYPE_IP || type === ETH_TYPE_IPV6;
  const l4 = ip && (proto === IPPROTO_TCP || proto === IPPROTO_UDP || proto === IPPROTO_SCTP);
  const vlan = (m.mask[FK_VLAN_TCI] & VLAN_CFI) !== 0 && (m.value[FK_VLAN_TCI] & VLAN_CFI) !== 0;
  const bad = (what: string) =>
    fail(pos, at, 'EMATCHINCONSISTENT', `actions are invalid with specified match (OFPBAC_MATCH_INCONSISTENT): ${what}`);
  const fieldOk = (name: string, write: boolean): boolean => {
    const f = lookupField(name);
    if (!f) return true;
    if (write && f.name === 'dl_vlan' || write && f.name === 'dl_vlan_pcp') return vlan;
    switch (f.prereq) {
      case 'ip': return ip;
      case 'ipv4': return type === ETH_TYPE_IP || (!write && (type === ETH_TYPE_ARP || type === ETH_TYPE_RARP));
      case 'ipv6': return type === ETH_TYPE_IPV6;
      case 'arp': return type === ETH_TYPE_ARP || type === ETH_TYPE_RARP;
      case 'l4': return l4;
      case 'tcp': return ip && proto === IPPROTO_TCP;
      case 'udp': return ip && proto === IPPROTO_UDP;
      case 'sctp': return ip && proto === IPPROTO_SCTP;
      case 'icmp': return ip && (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6);
      case 'icmpv6': case 'nd': return type === ETH_TYPE_IPV6 && proto === IPPROTO_ICMPV6;
      default: return true;
    }
  };
  const walk = (acts: FlowSpec['actions']) => {
    for (const a of acts) {
      switch (a.type) {
        case 'mod_nw_src': case 'mod_nw_dst':
          if (type !== ETH_TYPE_IP) bad(`${a.type} needs ip`);
          break;
        case 'mod_nw_tos': case 'mod_nw_ecn': case 'mod_nw_ttl': case 'dec_ttl':
          if (!ip) bad(`${a.type} needs ip or ipv6`);
          break;
        case 'mod_tp_src': case 'mod_tp_dst':
          if (!l4) bad(`${a.type} needs tcp, udp or sctp`);
          break;
        case 'set_field':
          if (!fieldOk(a.field, true)) bad(`set_field ${a.field} lacks its prerequisites`);
          break;
        case 'load':
          if (!fieldOk(a.dst.field, true)) bad(`load to ${a.dst.field} lacks its prerequisites`);
          break;
        case 'move':
          if (!fieldOk(a.src.field, false) || !fieldOk(a.dst.field, true)) bad('move between fields that lack their prerequisites');
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
          walk(a.exec);
          break;
        default:
          break;
      }
    }
  };
  walk(spec.actions);
}
