// Packet rewrite for NAT: IPv4/IPv6 addresses, TCP/UDP/DCCP/UDP-Lite ports,
// the ICMP echo id, and the embedded header of ICMP/ICMPv6 errors, all with
// incremental checksum updates (RFC 1624 eqn. 3) so that a packet whose
// checksums were right stays right, and NAT followed by un-NAT gives back
// the original bytes. A zero UDP checksum ("none", IPv4) stays zero.
//
// A target tuple is given as a conntrack key (src/conntrack/layout.ts K_*):
// the packet is rewritten so that its own tuple reads as that key. SCTP's
// CRC32c cannot be updated incrementally and is left alone (ports only).
// Called with the packet's connection locked or not at all: it touches only
// the packet. Never allocates.

import { csumUpdate16 } from '../packet/checksum.ts';
import { rd16, wr16 } from '../packet/bytes.ts';
import { IPPROTO_DCCP, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE } from '../packet/flow-key.ts';
import { K_DST, K_PORTS, K_SRC, tupleHasPorts } from '../packet/tuple.ts';

const NONE = -1;

/** Which addresses setAddrs() writes. */
const ADDR_SRC = 1;
const ADDR_DST = 2;

/** Update the checksum at `co` for a 16-bit word changing old -> now. A
 *  zero UDP checksum (`zeroStays`) is left alone; a UDP result of zero is
 *  sent as 0xffff. The checksum field's own change is propagated into the
 *  checksum at `outer` (an ICMP error's, which covers the quoted header). */
function ckUpdate(d: Uint8Array, co: number, old: number, now: number, zeroStays: boolean, outer: number): void {
  if (co === NONE) return;
  const c = rd16(d, co);
  if (zeroStays && c === 0) return;
  let n = csumUpdate16(c, old, now);
  if (zeroStays && n === 0) n = 0xffff;
  if (n === c) return;
  wr16(d, co, n);
  if (outer !== NONE) ckUpdate(d, outer, c, n, false, NONE);
}

/** Write the 16-bit word at o and update checksums c1 (IP header) and c2
 *  (L4; `c2udp` for UDP's zero rule), and `outer`, which covers o itself. */
function put16(d: Uint8Array, o: number, now: number, c1: number, c2: number, c2udp: boolean, outer: number): void {
  const old = rd16(d, o);
  if (old === now) return;
  wr16(d, o, now);
  ckUpdate(d, c1, old, now, false, outer);
  ckUpdate(d, c2, old, now, c2udp, outer);
  ckUpdate(d, outer, old, now, false, NONE);
}

/** Offset of the L4 checksum to update for address/port changes, or NONE
 *  (absent, truncated, or not incrementally updatable). */
function l4CkOffset(proto: number, l4: number, end: number): number {
  let o: number;
  if (proto === IPPROTO_TCP) o = 16;
  else if (proto === IPPROTO_UDP || proto === IPPROTO_UDPLITE || proto === IPPROTO_DCCP) o = 6;
  else if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) o = 2;
  else return NONE;
  return l4 + o + 2 <= end ? l4 + o : NONE;
}

/** Write addresses (which = ADDR_*) from key words src/dst into the IP
 *  header at l3. `l4ck` is the L4 checksum covering them by pseudo-header
 *  (NONE for ICMPv4). */
function setAddrs(d: Uint8Array, l3: number, v6: number, k: Int32Array, ko: number, srcAt: number, dstAt: number,
  which: number, l4ck: number, udp: boolean, outer: number): void {
  if (v6 === 0) {
    const ipck = l3 + 10;
    if ((which & ADDR_SRC) !== 0) {
      const a = k[ko + srcAt];
      put16(d, l3 + 12, a >>> 16, ipck, l4ck, udp, outer);
      put16(d, l3 + 14, a & 0xffff, ipck, l4ck, udp, outer);
    }
    if ((which & ADDR_DST) !== 0) {
      const a = k[ko + dstAt];
      put16(d, l3 + 16, a >>> 16, ipck, l4ck, udp, outer);
      put16(d, l3 + 18, a & 0xffff, ipck, l4ck, udp, outer);
    }
    return;
  }
  for (let i = 0; i < 4; i++) {
    if ((which & ADDR_SRC) !== 0) {
      const a = k[ko + srcAt + i];
      put16(d, l3 + 8 + i * 4, a >>> 16, NONE, l4ck, udp, outer);
      put16(d, l3 + 10 + i * 4, a & 0xffff, NONE, l4ck, udp, outer);
    }
    if ((which & ADDR_DST) !== 0) {
      const a = k[ko + dstAt + i];
      put16(d, l3 + 24 + i * 4, a >>> 16, NONE, l4ck, udp, outer);
      put16(d, l3 + 26 + i * 4, a & 0xffff, NONE, l4ck, udp, outer);
    }
  }
}


/** Rewrite the IP and L4 header at l3/l4 (ending at end) to the tuple
 *  src=k[srcAt], dst=k[dstAt], ports/id from `ports` (sport << 16 | dport,
 *  or id << 16 for ICMP echo). `outer` as put16. */
function rewriteHeaders(d: Uint8Array, l3: number, l4: number, end: number, v6: number, proto: number,
  k: Int32Array, ko: number, srcAt: number, dstAt: number, sport: number, dport: number, outer: number): void {
  const l4ck = l4CkOffset(proto, l4, end);
  const udp = proto === IPPROTO_UDP;
  // ICMPv4's checksum has no pseudo-header.
  setAddrs(d, l3, v6, k, ko, srcAt, dstAt, ADDR_SRC | ADDR_DST, proto === IPPROTO_ICMP ? NONE : l4ck, udp, outer);
  if (tupleHasPorts(proto)) {
    if (l4 + 4 > end) return;
    put16(d, l4, sport, NONE, l4ck, udp, outer);
    put16(d, l4 + 2, dport, NONE, l4ck, udp, outer);
  } else if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) {
    if (l4 + 6 > end) return;
    put16(d, l4 + 4, sport, NONE, l4ck, false, outer); // echo id
  }
}

/**
 * Rewrite a packet (not an ICMP error) so that its tuple becomes key `k` at
 * ko: addresses, ports or ICMP echo id, and their checksums.
 */
export function rewriteToTuple(d: Uint8Array, l3: number, l4: number, end: number, v6: number, proto: number,
  k: Int32Array, ko: number): void {
  const p = k[ko + K_PORTS];
  rewriteHeaders(d, l3, l4, end, v6, proto, k, ko, K_SRC, K_DST, p >>> 16, p & 0xffff, NONE);
}

/**
 * Rewrite an ICMP or ICMPv6 error (ICMP header at l4) related to a NATed
 * connection. `cur` (at co) is the connection key the error matched (its
 * direction of travel); `tgt` (at to) the tuple packets of that direction
 * are translated to. The outer destination becomes tgt's; the outer source
 * only when it was the connection's peer (not a router on the way). The
 * quoted packet travelled the other way, so its tuple becomes the reverse
 * of tgt; its checksums and the outer ICMP checksum follow.
 */
export function rewriteIcmpError(d: Uint8Array, l3: number, l4: number, end: number, v6: number,
  cur: Int32Array, co: number, tgt: Int32Array, to: number): void {
  const outerCk = l4 + 2;
  // Outer addresses: the ICMPv6 checksum covers them by pseudo-header.
  let which = ADDR_DST;
  if (v6 === 0) {
    if (((rd16(d, l3 + 12) << 16) | rd16(d, l3 + 14)) === cur[co + K_SRC]) which |= ADDR_SRC;
  } else {
    let same = true;
    for (let i = 0; i < 4; i++) {
      if (((rd16(d, l3 + 8 + i * 4) << 16) | rd16(d, l3 + 10 + i * 4)) !== cur[co + K_SRC + i]) same = false;
    }
    if (same) which |= ADDR_SRC;
  }
  setAddrs(d, l3, v6, tgt, to, K_SRC, K_DST, which, v6 !== 0 ? outerCk : NONE, false, NONE);
  // The quoted packet.
  const i3 = l4 + 8;
  let i4: number;
  let iproto: number;
  if (v6 === 0) {
    i4 = i3 + (d[i3] & 0x0f) * 4;
    iproto = d[i3 + 9];
  } else {
    i4 = i3 + 40;
    iproto = d[i3 + 6];
  }
  if (i4 > end) return;
  const p = tgt[to + K_PORTS];
  const icmp = iproto === IPPROTO_ICMP || iproto === IPPROTO_ICMPV6;
  // Reverse of tgt: src <- tgt.dst, dst <- tgt.src, ports swapped (ICMP: same id).
  const sport = icmp ? p >>> 16 : p & 0xffff;
  const dport = p >>> 16;
  const ipck = v6 === 0 ? i3 + 10 : NONE;
  const l4ck = l4CkOffset(iproto, i4, end);
  const udp = iproto === IPPROTO_UDP;
  if (v6 === 0) {
    const s = tgt[to + K_DST];
    const t = tgt[to + K_SRC];
    const pk = iproto === IPPROTO_ICMP ? NONE : l4ck;
    put16(d, i3 + 12, s >>> 16, ipck, pk, udp, outerCk);
    put16(d, i3 + 14, s & 0xffff, ipck, pk, udp, outerCk);
    put16(d, i3 + 16, t >>> 16, ipck, pk, udp, outerCk);
    put16(d, i3 + 18, t & 0xffff, ipck, pk, udp, outerCk);
  } else {
    setAddrs(d, i3, 1, tgt, to, K_DST, K_SRC, ADDR_SRC | ADDR_DST, l4ck, udp, outerCk);
  }
  if (icmp) {
    if (i4 + 6 <= end) put16(d, i4 + 4, sport, NONE, l4ck, false, outerCk);
  } else if (tupleHasPorts(iproto) && i4 + 4 <= end) {
    put16(d, i4, sport, NONE, l4ck, udp, outerCk);
    put16(d, i4 + 2, dport, NONE, l4ck, udp, outerCk);
  }
}
