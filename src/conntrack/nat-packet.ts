// The NAT rewrite of one packet of a NATed connection (conntrack's side of
// src/nat): the packet is rewritten to the tuple its direction should carry
// and the flow key's header words follow. Called with the record's home
// shard held (execute.ts, carried.ts).

import { CS_DST_NAT, CS_SRC_NAT, FK_IPV6_DST, FK_IPV6_SRC, FK_NW_DST, FK_NW_SRC, FK_TP_DST, FK_TP_SRC } from '../packet/flow-key.ts';
import { rd16, rd32 } from '../packet/bytes.ts';
import { tupleHasPorts } from '../packet/tuple.ts';
import type { PacketBatch } from '../packet/batch.ts';
import { rewriteIcmpError, rewriteToTuple } from '../nat/rewrite.ts';
import { K_META, NF_DST, NF_SRC, REC_WORDS, R_FLAGS, R_KEY_ORIG, R_KEY_REPLY, RF_NAT_SHIFT } from './layout.ts';
import { reverseKey } from './key.ts';

/**
 * Rewrite packet idx of NATed connection r (record words `rec`) for its
 * direction (`reply`), or, when `related`, the ICMP error about it, and
 * refresh the flow key's header words at key[o..]. `k` is the packet's
 * conntrack key, `tgt` scratch of KEY_WORDS. Returns the ct_state NAT bits
 * (0 when r has no NAT).
 */
export function natPacketLocked(rec: Int32Array, r: number, k: Int32Array, tgt: Int32Array, reply: boolean, related: boolean,
  batch: PacketBatch, idx: number, key: Uint32Array, o: number): number {
  const base = r * REC_WORDS;
  const nf = (rec[base + R_FLAGS] >>> RF_NAT_SHIFT) & 0xff;
  if (nf === 0) return 0;
  reverseKey(tgt, 0, rec, base + (reply ? R_KEY_ORIG : R_KEY_REPLY));
  const d = batch.data[idx];
  const l3 = batch.l3[idx];
  const l4 = batch.l4[idx];
  const v6 = (k[K_META] >>> 24) & 0xff;
  let end = v6 === 0 ? l3 + rd16(d, l3 + 2) : l3 + 40 + rd16(d, l3 + 4);
  const pend = batch.start[idx] + batch.len[idx];
  if (end > pend) end = pend;
  if (related) {
    rewriteIcmpError(d, l3, l4, end, v6, k, 0, tgt, 0);
  } else {
    rewriteToTuple(d, l3, l4, end, v6, (k[K_META] >>> 16) & 0xff, tgt, 0);
  }
  if (v6 === 0) {
    key[o + FK_NW_SRC] = rd32(d, l3 + 12);
    key[o + FK_NW_DST] = rd32(d, l3 + 16);
  } else {
    for (let i = 0; i < 4; i++) {
      key[o + FK_IPV6_SRC + i] = rd32(d, l3 + 8 + i * 4);
      key[o + FK_IPV6_DST + i] = rd32(d, l3 + 24 + i * 4);
    }
  }
  if (!related && l4 >= 0 && tupleHasPorts((k[K_META] >>> 16) & 0xff)) {
    key[o + FK_TP_SRC] = rd16(d, l4);
    key[o + FK_TP_DST] = rd16(d, l4 + 2);
  }
  let cs = 0;
  if ((nf & NF_SRC) !== 0) cs |= reply ? CS_DST_NAT : CS_SRC_NAT;
  if ((nf & NF_DST) !== 0) cs |= reply ? CS_SRC_NAT : CS_DST_NAT;
  return cs;
}

