// UDP and every protocol without a tracker of its own ("other"): a
// connection is FIRST after one packet, MULTIPLE after more packets from the
// originator only, and BIDIR once the other side answered. Until an answer
// arrives, packets from the originator stay +new (as OVS). State lives in
// the l4 byte of R_FLAGS; called with the home shard lock held.

import { type L4Pkt, type L4Tracker, getClass, setClass, getL4State, setL4State, UPDATE_VALID, UPDATE_VALID_NEW } from './l4.ts';
import { TM_OTHER_FIRST, TM_OTHER_MULTIPLE, TM_OTHER_BIDIR } from './timeouts.ts';

export const OTHER_FIRST = 0;
export const OTHER_MULTIPLE = 1;
export const OTHER_BIDIR = 2;

export const otherTracker: L4Tracker = {
  validNew(_p: L4Pkt): boolean {
    return true;
  },

  newConn(rec: Int32Array, base: number, _p: L4Pkt): void {
    setL4State(rec, base, OTHER_FIRST);
    setClass(rec, base, TM_OTHER_FIRST);
  },

  update(rec: Int32Array, base: number, _p: L4Pkt, reply: boolean, _seqCheck: boolean): number {
    const st0 = getL4State(rec, base);
    const st = reply ? OTHER_BIDIR : st0 === OTHER_FIRST ? OTHER_MULTIPLE : st0;
    // Most packets change nothing: leave the word (and its cache line) clean.
    if (st !== st0 || getClass(rec, base) === TM_OTHER_FIRST) {
      setL4State(rec, base, st);
      setClass(rec, base, st === OTHER_BIDIR ? TM_OTHER_BIDIR : TM_OTHER_MULTIPLE);
    }
    return st === OTHER_BIDIR ? UPDATE_VALID : UPDATE_VALID_NEW;
  },
};
