// Flow key + mask -> datapath-flow text, as `ovs-appctl dpctl/dump-flows`
// prints megaflows of the userspace datapath (OVS 3.x):
//   ct_state(-trk),recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(frag=no)
// Terse form: attributes whose mask is all zero are left out, and inside an
// attribute only the fields with a non-zero mask are printed, as value or
// value/mask. Verbose (-m) form prints every attribute that applies to the
// packet, wildcarded ones as value/0.

import {
  ETH_TYPE_ARP, ETH_TYPE_IP, ETH_TYPE_IPV6, FK_ARP_SHA_HI, FK_ARP_THA_HI, FK_CT_LABEL, FK_CT_MARK, FK_CT_STATE,
  FK_CT_ZONE, FK_DP_HASH, FK_ETH_DST_HI, FK_ETH_SRC_HI, FK_ETH_TYPE, FK_IN_PORT, FK_IPV6_DST, FK_IPV6_LABEL,
  FK_IPV6_SRC, FK_ND_TARGET, FK_NW_DST, FK_NW_FRAG, FK_NW_PROTO, FK_NW_SRC, FK_NW_TOS, FK_NW_TTL, FK_PKT_MARK,
  FK_RECIRC_ID, FK_TCP_FLAGS, FK_TP_DST, FK_TP_SRC, FK_VLAN_TCI, FRAG_ANY, FRAG_LATER, IPPROTO_ICMP,
  IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, VLAN_CFI,
} from './flow-key.ts';
import { CT_STATE_NAMES, TCP_FLAG_NAMES } from './odp-parse.ts';

export function ipv4Str(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

export function ipv6Str(w: ArrayLike<number>, ofs = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 4; i++) g.push(w[ofs + i] >>> 16, w[ofs + i] & 0xffff);
  // RFC 5952: compress the longest run (length >= 2) of zero groups.
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export function macStr(hi: number, lo: number): string {
  const b = [(hi >>> 8) & 0xff, hi & 0xff, lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

function hex(v: number): string {
  return '0x' + (v >>> 0).toString(16);
}

/** C's "%#x": like hex() but a bare 0 for zero (OVS prints ipv6 label and tclass so). */
function altHex(v: number): string {
  return v === 0 ? '0' : hex(v);
}

/** Flags as +a-b over the mask, in the given name order. */
export function flagsMasked(v: number, m: number, names: [string, number][]): string {
  let s = '';
  for (const [n, bit] of names) if (m & bit) s += (v & bit ? '+' : '-') + n;
  return s;
}

interface Ctx {
  key: Uint32Array;
  k: number;
  mask: Uint32Array;
  m: number;
  verbose: boolean;
}

/** A field printer: returns "name=value[/mask]" or null when wildcarded (terse). */
function field(c: Ctx, name: string, v: number, mk: number, full: number, fmt: (x: number) => string): string | null {
  if (mk === 0 && !c.verbose) return null;
  // Decimal fields print their mask in hex, as OVS's format_u8u/format_be16 ("/%#x").
  const fmtMask = fmt === String ? altHex : fmt;
  if (((mk & full) >>> 0) === full >>> 0) return `${name}=${fmt(v)}`;
  return `${name}=${fmt(v >>> 0)}/${fmtMask(mk >>> 0)}`;
}

function attr(name: string, fields: (string | null)[]): string | null {
  const f = fields.filter((x): x is string => x !== null);
  return f.length ? `${name}(${f.join(',')})` : null;
}

/**
 * Format a megaflow match (key at keyOfs, mask at maskOfs). Like OVS, field
 * values are printed as they are in `key`, not ANDed with the mask: pass the
 * packet's whole key to get OVS's `src=10.1.1.1/255.0.0.0`.
 */
export function formatOdpFlowKey(key: Uint32Array, keyOfs: number, mask: Uint32Array, maskOfs: number, verbose: boolean, portName?: (n: number) => string): string {
  const c: Ctx = { key, k: keyOfs, mask, m: maskOfs, verbose };
  const K = (w: number) => key[keyOfs + w];
  const M = (w: number) => mask[maskOfs + w];
  const out: (string | null)[] = [];
  const scalar = (name: string, w: number, full: number, alwaysPrint = false, fmt = hex) => {
    const mk = (M(w) & full) >>> 0; // >>> 0: a 32-bit full mask must compare equal to 0xffffffff
    if (mk === 0 && !verbose && !alwaysPrint) return null;
    if (mk === 0) return `${name}(0/0)`;
    if (mk === full >>> 0) return `${name}(${fmt(K(w))})`;
    return `${name}(${fmt((K(w) & mk) >>> 0)}/${fmt(mk)})`;
  };
  if (verbose) out.push('skb_priority(0/0)');
  out.push(scalar('skb_mark', FK_PKT_MARK, 0xffffffff));
  // ct_state
  {
    const mk = M(FK_CT_STATE) & 0xff;
    if (mk) out.push(`ct_state(${flagsMasked(K(FK_CT_STATE), mk, CT_STATE_NAMES)})`);
    else if (verbose) out.push('ct_state(0/0)');
  }
  out.push(scalar('ct_zone', FK_CT_ZONE, 0xffff));
  out.push(scalar('ct_mark', FK_CT_MARK, 0xffffffff));
  {
    let any = false, full = true;
    for (let i = 0; i < 4; i++) {
      if (M(FK_CT_LABEL + i)) any = true;
      if (M(FK_CT_LABEL + i) !== 0xffffffff) full = false;
    }
    if (any) {
      const big = (w: number, src: (x: number) => number) => {
        let v = 0n;
        for (let i = 0; i < 4; i++) v = (v << 32n) | BigInt(src(w + i) >>> 0);
        return v;
      };
      const v = big(FK_CT_LABEL, (w) => K(w) & M(w));
      const mk = big(FK_CT_LABEL, M);
      out.push(full ? `ct_label(0x${v.toString(16)})` : `ct_label(0x${v.toString(16)}/0x${mk.toString(16)})`);
    } else if (verbose) out.push('ct_label(0/0)');
  }
  out.push(`recirc_id(${K(FK_RECIRC_ID) === 0 ? '0' : hex(K(FK_RECIRC_ID))})`);
  out.push(scalar('dp_hash', FK_DP_HASH, 0xffffffff));
  const inPort = K(FK_IN_PORT);
  out.push(`in_port(${verbose && portName ? portName(inPort) : inPort})`);
  out.push('packet_type(ns=0,id=0)');
  // Ethernet
  const macF = (name: string, w: number) => {
    const mhi = M(w) & 0xffff, mlo = M(w + 1);
    if (mhi === 0 && mlo === 0 && !verbose) return null;
    const v = macStr(K(w), K(w + 1));
    if (mhi === 0xffff && mlo === 0xffffffff) return `${name}=${v}`;
    return `${name}=${v}/${macStr(mhi, mlo)}`;
  };
  const v6 = (name: string, w: number) => {
    let any = false, full = true;
    for (let i = 0; i < 4; i++) {
      if (M(w + i)) any = true;
      if (M(w + i) !== 0xffffffff) full = false;
    }
    if (!any && !verbose) return null;
    if (full) return `${name}=${ipv6Str(key, keyOfs + w)}`;
    return `${name}=${ipv6Str(key, keyOfs + w)}/${ipv6Str(mask, maskOfs + w)}`;
  };
  out.push(attr('eth', [macF('src', FK_ETH_SRC_HI), macF('dst', FK_ETH_DST_HI)]));
  const type = K(FK_ETH_TYPE);
  const tagged = (K(FK_VLAN_TCI) & VLAN_CFI) !== 0 && (M(FK_VLAN_TCI) & VLAN_CFI) !== 0;
  const l3: (string | null)[] = [];
  if (M(FK_ETH_TYPE)) l3.push(`eth_type(0x${type.toString(16).padStart(4, '0')})`);
  if (type === ETH_TYPE_IP && M(FK_ETH_TYPE)) {
    l3.push(attr('ipv4', [
      field(c, 'src', K(FK_NW_SRC), M(FK_NW_SRC), 0xffffffff, ipv4Str),
      field(c, 'dst', K(FK_NW_DST), M(FK_NW_DST), 0xffffffff, ipv4Str),
      field(c, 'proto', K(FK_NW_PROTO), M(FK_NW_PROTO) & 0xff, 0xff, String),
      field(c, 'tos', K(FK_NW_TOS), M(FK_NW_TOS) & 0xff, 0xff, altHex),
      field(c, 'ttl', K(FK_NW_TTL), M(FK_NW_TTL) & 0xff, 0xff, String),
      fragField(c),
    ]));
  } else if (type === ETH_TYPE_IPV6 && M(FK_ETH_TYPE)) {
    l3.push(attr('ipv6', [
      v6('src', FK_IPV6_SRC), v6('dst', FK_IPV6_DST),
      field(c, 'label', K(FK_IPV6_LABEL), M(FK_IPV6_LABEL) & 0xfffff, 0xfffff, altHex),
      field(c, 'proto', K(FK_NW_PROTO), M(FK_NW_PROTO) & 0xff, 0xff, String),
      field(c, 'tclass', K(FK_NW_TOS), M(FK_NW_TOS) & 0xff, 0xff, altHex),
      field(c, 'hlimit', K(FK_NW_TTL), M(FK_NW_TTL) & 0xff, 0xff, String),
      fragField(c),
    ]));
  } else if (type === ETH_TYPE_ARP && M(FK_ETH_TYPE)) {
    l3.push(attr('arp', [
      field(c, 'sip', K(FK_NW_SRC), M(FK_NW_SRC), 0xffffffff, ipv4Str),
      field(c, 'tip', K(FK_NW_DST), M(FK_NW_DST), 0xffffffff, ipv4Str),
      field(c, 'op', K(FK_NW_PROTO), M(FK_NW_PROTO) & 0xff, 0xff, String),
      macF('sha', FK_ARP_SHA_HI), macF('tha', FK_ARP_THA_HI),
    ]));
  }
  const isIp = (type === ETH_TYPE_IP || type === ETH_TYPE_IPV6) && M(FK_ETH_TYPE) !== 0;
  const later = (K(FK_NW_FRAG) & FRAG_LATER) !== 0;
  if (isIp && !later && (M(FK_NW_PROTO) & 0xff) === 0xff) {
    const proto = K(FK_NW_PROTO);
    const portAttr = (name: string) =>
      attr(name, [
        field(c, 'src', K(FK_TP_SRC), M(FK_TP_SRC) & 0xffff, 0xffff, String),
        field(c, 'dst', K(FK_TP_DST), M(FK_TP_DST) & 0xffff, 0xffff, String),
      ]);
    if (proto === IPPROTO_TCP) {
      l3.push(portAttr('tcp'));
      const fm = M(FK_TCP_FLAGS) & 0xfff;
      if (fm) l3.push(`tcp_flags(${fm === 0xfff ? tcpFlagsStr(K(FK_TCP_FLAGS)) : flagsMasked(K(FK_TCP_FLAGS), fm, TCP_FLAG_NAMES)})`);
      else if (verbose) l3.push('tcp_flags(0/0)');
    } else if (proto === IPPROTO_UDP) l3.push(portAttr('udp'));
    else if (proto === IPPROTO_SCTP) l3.push(portAttr('sctp'));
    else if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) {
      l3.push(attr(proto === IPPROTO_ICMP ? 'icmp' : 'icmpv6', [
        field(c, 'type', K(FK_TP_SRC), M(FK_TP_SRC) & 0xff, 0xff, String),
        field(c, 'code', K(FK_TP_DST), M(FK_TP_DST) & 0xff, 0xff, String),
      ]));
      if (proto === IPPROTO_ICMPV6 && (K(FK_TP_SRC) === 135 || K(FK_TP_SRC) === 136)) {
        l3.push(attr('nd', [v6('target', FK_ND_TARGET), macF('sll', FK_ARP_SHA_HI), macF('tll', FK_ARP_THA_HI)]));
      }
    }
  }
  if (tagged) {
    const tci = K(FK_VLAN_TCI), tm = M(FK_VLAN_TCI);
    const vidM = tm & 0xfff, pcpM = (tm >>> 13) & 7;
    const vid = vidM === 0xfff ? `vid=${tci & 0xfff}` : `vid=${tci & 0xfff}/0x${vidM.toString(16)}`;
    const pcp = pcpM === 7 ? `pcp=${(tci >>> 13) & 7}` : `pcp=${(tci >>> 13) & 7}/0x${pcpM.toString(16)}`;
    out.push('eth_type(0x8100)', `vlan(${vid},${pcp})`, `encap(${l3.filter((x) => x !== null).join(',')})`);
  } else out.push(...l3);
  return out.filter((x): x is string => x !== null).join(',');
}

function fragField(c: Ctx): string | null {
  const mk = c.mask[c.m + FK_NW_FRAG] & (FRAG_ANY | FRAG_LATER);
  if (mk === 0 && !c.verbose) return null;
  const v = c.key[c.k + FK_NW_FRAG];
  if (mk === 0) return 'frag=no/0';
  if (!(v & FRAG_ANY)) return 'frag=no';
  return v & FRAG_LATER ? 'frag=later' : 'frag=first';
}

export function tcpFlagsStr(v: number): string {
  const names = TCP_FLAG_NAMES.filter(([, bit]) => v & bit).map(([n]) => n);
  return names.length ? names.join('|') : '0';
}
