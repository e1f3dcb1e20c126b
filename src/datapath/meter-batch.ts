// Meters applied per batch, as OVS's dpif-netdev applies a meter to the
// packets of one flow in a received batch at once (dp_netdev_run_meter):
// once a batch's megaflows are looked up together (Datapath.lookupAndRun),
// the packets of each megaflow whose actions start
// with a meter (after only set actions, which change neither the length nor
// the fate of a packet) go through that meter together — one lock and one
// refill of the shared bucket per megaflow and batch (meter.ts runBatch, with
// exactly the per-packet outcome and counters). Each packet then runs its
// actions as before, taking its verdict at that meter action.
//
// Only for batches fresh from a port (depth 0) that offloads nothing (a
// flowtable hit skips the megaflow, so its packet must not be charged);
// recirculated and resumed packets meet meters one at a time.
// Per thread (one per Datapath), no allocation per packet.

import { BATCH_MAX, type PacketBatch } from '../packet/batch.ts';
import { FK_NW_FRAG, FK_WORDS, FRAG_ANY } from '../packet/flow-key.ts';
import { DPA_METER, DPA_SET, DPA_SET_PKT_MARK, type DpAction } from './dp-actions.ts';
import type { MeterTable } from './meter.ts';

/** Index of the meter action a batch may charge: the first action, or one after set actions only; -1 for none. */
function leadingMeter(actions: DpAction[]): number {
  for (let a = 0; a < actions.length; a++) {
    const t = actions[a].t;
    if (t === DPA_METER) return a;
    if (t !== DPA_SET && t !== DPA_SET_PKT_MARK) return -1;
  }
  return -1;
}

export class MeterBatch {
  private cap = BATCH_MAX;
  /** Packet i's megaflow slot + 1 (lookupAndRun's lookup), 0 when it meets its meters one at a time. */
  private slot = new Int32Array(BATCH_MAX);
  /** The meter action object packet i's verdict is for (null: none). */
  private act: (DpAction | null)[] = new Array(BATCH_MAX).fill(null);
  private pass = new Uint8Array(BATCH_MAX);
  private idx = new Int32Array(BATCH_MAX);

  private grow(n: number): void {
    // Slow path: a batch larger than any before (a bench's or a test's).
    this.cap = n;
    this.slot = new Int32Array(n);
    this.act = new Array(n).fill(null);
    this.pass = new Uint8Array(n);
    this.idx = new Int32Array(n);
  }

  /**
   * Batch `b`'s megaflows were looked up (`slots`: slot + 1 per packet, 0 a
   * miss; the slots' actions in `actionsBySlot`): run the meters their
   * actions start with, one run per megaflow. Nothing is done (and every
   * packet meets its meters one at a time) unless some megaflow of the batch
   * is metered.
   */
  prepare(b: PacketBatch, slots: Int32Array, actionsBySlot: DpAction[][], meters: MeterTable, nowMs: number): void {
    const n = b.count;
    if (n > this.cap) this.grow(n);
    const keys = b.keys;
    let metered = 0;
    for (let i = 0; i < n; i++) {
      this.act[i] = null;
      const s = slots[i];
      // Fragments meet the reassembly first (ipf.ts): metered one at a time when they get there.
      this.slot[i] = (keys[i * FK_WORDS + FK_NW_FRAG] & FRAG_ANY) !== 0 ? 0 : s;
      if (this.slot[i] !== 0 && leadingMeter(actionsBySlot[s - 1]) >= 0) metered++;
    }
    if (metered === 0) return;
    for (let i = 0; i < n; i++) {
      const s = this.slot[i];
      if (s === 0 || this.act[i] !== null) continue;
      const actions = actionsBySlot[s - 1];
      const at = leadingMeter(actions);
      if (at < 0) continue;
      const act = actions[at];
      if (act.t !== DPA_METER) continue;
      // This megaflow's packets of the batch, in order.
      let k = 0;
      for (let j = i; j < n; j++) {
        if (this.slot[j] === s) {
          this.idx[k++] = j;
          this.act[j] = act;
        }
      }
      meters.runBatch(act.id, b.len, this.idx, k, nowMs, this.pass);
    }
  }

  /** Packet i reached meter action `act`: 1 it passes, 0 the batch's run dropped it, -1 it was not charged (run it now). */
  verdict(i: number, act: DpAction): number {
    if (i >= this.cap || this.act[i] !== act) return -1;
    this.act[i] = null;
    return this.pass[i];
  }

  /** The batch is over: no verdict outlives it. */
  end(n: number): void {
    for (let i = 0; i < n && i < this.cap; i++) {
      this.act[i] = null;
      this.slot[i] = 0;
    }
  }
}
