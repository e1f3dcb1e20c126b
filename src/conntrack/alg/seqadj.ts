// TCP sequence adjustment after a helper changed a payload's length (as
// Linux's nf_ct_seqadj): per direction, the sequence number of the segment
// that was rewritten (the correction position) and the total offset before
// and after it. Segments of that direction get their seq moved by the
// offset that applies to them; segments of the other direction get their
// ack moved back the same way, so both ends see a consistent stream. All
// arithmetic is modulo 2^32. Called with the connection's home shard lock
// held (the words are R_SEQADJ_ORIG / R_SEQADJ_REPLY of layout.ts).

import { R_SEQADJ_ORIG, R_SEQADJ_REPLY } from '../layout.ts';
import { rd32, wr32 } from '../../packet/bytes.ts';
import { csumUpdate32 } from '../../packet/checksum.ts';

const POS = 0;
const BEFORE = 1;
const AFTER = 2;

/** a comes after b in sequence space. */
export function seqAfter(a: number, b: number): boolean {
  return ((b - a) | 0) < 0;
}

function adjOf(base: number, reply: boolean): number {
  return base + (reply ? R_SEQADJ_REPLY : R_SEQADJ_ORIG);
}

/** Does direction `reply` of the connection carry an adjustment? */
export function seqAdjActive(rec: Int32Array, base: number, reply: boolean): boolean {
  const o = adjOf(base, reply);
  return rec[o + BEFORE] !== 0 || rec[o + AFTER] !== 0;
}

/** Note that the segment at `seq` (original numbering) of direction
 *  `reply` grew by `delta` bytes (negative: shrank). A retransmission of an
 *  earlier segment does not move the correction point again. */
export function seqAdjRecordLocked(rec: Int32Array, base: number, reply: boolean, seq: number, delta: number): void {
  const o = adjOf(base, reply);
  if (rec[o + BEFORE] === rec[o + AFTER] || seqAfter(seq, rec[o + POS])) {
    rec[o + POS] = seq | 0;
    rec[o + BEFORE] = rec[o + AFTER];
    rec[o + AFTER] = (rec[o + AFTER] + delta) | 0;
  }
}

/** The offset for a sequence number of direction `reply`. */
export function seqOffset(rec: Int32Array, base: number, reply: boolean, seq: number): number {
  const o = adjOf(base, reply);
  return seqAfter(seq, rec[o + POS]) ? rec[o + AFTER] : rec[o + BEFORE];
}

/** Move the seq of a segment of direction `reply` (TCP header at l4). */
export function seqAdjSeqLocked(rec: Int32Array, base: number, reply: boolean, d: Uint8Array, l4: number): void {
  if (!seqAdjActive(rec, base, reply)) return;
  const seq = rd32(d, l4 + 4);
  const off = seqOffset(rec, base, reply, seq);
  if (off === 0) return;
  const now = (seq + off) >>> 0;
  wr32(d, l4 + 4, now);
  const c = (d[l4 + 16] << 8) | d[l4 + 17];
  const nc = csumUpdate32(c, seq, now);
  d[l4 + 16] = nc >> 8;
  d[l4 + 17] = nc & 0xff;
}

/** Move back the ack of a segment of direction `reply`: it acknowledges the
 *  other direction's adjusted numbering (TCP header at l4). */
export function seqAdjAckLocked(rec: Int32Array, base: number, reply: boolean, d: Uint8Array, l4: number): void {
  if (!seqAdjActive(rec, base, !reply) || (d[l4 + 13] & 0x10) === 0) return;
  const ack = rd32(d, l4 + 8);
  const o = adjOf(base, !reply);
  const off = seqAfter((ack - rec[o + BEFORE]) | 0, rec[o + POS]) ? rec[o + AFTER] : rec[o + BEFORE];
  if (off === 0) return;
  const now = (ack - off) >>> 0;
  wr32(d, l4 + 8, now);
  const c = (d[l4 + 16] << 8) | d[l4 + 17];
  const nc = csumUpdate32(c, ack, now);
  d[l4 + 16] = nc >> 8;
  d[l4 + 17] = nc & 0xff;
}
