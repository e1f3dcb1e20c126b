// The connection tuple: the words conntrack keys its table by and NAT reads
// and writes (src/conntrack/layout.ts places them in the shared record;
// src/nat/select.ts picks a translated one, src/nat/rewrite.ts rewrites a
// packet to one). Defined here, below both, so that they cannot disagree;
// test/conntrack/layout.test.ts pins the offsets.
//
// K_META = zone (16) | proto << 16 (8) | af << 24 (AF_V4 / AF_V6)
// K_SRC/K_DST: IPv4 address in the first word (others zero), IPv6 in all four.
// K_PORTS: sport << 16 | dport; for ICMP id << 16 | type << 8 | code.

import { IPPROTO_DCCP, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE } from './flow-key.ts';

export const K_META = 0;
export const K_SRC = 1;
export const K_DST = 5;
export const K_PORTS = 9;
export const KEY_WORDS = 10;
export const AF_V4 = 0;
export const AF_V6 = 1;

/** Whether a tuple of this IP protocol carries ports in K_PORTS (TCP, UDP, SCTP, DCCP, UDP-Lite). */
export function tupleHasPorts(proto: number): boolean {
  return proto === IPPROTO_TCP || proto === IPPROTO_UDP || proto === IPPROTO_SCTP ||
    proto === IPPROTO_DCCP || proto === IPPROTO_UDPLITE;
}
