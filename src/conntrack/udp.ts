// UDP and every protocol without a tracker of its own ("other"): a
// connection is FIRST after one packet, MULTIPLE after more packets from the
// originator only, and BIDIR once the other side answered. Until an answer
// arrives, packets from the originator stay +new (as OVS). State lives in
// the l4 byte of R_FLAGS; called with the home shard lock held.

import { type L4Pkt, type L4Tracker, setClass, getL4State, setL4State, UPDATE_VALID, UPDATE_VALID_NEW } from './l4.ts';
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
    let st = getL4State(rec, base);
    if (reply) st = OTHER_BIDIR;
    else if (st === OTHER_FIRST) st = OTHER_MULTIPLE;
    setL4State(rec, base, st);
    setClass(rec, base, st === OTHER_BIDIR ? TM_OTHER_BIDIR : TM_OTHER_MULTIPLE);
    return st === OTHER_BIDIR ? UPDATE_VALID : UPDATE_VALID_NEW;
  },
};
