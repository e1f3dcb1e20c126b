// Meters applied per batch, as OVS's dpif-netdev applies a meter to the
// packets of one flow in a received batch at once (dp_netdev_run_meter):
// before a batch's packets are processed one by one, its megaflow lookups
// are done up front, and the packets of each megaflow whose actions start
// with a meter (after only set actions, which change neither the length nor
// the fate of a packet) go through that meter together — one lock and one
// refill of the shared bucket per megaflow and batch (meter.ts runBatch, with
// exactly the per-packet outcome and counters). Each packet then runs its
// actions as before, taking its verdict at that meter action.
//
// Only for batches fresh from a port (depth 0) and while no connection is
// offloaded (a flowtable hit skips the megaflow, so its packet must not be
// charged); recirculated and resumed packets meet meters one at a time.
// Per thread (one per Datapath), no allocation per packet.

import { BATCH_MAX, type PacketBatch } from '../packet/batch.ts';
import { FK_NW_FRAG, FK_WORDS, FRAG_ANY } from '../packet/flow-key.ts';
import { DPA_METER, DPA_SET, DPA_SET_PKT_MARK, type DpAction } from './dp-actions.ts';
import type { FlowCache } from './emc.ts';
import type { Megaflow } from './megaflow.ts';
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
  /** Batch number; a packet's pre-looked-up megaflow and verdict are for batch `epoch[i]` only. */
  private current = 0;
  private epoch = new Int32Array(BATCH_MAX);
  private mf: (Megaflow | null)[] = new Array(BATCH_MAX).fill(null);
  private level = new Uint8Array(BATCH_MAX);
  /** The meter action object packet i's verdict is for (null: none). */
  private act: (DpAction | null)[] = new Array(BATCH_MAX).fill(null);
  private pass = new Uint8Array(BATCH_MAX);
  private idx = new Int32Array(BATCH_MAX);

  private grow(n: number): void {
    // Slow path: a batch larger than any before (a bench's or a test's).
    this.cap = n;
    this.epoch = new Int32Array(n);
    this.mf = new Array(n).fill(null);
    this.level = new Uint8Array(n);
    this.act = new Array(n).fill(null);
    this.pass = new Uint8Array(n);
    this.idx = new Int32Array(n);
  }

  /**
   * Look up batch `b`'s megaflows and run the meters their actions start
   * with, one run per megaflow. Nothing is done (and every packet meets its
   * meters one at a time) unless some megaflow of the batch is metered.
   */
  prepare(b: PacketBatch, cache: FlowCache, meters: MeterTable, nowMs: number): void {
    const n = b.count;
    if (n > this.cap) this.grow(n);
    this.current = (this.current + 1) | 0;
    if (this.current === 0) this.current = 1;
    const cur = this.current;
    const keys = b.keys;
    let metered = 0;
    for (let i = 0; i < n; i++) {
      this.act[i] = null;
      // Fragments meet the reassembly first (ipf.ts): looked up when they get there.
      if ((keys[i * FK_WORDS + FK_NW_FRAG] & FRAG_ANY) !== 0) continue;
      const mf = cache.lookup(keys, i * FK_WORDS);
      this.epoch[i] = cur;
      this.mf[i] = mf;
      this.level[i] = cache.level;
      if (mf !== null && leadingMeter(mf.actions) >= 0) metered++;
    }
    if (metered === 0) return;
    for (let i = 0; i < n; i++) {
      const mf = this.mf[i];
      if (this.epoch[i] !== cur || mf === null || this.act[i] !== null) continue;
      const at = leadingMeter(mf.actions);
      if (at < 0) continue;
      const act = mf.actions[at];
      if (act.t !== DPA_METER) continue;
      // This megaflow's packets of the batch, in order.
      let k = 0;
      for (let j = i; j < n; j++) {
        if (this.epoch[j] === cur && this.mf[j] === mf) {
          this.idx[k++] = j;
          this.act[j] = act;
        }
      }
      meters.runBatch(act.id, b.len, this.idx, k, nowMs, this.pass);
    }
  }

  /** The megaflow prepare() found for packet i of the current batch (its lookup level in `levelOf`), or undefined: look it up. */
  megaflow(i: number): Megaflow | null | undefined {
    if (i >= this.cap || this.epoch[i] !== this.current) return undefined;
    this.epoch[i] = 0;
    return this.mf[i];
  }

  levelOf(i: number): number {
    return this.level[i];
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
      this.epoch[i] = 0;
    }
  }
}
