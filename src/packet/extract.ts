// Header parsing: packet bytes -> flow key words + L3/L4 offsets.
// Never throws and never allocates. A packet that is cut short or malformed
// is parsed as far as it is valid (fields beyond stay zero), and the reason
// is counted in ParseStats, like OVS's miniflow_extract.

import type { PacketBatch } from './batch.ts';
import {
  ETH_TYPE_ARP, ETH_TYPE_IP, ETH_TYPE_IPV6, ETH_TYPE_NONE, ETH_TYPE_VLAN, ETH_TYPE_VLAN_8021AD,
  FK_ARP_SHA_HI, FK_ARP_SHA_LO, FK_ARP_THA_HI, FK_ARP_THA_LO, FK_ETH_DST_HI, FK_ETH_DST_LO, FK_ETH_SRC_HI,
  FK_ETH_SRC_LO, FK_ETH_TYPE, FK_IPV6_DST, FK_IPV6_LABEL, FK_IPV6_SRC, FK_ND_TARGET, FK_NW_DST, FK_NW_FRAG,
  FK_NW_PROTO, FK_NW_SRC, FK_NW_TOS, FK_NW_TTL, FK_TCP_FLAGS, FK_TP_DST, FK_TP_SRC, FK_VLAN_TCI, FK_WORDS,
  FRAG_ANY, FRAG_LATER, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, VLAN_CFI,
  ND_NEIGHBOR_ADVERT, ND_NEIGHBOR_SOLICIT,
} from './flow-key.ts';
import { rd16, rd32 } from './bytes.ts';
import { extractCommon } from './extract-fast.ts';

/** First key word that extraction owns; words below are pipeline metadata. */
export const FK_HEADER_FIRST = FK_ETH_SRC_HI;

export const PARSE_OK = 0;
export const PARSE_TRUNC_L2 = 1;
export const PARSE_BAD_IPV4 = 2;
export const PARSE_BAD_IPV6 = 3;
export const PARSE_TRUNC_L4 = 4;
export const PARSE_BAD_ARP = 5;

export class ParseStats {
  packets = 0;
  truncatedL2 = 0;
  badIpv4 = 0;
  badIpv6 = 0;
  truncatedL4 = 0;
  badArp = 0;

  count(reason: number): void {
    this.packets++;
    switch (reason) {
      case PARSE_TRUNC_L2: this.truncatedL2++; break;
      case PARSE_BAD_IPV4: this.badIpv4++; break;
      case PARSE_BAD_IPV6: this.badIpv6++; break;
      case PARSE_TRUNC_L4: this.truncatedL4++; break;
      case PARSE_BAD_ARP: this.badArp++; break;
    }
  }

  get malformed(): number {
    return this.truncatedL2 + this.badIpv4 + this.badIpv6 + this.truncatedL4 + this.badArp;
  }
}

const IPV6_HOPOPTS = 0;
const IPV6_ROUTING = 43;
const IPV6_FRAGMENT = 44;
const IPV6_DSTOPTS = 60;

/**
 * Parse data[start..start+len) into key[keyOfs + FK_HEADER_FIRST ..]; metadata
 * words are left alone. Writes absolute L3/L4 offsets into l3[idx]/l4[idx]
 * (-1 when absent). Returns PARSE_OK or the reason parsing stopped early.
 * `zeroed`: the caller has zeroed the header words already.
 */
export function extractHeaders(
  d: Uint8Array, start: number, len: number,
  key: Uint32Array, k: number,
  l3: Int32Array, l4: Int32Array, idx: number, zeroed = false,
): number {
  if (!zeroed) key.fill(0, k + FK_HEADER_FIRST, k + FK_WORDS);
  l3[idx] = -1;
  l4[idx] = -1;
  const end = start + len;
  if (len < 14) return PARSE_TRUNC_L2;
  let o = start;
  key[k + FK_ETH_DST_HI] = rd16(d, o);
  key[k + FK_ETH_DST_LO] = rd32(d, o + 2);
  key[k + FK_ETH_SRC_HI] = rd16(d, o + 6);
  key[k + FK_ETH_SRC_LO] = rd32(d, o + 8);
  o += 12;
  let type = rd16(d, o);
  o += 2;
  if (type === ETH_TYPE_VLAN || type === ETH_TYPE_VLAN_8021AD) {
    if (o + 4 > end) return PARSE_TRUNC_L2;
    key[k + FK_VLAN_TCI] = rd16(d, o) | VLAN_CFI;
    type = rd16(d, o + 2);
    o += 4;
    // Inner tags of QinQ are skipped: OVS matches on the outer one.
    while ((type === ETH_TYPE_VLAN || type === ETH_TYPE_VLAN_8021AD) && o + 4 <= end) {
      type = rd16(d, o + 2);
      o += 4;
    }
  }
  if (type < 0x600) {
    // 802.3 length field: OVS reports such frames as eth_type 0x05ff.
    key[k + FK_ETH_TYPE] = ETH_TYPE_NONE;
    return PARSE_OK;
  }
  key[k + FK_ETH_TYPE] = type;
  if (type === ETH_TYPE_IP) return parseIpv4(d, o, end, key, k, l3, l4, idx);
  if (type === ETH_TYPE_IPV6) return parseIpv6(d, o, end, key, k, l3, l4, idx);
  if (type === ETH_TYPE_ARP) return parseArp(d, o, end, key, k, l3, idx);
  return PARSE_OK;
}

function parseArp(d: Uint8Array, o: number, end: number, key: Uint32Array, k: number, l3: Int32Array, idx: number): number {
  if (o + 28 > end) return PARSE_BAD_ARP;
  // Only Ethernet/IPv4 ARP carries the fields below (htype 1, ptype 0x0800, hlen 6, plen 4).
  if (rd16(d, o) !== 1 || rd16(d, o + 2) !== ETH_TYPE_IP || d[o + 4] !== 6 || d[o + 5] !== 4) return PARSE_BAD_ARP;
  l3[idx] = o;
  const op = rd16(d, o + 6);
  key[k + FK_NW_PROTO] = op <= 0xff ? op : 0;
  key[k + FK_ARP_SHA_HI] = rd16(d, o + 8);
  key[k + FK_ARP_SHA_LO] = rd32(d, o + 10);
  key[k + FK_NW_SRC] = rd32(d, o + 14);
  key[k + FK_ARP_THA_HI] = rd16(d, o + 18);
  key[k + FK_ARP_THA_LO] = rd32(d, o + 20);
  key[k + FK_NW_DST] = rd32(d, o + 24);
  return PARSE_OK;
}

function parseIpv4(
  d: Uint8Array, o: number, end: number, key: Uint32Array, k: number, l3: Int32Array, l4: Int32Array, idx: number,
): number {
  if (o + 20 > end) return PARSE_BAD_IPV4;
  const vihl = d[o];
  const ihl = (vihl & 0x0f) * 4;
  if (vihl >> 4 !== 4 || ihl < 20 || o + ihl > end) return PARSE_BAD_IPV4;
  const totLen = rd16(d, o + 2);
  if (totLen < ihl || o + totLen > end) return PARSE_BAD_IPV4;
  l3[idx] = o;
  key[k + FK_NW_TOS] = d[o + 1];
  key[k + FK_NW_TTL] = d[o + 8];
  const proto = d[o + 9];
  key[k + FK_NW_PROTO] = proto;
  key[k + FK_NW_SRC] = rd32(d, o + 12);
  key[k + FK_NW_DST] = rd32(d, o + 16);
  const fragOff = rd16(d, o + 6);
  if (fragOff & 0x3fff) {
    key[k + FK_NW_FRAG] = FRAG_ANY;
    if (fragOff & 0x1fff) {
      key[k + FK_NW_FRAG] = FRAG_ANY | FRAG_LATER;
      return PARSE_OK; // later fragments carry no L4 header
    }
  }
  return parseL4(d, o + ihl, o + totLen, proto, key, k, l4, idx);
}

function parseIpv6(
  d: Uint8Array, o: number, end: number, key: Uint32Array, k: number, l3: Int32Array, l4: Int32Array, idx: number,
): number {
  if (o + 40 > end) return PARSE_BAD_IPV6;
  const vtcfl = rd32(d, o);
  if (vtcfl >>> 28 !== 6) return PARSE_BAD_IPV6;
  const payload = rd16(d, o + 4);
  const pend = o + 40 + payload;
  if (pend > end) return PARSE_BAD_IPV6;
  l3[idx] = o;
  key[k + FK_NW_TOS] = (vtcfl >>> 20) & 0xff;
  key[k + FK_IPV6_LABEL] = vtcfl & 0xfffff;
  key[k + FK_NW_TTL] = d[o + 7];
  for (let i = 0; i < 4; i++) {
    key[k + FK_IPV6_SRC + i] = rd32(d, o + 8 + i * 4);
    key[k + FK_IPV6_DST + i] = rd32(d, o + 24 + i * 4);
  }
  let next = d[o + 6];
  let p = o + 40;
  // Walk extension headers (bounded: each step advances at least 8 bytes).
  for (;;) {
    if (next === IPV6_HOPOPTS || next === IPV6_ROUTING || next === IPV6_DSTOPTS) {
      if (p + 8 > pend) return PARSE_BAD_IPV6;
      next = d[p];
      p += (d[p + 1] + 1) * 8;
    } else if (next === IPV6_FRAGMENT) {
      if (p + 8 > pend) return PARSE_BAD_IPV6;
      const off = rd16(d, p + 2);
      next = d[p];
      p += 8;
      if ((off & 0xfff9) !== 0) {
        key[k + FK_NW_FRAG] = FRAG_ANY;
        if (off & 0xfff8) {
          key[k + FK_NW_FRAG] = FRAG_ANY | FRAG_LATER;
          key[k + FK_NW_PROTO] = next;
          return PARSE_OK;
        }
      }
    } else break;
    if (p > pend) return PARSE_BAD_IPV6;
  }
  key[k + FK_NW_PROTO] = next;
  return parseL4(d, p, pend, next, key, k, l4, idx);
}

function parseL4(
  d: Uint8Array, o: number, end: number, proto: number, key: Uint32Array, k: number, l4: Int32Array, idx: number,
): number {
  if (proto === IPPROTO_TCP) {
    if (o + 20 > end) return PARSE_TRUNC_L4;
    const off = (d[o + 12] >> 4) * 4;
    if (off < 20 || o + off > end) return PARSE_TRUNC_L4;
    l4[idx] = o;
    key[k + FK_TP_SRC] = rd16(d, o);
    key[k + FK_TP_DST] = rd16(d, o + 2);
    key[k + FK_TCP_FLAGS] = rd16(d, o + 12) & 0x0fff;
  } else if (proto === IPPROTO_UDP || proto === IPPROTO_SCTP) {
    if (o + (proto === IPPROTO_UDP ? 8 : 12) > end) return PARSE_TRUNC_L4;
    l4[idx] = o;
    key[k + FK_TP_SRC] = rd16(d, o);
    key[k + FK_TP_DST] = rd16(d, o + 2);
  } else if (proto === IPPROTO_ICMP) {
    if (o + 8 > end) return PARSE_TRUNC_L4;
    l4[idx] = o;
    key[k + FK_TP_SRC] = d[o];
    key[k + FK_TP_DST] = d[o + 1];
  } else if (proto === IPPROTO_ICMPV6) {
    if (o + 8 > end) return PARSE_TRUNC_L4;
    l4[idx] = o;
    const type = d[o];
    key[k + FK_TP_SRC] = type;
    key[k + FK_TP_DST] = d[o + 1];
    if ((type === ND_NEIGHBOR_SOLICIT || type === ND_NEIGHBOR_ADVERT) && d[o + 1] === 0) parseNd(d, o, end, type, key, k);
  }
  return PARSE_OK;
}

function parseNd(d: Uint8Array, o: number, end: number, type: number, key: Uint32Array, k: number): void {
  if (o + 24 > end) return;
  for (let i = 0; i < 4; i++) key[k + FK_ND_TARGET + i] = rd32(d, o + 8 + i * 4);
  let p = o + 24;
  while (p + 8 <= end) {
    const optType = d[p];
    const optLen = d[p + 1] * 8;
    if (optLen === 0 || p + optLen > end) return;
    if (optLen === 8) {
      if (optType === 1 && type === ND_NEIGHBOR_SOLICIT) {
        key[k + FK_ARP_SHA_HI] = rd16(d, p + 2);
        key[k + FK_ARP_SHA_LO] = rd32(d, p + 4);
      } else if (optType === 2 && type === ND_NEIGHBOR_ADVERT) {
        key[k + FK_ARP_THA_HI] = rd16(d, p + 2);
        key[k + FK_ARP_THA_LO] = rd32(d, p + 4);
      }
    }
    p += optLen;
  }
}

/** Parse every packet of a batch into batch.keys/l3/l4. */
export function extractBatch(batch: PacketBatch, stats: ParseStats): void {
  const keys = batch.keys;
  for (let i = 0; i < batch.count; i++) {
    const r = extractHeaders(batch.data[i], batch.start[i], batch.len[i], keys, i * FK_WORDS, batch.l3, batch.l4, i);
    stats.count(r);
  }
}

/**
 * Parse every packet of a batch into batch.keys/l3/l4 with every key word
 * zeroed first, metadata included (one fill for the batch: a fill per
 * packet cost more than the parse of a UDP header); the common IPv4
 * UDP/TCP packet takes extractCommon, the same words in fewer loads.
 */
export function extractBatchZeroed(batch: PacketBatch, stats: ParseStats): void {
  const keys = batch.keys;
  keys.fill(0, 0, batch.count * FK_WORDS);
  const views = batch.views;
  for (let i = 0; i < batch.count; i++) {
    // The usual IPv4 UDP/TCP packet in one pass (extract-fast.ts), the rest in full.
    if (extractCommon(views[i], batch.start[i], batch.len[i], keys, i * FK_WORDS, batch.l3, batch.l4, i)) {
      stats.packets++;
      continue;
    }
    const r = extractHeaders(batch.data[i], batch.start[i], batch.len[i], keys, i * FK_WORDS, batch.l3, batch.l4, i, true);
    stats.count(r);
  }
}
