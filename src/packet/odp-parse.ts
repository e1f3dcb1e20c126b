// Datapath-flow text -> flow key (+ mask): the syntax `ovs-appctl
// netdev-dummy/receive` and `dpctl/*` accept, e.g.
//   in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),
//   ipv4(src=10.1.1.1,dst=10.1.1.2,proto=6,tos=0,ttl=64,frag=no),tcp(src=1,dst=2),tcp_flags(syn)
// Slow path: used for `swctl inject`, `swctl trace` and tests.

import {
  CS_DST_NAT, CS_ESTABLISHED, CS_INVALID, CS_NEW, CS_RELATED, CS_REPLY_DIR, CS_SRC_NAT, CS_TRACKED,
  ETH_TYPE_VLAN, FK_ARP_SHA_HI, FK_ARP_THA_HI, FK_CT_LABEL, FK_CT_MARK, FK_CT_STATE, FK_CT_ZONE, FK_DP_HASH,
  FK_ETH_DST_HI, FK_ETH_SRC_HI, FK_ETH_TYPE, FK_IN_PORT, FK_IPV6_DST, FK_IPV6_LABEL, FK_IPV6_SRC, FK_ND_TARGET,
  FK_NW_DST, FK_NW_FRAG, FK_NW_PROTO, FK_NW_SRC, FK_NW_TOS, FK_NW_TTL, FK_PKT_MARK, FK_RECIRC_ID, FK_TCP_FLAGS,
  FK_TP_DST, FK_TP_SRC, FK_VLAN_TCI, FK_WORDS, FRAG_ANY, FRAG_LATER, VLAN_CFI,
} from './flow-key.ts';
import { ipv4FromText, ipv6FromText } from './addr.ts';

export class OdpParseError extends Error {
  readonly code = 'EODPPARSE';
  constructor(message: string, readonly column: number) {
    super(`${message} (at column ${column + 1})`);
    this.name = 'OdpParseError';
  }
}

export const TCP_FLAG_NAMES: [string, number][] = [
  ['fin', 0x001], ['syn', 0x002], ['rst', 0x004], ['psh', 0x008], ['ack', 0x010],
  ['urg', 0x020], ['ece', 0x040], ['cwr', 0x080], ['ns', 0x100],
];

export const CT_STATE_NAMES: [string, number][] = [
  ['new', CS_NEW], ['est', CS_ESTABLISHED], ['rel', CS_RELATED], ['rpl', CS_REPLY_DIR],
  ['inv', CS_INVALID], ['trk', CS_TRACKED], ['snat', CS_SRC_NAT], ['dnat', CS_DST_NAT],
];

interface Attr {
  name: string;
  /** Raw text inside the parentheses. */
  body: string;
  pos: number;
}

/** Split "a(x),b(y(z)),c" into top-level attributes. */
function splitAttrs(text: string, base: number): Attr[] {
  const out: Attr[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && (text[i] === ',' || text[i] === ' ')) i++;
    if (i >= text.length) break;
    const start = i;
    while (i < text.length && /[A-Za-z0-9_]/.test(text[i])) i++;
    const name = text.slice(start, i);
    if (!name) throw new OdpParseError(`unexpected '${text[i]}'`, base + i);
    if (text[i] !== '(') throw new OdpParseError(`expected '(' after '${name}'`, base + i);
    let depth = 1;
    const bodyStart = ++i;
    while (i < text.length && depth > 0) {
      if (text[i] === '(') depth++;
      else if (text[i] === ')') depth--;
      i++;
    }
    if (depth !== 0) throw new OdpParseError(`unbalanced parentheses in '${name}('`, base + start);
    out.push({ name, body: text.slice(bodyStart, i - 1), pos: base + start });
  }
  return out;
}

function splitFields(body: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of body.split(',')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq < 0) m.set(part.trim(), '');
    else m.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return m;
}

function num(s: string, pos: number, max: number): number {
  const v = /^0x[0-9a-f]+$/i.test(s) ? parseInt(s, 16) : /^\d+$/.test(s) ? parseInt(s, 10) : NaN;
  if (!Number.isFinite(v) || v > max) throw new OdpParseError(`bad number '${s}'`, pos);
  return v;
}

/** value or value/mask; `parse` converts one side. */
function masked(s: string, pos: number, parse: (x: string) => number, full: number): [number, number] {
  const slash = s.indexOf('/');
  if (slash < 0) return [parse(s) >>> 0, full >>> 0];
  const m = parse(s.slice(slash + 1)) >>> 0;
  return [(parse(s.slice(0, slash)) & m) >>> 0, m];
}

export function parseIpv4(s: string, pos = 0): number {
  const v = ipv4FromText(s);
  if (v === null) throw new OdpParseError(`bad IPv4 address '${s}'`, pos);
  return v;
}

export function parseIpv6(s: string, pos = 0): Uint32Array {
  const w = ipv6FromText(s);
  if (w === null) throw new OdpParseError(`bad IPv6 address '${s}'`, pos);
  return w;
}

export function parseMac(s: string, pos = 0): [number, number] {
  const p = s.split(':');
  if (p.length !== 6 || p.some((x) => !/^[0-9a-f]{1,2}$/i.test(x))) throw new OdpParseError(`bad MAC address '${s}'`, pos);
  const b = p.map((x) => parseInt(x, 16));
  return [(b[0] << 8) | b[1], ((b[2] << 24) | (b[3] << 16) | (b[4] << 8) | b[5]) >>> 0];
}

function flagsValue(s: string, names: [string, number][], pos: number): [number, number] {
  // "syn|ack", "+syn-ack", "0x12", "0x12/0xff"
  if (/^0x|^\d/.test(s)) return masked(s, pos, (x) => num(x, pos, 0xffff), 0xfff);
  let value = 0, mask = 0;
  if (/^[+-]/.test(s)) {
    const re = /([+-])([a-z]+)/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(s))) {
      const f = names.find((n) => n[0] === m![2]);
      if (!f) throw new OdpParseError(`unknown flag '${m[2]}'`, pos);
      mask |= f[1];
      if (m[1] === '+') value |= f[1];
    }
    return [value, mask];
  }
  for (const name of s.split('|')) {
    if (!name) continue;
    const f = names.find((n) => n[0] === name);
    if (!f) throw new OdpParseError(`unknown flag '${name}'`, pos);
    value |= f[1];
  }
  return [value, names === TCP_FLAG_NAMES ? 0xfff : 0xff];
}

export interface OdpFlow {
  key: Uint32Array;
  mask: Uint32Array;
}

/** Parse datapath-flow text into a key and mask (mask bits set for every field given). */
export function parseOdpFlow(text: string): OdpFlow {
  const key = new Uint32Array(FK_WORDS);
  const mask = new Uint32Array(FK_WORDS);
  const set = (w: number, v: number, m: number) => {
    key[w] = (v & m) >>> 0;
    mask[w] = m >>> 0;
  };
  parseInto(text.trim(), 0, key, mask, set, false);
  return { key, mask };
}

function parseInto(
  text: string, base: number, key: Uint32Array, mask: Uint32Array,
  set: (w: number, v: number, m: number) => void, inEncap: boolean,
): void {
  for (const a of splitAttrs(text, base)) {
    const f = splitFields(a.body);
    const get = (name: string) => f.get(name);
    const p = a.pos;
    switch (a.name) {
      case 'in_port': set(FK_IN_PORT, num(a.body, p, 0xffffffff), 0xffffffff); break;
      case 'recirc_id': set(FK_RECIRC_ID, ...masked(a.body, p, (x) => num(x, p, 0xffffffff), 0xffffffff)); break;
      case 'dp_hash': set(FK_DP_HASH, ...masked(a.body, p, (x) => num(x, p, 0xffffffff), 0xffffffff)); break;
      case 'skb_mark': set(FK_PKT_MARK, ...masked(a.body, p, (x) => num(x, p, 0xffffffff), 0xffffffff)); break;
      case 'skb_priority': case 'packet_type': case 'ufid': break;
      case 'ct_state': set(FK_CT_STATE, ...flagsValue(a.body, CT_STATE_NAMES, p)); break;
      case 'ct_zone': set(FK_CT_ZONE, ...masked(a.body, p, (x) => num(x, p, 0xffff), 0xffff)); break;
      case 'ct_mark': set(FK_CT_MARK, ...masked(a.body, p, (x) => num(x, p, 0xffffffff), 0xffffffff)); break;
      case 'ct_label': {
        const [v, m] = a.body.split('/');
        const vb = BigInt(v);
        const mb = m === undefined ? (1n << 128n) - 1n : BigInt(m);
        for (let i = 0; i < 4; i++) {
          const sh = BigInt(96 - 32 * i);
          set(FK_CT_LABEL + i, Number((vb >> sh) & 0xffffffffn), Number((mb >> sh) & 0xffffffffn));
        }
        break;
      }
      case 'eth': {
        for (const [name, w] of [['src', FK_ETH_SRC_HI], ['dst', FK_ETH_DST_HI]] as const) {
          const s = get(name);
          if (s !== undefined) setMac(w, s, p, set);
        }
        break;
      }
      case 'eth_type': {
        const t = num(a.body.split('/')[0], p, 0xffff);
        // The key holds the inner type of a tagged frame: 0x8100 only marks the tag.
        if (t !== ETH_TYPE_VLAN || inEncap) set(FK_ETH_TYPE, t, 0xffff);
        break;
      }
      case 'vlan': {
        let tci = VLAN_CFI, tmask = VLAN_CFI;
        const vid = get('vid');
        const pcp = get('pcp');
        if (vid !== undefined) {
          const [v, m] = masked(vid, p, (x) => num(x, p, 0xfff), 0xfff);
          tci |= v;
          tmask |= m;
        }
        if (pcp !== undefined) {
          const [v, m] = masked(pcp, p, (x) => num(x, p, 7), 7);
          tci |= v << 13;
          tmask |= m << 13;
        }
        if (get('tci') !== undefined) [tci, tmask] = masked(get('tci')!, p, (x) => num(x, p, 0xffff), 0xffff);
        set(FK_VLAN_TCI, tci, tmask);
        break;
      }
      case 'encap': parseInto(a.body, p + a.name.length + 1, key, mask, set, true); break;
      case 'ipv4': {
        const src = get('src'), dst = get('dst');
        if (src !== undefined) set(FK_NW_SRC, ...masked(src, p, (x) => parseIpv4(x, p), 0xffffffff));
        if (dst !== undefined) set(FK_NW_DST, ...masked(dst, p, (x) => parseIpv4(x, p), 0xffffffff));
        ipCommon(f, p, set);
        break;
      }
      case 'ipv6': {
        for (const [name, w] of [['src', FK_IPV6_SRC], ['dst', FK_IPV6_DST]] as const) {
          const s = get(name);
          if (s !== undefined) setIpv6(w, s, p, set);
        }
        if (get('label') !== undefined) set(FK_IPV6_LABEL, ...masked(get('label')!, p, (x) => num(x, p, 0xfffff), 0xfffff));
        if (get('tclass') !== undefined) set(FK_NW_TOS, ...masked(get('tclass')!, p, (x) => num(x, p, 0xff), 0xff));
        if (get('hlimit') !== undefined) set(FK_NW_TTL, ...masked(get('hlimit')!, p, (x) => num(x, p, 0xff), 0xff));
        ipCommon(f, p, set);
        break;
      }
      case 'tcp': case 'udp': case 'sctp': {
        if (get('src') !== undefined) set(FK_TP_SRC, ...masked(get('src')!, p, (x) => num(x, p, 0xffff), 0xffff));
        if (get('dst') !== undefined) set(FK_TP_DST, ...masked(get('dst')!, p, (x) => num(x, p, 0xffff), 0xffff));
        break;
      }
      case 'tcp_flags': set(FK_TCP_FLAGS, ...flagsValue(a.body, TCP_FLAG_NAMES, p)); break;
      case 'icmp': case 'icmpv6': {
        if (get('type') !== undefined) set(FK_TP_SRC, ...masked(get('type')!, p, (x) => num(x, p, 0xff), 0xff));
        if (get('code') !== undefined) set(FK_TP_DST, ...masked(get('code')!, p, (x) => num(x, p, 0xff), 0xff));
        break;
      }
      case 'arp': {
        if (get('sip') !== undefined) set(FK_NW_SRC, ...masked(get('sip')!, p, (x) => parseIpv4(x, p), 0xffffffff));
        if (get('tip') !== undefined) set(FK_NW_DST, ...masked(get('tip')!, p, (x) => parseIpv4(x, p), 0xffffffff));
        if (get('op') !== undefined) set(FK_NW_PROTO, ...masked(get('op')!, p, (x) => num(x, p, 0xff), 0xff));
        for (const [name, w] of [['sha', FK_ARP_SHA_HI], ['tha', FK_ARP_THA_HI]] as const) {
          const s = get(name);
          if (s !== undefined) setMac(w, s, p, set);
        }
        break;
      }
      case 'nd': {
        const t = get('target');
        if (t !== undefined) setIpv6(FK_ND_TARGET, t, p, set);
        for (const [name, w] of [['sll', FK_ARP_SHA_HI], ['tll', FK_ARP_THA_HI]] as const) {
          const s = get(name);
          if (s !== undefined) setMac(w, s, p, set);
        }
        break;
      }
      default:
        throw new OdpParseError(`unknown datapath field '${a.name}'`, p);
    }
  }
}

type SetWord = (w: number, v: number, m: number) => void;

/** A MAC address, optionally /mask, into the HI/LO word pair at w. */
function setMac(w: number, s: string, p: number, set: SetWord): void {
  const [v, m] = s.split('/');
  const [hi, lo] = parseMac(v, p);
  const [mhi, mlo] = m !== undefined ? parseMac(m, p) : [0xffff, 0xffffffff];
  set(w, hi, mhi);
  set(w + 1, lo, mlo);
}

/** An IPv6 address, optionally /mask (an address, as dpctl prints it), into 4 words at w. */
function setIpv6(w: number, s: string, p: number, set: SetWord): void {
  const [v, m] = s.split('/');
  const val = parseIpv6(v, p);
  const msk = m !== undefined ? parseIpv6(m, p) : Uint32Array.of(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff);
  for (let i = 0; i < 4; i++) set(w + i, val[i] & msk[i], msk[i]);
}

function ipCommon(f: Map<string, string>, p: number, set: (w: number, v: number, m: number) => void): void {
  const proto = f.get('proto');
  if (proto !== undefined) set(FK_NW_PROTO, ...masked(proto, p, (x) => num(x, p, 0xff), 0xff));
  const tos = f.get('tos');
  if (tos !== undefined) set(FK_NW_TOS, ...masked(tos, p, (x) => num(x, p, 0xff), 0xff));
  const ttl = f.get('ttl');
  if (ttl !== undefined) set(FK_NW_TTL, ...masked(ttl, p, (x) => num(x, p, 0xff), 0xff));
  const frag = f.get('frag');
  if (frag !== undefined) {
    const v = frag === 'no' ? 0 : frag === 'first' ? FRAG_ANY : frag === 'later' ? FRAG_ANY | FRAG_LATER : -1;
    if (v < 0) throw new OdpParseError(`bad frag '${frag}' (expected no, first or later)`, p);
    set(FK_NW_FRAG, v, FRAG_ANY | FRAG_LATER);
  }
}
