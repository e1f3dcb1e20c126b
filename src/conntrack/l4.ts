// The interface every L4 tracker implements (tcp.ts, udp.ts for UDP and any
// other protocol, icmp.ts for ICMP and ICMPv6). A tracker owns the L4 state
// words of a record (R_TCP_STATES.., the l4 byte of R_FLAGS) and chooses
// the record's timeout class; conntrack.ts owns everything else. Trackers
// are called with the record's home shard lock held and never allocate.

import { R_FLAGS, RF_CLASS_SHIFT, RF_L4_SHIFT } from './layout.ts';

/** The L4 view of one packet, filled by conntrack.ts into one reused object. */
export interface L4Pkt {
  data: Uint8Array;
  /** Absolute offset of the L4 header in data. */
  l4: number;
  /** Bytes from the L4 header to the end of the IP payload. */
  l4Len: number;
  /** ICMP: 1 for ICMPv6. */
  v6: number;
}

// Results of update(), as OVS's CT_UPDATE_*.
export const UPDATE_INVALID = 0; // +inv, state not advanced
export const UPDATE_VALID = 1; // +est
export const UPDATE_NEW = 2; // the old connection is over: start a new one
export const UPDATE_VALID_NEW = 3; // valid, but the connection is still unanswered: +new

export interface L4Tracker {
  /** May this packet start a connection? */
  validNew(p: L4Pkt): boolean;
  /** Initialise the L4 state of a fresh record for the first packet. */
  newConn(rec: Int32Array, base: number, p: L4Pkt): void;
  /** Advance the state for a packet of an existing connection; UPDATE_*. */
  update(rec: Int32Array, base: number, p: L4Pkt, reply: boolean, seqCheck: boolean): number;
}

export function setClass(rec: Int32Array, base: number, cls: number): void {
  rec[base + R_FLAGS] = (rec[base + R_FLAGS] & ~(0xff << RF_CLASS_SHIFT)) | (cls << RF_CLASS_SHIFT);
}

export function getClass(rec: Int32Array, base: number): number {
  return (rec[base + R_FLAGS] >>> RF_CLASS_SHIFT) & 0xff;
}

export function setL4State(rec: Int32Array, base: number, st: number): void {
  rec[base + R_FLAGS] = (rec[base + R_FLAGS] & ~(0xff << RF_L4_SHIFT)) | (st << RF_L4_SHIFT);
}

export function getL4State(rec: Int32Array, base: number): number {
  return (rec[base + R_FLAGS] >>> RF_L4_SHIFT) & 0xff;
}
