// Internet checksums (RFC 1071) and their incremental update (RFC 1624,
// eqn. 3: HC' = ~(~HC + ~m + m')). Sums are carried in plain numbers and
// folded at the end, so no allocation and no BigInt.

import { IPPROTO_UDP } from './flow-key.ts';

/** One's-complement sum of d[start..end) (not folded, not inverted), added to `sum`. */
export function csumAdd(d: Uint8Array, start: number, end: number, sum = 0): number {
  let i = start;
  for (; i + 1 < end; i += 2) sum += (d[i] << 8) | d[i + 1];
  if (i < end) sum += d[i] << 8;
  return sum;
}

export function csumFold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** The checksum field value for d[start..end) with the field itself zeroed or included as given. */
export function csumFinish(sum: number): number {
  return ~csumFold(sum) & 0xffff;
}

export function ipv4HeaderChecksum(d: Uint8Array, l3: number): number {
  const ihl = (d[l3] & 0x0f) * 4;
  const sum = csumAdd(d, l3, l3 + ihl) - ((d[l3 + 10] << 8) | d[l3 + 11]);
  return csumFinish(sum);
}

export function setIpv4HeaderChecksum(d: Uint8Array, l3: number): void {
  d[l3 + 10] = 0;
  d[l3 + 11] = 0;
  const c = ipv4HeaderChecksum(d, l3);
  d[l3 + 10] = c >> 8;
  d[l3 + 11] = c & 0xff;
}

/** Pseudo-header sum for an IPv4 (version 4) or IPv6 packet whose L3 header is at l3. */
export function pseudoHeaderSum(d: Uint8Array, l3: number, proto: number, l4len: number): number {
  let sum = proto + l4len;
  if (d[l3] >> 4 === 4) sum += csumAdd(d, l3 + 12, l3 + 20);
  else sum += csumAdd(d, l3 + 8, l3 + 40);
  return sum;
}

/** Offset of the checksum field within an L4 header. */
export function l4ChecksumOffset(proto: number): number {
  switch (proto) {
    case 6: return 16; // TCP
    case 17: return 6; // UDP
    case 1: case 58: return 2; // ICMP, ICMPv6
    default: return -1;
  }
}

/** Compute the L4 checksum of d[l4..end) (ICMPv4 has no pseudo-header). */
export function l4Checksum(d: Uint8Array, l3: number, l4: number, end: number, proto: number): number {
  const ofs = l4ChecksumOffset(proto);
  let sum = csumAdd(d, l4, end) - ((d[l4 + ofs] << 8) | d[l4 + ofs + 1]);
  if (proto !== 1) sum += pseudoHeaderSum(d, l3, proto, end - l4);
  let c = csumFinish(sum);
  if (c === 0 && proto === IPPROTO_UDP) c = 0xffff; // 0 means "no checksum" for UDP
  return c;
}

export function setL4Checksum(d: Uint8Array, l3: number, l4: number, end: number, proto: number): void {
  const ofs = l4ChecksumOffset(proto);
  if (ofs < 0) return;
  const c = l4Checksum(d, l3, l4, end, proto);
  d[l4 + ofs] = c >> 8;
  d[l4 + ofs + 1] = c & 0xff;
}

/** True when the stored L4 checksum is right (a zero UDP checksum over IPv4 counts as right). */
export function verifyL4Checksum(d: Uint8Array, l3: number, l4: number, end: number, proto: number): boolean {
  const ofs = l4ChecksumOffset(proto);
  const stored = (d[l4 + ofs] << 8) | d[l4 + ofs + 1];
  if (proto === IPPROTO_UDP && stored === 0 && d[l3] >> 4 === 4) return true;
  return stored === l4Checksum(d, l3, l4, end, proto);
}

/** RFC 1624 update of checksum `c` when a 16-bit word changes from `old` to `now`. */
export function csumUpdate16(c: number, old: number, now: number): number {
  const sum = (~c & 0xffff) + (~old & 0xffff) + (now & 0xffff);
  return ~csumFold(sum) & 0xffff;
}

/** RFC 1624 update for a 32-bit value (an IPv4 address) changing. */
export function csumUpdate32(c: number, old: number, now: number): number {
  const sum = (~c & 0xffff) + (~(old >>> 16) & 0xffff) + (~old & 0xffff) + ((now >>> 16) & 0xffff) + (now & 0xffff);
  return ~csumFold(sum) & 0xffff;
}
