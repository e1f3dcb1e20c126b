// Checksum validation of the packets conntrack tracks, as OVS's userspace
// conntrack does (lib/conntrack.c extract_l3_ipv4 / check_l4_*): the IPv4
// header checksum and the TCP, UDP, ICMP and ICMPv6 checksums of every packet
// looked up, unless the port already knows them good (PacketBatch.csum: a
// system port completed a partial checksum or the kernel validated it, see
// src/datapath/ports/system.ts). A bad one makes the packet +inv (counted in
// H_CNT_BAD_CSUM beside H_CNT_INVALID, and logged rate-limited). A checksum
// found good is remembered in PacketBatch.csum, so a second ct() of the same
// packet (after a recirculation) does not sum it again; the rewrites that
// follow (NAT, set-field) update checksums incrementally and keep it good.
//
// Not validated (as OVS, or noted): a zero UDP checksum over IPv4 (none);
// SCTP's CRC32c, DCCP and UDP-Lite (tracked as "other").
//
// Hot path: pure functions over bytes, no allocation.

import { CSUM_L3_GOOD, CSUM_L4_GOOD, type PacketBatch } from '../packet/batch.ts';
import { IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP } from '../packet/flow-key.ts';
import { RateLimitedLog } from '../packet/log.ts';
import { H_CNT_BAD_CSUM } from './layout.ts';
import type { L4Pkt } from './l4.ts';

export const CSUM_OK = 0;
/** The IPv4 header checksum is wrong. */
export const CSUM_BAD_IP = 1;
/** The TCP / UDP / ICMP / ICMPv6 checksum is wrong. */
export const CSUM_BAD_L4 = 2;
/** A length field does not fit (UDP length, TCP data offset): +inv, not a checksum error. */
export const CSUM_MALFORMED = 3;

/** Warnings for packets whose checksum is wrong (per thread, rate-limited). */
export const badChecksumLog = new RateLimitedLog('conntrack', 'warn');

/** One's-complement sum of d[s..e) as 16-bit big-endian words (not folded). */
export function sum16(d: Uint8Array, s: number, e: number): number {
  let a = 0;
  let b = 0;
  let i = s;
  // Two accumulators and 8 bytes a round: the adds do not wait for each other.
  for (const last = e - 7; i < last; i += 8) {
    a += ((d[i] << 8) | d[i + 1]) + ((d[i + 4] << 8) | d[i + 5]);
    b += ((d[i + 2] << 8) | d[i + 3]) + ((d[i + 6] << 8) | d[i + 7]);
  }
  for (; i + 1 < e; i += 2) a += (d[i] << 8) | d[i + 1];
  if (i < e) a += d[i] << 8;
  return a + b;
}

/** Nothing (more) to check at L4: remember it. */
function known4(batch: PacketBatch, idx: number, known: number): number {
  batch.csum[idx] = known | CSUM_L4_GOOD;
  return CSUM_OK;
}

/** Fold a sum to 16 bits. Any IP packet's sum stays below 2^32 (at most
 *  32,768 words of 0xffff plus a pseudo-header), so integer shifts do. */
function fold(s: number): number {
  s = (s >>> 16) + (s & 0xffff);
  return (s >>> 16) + (s & 0xffff);
}

/**
 * Check the checksums of packet idx (IPv4 header at l3 when !v6; L4 at l4,
 * `end` the end of the IP payload) for protocol `proto`. Marks what it found
 * good in batch.csum. Returns CSUM_*.
 */
export function checkChecksums(batch: PacketBatch, idx: number, d: Uint8Array, l3: number, l4: number, end: number,
  proto: number, v6: number): number {
  let known = batch.csum[idx];
  if ((known & CSUM_L3_GOOD) === 0) {
    // IPv6 has no header checksum.
    if (v6 === 0 && fold(sum16(d, l3, l3 + ((d[l3] & 0x0f) << 2))) !== 0xffff) return CSUM_BAD_IP;
    known |= CSUM_L3_GOOD;
    batch.csum[idx] = known;
  }
  if ((known & CSUM_L4_GOOD) !== 0) return CSUM_OK;
  if (l4 < 0) return known4(batch, idx, known);
  const len = end - l4;
  let pseudo: number;
  if (proto === IPPROTO_TCP) {
    if (len < 20) return CSUM_MALFORMED;
    const off = (d[l4 + 12] >>> 4) << 2;
    if (off < 20 || off > len) return CSUM_MALFORMED;
  } else if (proto === IPPROTO_UDP) {
    if (len < 8) return CSUM_MALFORMED;
    const ulen = (d[l4 + 4] << 8) | d[l4 + 5];
    if (ulen < 8 || ulen > len) return CSUM_MALFORMED;
    if (v6 === 0 && d[l4 + 6] === 0 && d[l4 + 7] === 0) return known4(batch, idx, known); // no checksum
  } else if (proto === IPPROTO_ICMP) {
    if (v6 !== 0) return known4(batch, idx, known);
  } else if (proto !== IPPROTO_ICMPV6 || v6 === 0) {
    return known4(batch, idx, known); // no checksum this module knows
  }
  if (proto === IPPROTO_ICMP) pseudo = 0;
  else if (v6 === 0) pseudo = sum16(d, l3 + 12, l3 + 20) + proto + len;
  else pseudo = sum16(d, l3 + 8, l3 + 40) + proto + len;
  if (fold(sum16(d, l4, end) + pseudo) !== 0xffff) return CSUM_BAD_L4;
  batch.csum[idx] = known | CSUM_L4_GOOD;
  return CSUM_OK;
}

const L4_NAMES: Record<number, string> = { [IPPROTO_TCP]: 'TCP', [IPPROTO_UDP]: 'UDP', [IPPROTO_ICMP]: 'ICMP', [IPPROTO_ICMPV6]: 'ICMPv6' };

/**
 * Whether packet idx must be +inv for its checksums (checkChecksums on the
 * L4 view `p` that extractKey filled); counts and logs a bad one.
 */
export function badChecksum(hdr: Int32Array, batch: PacketBatch, idx: number, p: L4Pkt, proto: number, zone: number,
  nowMs: number): boolean {
  const r = checkChecksums(batch, idx, p.data, batch.l3[idx], p.l4, p.l4 + p.l4Len, proto, p.v6);
  if (r === CSUM_OK) return false;
  if (r !== CSUM_MALFORMED) {
    Atomics.add(hdr, H_CNT_BAD_CSUM, 1);
    if (badChecksumLog.enter(nowMs)) {
      const what = r === CSUM_BAD_IP ? 'IPv4 header' : L4_NAMES[proto];
      badChecksumLog.emit({ zone, proto }, `zone ${zone}: bad ${what} checksum, packet marked invalid`, nowMs);
    }
  }
  return true;
}
