// Slow-path views of connections: the snapshot object dumps and the control
// plane work with, address text conversions, and tuple filters for flush.

import {
  REC_WORDS, R_FLAGS, R_ID, R_EXPIRY, R_MARK, R_LABEL, R_KEY_ORIG, R_KEY_REPLY, R_TCP_STATES,
  R_PKTS_ORIG, R_PKTS_REPLY, R_BYTES_ORIG, R_BYTES_REPLY, K_META, K_SRC, K_DST, K_PORTS, RF_CLASS_SHIFT,
  RF_L4_SHIFT, RF_NAT_SHIFT, R_HELPER, R_PARENT_ID, RF_OFFLOAD,
} from './layout.ts';
import { ipv6FromText } from '../packet/addr.ts';

export interface ConnTuple {
  src: string;
  dst: string;
  /** TCP/UDP/other ports (0 for ICMP). */
  sport: number;
  dport: number;
  /** ICMP id/type/code (0 otherwise). */
  icmpId: number;
  icmpType: number;
  icmpCode: number;
}

export interface TcpInfo {
  stateOrig: number;
  stateReply: number;
  wscaleOrig: number; // raw wscale byte (shift | WS_FLAG | WS_UNKNOWN)
  wscaleReply: number;
}

export interface ConnInfo {
  id: number;
  zone: number;
  proto: number;
  v6: boolean;
  orig: ConnTuple;
  reply: ConnTuple;
  mark: number;
  /** 128-bit label as 4 words, most significant first. */
  label: [number, number, number, number];
  expiryMs: number;
  timeoutClass: number;
  l4State: number;
  natFlags: number;
  tcp: TcpInfo | null;
  packetsOrig: number;
  packetsReply: number;
  bytesOrig: number;
  bytesReply: number;
  /** ALG_* helper of the connection (alg/helper.ts), 0 = none. */
  helper: number;
  /** Id of the connection this one is related to (an ALG expectation), 0 = none. */
  parentId: number;
  /** The parent's original tuple, when the dump found it. */
  parent?: ConnTuple;
  /** RF_OFFLOAD: the datapath's flowtable holds entries for it. */
  offload: boolean;
}

export function ipv4ToString(w: number): string {
  return `${w >>> 24}.${(w >>> 16) & 0xff}.${(w >>> 8) & 0xff}.${w & 0xff}`;
}

/** RFC 5952 text (as inet_ntop): the longest run of two or more zero groups becomes '::'. */
export function ipv6ToString(w: ArrayLike<number>, ofs = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 4; i++) g.push((w[ofs + i] >>> 16) & 0xffff, w[ofs + i] & 0xffff);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** The tuple of the key words at kb (as dumps print it). */
export function tupleOf(rec: ArrayLike<number>, kb: number, proto: number, v6: boolean): ConnTuple {
  const icmp = proto === 1 || proto === 58;
  const p = rec[kb + K_PORTS] >>> 0;
  return {
    src: v6 ? ipv6ToString(rec, kb + K_SRC) : ipv4ToString(rec[kb + K_SRC] >>> 0),
    dst: v6 ? ipv6ToString(rec, kb + K_DST) : ipv4ToString(rec[kb + K_DST] >>> 0),
    sport: icmp ? 0 : p >>> 16,
    dport: icmp ? 0 : p & 0xffff,
    icmpId: icmp ? p >>> 16 : 0,
    icmpType: icmp ? (p >>> 8) & 0xff : 0,
    icmpCode: icmp ? p & 0xff : 0,
  };
}

/** Copy record r into a ConnInfo. Caller holds the record's home shard lock
 *  (or accepts a possibly inconsistent view). */
export function snapshotLocked(rec: Int32Array, f64: Float64Array, r: number): ConnInfo {
  const b = r * REC_WORDS;
  const meta = rec[b + R_KEY_ORIG + K_META];
  const proto = (meta >>> 16) & 0xff;
  const v6 = (meta >>> 24) !== 0;
  const flags = rec[b + R_FLAGS];
  const ts = rec[b + R_TCP_STATES];
  return {
    id: rec[b + R_ID] >>> 0,
    zone: meta & 0xffff,
    proto,
    v6,
    orig: tupleOf(rec, b + R_KEY_ORIG, proto, v6),
    reply: tupleOf(rec, b + R_KEY_REPLY, proto, v6),
    mark: rec[b + R_MARK] >>> 0,
    label: [rec[b + R_LABEL] >>> 0, rec[b + R_LABEL + 1] >>> 0, rec[b + R_LABEL + 2] >>> 0, rec[b + R_LABEL + 3] >>> 0],
    expiryMs: f64[(b + R_EXPIRY) >>> 1],
    timeoutClass: (flags >>> RF_CLASS_SHIFT) & 0xff,
    l4State: (flags >>> RF_L4_SHIFT) & 0xff,
    natFlags: (flags >>> RF_NAT_SHIFT) & 0xff,
    tcp: proto === 6
      ? { stateOrig: ts & 0xff, stateReply: (ts >>> 8) & 0xff, wscaleOrig: (ts >>> 16) & 0xff, wscaleReply: (ts >>> 24) & 0xff }
      : null,
    packetsOrig: f64[(b + R_PKTS_ORIG) >>> 1],
    packetsReply: f64[(b + R_PKTS_REPLY) >>> 1],
    bytesOrig: f64[(b + R_BYTES_ORIG) >>> 1],
    bytesReply: f64[(b + R_BYTES_REPLY) >>> 1],
    helper: rec[b + R_HELPER],
    parentId: rec[b + R_PARENT_ID] >>> 0,
    offload: (flags & RF_OFFLOAD) !== 0,
  };
}

/** A partial tuple, as the ct_* fields of dpctl/flush-conntrack: every given
 *  field must match, absent fields match anything. */
export interface TupleFilter {
  src?: string;
  dst?: string;
  proto?: number;
  sport?: number;
  dport?: number;
  icmpId?: number;
  icmpType?: number;
  icmpCode?: number;
}

export function tupleMatches(t: ConnTuple, proto: number, f: TupleFilter): boolean {
  if (f.proto !== undefined && f.proto !== proto) return false;
  if (f.src !== undefined && normAddr(f.src) !== t.src) return false;
  if (f.dst !== undefined && normAddr(f.dst) !== t.dst) return false;
  if (f.sport !== undefined && f.sport !== t.sport) return false;
  if (f.dport !== undefined && f.dport !== t.dport) return false;
  if (f.icmpId !== undefined && f.icmpId !== t.icmpId) return false;
  if (f.icmpType !== undefined && f.icmpType !== t.icmpType) return false;
  if (f.icmpCode !== undefined && f.icmpCode !== t.icmpCode) return false;
  return true;
}

function normAddr(s: string): string {
  if (s.includes(':')) {
    const w = ipv6FromText(s);
    return w ? ipv6ToString(w) : s;
  }
  return s;
}
