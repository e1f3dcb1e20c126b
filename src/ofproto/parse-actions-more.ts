// Action text for the actions beyond the basic set (ovs-actions(7)):
// learn, clone, exit, multipath, bundle/bundle_load, check_pkt_larger,
// fin_timeout, queues, sample, the field stack, MPLS, set_tunnel, meter.
// Called by parse-actions.ts; nested action lists (clone) are parsed through
// the `nested` callback so that this module does not import its caller.

import type { FieldRef, LearnAction, LearnSpec, OfAction } from './actions.ts';
import { fail, splitTopLevel, type TextPos } from './errors.ts';
import { lookupRefField } from './fields.ts';
import { parseFieldValue, parsePort, parseUint, refusingExtraFields } from './field-text.ts';
import { allowedInActionSet } from './action-set.ts';

type ParseRef = (s: string, pos: TextPos, at: number) => FieldRef;
type Nested = (text: string, pos: TextPos, at: number) => OfAction[];

export const HASH_FIELDS = ['eth_src', 'symmetric_l4', 'symmetric_l3l4', 'symmetric_l3l4+udp', 'nw_src', 'nw_dst', 'symmetric_l3'];
const MULTIPATH_ALGS = ['modulo_n', 'hash_threshold', 'hrw', 'iter_hash'];
const BUNDLE_ALGS = ['active_backup', 'hrw'];

function need(arg: string | null, pos: TextPos, at: number, name: string, what: string): string {
  if (arg === null || arg.trim() === '') fail(pos, at, 'EACTION', `${name} needs ${what}`);
  return arg.trim();
}

/** The action `name` with argument `arg` (text after ':' / '=' / inside '(...)'), or undefined when not one of these. */
export function parseMoreAction(name: string, arg: string | null, tok: string, pos: TextPos, at: number, aat: number, ref: ParseRef, nested: Nested): OfAction | undefined {
  switch (name) {
    case 'clone':
      return { type: 'clone', actions: noInstructions(nested(arg ?? '', pos, aat), pos, aat) };
    case 'write_actions': {
      const actions = noInstructions(nested(arg ?? '', pos, aat), pos, aat);
      // A switch refuses what an action set cannot hold (OVS decodes such a write_actions as OFPBAC_UNSUPPORTED_ORDER).
      const bad = refusingExtraFields() ? actions.find((a) => !allowedInActionSet(a)) : undefined;
      if (bad) fail(pos, aat, 'OFPBAC_UNSUPPORTED_ORDER', `OFPBAC_UNSUPPORTED_ORDER: ${bad.type} cannot be written to the action set (see ovs-actions(7) "Action Sets")`);
      return { type: 'write_actions', actions };
    }
    case 'encap': {
      const v = need(arg, pos, aat, name, 'a header (ethernet, nsh(...), mpls or mpls_mc)');
      const header = /^[a-z_]+/.exec(v)?.[0] ?? '';
      if (!['ethernet', 'nsh', 'mpls', 'mpls_mc'].includes(header)) fail(pos, aat, 'EACTION', `Encap hdr not supported: ${v}`);
      return { type: 'encap', header, text: v };
    }
    case 'decap': {
      if (arg === null || arg.trim() === '') return { type: 'decap', packetType: null };
      const m = /^packet_type\(\s*ns\s*=\s*(\w+)\s*,\s*type\s*=\s*(\w+)\s*\)$/.exec(arg.trim());
      if (!m) fail(pos, aat, 'EACTION', `Invalid decap argument: ${arg} (expected packet_type(ns=NS,type=TYPE))`);
      const ns = Number(parseUint(m[1], 65535n, pos, aat, 'ns'));
      if (ns > 1) fail(pos, aat, 'EACTION', `Unsupported ns value: ${ns}`);
      return { type: 'decap', packetType: [ns, Number(parseUint(m[2], 65535n, pos, aat, 'type'))] };
    }
    case 'dec_nsh_ttl': case 'debug_recirc': case 'debug_slow':
      return { type: name };
    case 'delete_field': {
      const f = lookupRefField(need(arg, pos, aat, name, 'a field'));
      if (!f) fail(pos, aat, 'EFIELD', `${arg}: unknown field`);
      return { type: 'delete_field', field: f.name };
    }
    case 'exit':
      return { type: 'exit' };
    case 'multipath': {
      const p = need(arg, pos, aat, name, '(fields,basis,algorithm,n_links,arg,dst)').split(',').map((s) => s.trim());
      if (p.length !== 6) fail(pos, aat, 'EACTION', `multipath: '${arg}' needs 6 arguments (fields,basis,algorithm,n_links,arg,dst)`);
      if (!HASH_FIELDS.includes(p[0])) fail(pos, aat, 'EACTION', `${arg}: unknown fields \`${p[0]}'`);
      if (!MULTIPATH_ALGS.includes(p[2])) fail(pos, aat, 'EACTION', `${arg}: unknown algorithm \`${p[2]}'`);
      const nLinks = Number(parseUint(p[3], 65536n, pos, aat, 'multipath n_links'));
      if (nLinks < 1) fail(pos, aat, 'EACTION', `${arg}: n_links ${nLinks} is not in valid range 1 to 65536`);
      const dst = ref(p[5], pos, aat);
      if (dst.nbits < 32 && 2 ** dst.nbits < nLinks) {
        fail(pos, aat, 'EACTION', `${arg}: ${dst.nbits}-bit destination field has ${2 ** dst.nbits} possible values, less than specified n_links ${nLinks}`);
      }
      return { type: 'multipath', fields: p[0], basis: Number(parseUint(p[1], 65535n, pos, aat, 'basis')), algorithm: p[2], nLinks, arg: Number(parseUint(p[4], 0xffffffffn, pos, aat, 'arg')), dst };
    }
    case 'bundle': case 'bundle_load': {
      const v = need(arg, pos, aat, name, '(fields,basis,algorithm,ofport,...members:PORTS)');
      const m = /^(.*?),\s*(?:members|slaves)\s*:\s*\[?([^\]]*)\]?\s*$/.exec(v);
      if (!m) fail(pos, aat, 'EACTION', `${name}: '${v}' needs members:PORT,...`);
      const p = m[1].split(',').map((s) => s.trim());
      const wantN = name === 'bundle' ? 4 : 5;
      if (p.length !== wantN) fail(pos, aat, 'EACTION', `${name}: expected ${wantN} arguments before members:`);
      if (!HASH_FIELDS.includes(p[0])) fail(pos, aat, 'EACTION', `${name}: unknown fields \`${p[0]}'`);
      if (!BUNDLE_ALGS.includes(p[2])) fail(pos, aat, 'EACTION', `${name}: unknown algorithm \`${p[2]}'`);
      if (p[3] !== 'ofport') fail(pos, aat, 'EACTION', `${name}: unknown member_type \`${p[3]}'`);
      const members = m[2].split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => parsePort(s, pos, aat, 'bundle member'));
      const dst = name === 'bundle_load' ? ref(p[4], pos, aat) : null;
      return { type: 'bundle', fields: p[0], basis: Number(parseUint(p[1], 65535n, pos, aat, 'basis')), algorithm: p[2], members, dst };
    }
    case 'check_pkt_larger': {
      const m = /^check_pkt_larger\s*\(\s*([^)]*)\)\s*->\s*(.+)$/.exec(tok);
      if (!m) fail(pos, at, 'EACTION', 'check_pkt_larger needs (LENGTH)->DST[BIT]');
      const dst = ref(m[2], pos, at);
      if (dst.nbits !== 1) fail(pos, at, 'EACTION', 'Only 1-bit destination field is allowed');
      return { type: 'check_pkt_larger', pktLen: Number(parseUint(m[1], 65535n, pos, at, 'check_pkt_larger length')), dst };
    }
    case 'fin_timeout': {
      const a: OfAction = { type: 'fin_timeout', idle: 0, hard: 0 };
      for (const kv of splitTopLevel(arg ?? '', pos, aat)) {
        const [k, val] = kv.text.split('=').map((s) => s.trim());
        if (k === 'idle_timeout') a.idle = Number(parseUint(val ?? '', 65535n, pos, kv.at, k));
        else if (k === 'hard_timeout') a.hard = Number(parseUint(val ?? '', 65535n, pos, kv.at, k));
        else fail(pos, kv.at, 'EACTION', `invalid key '${k}' in 'fin_timeout' argument`);
      }
      return a;
    }
    case 'set_queue':
      return { type: 'set_queue', queue: Number(parseUint(need(arg, pos, aat, name, 'a queue id'), 0xffffffffn, pos, aat, name)) };
    case 'pop_queue':
      return { type: 'pop_queue' };
    case 'enqueue': {
      const p = need(arg, pos, aat, name, 'PORT:QUEUE').split(/[:,]/).map((s) => s.trim());
      if (p.length !== 2) fail(pos, aat, 'EACTION', "enqueue needs PORT:QUEUE or (PORT,QUEUE)");
      return { type: 'enqueue', port: parsePort(p[0], pos, aat, 'enqueue'), queue: Number(parseUint(p[1], 0xffffffffn, pos, aat, 'queue')) };
    }
    case 'sample': {
      const a: Extract<OfAction, { type: 'sample' }> = { type: 'sample', probability: -1, collectorSetId: 0, obsDomainId: 0, obsPointId: 0 };
      for (const kv of splitTopLevel(need(arg, pos, aat, name, 'probability=...'), pos, aat)) {
        const [k, val] = kv.text.split('=').map((s) => s.trim());
        const num = (max: bigint) => Number(parseUint(val ?? '', max, pos, kv.at, k));
        if (k === 'probability') {
          a.probability = num(65535n);
          if (a.probability === 0) fail(pos, kv.at, 'EACTION', `invalid probability value "${val}"`);
        } else if (k === 'collector_set_id') a.collectorSetId = num(0xffffffffn);
        else if (k === 'obs_domain_id') a.obsDomainId = num(0xffffffffn);
        else if (k === 'obs_point_id') a.obsPointId = num(0xffffffffn);
        else if (k === 'sampling_port') a.samplingPort = parsePort(val ?? '', pos, kv.at, 'sampling_port');
        else if (k === 'ingress' || k === 'egress') a.direction = k;
        else fail(pos, kv.at, 'EACTION', `invalid key '${k}' in 'sample' argument`);
      }
      if (a.probability < 0) fail(pos, aat, 'EACTION', 'non-zero "probability" must be specified on sample');
      return a;
    }
    case 'push':
      return { type: 'stack_push', src: ref(need(arg, pos, aat, name, 'a field'), pos, aat) };
    case 'pop':
      return { type: 'stack_pop', dst: ref(need(arg, pos, aat, name, 'a field'), pos, aat) };
    case 'push_mpls': case 'pop_mpls': {
      const t = Number(parseUint(need(arg, pos, aat, name, 'an ethertype'), 0xffffn, pos, aat, name));
      if (name === 'push_mpls' && t !== 0x8847 && t !== 0x8848) fail(pos, aat, 'EACTION', `${name}: ethertype must be 0x8847 or 0x8848`);
      return { type: name, ethertype: t };
    }
    case 'dec_mpls_ttl':
      return { type: 'dec_mpls_ttl' };
    case 'set_mpls_label': case 'set_mpls_tc': case 'set_mpls_ttl': {
      const max = name === 'set_mpls_label' ? 0xfffffn : name === 'set_mpls_tc' ? 7n : 255n;
      return { type: name, value: Number(parseUint(need(arg, pos, aat, name, 'a value'), max, pos, aat, name)) };
    }
    case 'set_tunnel': case 'set_tunnel64': {
      const tunId = parseUint(need(arg, pos, aat, name, 'a tunnel id'), (1n << 64n) - 1n, pos, aat, name);
      return { type: 'set_tunnel', tunId, wide: name === 'set_tunnel64' || tunId > 0xffffffffn };
    }
    case 'meter': {
      const id = Number(parseUint(need(arg, pos, aat, name, 'a meter id'), 0xffff0000n, pos, aat, name));
      if (id === 0) fail(pos, aat, 'EACTION', 'meter: meter id 0 is not valid');
      return { type: 'meter', meterId: id };
    }
    case 'learn':
      return parseLearn(arg ?? '', pos, aat, ref);
    default:
      return undefined;
  }
}

/**
 * Actions nested in clone() or write_actions() are actions, not
 * instructions (OVS's ofpacts_verify: OFPBIC_UNSUP_INST).
 */
function noInstructions(actions: OfAction[], pos: TextPos, at: number): OfAction[] {
  for (const a of actions) {
    if (a.type === 'write_actions' || a.type === 'clear_actions' || a.type === 'write_metadata' || a.type === 'goto_table') {
      fail(pos, at, 'OFPBIC_UNSUP_INST', `${a.type} instruction not allowed here (OFPBIC_UNSUP_INST)`);
    }
  }
  return actions;
}

function parseLearn(arg: string, pos: TextPos, at: number, ref: ParseRef): LearnAction {
  const l: LearnAction = {
    type: 'learn', table: 1, idleTimeout: 0, hardTimeout: 0, finIdleTimeout: 0, finHardTimeout: 0, priority: 32768, cookie: 0n,
    sendFlowRem: false, deleteLearned: false, limit: 0, resultDst: null, specs: [],
  };
  for (const p of splitTopLevel(arg, pos, at)) {
    const t = p.text.trim();
    const eq = t.indexOf('=');
    const key = eq > 0 ? t.slice(0, eq).trim() : t;
    const val = eq > 0 ? t.slice(eq + 1).trim() : '';
    const num = (max: bigint) => parseUint(val, max, pos, p.at + eq + 1, key);
    switch (eq > 0 ? key : '') {
      case 'table': {
        const n = Number(num(255n));
        if (n === 255) fail(pos, p.at, 'EACTION', `table=${val}: table id 255 not valid for \`learn' action`);
        l.table = n;
        continue;
      }
      case 'idle_timeout': l.idleTimeout = Number(num(65535n)); continue;
      case 'hard_timeout': l.hardTimeout = Number(num(65535n)); continue;
      case 'fin_idle_timeout': l.finIdleTimeout = Number(num(65535n)); continue;
      case 'fin_hard_timeout': l.finHardTimeout = Number(num(65535n)); continue;
      case 'priority': l.priority = Number(num(65535n)); continue;
      case 'cookie': l.cookie = num((1n << 64n) - 1n); continue;
      case 'limit': l.limit = Number(num(0xffffffffn)); continue;
      case 'result_dst': {
        l.resultDst = ref(val, pos, p.at + eq + 1);
        if (l.resultDst.nbits !== 1) fail(pos, p.at, 'EACTION', 'result_dst in \'learn\' action must be a single bit');
        continue;
      }
    }
    if (t === 'send_flow_rem') l.sendFlowRem = true;
    else if (t === 'delete_learned') l.deleteLearned = true;
    else l.specs.push(parseLearnSpec(t, pos, p.at, ref));
  }
  return l;
}

function parseLearnSpec(t: string, pos: TextPos, at: number, ref: ParseRef): LearnSpec {
  const load = /^load\s*[:(]\s*(.+?)\s*->\s*(.+?)\)?$/.exec(t);
  if (load) {
    const dst = ref(load[2], pos, at);
    if (/^[A-Za-z_]/.test(load[1]) && !/^0x/i.test(load[1])) {
      const src = ref(load[1], pos, at);
      if (src.nbits !== dst.nbits) fail(pos, at, 'EACTION', `${t}: source has ${src.nbits} bits but destination has ${dst.nbits}`);
      return { kind: 'load', dst, src, value: null };
    }
    const value = parseUint(load[1], (1n << 128n) - 1n, pos, at, 'learn load value');
    if (value >> BigInt(dst.nbits) !== 0n) fail(pos, at, 'ERANGE', `${load[1]}->${load[2]}: value does not fit into ${dst.nbits} bits`);
    return { kind: 'load', dst, src: null, value };
  }
  const out = /^output\s*:\s*(.+)$/.exec(t);
  if (out) return { kind: 'output', src: ref(out[1], pos, at) };
  const eq = t.indexOf('=');
  if (eq < 0) {
    const r = ref(t, pos, at);
    return { kind: 'match', dst: r, src: { ...r }, value: null };
  }
  const dst = ref(t.slice(0, eq), pos, at);
  const rhs = t.slice(eq + 1).trim();
  const name = /^([A-Za-z_][A-Za-z0-9_]*)/.exec(rhs)?.[1];
  if (name && lookupRefField(name) && !/^0x/i.test(rhs)) {
    const src = ref(rhs, pos, at + eq + 1);
    if (src.nbits !== dst.nbits) fail(pos, at, 'EACTION', `${t}: source has ${src.nbits} bits but destination has ${dst.nbits}`);
    return { kind: 'match', dst, src, value: null };
  }
  const f = lookupRefField(dst.field)!;
  if (dst.ofs === 0 && dst.nbits === f.bits) {
    let v: bigint;
    try {
      [v] = parseFieldValue(f, rhs, pos, at + eq + 1, false);
    } catch {
      fail(pos, at, 'EACTION', `${t.slice(0, eq)} value ${rhs} cannot be parsed as a subfield or an immediate value`);
    }
    return { kind: 'match', dst, src: null, value: v };
  }
  const v = parseUint(rhs, (1n << 128n) - 1n, pos, at + eq + 1, 'learn value');
  if (v >> BigInt(dst.nbits) !== 0n) fail(pos, at, 'ERANGE', `${t}: value does not fit into ${dst.nbits} bits`);
  return { kind: 'match', dst, src: null, value: v };
}
