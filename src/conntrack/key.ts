// Building connection keys (layout.ts K_*) from a packet and its flow key,
// reversing them, and reading the offending packet's header out of an ICMP
// error. Fast path: writes into caller-provided Int32Arrays, never allocates.

import {
  FK_CT_STATE, FK_CT_ZONE, FK_CT_MARK, FK_CT_LABEL, FK_CT_NW_SRC, FK_CT_NW_DST, FK_CT_IPV6_SRC, FK_CT_IPV6_DST, FK_CT_NW_PROTO, FK_CT_TP, FK_ETH_TYPE, FK_NW_SRC, FK_NW_DST, FK_IPV6_SRC, FK_IPV6_DST, FK_NW_PROTO, FK_NW_FRAG, FK_TP_SRC, FK_TP_DST,
  ETH_TYPE_IP, ETH_TYPE_IPV6, FRAG_ANY, IPPROTO_ICMP, IPPROTO_ICMPV6,
} from '../packet/flow-key.ts';
import { K_META, K_SRC, K_DST, K_PORTS, AF_V6, tupleHasPorts } from '../packet/tuple.ts';
import type { L4Pkt } from './l4.ts';
import { REC_WORDS, R_KEY_ORIG, R_LABEL, R_MARK } from './layout.ts';
import { icmpIsError, icmpReverseType } from './icmp.ts';
import { rd32 } from '../packet/bytes.ts';

export const EXTRACT_FAIL = 0; // not trackable: +inv
export const EXTRACT_OK = 1;
export const EXTRACT_ICMP_ERROR = 2; // key holds the reversed inner tuple

/** Write the reverse of key `k` (at ofs) into `out` (at oofs). */
export function reverseKey(out: Int32Array, oofs: number, k: Int32Array, ofs: number): void {
  const meta = k[ofs + K_META];
  out[oofs + K_META] = meta;
  for (let i = 0; i < 4; i++) {
    out[oofs + K_SRC + i] = k[ofs + K_DST + i];
    out[oofs + K_DST + i] = k[ofs + K_SRC + i];
  }
  const p = k[ofs + K_PORTS];
  const proto = (meta >>> 16) & 0xff;
  if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) {
    const rt = icmpReverseType((p >>> 8) & 0xff, proto === IPPROTO_ICMPV6 ? 1 : 0);
    out[oofs + K_PORTS] = (p & 0xffff00ff) | ((rt & 0xff) << 8);
  } else {
    out[oofs + K_PORTS] = ((p & 0xffff) << 16) | (p >>> 16);
  }
}

/** Key of the packet header carried inside an ICMP error at `i3`, reversed
 *  (so it matches the connection in the direction the error travels).
 *  `outerDst` is checked against the inner source for IPv4. */
function innerKey(k: Int32Array, ofs: number, tmp: Int32Array, d: Uint8Array, i3: number, end: number,
  v6: number, zone: number, fk: Uint32Array, fo: number): number {
  let proto: number;
  let il4: number;
  if (v6 === 0) {
    if (i3 + 20 > end || d[i3] >>> 4 !== 4) return EXTRACT_FAIL;
    const ihl = (d[i3] & 0x0f) * 4;
    if ((((d[i3 + 6] & 0x1f) << 8) | d[i3 + 7]) !== 0) return EXTRACT_FAIL; // a later fragment
    proto = d[i3 + 9];
    tmp[K_SRC] = rd32(d, i3 + 12);
    tmp[K_DST] = rd32(d, i3 + 16);
    for (let i = 1; i < 4; i++) { tmp[K_SRC + i] = 0; tmp[K_DST + i] = 0; }
    if (tmp[K_SRC] !== (fk[fo + FK_NW_DST] | 0)) return EXTRACT_FAIL;
    il4 = i3 + ihl;
  } else {
    if (i3 + 40 > end || d[i3] >>> 4 !== 6) return EXTRACT_FAIL;
    proto = d[i3 + 6];
    for (let i = 0; i < 4; i++) {
      tmp[K_SRC + i] = rd32(d, i3 + 8 + i * 4);
      tmp[K_DST + i] = rd32(d, i3 + 24 + i * 4);
      if (tmp[K_SRC + i] !== (fk[fo + FK_IPV6_DST + i] | 0)) return EXTRACT_FAIL;
    }
    il4 = i3 + 40;
  }
  if (il4 + 8 > end) return EXTRACT_FAIL;
  tmp[K_META] = zone | (proto << 16) | (v6 << 24);
  if (tupleHasPorts(proto)) {
    tmp[K_PORTS] = (d[il4] << 24) | (d[il4 + 1] << 16) | (d[il4 + 2] << 8) | d[il4 + 3];
  } else if (proto === (v6 !== 0 ? IPPROTO_ICMPV6 : IPPROTO_ICMP)) {
    const t = d[il4];
    if (icmpReverseType(t, v6) < 0) return EXTRACT_FAIL; // an error about an error
    tmp[K_PORTS] = (d[il4 + 4] << 24) | (d[il4 + 5] << 16) | (t << 8) | d[il4 + 1];
  } else {
    tmp[K_PORTS] = 0;
  }
  reverseKey(k, ofs, tmp, 0);
  return EXTRACT_ICMP_ERROR;
}

/**
 * Build the lookup key of a packet into k[ofs..ofs+KEY_WORDS) and fill `p`.
 * Returns EXTRACT_*. `tmp` is scratch of KEY_WORDS words.
 */
export function extractKey(k: Int32Array, ofs: number, tmp: Int32Array, p: L4Pkt, data: Uint8Array,
  l3: number, l4: number, fk: Uint32Array, fo: number, zone: number): number {
  const et = fk[fo + FK_ETH_TYPE];
  if (l3 < 0 || (fk[fo + FK_NW_FRAG] & FRAG_ANY) !== 0) return EXTRACT_FAIL;
  const proto = fk[fo + FK_NW_PROTO] & 0xff;
  let v6: number;
  let end: number;
  if (et === ETH_TYPE_IP) {
    v6 = 0;
    k[ofs + K_SRC] = fk[fo + FK_NW_SRC];
    k[ofs + K_SRC + 1] = 0;
    k[ofs + K_SRC + 2] = 0;
    k[ofs + K_SRC + 3] = 0;
    k[ofs + K_DST] = fk[fo + FK_NW_DST];
    k[ofs + K_DST + 1] = 0;
    k[ofs + K_DST + 2] = 0;
    k[ofs + K_DST + 3] = 0;
    end = l3 + ((data[l3 + 2] << 8) | data[l3 + 3]);
  } else if (et === ETH_TYPE_IPV6) {
    v6 = AF_V6;
    k[ofs + K_SRC] = fk[fo + FK_IPV6_SRC];
    k[ofs + K_SRC + 1] = fk[fo + FK_IPV6_SRC + 1];
    k[ofs + K_SRC + 2] = fk[fo + FK_IPV6_SRC + 2];
    k[ofs + K_SRC + 3] = fk[fo + FK_IPV6_SRC + 3];
    k[ofs + K_DST] = fk[fo + FK_IPV6_DST];
    k[ofs + K_DST + 1] = fk[fo + FK_IPV6_DST + 1];
    k[ofs + K_DST + 2] = fk[fo + FK_IPV6_DST + 2];
    k[ofs + K_DST + 3] = fk[fo + FK_IPV6_DST + 3];
    end = l3 + 40 + ((data[l3 + 4] << 8) | data[l3 + 5]);
  } else {
    return EXTRACT_FAIL;
  }
  if (end > data.length) end = data.length;
  k[ofs + K_META] = zone | (proto << 16) | (v6 << 24);
  p.data = data;
  p.l4 = l4;
  p.l4Len = l4 >= 0 ? end - l4 : 0;
  p.v6 = v6;
  if (tupleHasPorts(proto)) {
    if (l4 < 0 || p.l4Len < 8) return EXTRACT_FAIL;
    k[ofs + K_PORTS] = ((fk[fo + FK_TP_SRC] & 0xffff) << 16) | (fk[fo + FK_TP_DST] & 0xffff);
    return EXTRACT_OK;
  }
  if (proto === (v6 !== 0 ? IPPROTO_ICMPV6 : IPPROTO_ICMP)) {
    if (l4 < 0 || p.l4Len < 8) return EXTRACT_FAIL;
    const t = data[l4];
    if (icmpIsError(t, v6)) return innerKey(k, ofs, tmp, data, l4 + 8, end, v6, zone, fk, fo);
    if (icmpReverseType(t, v6) < 0) return EXTRACT_FAIL;
    k[ofs + K_PORTS] = (data[l4 + 4] << 24) | (data[l4 + 5] << 16) | (t << 8) | data[l4 + 1];
    return EXTRACT_OK;
  }
  k[ofs + K_PORTS] = 0;
  return EXTRACT_OK;
}

/**
 * extractKey() for a protocol with ports (TCP, UDP and the like) only: the
 * same key in k[0..] and the same `p`, and true where extractKey() gives
 * EXTRACT_OK; false for any other packet (extractKey() then decides). The
 * lookup fast path (run-path.ts lookupHit()).
 */
export function extractPortsKey(k: Int32Array, p: L4Pkt, data: Uint8Array, l3: number, l4: number, fk: Uint32Array, fo: number, zone: number): boolean {
  const proto = fk[fo + FK_NW_PROTO] & 0xff;
  if (l3 < 0 || l4 < 0 || (fk[fo + FK_NW_FRAG] & FRAG_ANY) !== 0 || !tupleHasPorts(proto)) return false;
  const et = fk[fo + FK_ETH_TYPE];
  let end: number;
  if (et === ETH_TYPE_IP) {
    k[K_META] = zone | (proto << 16);
    k[K_SRC] = fk[fo + FK_NW_SRC];
    k[K_SRC + 1] = 0;
    k[K_SRC + 2] = 0;
    k[K_SRC + 3] = 0;
    k[K_DST] = fk[fo + FK_NW_DST];
    k[K_DST + 1] = 0;
    k[K_DST + 2] = 0;
    k[K_DST + 3] = 0;
    end = l3 + ((data[l3 + 2] << 8) | data[l3 + 3]);
    p.v6 = 0;
  } else if (et === ETH_TYPE_IPV6) {
    k[K_META] = zone | (proto << 16) | (AF_V6 << 24);
    for (let i = 0; i < 4; i++) {
      k[K_SRC + i] = fk[fo + FK_IPV6_SRC + i];
      k[K_DST + i] = fk[fo + FK_IPV6_DST + i];
    }
    end = l3 + 40 + ((data[l3 + 4] << 8) | data[l3 + 5]);
    p.v6 = AF_V6;
  } else return false;
  if (end > data.length) end = data.length;
  p.data = data;
  p.l4 = l4;
  p.l4Len = end - l4;
  if (end - l4 < 8) return false;
  k[K_PORTS] = ((fk[fo + FK_TP_SRC] & 0xffff) << 16) | (fk[fo + FK_TP_DST] & 0xffff);
  return true;
}

/** Write the ct_nw, ct_ipv6 and ct_tp fields of the flow key from the key words at kb.
 *  The per-packet path: unrolled (V8's loop overhead costs more than the
 *  stores) and small enough for V8 to inline, with IPv6 out of line. */
export function writeCtTuple(key: Uint32Array, o: number, kw: Int32Array, kb: number): void {
  const meta = kw[kb + K_META];
  const proto = (meta >>> 16) & 0xff;
  if ((meta >>> 24) !== 0) {
    writeCtTupleV6(key, o, kw, kb);
  } else {
    key[o + FK_CT_NW_SRC] = kw[kb + K_SRC];
    key[o + FK_CT_NW_DST] = kw[kb + K_DST];
    key[o + FK_CT_IPV6_SRC] = 0;
    key[o + FK_CT_IPV6_SRC + 1] = 0;
    key[o + FK_CT_IPV6_SRC + 2] = 0;
    key[o + FK_CT_IPV6_SRC + 3] = 0;
    key[o + FK_CT_IPV6_DST] = 0;
    key[o + FK_CT_IPV6_DST + 1] = 0;
    key[o + FK_CT_IPV6_DST + 2] = 0;
    key[o + FK_CT_IPV6_DST + 3] = 0;
  }
  key[o + FK_CT_NW_PROTO] = proto;
  const ports = kw[kb + K_PORTS];
  // ICMP: ct_tp_src is the type, ct_tp_dst the code (ovs-fields(7)).
  key[o + FK_CT_TP] = proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6
    ? (((ports >>> 8) & 0xff) << 16) | (ports & 0xff)
    : ports >>> 0;
}

function writeCtTupleV6(key: Uint32Array, o: number, kw: Int32Array, kb: number): void {
  key[o + FK_CT_NW_SRC] = 0;
  key[o + FK_CT_NW_DST] = 0;
  key[o + FK_CT_IPV6_SRC] = kw[kb + K_SRC];
  key[o + FK_CT_IPV6_SRC + 1] = kw[kb + K_SRC + 1];
  key[o + FK_CT_IPV6_SRC + 2] = kw[kb + K_SRC + 2];
  key[o + FK_CT_IPV6_SRC + 3] = kw[kb + K_SRC + 3];
  key[o + FK_CT_IPV6_DST] = kw[kb + K_DST];
  key[o + FK_CT_IPV6_DST + 1] = kw[kb + K_DST + 1];
  key[o + FK_CT_IPV6_DST + 2] = kw[kb + K_DST + 2];
  key[o + FK_CT_IPV6_DST + 3] = kw[kb + K_DST + 3];
}

/**
 * Write the ct_* words of the flow key at key[o..] after a ct(): ct_state,
 * ct_zone, and mark, label and original tuple of record r (words `rec`),
 * or, without a record (-1), zeros and either the packet's own tuple (key
 * `pk`, when `usePktKey`) or none.
 */
export function writeCtWords(key: Uint32Array, o: number, state: number, zone: number, rec: Int32Array, r: number,
  pk: Int32Array, usePktKey: boolean): void {
  key[o + FK_CT_STATE] = state;
  key[o + FK_CT_ZONE] = zone;
  if (r >= 0) {
    const base = r * REC_WORDS;
    key[o + FK_CT_MARK] = rec[base + R_MARK];
    key[o + FK_CT_LABEL] = rec[base + R_LABEL];
    key[o + FK_CT_LABEL + 1] = rec[base + R_LABEL + 1];
    key[o + FK_CT_LABEL + 2] = rec[base + R_LABEL + 2];
    key[o + FK_CT_LABEL + 3] = rec[base + R_LABEL + 3];
    writeCtTuple(key, o, rec, base + R_KEY_ORIG);
  } else {
    key[o + FK_CT_MARK] = 0;
    key[o + FK_CT_LABEL] = 0;
    key[o + FK_CT_LABEL + 1] = 0;
    key[o + FK_CT_LABEL + 2] = 0;
    key[o + FK_CT_LABEL + 3] = 0;
    if (usePktKey) writeCtTuple(key, o, pk, 0);
    else clearCtTuple(key, o);
  }
}

/**
 * writeCtWords() for the next packet of a run (execute.ts runHit()): record
 * words at rec[base..], a connection sameTuple() accepted (so not ICMP: the
 * ports word is ct_tp as it stands). IPv4 inline, IPv6 out of line; the
 * IPv6 words of an IPv4 packet's key are stored only when not already zero
 * (they are zero unless something left them set: loads cost less than stores).
 */
export function writeRunCtWords(key: Uint32Array, o: number, state: number, zone: number, rec: Int32Array, base: number): void {
  key[o + FK_CT_STATE] = state;
  key[o + FK_CT_ZONE] = zone;
  key[o + FK_CT_MARK] = rec[base + R_MARK];
  key[o + FK_CT_LABEL] = rec[base + R_LABEL];
  key[o + FK_CT_LABEL + 1] = rec[base + R_LABEL + 1];
  key[o + FK_CT_LABEL + 2] = rec[base + R_LABEL + 2];
  key[o + FK_CT_LABEL + 3] = rec[base + R_LABEL + 3];
  const kb = base + R_KEY_ORIG;
  const meta = rec[kb + K_META];
  if ((meta >>> 24) !== 0) writeCtTupleV6(key, o, rec, kb);
  else {
    key[o + FK_CT_NW_SRC] = rec[kb + K_SRC];
    key[o + FK_CT_NW_DST] = rec[kb + K_DST];
    if ((key[o + FK_CT_IPV6_SRC] | key[o + FK_CT_IPV6_SRC + 1] | key[o + FK_CT_IPV6_SRC + 2] | key[o + FK_CT_IPV6_SRC + 3] |
      key[o + FK_CT_IPV6_DST] | key[o + FK_CT_IPV6_DST + 1] | key[o + FK_CT_IPV6_DST + 2] | key[o + FK_CT_IPV6_DST + 3]) !== 0) clearCtV6(key, o);
  }
  key[o + FK_CT_NW_PROTO] = (meta >>> 16) & 0xff;
  key[o + FK_CT_TP] = rec[kb + K_PORTS] >>> 0;
}

function clearCtV6(key: Uint32Array, o: number): void {
  for (let i = 0; i < 4; i++) { key[o + FK_CT_IPV6_SRC + i] = 0; key[o + FK_CT_IPV6_DST + i] = 0; }
}

export function clearCtTuple(key: Uint32Array, o: number): void {
  key[o + FK_CT_NW_SRC] = 0;
  key[o + FK_CT_NW_DST] = 0;
  for (let i = 0; i < 4; i++) { key[o + FK_CT_IPV6_SRC + i] = 0; key[o + FK_CT_IPV6_DST + i] = 0; }
  key[o + FK_CT_NW_PROTO] = 0;
  key[o + FK_CT_TP] = 0;
}

/** tupleHasPorts() of conntrack key k's protocol: sameTuple()'s and runPacket()'s `ports`. */
export function keyHasPorts(k: Int32Array): boolean {
  return tupleHasPorts((k[K_META] >>> 16) & 0xff);
}

/**
 * Does the flow key at fk[fo..] carry the same tuple as conntrack key `k`
 * (built by extractKey() for the previous packet, zone included by the
 * caller's ct())? Only for protocols whose key comes from the flow key alone
 * (not ICMP, whose id is read from the packet). The fast path of a run of
 * packets of one connection (execute.ts); small enough for V8 to inline,
 * IPv6 out of line. `ports`: keyHasPorts(k), which the caller keeps.
 */
export function sameTuple(k: Int32Array, fk: Uint32Array, fo: number, ports: boolean): boolean {
  const meta = k[K_META];
  const proto = (meta >>> 16) & 0xff;
  if ((fk[fo + FK_NW_PROTO] & 0xff) !== proto || (fk[fo + FK_NW_FRAG] & FRAG_ANY) !== 0 ||
    proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) return false;
  if ((meta >>> 24) === 0
    ? fk[fo + FK_ETH_TYPE] !== ETH_TYPE_IP || (fk[fo + FK_NW_SRC] | 0) !== k[K_SRC] || (fk[fo + FK_NW_DST] | 0) !== k[K_DST]
    : !sameAddrV6(k, fk, fo)) return false;
  return !ports || (((fk[fo + FK_TP_SRC] & 0xffff) << 16) | (fk[fo + FK_TP_DST] & 0xffff)) === k[K_PORTS];
}

function sameAddrV6(k: Int32Array, fk: Uint32Array, fo: number): boolean {
  return fk[fo + FK_ETH_TYPE] === ETH_TYPE_IPV6 &&
    (fk[fo + FK_IPV6_SRC] | 0) === k[K_SRC] && (fk[fo + FK_IPV6_SRC + 1] | 0) === k[K_SRC + 1] &&
    (fk[fo + FK_IPV6_SRC + 2] | 0) === k[K_SRC + 2] && (fk[fo + FK_IPV6_SRC + 3] | 0) === k[K_SRC + 3] &&
    (fk[fo + FK_IPV6_DST] | 0) === k[K_DST] && (fk[fo + FK_IPV6_DST + 1] | 0) === k[K_DST + 1] &&
    (fk[fo + FK_IPV6_DST + 2] | 0) === k[K_DST + 2] && (fk[fo + FK_IPV6_DST + 3] | 0) === k[K_DST + 3];
}

/**
 * What extractKey() fills in `p` for a packet whose key is already known
 * (sameTuple()): the L4 view. EXTRACT_OK, or EXTRACT_FAIL where extractKey()
 * would fail (the caller then takes the full path).
 */
export function runPacket(p: L4Pkt, data: Uint8Array, l3: number, l4: number, k: Int32Array, ports: boolean): number {
  if (l3 < 0) return EXTRACT_FAIL;
  const v6 = (k[K_META] >>> 24) & 0xff;
  let end = v6 === 0 ? l3 + ((data[l3 + 2] << 8) | data[l3 + 3]) : l3 + 40 + ((data[l3 + 4] << 8) | data[l3 + 5]);
  if (end > data.length) end = data.length;
  p.data = data;
  p.l4 = l4;
  p.l4Len = l4 >= 0 ? end - l4 : 0;
  p.v6 = v6;
  if (ports && (l4 < 0 || p.l4Len < 8)) return EXTRACT_FAIL;
  return EXTRACT_OK;
}
