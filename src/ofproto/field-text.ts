// Field values and port names as flow text spells them, shared by the flow
// and action parsers (parse-flow.ts, parse-actions.ts, group-parse.ts) and
// formatters (format-flow.ts, format-actions.ts, group-format.ts), so that
// neither pair has to import the other. Slow path.

import { CS_DST_NAT, CS_ESTABLISHED, CS_INVALID, CS_NEW, CS_RELATED, CS_REPLY_DIR, CS_SRC_NAT, CS_TRACKED } from '../packet/flow-key.ts';
import { parseIpv4, parseIpv6, parseMac } from '../packet/odp-parse.ts';
import { OFPP_ALL, OFPP_CONTROLLER, OFPP_FLOOD, OFPP_IN_PORT, OFPP_LOCAL, OFPP_MAX, OFPP_NONE, OFPP_NORMAL, OFPP_TABLE, OFPP_UNSET } from './actions.ts';
import { fail, type TextPos } from './errors.ts';
import type { FieldDef } from './fields.ts';

export const PORT_LABELS: Record<number, string> = {
  0xfff8: 'IN_PORT', 0xfff9: 'TABLE', 0xfffa: 'NORMAL', 0xfffb: 'FLOOD', 0xfffc: 'ALL', 0xfffd: 'CONTROLLER',
  0xfffe: 'LOCAL', 0xffff: 'NONE', 0xfff7: 'UNSET',
};

/** Port names to print instead of numbers (dump-flows --names); null: numbers. */
let portLabels: ReadonlyMap<number, string> | null = null;

/** Run `fn` printing ports by name where `names` has one, as ovs-ofctl --names does. */
export function withPortLabels<T>(names: ReadonlyMap<number, string> | null, fn: () => T): T {
  const saved = portLabels;
  portLabels = names;
  try {
    return fn();
  } finally {
    portLabels = saved;
  }
}

/** ovs-ofctl quotes (JSON-style) a name that is not a letter followed by letters and digits. */
export function quotePortName(name: string): string {
  return /^[A-Za-z][A-Za-z0-9]*$/.test(name) ? name : JSON.stringify(name);
}

export function portLabel(p: number): string {
  if (p >= OFPP_MAX) return PORT_LABELS[p] ?? String(p);
  const name = portLabels?.get(p);
  return name === undefined ? String(p) : quotePortName(name);
}

export const CT_STATE_FLAGS: [string, number][] = [
  ['new', CS_NEW], ['est', CS_ESTABLISHED], ['rel', CS_RELATED], ['rpl', CS_REPLY_DIR],
  ['inv', CS_INVALID], ['trk', CS_TRACKED], ['snat', CS_SRC_NAT], ['dnat', CS_DST_NAT],
];

export const TCP_FLAGS: [string, number][] = [
  ['fin', 0x001], ['syn', 0x002], ['rst', 0x004], ['psh', 0x008], ['ack', 0x010],
  ['urg', 0x020], ['ece', 0x040], ['cwr', 0x080], ['ns', 0x100],
];

export const PORT_NAMES: Record<string, number> = {
  in_port: OFPP_IN_PORT, table: OFPP_TABLE, normal: OFPP_NORMAL, flood: OFPP_FLOOD, all: OFPP_ALL,
  controller: OFPP_CONTROLLER, local: OFPP_LOCAL, none: OFPP_NONE, any: OFPP_NONE, unset: OFPP_UNSET,
};

export function parseUint(s: string, max: bigint, pos: TextPos, at: number, what: string): bigint {
  let v: bigint;
  if (/^0x[0-9a-f]+$/i.test(s)) v = BigInt(s);
  else if (/^\d+$/.test(s)) v = BigInt(s);
  else fail(pos, at, 'EVALUE', `${what}: '${s}' is not a number`);
  if (v > max) fail(pos, at, 'ERANGE', `${what}: value ${s} is out of range (at most ${max})`);
  return v;
}

/**
 * How port names are resolved while a flow is parsed: against a bridge's
 * ports (name -> OpenFlow port number), or `null` offline, where ovs-ofctl
 * refuses names (parse-flows has no switch to ask).
 */
let portNames: ReadonlyMap<string, number> | null = null;
/** Set while parsing flows for a switch: fields swd cannot carry are refused at their position. */
let refuseExtra = false;

export function refusingExtraFields(): boolean {
  return refuseExtra;
}

/**
 * Run `fn` with port names resolved through `names` (null: offline, names
 * refused) and, for flows that go into a switch (`forSwitch`), with the
 * fields swd cannot carry refused where they stand.
 */
export function withPortNames<T>(names: ReadonlyMap<string, number> | null, fn: () => T, forSwitch = names !== null): T {
  const saved = [portNames, refuseExtra] as const;
  portNames = names;
  refuseExtra = forSwitch;
  try {
    return fn();
  } finally {
    [portNames, refuseExtra] = saved;
  }
}

/** A port as ovs-ofctl takes it: a number, a reserved name (LOCAL, NORMAL, ...) or the name of a bridge port. */
export function lookupPort(s: string): number | undefined {
  const named = PORT_NAMES[s.toLowerCase()];
  if (named !== undefined) return named;
  if (/^(0x[0-9a-f]+|\d+)$/i.test(s)) {
    const v = Number(s);
    return v <= 0xffff ? v : undefined;
  }
  return lookupPortName(s);
}

/** A port of the bridge by name (quoted or not), while parsing for a bridge. */
export function lookupPortName(s: string): number | undefined {
  const bare = s.length > 1 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s;
  return portNames?.get(bare);
}

export function parsePort(s: string, pos: TextPos, at: number, what = 'port'): number {
  const p = lookupPort(s);
  if (p !== undefined) return p;
  if (/^(0x[0-9a-f]+|\d+)$/i.test(s)) return Number(parseUint(s, 0xffffn, pos, at, what));
  if (portNames === null) fail(pos, at, 'EPORT', `${s}: invalid or unknown port for ${what} (port names need a bridge; parse-flows works offline)`);
  return fail(pos, at, 'EPORT', `${s}: invalid or unknown port for ${what} (not a port number or a port of the bridge)`);
}

function flagsValue(s: string, names: [string, number][], width: number, pos: TextPos, at: number, what: string): [bigint, bigint] {
  const full = (1n << BigInt(width)) - 1n;
  if (/^(0x[0-9a-f]+|\d+)(\/(0x[0-9a-f]+|\d+))?$/i.test(s)) {
    const [v, m] = s.split('/');
    const mask = m === undefined ? full : parseUint(m, full, pos, at, what);
    return [parseUint(v, full, pos, at, what) & mask, mask];
  }
  let value = 0n, mask = 0n;
  const re = /([+-])([a-z]+)/gy;
  let m: RegExpExecArray | null;
  let last = 0;
  while ((m = re.exec(s))) {
    const f = names.find((n) => n[0] === m![2]);
    if (!f) fail(pos, at, 'EVALUE', `${what}: unknown flag '${m[2]}' (expected one of ${names.map((n) => n[0]).join(', ')})`);
    if (what === 'tcp_flags' && mask & BigInt(f[1])) fail(pos, at, 'EVALUE', `${m[2]}: Each TCP flag can be specified only once`);
    mask |= BigInt(f[1]);
    if (m[1] === '+') value |= BigInt(f[1]);
    last = re.lastIndex;
  }
  if (last !== s.length || s.length === 0) fail(pos, at, 'EVALUE', `${what}: '${s}' is not a flag list like +trk-new`);
  return [value, mask];
}

/**
 * Parse "value[/mask]" for a field into (value, mask) bigints of the field's
 * width; the value is masked unless `keepValue` (set_field keeps what was
 * written, as OVS's ofpact does, and applies only the masked bits).
 */
export function parseFieldValue(f: FieldDef, s: string, pos: TextPos, at: number, allowMask = true, keepValue = false): [bigint, bigint] {
  const full = (1n << BigInt(f.bits)) - 1n;
  const slash = s.indexOf('/');
  const vs = slash < 0 ? s : s.slice(0, slash);
  const ms = slash < 0 ? null : s.slice(slash + 1);
  if (ms !== null && (!allowMask || !f.maskable) && f.kind !== 'ct_state' && f.kind !== 'tcp_flags') {
    fail(pos, at + slash, 'EMASK', `field ${f.name} does not support a mask`);
  }
  const one = (x: string, isMask: boolean): bigint => {
    const o = isMask ? at + slash + 1 : at;
    switch (f.kind) {
      case 'ipv4':
        try {
          return BigInt(parseIpv4(x));
        } catch {
          return fail(pos, o, 'EVALUE', `${f.name}: '${x}' is not an IPv4 address`);
        }
      case 'ipv6': {
        try {
          const w = parseIpv6(x);
          return (BigInt(w[0]) << 96n) | (BigInt(w[1]) << 64n) | (BigInt(w[2]) << 32n) | BigInt(w[3]);
        } catch {
          return fail(pos, o, 'EVALUE', `${f.name}: '${x}' is not an IPv6 address`);
        }
      }
      case 'mac': {
        try {
          const [hi, lo] = parseMac(x);
          return (BigInt(hi) << 32n) | BigInt(lo);
        } catch {
          return fail(pos, o, 'EVALUE', `${f.name}: '${x}' is not an Ethernet address`);
        }
      }
      case 'port':
        return BigInt(parsePort(x, pos, o, f.name));
      default:
        return parseUint(x, full, pos, o, f.name);
    }
  };
  if (f.kind === 'ct_state') return flagsValue(s, CT_STATE_FLAGS, 8, pos, at, f.name);
  if (f.kind === 'tcp_flags') return flagsValue(s, TCP_FLAGS, 12, pos, at, f.name);
  const v = one(vs, false);
  let m = full;
  if (ms !== null) {
    if ((f.kind === 'ipv4' || f.kind === 'ipv6') && /^\d+$/.test(ms)) {
      const n = Number(ms);
      if (n > f.bits) fail(pos, at + slash + 1, 'EMASK', `${f.name}: prefix length /${ms} is longer than ${f.bits} bits`);
      m = n === 0 ? 0n : (full << BigInt(f.bits - n)) & full;
    } else m = one(ms, true);
  }
  return [keepValue ? v : v & m, m];
}

