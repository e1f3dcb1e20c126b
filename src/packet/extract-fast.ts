// The receive parse's common case, straight-line: an untagged Ethernet
// frame carrying an IPv4 header without options, not a fragment, with a
// whole UDP or TCP header — what nearly every packet on the fast path is
// (OVS's miniflow_extract has the same shape: the usual headers first, in
// one pass). Words are read through a DataView over the packet's slot
// (one big-endian load for what rd16/rd32 read byte by byte). Anything
// else returns false, untouched, and takes extractHeaders (extract.ts),
// which this must agree with word for word: extract-fast.test.ts checks
// both on the same packets, well-formed and not.
//
// Called with the key's header words already zeroed (extractBatchZeroed);
// no allocation, never throws.

import {
  ETH_TYPE_IP, FK_ETH_DST_HI, FK_ETH_DST_LO, FK_ETH_SRC_HI, FK_ETH_SRC_LO, FK_ETH_TYPE, FK_NW_DST, FK_NW_PROTO,
  FK_NW_SRC, FK_NW_TOS, FK_NW_TTL, FK_TCP_FLAGS, FK_TP_DST, FK_TP_SRC, IPPROTO_TCP, IPPROTO_UDP,
} from './flow-key.ts';

const ETH_LEN = 14;
const IPV4_LEN = 20;
/** version 4, IHL 5 (no options). */
const IPV4_VIHL_PLAIN = 0x45;
/** Fragment offset and MF: set on every fragment. */
const IPV4_FRAG_BITS = 0x3fff;

/**
 * Parse the packet at v[start..start+len) into key[k..] as extractHeaders
 * would, when it is the common case above; returns false (nothing written)
 * otherwise. l3[idx]/l4[idx] get the header offsets.
 */
export function extractCommon(
  v: DataView, start: number, len: number, key: Uint32Array, k: number, l3: Int32Array, l4: Int32Array, idx: number,
): boolean {
  if (len < ETH_LEN + IPV4_LEN + 8 || v.getUint16(start + 12) !== ETH_TYPE_IP) return false;
  const o = start + ETH_LEN;
  const w0 = v.getUint32(o);
  const totLen = w0 & 0xffff;
  if (w0 >>> 24 !== IPV4_VIHL_PLAIN || totLen < IPV4_LEN || ETH_LEN + totLen > len) return false;
  if ((v.getUint16(o + 6) & IPV4_FRAG_BITS) !== 0) return false;
  const w2 = v.getUint32(o + 8);
  const proto = (w2 >>> 16) & 0xff;
  const p = o + IPV4_LEN;
  const end = o + totLen;
  if (proto === IPPROTO_UDP) {
    if (p + 8 > end) return false;
  } else if (proto === IPPROTO_TCP) {
    if (p + 20 > end) return false;
    const off = (v.getUint8(p + 12) >> 4) * 4;
    if (off < 20 || p + off > end) return false;
    key[k + FK_TCP_FLAGS] = v.getUint16(p + 12) & 0x0fff;
  } else return false;
  key[k + FK_ETH_DST_HI] = v.getUint16(start);
  key[k + FK_ETH_DST_LO] = v.getUint32(start + 2);
  key[k + FK_ETH_SRC_HI] = v.getUint16(start + 6);
  key[k + FK_ETH_SRC_LO] = v.getUint32(start + 8);
  key[k + FK_ETH_TYPE] = ETH_TYPE_IP;
  key[k + FK_NW_TOS] = (w0 >>> 16) & 0xff;
  key[k + FK_NW_TTL] = w2 >>> 24;
  key[k + FK_NW_PROTO] = proto;
  key[k + FK_NW_SRC] = v.getUint32(o + 12);
  key[k + FK_NW_DST] = v.getUint32(o + 16);
  const ports = v.getUint32(p);
  key[k + FK_TP_SRC] = ports >>> 16;
  key[k + FK_TP_DST] = ports & 0xffff;
  l3[idx] = o;
  l4[idx] = p;
  return true;
}
