// The ct() hook the datapath calls (Datapath.conntrack), and the one
// adapter onto a conntrack table used by the main thread and every PMD
// thread. Kept apart from datapath.ts, which re-exports both.

import type { Conntrack } from '../conntrack/conntrack.ts';
import { offloadBegin, offloadCredit, offloadEnd, offloadHit } from '../conntrack/offload.ts';
import type { PacketBatch } from '../packet/batch.ts';
import type { Ipf } from '../conntrack/ipf.ts';
import type { DpCtAction } from './dp-actions.ts';
import type { OffloadConntrack } from './flowtable.ts';

export interface ConntrackHook extends Partial<OffloadConntrack> {
  /** Run packet idx of batch through conntrack; sets ct_* key words; may set batch.dropped[idx]. */
  execute(batch: PacketBatch, idx: number, key: Uint32Array, keyOfs: number, action: DpCtAction, nowMs: number): void;
  /** The batch is done (conntrack may keep a lock from one packet to the next within a batch). */
  endBatch?(): void;
  /** This thread's fragment reassembly, which ct() runs first for a fragment. */
  readonly ipf?: Ipf;
}

/** The ct() hook onto a conntrack table: the one adapter for the main thread and every PMD thread. */
export function conntrackHook(ct: Conntrack): ConntrackHook {
  return {
    execute(batch: PacketBatch, idx: number, key: Uint32Array, keyOfs: number, a: DpCtAction, nowMs: number) {
      ct.executeInBatch(batch, idx, key, keyOfs, a.exec, nowMs);
    },
    endBatch: () => ct.endBatch(),
    ipf: ct.ipf,
    // The offload hooks lock records themselves: first let go of what the batch kept.
    offloadBegin: (r, id, st) => (ct.endBatch(), offloadBegin(ct.table, r, id, st)),
    offloadHit: (r, id, reply, len, now, st, d, l4, l4Len) => (ct.endBatch(), offloadHit(ct.table, r, id, reply, len, now, st, d, l4, l4Len)),
    offloadCredit: (r, id, reply, packets, bytes, now, segs, nSegs) => (ct.endBatch(), offloadCredit(ct.table, r, id, reply, packets, bytes, now, segs, nSegs)),
    offloadEnd: (r, id) => (ct.endBatch(), offloadEnd(ct.table, r, id)),
  };
}
