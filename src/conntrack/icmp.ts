// ICMP and ICMPv6 queries (echo, and for ICMPv4 timestamp, information and
// address-mask requests): a request opens a connection keyed by its id, the
// matching reply type in the other direction answers it. ICMP errors are not
// connections: conntrack.ts matches the header they carry to the connection
// it belongs to (+rel). State in the l4 byte of R_FLAGS; called with the
// home shard lock held.

import { type L4Pkt, type L4Tracker, setClass, getL4State, setL4State, UPDATE_VALID, UPDATE_VALID_NEW } from './l4.ts';
import { TM_ICMP_FIRST, TM_ICMP_REPLY } from './timeouts.ts';

export const ICMP_FIRST = 0;
export const ICMP_REPLY = 1;

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_SOURCE_QUENCH = 4;
export const ICMP_REDIRECT = 5;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAM_PROB = 12;
export const ICMP_TIMESTAMP = 13;
export const ICMP_TIMESTAMP_REPLY = 14;
export const ICMP_INFO_REQUEST = 15;
export const ICMP_INFO_REPLY = 16;
export const ICMP_ADDRESS = 17;
export const ICMP_ADDRESS_REPLY = 18;

export const ICMP6_DST_UNREACH = 1;
export const ICMP6_PACKET_TOO_BIG = 2;
export const ICMP6_TIME_EXCEEDED = 3;
export const ICMP6_PARAM_PROB = 4;
export const ICMP6_ECHO_REQUEST = 128;
export const ICMP6_ECHO_REPLY = 129;

/** The type answering query type `t`, or -1 when `t` is not a query/answer. */
export function icmpReverseType(t: number, v6: number): number {
  if (v6 !== 0) {
    if (t === ICMP6_ECHO_REQUEST) return ICMP6_ECHO_REPLY;
    if (t === ICMP6_ECHO_REPLY) return ICMP6_ECHO_REQUEST;
    return -1;
  }
  switch (t) {
    case ICMP_ECHO_REQUEST: return ICMP_ECHO_REPLY;
    case ICMP_ECHO_REPLY: return ICMP_ECHO_REQUEST;
    case ICMP_TIMESTAMP: return ICMP_TIMESTAMP_REPLY;
    case ICMP_TIMESTAMP_REPLY: return ICMP_TIMESTAMP;
    case ICMP_INFO_REQUEST: return ICMP_INFO_REPLY;
    case ICMP_INFO_REPLY: return ICMP_INFO_REQUEST;
    case ICMP_ADDRESS: return ICMP_ADDRESS_REPLY;
    case ICMP_ADDRESS_REPLY: return ICMP_ADDRESS;
    default: return -1;
  }
}

export function icmpIsRequest(t: number, v6: number): boolean {
  if (v6 !== 0) return t === ICMP6_ECHO_REQUEST;
  return t === ICMP_ECHO_REQUEST || t === ICMP_TIMESTAMP || t === ICMP_INFO_REQUEST || t === ICMP_ADDRESS;
}

/** Does type `t` carry the header of an offending packet? */
export function icmpIsError(t: number, v6: number): boolean {
  if (v6 !== 0) return t >= ICMP6_DST_UNREACH && t <= ICMP6_PARAM_PROB;
  return t === ICMP_DEST_UNREACH || t === ICMP_SOURCE_QUENCH || t === ICMP_REDIRECT ||
    t === ICMP_TIME_EXCEEDED || t === ICMP_PARAM_PROB;
}

export const icmpTracker: L4Tracker = {
  validNew(p: L4Pkt): boolean {
    return p.l4Len >= 8 && icmpIsRequest(p.data[p.l4], p.v6);
  },

  newConn(rec: Int32Array, base: number, _p: L4Pkt): void {
    setL4State(rec, base, ICMP_FIRST);
    setClass(rec, base, TM_ICMP_FIRST);
  },

  update(rec: Int32Array, base: number, _p: L4Pkt, reply: boolean, _seqCheck: boolean): number {
    let st = getL4State(rec, base);
    if (reply) st = ICMP_REPLY;
    setL4State(rec, base, st);
    setClass(rec, base, st === ICMP_REPLY ? TM_ICMP_REPLY : TM_ICMP_FIRST);
    return st === ICMP_REPLY ? UPDATE_VALID : UPDATE_VALID_NEW;
  },
};
