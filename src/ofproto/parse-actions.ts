// Action text (ovs-actions(7)) -> OfAction[]. Slow path; errors are
// ParseErrors located at the offending action.

import type { CtAction, FieldRef, NatSpec, OfAction } from './actions.ts';
import { OFPP_IN_PORT, OFPP_LOCAL, OFPP_MAX } from './actions.ts';
import { fail, splitTopLevel, type TextPos } from './errors.ts';
import { isNxmName, lookupField, lookupRefField, type FieldDef } from './fields.ts';
import { lookupPortName, parseFieldValue, parsePort, parseUint, refusingExtraFields } from './field-text.ts';
import { parseIpv4, parseIpv6, parseMac } from '../packet/odp-parse.ts';
import { parseMoreAction } from './parse-actions-more.ts';

/** Parse `FIELD[]`, `FIELD[a..b]`, `FIELD[n]` or bare `FIELD`. */
export function parseFieldRef(s: string, pos: TextPos, at: number): FieldRef {
  const m = /^([A-Za-z0-9_]+)(?:\[(?:(\d+)(?:\.\.(\d+))?)?\])?$/.exec(s.trim());
  if (!m) fail(pos, at, 'EFIELDREF', `'${s}' is not a field reference like NXM_NX_REG0[0..15]`);
  const f = lookupRefField(m[1]);
  if (!f) fail(pos, at, 'EFIELD', `unknown field '${m[1]}'`);
  if (f.carried === false && refusingExtraFields()) fail(pos, at, 'ENOTSUP', `field ${f.name} is not supported by swd`);
  if (m[2] === undefined) return { field: f.name, ofs: 0, nbits: f.bits };
  const a = Number(m[2]);
  const b = m[3] === undefined ? a : Number(m[3]);
  if (b < a || b >= f.bits) fail(pos, at, 'ERANGE', `${m[1]}[${m[2]}${m[3] !== undefined ? '..' + m[3] : ''}] is outside the field's ${f.bits} bits`);
  return { field: f.name, ofs: a, nbits: b - a + 1 };
}

function actionArg(tok: string): { name: string; arg: string | null; sep: string; argAt: number } {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*([:=(]?)/.exec(tok);
  if (!m) return { name: tok, arg: null, sep: '', argAt: 0 };
  const name = m[1].toLowerCase();
  const sep = m[2];
  if (sep === '') return { name, arg: tok.length > m[0].length ? tok.slice(m[0].length) : null, sep, argAt: m[0].length };
  if (sep === '(') {
    // The end of the text closes what is still open (ovs-ofctl): drop a ')' only if it closes this '('.
    let depth = 0;
    for (const c of tok) depth += c === '(' ? 1 : c === ')' ? -1 : 0;
    if (!tok.endsWith(')') || depth > 0) return { name, arg: tok.slice(m[0].length), sep, argAt: m[0].length };
    return { name, arg: tok.slice(m[0].length, -1), sep, argAt: m[0].length };
  }
  return { name, arg: tok.slice(m[0].length), sep, argAt: m[0].length };
}

export function parseActions(text: string, pos: TextPos): OfAction[] {
  const out: OfAction[] = [];
  for (const tok of splitTopLevel(text, pos, 0, true)) {
    const a = parseOne(tok.text, tok.at, pos);
    if (a) out.push(a);
    const why = a && refusingExtraFields() ? UNSUPPORTED[a.type] : undefined;
    if (why) fail(pos, tok.at, 'ENOTSUP', `action ${tok.text.split(/[:(]/)[0]} is not supported by swd (${why})`);
  }
  const drop = out.findIndex((a) => a === DROP);
  if (drop >= 0) {
    if (out.length > 1) fail(pos, 0, 'EDROP', "'drop' must be the only action");
    return [];
  }
  const other = out.find((a) => a.type !== 'conjunction' && a.type !== 'note');
  if (other && out.some((a) => a.type === 'conjunction')) {
    fail(pos, 0, 'ECONJ', `"conjunction" actions may be used along with "note" but not any other kind of action (such as the "${other.type}" action used here)`);
  }
  if (!other) return out;
  // OpenFlow 1.1+ instructions come in one order, each at most once (OVS's ofpacts_verify).
  let inst = -1;
  for (const a of out) {
    const next = INSTRUCTION_ORDER.indexOf(a.type);
    const n = next < 0 ? APPLY : next;
    if (inst >= 0 && (inst === APPLY ? n < inst : n <= inst)) {
      const name = (i: number) => INSTRUCTION_NAMES[i];
      fail(pos, 0, 'OFPBAC_UNSUPPORTED_ORDER', n === inst
        ? `duplicate ${name(n)} instruction not allowed, for OpenFlow 1.1+ compatibility (OFPBAC_UNSUPPORTED_ORDER)`
        : `invalid instruction ordering: ${name(n)} must appear before ${name(inst)}, for OpenFlow 1.1+ compatibility (OFPBAC_UNSUPPORTED_ORDER)`);
    }
    inst = n;
  }
  return out;
}

// OpenFlow 1.1+ instructions in the order a flow must give them; every other action is part of apply_actions.
// (meter, OVS's first instruction, is left to the meter parser.)
const INSTRUCTION_ORDER: string[] = ['', '', 'clear_actions', 'write_actions', 'write_metadata', 'goto_table'];
const INSTRUCTION_NAMES = ['meter', 'apply_actions', 'clear_actions', 'write_actions', 'write_metadata', 'goto_table'];
const APPLY = 1;

/** Actions a switch refuses (parse-flows prints them): accepting them would mean ignoring them. */
const UNSUPPORTED: Partial<Record<OfAction['type'], string>> = {
  push_mpls: 'swd does not carry MPLS packets', pop_mpls: 'swd does not carry MPLS packets', dec_mpls_ttl: 'swd does not carry MPLS packets',
  set_mpls_label: 'swd does not carry MPLS packets', set_mpls_tc: 'swd does not carry MPLS packets', set_mpls_ttl: 'swd does not carry MPLS packets', set_tunnel: 'swd has no tunnel ports',
  encap: 'swd carries only Ethernet packets', decap: 'swd carries only Ethernet packets', dec_nsh_ttl: 'swd does not carry NSH packets',
  delete_field: 'swd has no tunnel ports', debug_recirc: "OVS's own test action", debug_slow: "OVS's own test action",
};

const DROP = { type: 'note', bytes: new Uint8Array() } as OfAction;

function need(arg: string | null, pos: TextPos, at: number, name: string, what: string): string {
  if (arg === null || arg.trim() === '') fail(pos, at, 'EACTION', `${name} needs ${what}`);
  return arg.trim();
}

function parseOne(tok: string, at: number, pos: TextPos): OfAction | null {
  if (/^\d+$/.test(tok)) return { type: 'output', port: parsePort(tok, pos, at) };
  const { name, arg, argAt } = actionArg(tok);
  const aat = at + argAt;
  switch (name) {
    case 'drop':
      return DROP;
    case 'output': {
      const v = need(arg, pos, aat, 'output', 'a port');
      // output(port=P[,max_len=N]): the port (or field) by keyword.
      if (tok.includes('(') && /(^|,)\s*(port|max_len)\s*=/.test(v)) {
        let port: string | null = null;
        let maxLen: number | undefined;
        for (const kv of splitTopLevel(v, pos, aat)) {
          const eq = kv.text.indexOf('=');
          const k = kv.text.slice(0, eq).trim(), val = kv.text.slice(eq + 1).trim();
          if (eq > 0 && k === 'port') port = val;
          else if (eq > 0 && k === 'max_len') maxLen = Number(parseUint(val, 65535n, pos, kv.at + eq + 1, 'max_len'));
          else fail(pos, kv.at, 'EACTION', `unknown output argument '${kv.text}' (expected port=... or max_len=...)`);
        }
        if (port === null) fail(pos, aat, 'EACTION', 'output(...) needs port=...');
        const src = /\[/.test(port) ? parseFieldRef(port, pos, aat) : null;
        const out: OfAction = src ? { type: 'output_reg', src } : { type: 'output', port: parsePort(port, pos, aat, 'output') };
        // Truncation applies to real ports, LOCAL and IN_PORT only (OVS's parse_truncate_subfield).
        if (maxLen !== undefined && out.type === 'output' && out.port > OFPP_MAX && out.port !== OFPP_LOCAL && out.port !== OFPP_IN_PORT) {
          fail(pos, aat, 'EACTION', `output to unsupported truncate port: ${port}`);
        }
        if (maxLen !== undefined) out.maxLen = maxLen;
        return out;
      }
      if (/\[/.test(v) || lookupField(v.split('[')[0]) && !/^\d+$/.test(v) && !(v.toLowerCase() in { in_port: 1, local: 1, normal: 1, flood: 1, all: 1, controller: 1 })) {
        return { type: 'output_reg', src: parseFieldRef(v, pos, aat) };
      }
      return { type: 'output', port: parsePort(v, pos, aat, 'output') };
    }
    case 'in_port': case 'normal': case 'flood': case 'all': case 'local':
      if (arg !== null) fail(pos, aat, 'EACTION', `${name} takes no argument`);
      return { type: 'output', port: parsePort(name, pos, at) };
    case 'controller': {
      if (arg === null) return { type: 'controller', maxLen: 65535 };
      if (/^\d+$/.test(arg)) return { type: 'controller', maxLen: Number(parseUint(arg, 65535n, pos, aat, 'controller max_len')) };
      const c: Extract<OfAction, { type: 'controller' }> = { type: 'controller', maxLen: 65535 };
      for (const kv of splitTopLevel(arg, pos, aat)) {
        const [k, v] = kv.text.split('=');
        if (k === 'max_len') c.maxLen = Number(parseUint(v ?? '', 65535n, pos, kv.at, 'max_len'));
        else if (k === 'reason') c.reason = v;
        else if (k === 'id') c.id = Number(parseUint(v ?? '', 65535n, pos, kv.at, 'id'));
        else if (k === 'userdata') c.userdata = v;
        else if (k === 'pause') c.pause = true;
        else if (k === 'meter_id') c.meterId = Number(parseUint(v ?? '', 0xffffffffn, pos, kv.at, 'meter_id'));
        else fail(pos, kv.at, 'EACTION', `unknown controller argument '${k}'`);
      }
      return c;
    }
    case 'resubmit': {
      const v = need(arg, pos, aat, 'resubmit', 'a port or (port,table)');
      if (tok.includes('(')) {
        const parts = v.split(',');
        // resubmit(PORT) is resubmit:PORT, as in ovs-ofctl.
        if (parts.length === 1) return { type: 'resubmit', port: parsePort(v, pos, aat, 'resubmit'), table: null };
        if (parts.length > 3) fail(pos, aat, 'EACTION', 'resubmit(PORT,TABLE[,ct]) takes one to three arguments');
        const port = parts[0].trim() === '' ? null : parsePort(parts[0].trim(), pos, aat, 'resubmit');
        const table = parts[1].trim() === '' ? null : Number(parseUint(parts[1].trim(), 254n, pos, aat, 'resubmit table'));
        if (port === null && table === null) fail(pos, aat, 'EACTION', 'resubmit needs a port or a table');
        return { type: 'resubmit', port: port === OFPP_IN_PORT ? null : port, table, ...(parts[2]?.trim() === 'ct' ? { ct: true } : {}) };
      }
      return { type: 'resubmit', port: parsePort(v, pos, aat), table: null };
    }
    case 'goto_table':
      return { type: 'goto_table', table: Number(parseUint(need(arg, pos, aat, name, 'a table'), 254n, pos, aat, 'goto_table')) };
    case 'set_field': {
      const v = need(arg, pos, aat, name, 'VALUE->FIELD');
      const arrow = v.indexOf('->');
      if (arrow < 0) fail(pos, aat, 'EACTION', "set_field needs VALUE->FIELD (missing '->')");
      const fname = v.slice(arrow + 2).trim();
      if (isNxmName(fname)) fail(pos, aat + arrow + 2, 'EFIELD', `${fname} is not a valid OXM field name (set_field takes a field's keyword, e.g. reg0)`);
      const f = lookupRefField(fname);
      if (!f) fail(pos, aat + arrow + 2, 'EFIELD', `unknown field '${fname}'`);
      if (f.carried === false && refusingExtraFields()) fail(pos, aat + arrow + 2, 'ENOTSUP', `field ${f.name} is not supported by swd`);
      if (!f.writable) fail(pos, aat + arrow + 2, 'EFIELD', `field ${f.name} is read-only`);
      const [value, mask] = setFieldValue(f, fname.toLowerCase(), v.slice(0, arrow).trim(), pos, aat);
      const full = (1n << BigInt(f.bits)) - 1n;
      return { type: 'set_field', field: f.name, value, mask: mask === full ? null : mask };
    }
    case 'load': {
      const v = need(arg, pos, aat, name, 'VALUE->FIELD[a..b]');
      const arrow = v.indexOf('->');
      if (arrow < 0) fail(pos, aat, 'EACTION', "load needs VALUE->FIELD[a..b] (missing '->')");
      const dst = parseFieldRef(v.slice(arrow + 2), pos, aat + arrow + 2);
      const value = parseUint(v.slice(0, arrow).trim(), (1n << 128n) - 1n, pos, aat, 'load value');
      if (value >> BigInt(dst.nbits) !== 0n) fail(pos, aat, 'ERANGE', `load value ${v.slice(0, arrow)} does not fit in ${dst.nbits} bits`);
      return { type: 'load', value, dst };
    }
    case 'move': {
      const v = need(arg, pos, aat, name, 'SRC[a..b]->DST[c..d]');
      const arrow = v.indexOf('->');
      if (arrow < 0) fail(pos, aat, 'EACTION', "move needs SRC->DST (missing '->')");
      const src = parseFieldRef(v.slice(0, arrow), pos, aat);
      const dst = parseFieldRef(v.slice(arrow + 2), pos, aat + arrow + 2);
      if (src.nbits !== dst.nbits) fail(pos, aat, 'ERANGE', `move: source has ${src.nbits} bits but destination has ${dst.nbits}`);
      return { type: 'move', src, dst };
    }
    case 'mod_dl_src': case 'mod_dl_dst': {
      const v = need(arg, pos, aat, name, 'an Ethernet address');
      try {
        parseMac(v);
      } catch {
        fail(pos, aat, 'EVALUE', `${name}: '${v}' is not an Ethernet address`);
      }
      return { type: name, mac: v.toLowerCase() };
    }
    case 'mod_nw_src': case 'mod_nw_dst': {
      const v = need(arg, pos, aat, name, 'an IPv4 address');
      try {
        parseIpv4(v);
      } catch {
        fail(pos, aat, 'EVALUE', `${name}: '${v}' is not an IPv4 address`);
      }
      return { type: name, addr: v };
    }
    case 'mod_tp_src': case 'mod_tp_dst':
      return { type: name, port: Number(parseUint(need(arg, pos, aat, name, 'a port number'), 65535n, pos, aat, name)) };
    case 'mod_nw_tos': {
      const tos = Number(parseUint(need(arg, pos, aat, name, 'a value'), 255n, pos, aat, name));
      if (tos & 3) fail(pos, aat, 'EVALUE', 'mod_nw_tos: the value must be a multiple of 4 (DSCP bits only)');
      return { type: name, tos };
    }
    case 'mod_nw_ecn':
      return { type: name, ecn: Number(parseUint(need(arg, pos, aat, name, 'a value'), 3n, pos, aat, name)) };
    case 'mod_nw_ttl':
      return { type: name, ttl: Number(parseUint(need(arg, pos, aat, name, 'a value'), 255n, pos, aat, name)) };
    case 'dec_ttl':
      if (arg === null) return { type: 'dec_ttl' };
      return { type: 'dec_ttl', ids: arg.split(',').map((x) => Number(parseUint(x.trim(), 65535n, pos, aat, 'dec_ttl id'))) };
    case 'push_vlan': {
      const t = Number(parseUint(need(arg, pos, aat, name, 'an ethertype'), 0xffffn, pos, aat, name));
      if (t !== 0x8100 && t !== 0x88a8) fail(pos, aat, 'EVALUE', 'push_vlan: ethertype must be 0x8100 or 0x88a8');
      return { type: 'push_vlan', ethertype: t };
    }
    case 'pop_vlan':
      return { type: 'pop_vlan' };
    case 'strip_vlan':
      return { type: 'strip_vlan' };
    case 'mod_vlan_vid': case 'set_vlan_vid': {
      const vid = Number(parseUint(need(arg, pos, aat, name, 'a VLAN id'), 4095n, pos, aat, name));
      return name === 'set_vlan_vid' ? { type: 'mod_vlan_vid', vid, noPush: true } : { type: 'mod_vlan_vid', vid };
    }
    case 'mod_vlan_pcp': case 'set_vlan_pcp': {
      const pcp = Number(parseUint(need(arg, pos, aat, name, 'a priority'), 7n, pos, aat, name));
      return name === 'set_vlan_pcp' ? { type: 'mod_vlan_pcp', pcp, noPush: true } : { type: 'mod_vlan_pcp', pcp };
    }
    case 'note': {
      const hex = (arg ?? '').replace(/[.\s]/g, '');
      if (!/^([0-9a-f]{2})*$/i.test(hex)) fail(pos, aat, 'EVALUE', 'note: expected hex bytes like 01.02.03');
      return { type: 'note', bytes: Uint8Array.from(Buffer.from(hex, 'hex')) };
    }
    case 'write_metadata': {
      const v = need(arg, pos, aat, name, 'a value');
      const [val, mk] = v.split('/');
      const full = (1n << 64n) - 1n;
      return { type: 'write_metadata', value: parseUint(val, full, pos, aat, name), mask: mk === undefined ? null : parseUint(mk, full, pos, aat, name) };
    }
    case 'group':
      return { type: 'group', groupId: Number(parseUint(need(arg, pos, aat, name, 'a group id'), 0xffffff00n, pos, aat, name)) };
    case 'ct':
      return parseCt(arg ?? '', pos, aat);
    case 'ct_clear':
      return { type: 'ct_clear' };
    case 'clear_actions':
      return { type: 'clear_actions' };
    case 'conjunction':
      return parseConjunction(need(arg, pos, aat, name, '(ID,K/N)'), pos, aat);
    default: {
      const more = parseMoreAction(name, arg, tok, pos, at, aat, parseFieldRef, (text, p, a) => parseActions(text, { ...p, col: p.col + a }));
      if (more) return more;
      // As ovs-ofctl: a word that is no action but names a port (of the bridge) outputs to it.
      const port = lookupPortName(tok);
      if (port !== undefined) return { type: 'output', port };
      fail(pos, at, 'EACTION', `unknown action '${name}'`);
    }
  }
}

function parseConjunction(v: string, pos: TextPos, at: number): OfAction {
  const m = /^\s*(\S+?)\s*,\s*(\S+?)\s*\/\s*(\S+?)\s*$/.exec(v);
  if (!m) fail(pos, at, 'ECONJ', `conjunction: '${v}' is not ID,K/N`);
  const id = Number(parseUint(m[1], 0xffffffffn, pos, at, 'conjunction id'));
  const clause = Number(parseUint(m[2], 255n, pos, at, 'conjunction clause'));
  const nClauses = Number(parseUint(m[3], 255n, pos, at, 'conjunction clauses'));
  if (nClauses < 2) fail(pos, at, 'ECONJ', 'conjunction must have at least 2 clauses');
  if (nClauses > 64) fail(pos, at, 'ECONJ', 'conjunction must have at most 64 clauses');
  if (clause < 1) fail(pos, at, 'ECONJ', 'clause index must be positive');
  if (clause > nClauses) fail(pos, at, 'ECONJ', 'clause index must be less than or equal to number of clauses');
  return { type: 'conjunction', id, clause, nClauses };
}

function setFieldValue(f: FieldDef, typed: string, s: string, pos: TextPos, at: number): [bigint, bigint] {
  if (f.name === 'dl_vlan') {
    // OpenFlow's vlan_vid carries the "present" bit (0x1000) too; dl_vlan is the 12-bit id alone.
    // A mask applies to the 12 id bits (OpenFlow 1.0's set_vlan_vid drops it, as OVS's legacy encoding does).
    const max = typed === 'vlan_vid' ? 0x1fffn : 4095n;
    const slash = s.indexOf('/');
    const v = parseUint(slash < 0 ? s : s.slice(0, slash), max, pos, at, typed);
    const m = slash < 0 ? 4095n : parseUint(s.slice(slash + 1), 0xffffn, pos, at + slash + 1, `${typed} mask`);
    return [v & 4095n, m & 4095n];
  }
  return parseFieldValue(f, s, pos, at, true, true);
}

function parseCt(arg: string, pos: TextPos, at: number): CtAction {
  const ct: CtAction = { type: 'ct', commit: false, force: false, zone: 0, zoneSrc: null, table: null, alg: null, exec: [], nat: null };
  for (const p of splitTopLevel(arg, pos, at)) {
    const { name, arg: v, argAt } = actionArg(p.text);
    const vat = p.at + argAt;
    switch (name) {
      case 'commit': ct.commit = true; break;
      case 'force': ct.force = true; break;
      case 'table':
        ct.table = Number(parseUint(need(v, pos, vat, 'ct table', 'a table'), 254n, pos, vat, 'ct table'));
        break;
      case 'zone': {
        const z = need(v, pos, vat, 'ct zone', 'a zone');
        if (/^(0x[0-9a-f]+|\d+)$/i.test(z)) ct.zone = Number(parseUint(z, 65535n, pos, vat, 'ct zone'));
        else {
          ct.zoneSrc = parseFieldRef(z, pos, vat);
          if (ct.zoneSrc.nbits !== 16) fail(pos, vat, 'ERANGE', `ct zone=${z}: the field slice must be 16 bits wide`);
        }
        break;
      }
      case 'exec': {
        const acts = parseActions(v ?? '', { ...pos, col: pos.col + vat });
        for (const a of acts) {
          const field = a.type === 'set_field' ? a.field : a.type === 'load' || a.type === 'move' ? a.dst.field : null;
          if (field !== 'ct_mark' && field !== 'ct_label') {
            fail(pos, vat, 'ECTEXEC', 'ct exec() may only set ct_mark or ct_label (set_field, load or move)');
          }
        }
        ct.exec = acts;
        break;
      }
      case 'alg': {
        const a = need(v, pos, vat, 'ct alg', 'ftp or tftp');
        if (a !== 'ftp' && a !== 'tftp') fail(pos, vat, 'EVALUE', `ct alg=${a}: unknown ALG (expected ftp or tftp)`);
        ct.alg = a;
        break;
      }
      case 'nat':
        ct.nat = parseNat(v, pos, vat);
        if (ct.exec.length === 0) ct.natFirst = true;
        break;
      default:
        fail(pos, p.at, 'ECT', `unknown ct argument '${name}' (expected commit, force, table, zone, exec, alg or nat)`);
    }
  }
  if (ct.force && !ct.commit) fail(pos, at, 'ECTFORCE', '"force" flag requires "commit" flag.');
  if (ct.exec.length && !ct.commit) fail(pos, at, 'ECTEXEC', 'ct exec() requires commit (ct_mark and ct_label are set only on commit)');
  if (ct.nat && ct.nat.kind !== null && !ct.commit) {
    // OVS allows nat(src=..) without commit (it only takes effect on commit); keep it.
  }
  return ct;
}

export function parseNat(v: string | null, pos: TextPos, at: number): NatSpec {
  const nat: NatSpec = { kind: null };
  if (v === null || v.trim() === '') return nat;
  for (const p of splitTopLevel(v, pos, at)) {
    const t = p.text;
    if (t === 'persistent' || t === 'hash' || t === 'random') {
      nat[t] = true;
      continue;
    }
    const m = /^(src|dst)(?:=(.*))?$/.exec(t);
    if (!m) fail(pos, p.at, 'ENAT', `unknown nat argument '${t}' (expected src[=RANGE], dst[=RANGE], persistent, hash or random)`);
    if (nat.kind !== null) fail(pos, p.at, 'ENAT', 'nat takes only one of src and dst');
    nat.kind = m[1] as 'src' | 'dst';
    if (m[2] !== undefined) parseNatRange(m[2], nat, pos, p.at + 4);
  }
  if (nat.hash && nat.random) fail(pos, at, 'ENAT', 'nat: hash and random are mutually exclusive');
  // An all-zero IPv4 address is no address: OVS encodes it as none (nat(src=0.0.0.0) is nat(src)).
  if (nat.addrMin === '0.0.0.0' && (nat.addrMax ?? '0.0.0.0') === '0.0.0.0' && nat.portMin === undefined) {
    delete nat.addrMin;
    delete nat.addrMax;
  }
  if (nat.kind === null && (nat.hash || nat.random || nat.persistent)) fail(pos, at, 'ENAT', 'nat flags need src or dst');
  return nat;
}

function parseNatRange(s: string, nat: NatSpec, pos: TextPos, at: number): void {
  let addrs = s;
  let ports: string | null = null;
  if (s.startsWith('[')) {
    // [v6]-[v6]:p-p
    const m = /^\[([^\]]+)\](?:-\[([^\]]+)\])?(?::(.+))?$/.exec(s);
    if (!m) fail(pos, at, 'ENAT', `bad IPv6 NAT range '${s}' (expected [ADDR]-[ADDR]:PORT-PORT)`);
    nat.addrMin = m[1];
    nat.addrMax = m[2];
    ports = m[3] ?? null;
  } else {
    const colon = s.includes('.') ? s.indexOf(':') : -1;
    if (colon >= 0) {
      addrs = s.slice(0, colon);
      ports = s.slice(colon + 1);
    }
    const [a, b] = addrs.split('-');
    nat.addrMin = a;
    nat.addrMax = b;
  }
  const v6 = nat.addrMin!.includes(':');
  for (const x of [nat.addrMin, nat.addrMax]) {
    if (x === undefined) continue;
    try {
      if (v6) parseIpv6(x);
      else parseIpv4(x);
    } catch {
      fail(pos, at, 'ENAT', `nat: '${x}' is not an ${v6 ? 'IPv6' : 'IPv4'} address`);
    }
  }
  if (nat.addrMax !== undefined && !v6 && parseIpv4(nat.addrMax) < parseIpv4(nat.addrMin!)) fail(pos, at, 'ENAT', `nat: range ${addrs} is empty (max below min)`);
  if (ports !== null) {
    const [p1, p2] = ports.split('-');
    nat.portMin = Number(parseUint(p1, 65535n, pos, at, 'nat port'));
    if (p2 !== undefined) nat.portMax = Number(parseUint(p2, 65535n, pos, at, 'nat port'));
    if (nat.portMax !== undefined && nat.portMax < nat.portMin) fail(pos, at, 'ENAT', `nat: port range ${ports} is empty`);
  }
}
