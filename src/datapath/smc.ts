// The signature-match cache (SMC) of the datapath flow cache (emc.ts), as
// OVS's dpif-netdev has it: megaflows named by slot (MegaflowCache.flows)
// under a 16-bit signature of the key's hash, four to a bucket. An entry is
// used only when the slot still holds a megaflow and the key matches it
// under its mask — a slot emptied or reused since is at worst a miss, never
// a wrong answer. Off by default (swd start --smc).
//
// Single-threaded, as the FlowCache that owns it.

import { xorshift32 } from '../packet/hash.ts';
import { megaflowMatches, type Megaflow, type MegaflowCache } from './megaflow.ts';

/** SMC entries (OVS: SMC_ENTRIES), four to a bucket. */
export const SMC_ENTRIES = 1 << 20;
const SMC_WAYS = 4;
const SMC_BUCKET_MASK = SMC_ENTRIES / SMC_WAYS - 1;

export class SignatureMatchCache {
  readonly sigs = new Uint16Array(SMC_ENTRIES);
  /** Megaflow slot + 1; 0 = empty. */
  readonly slots = new Int32Array(SMC_ENTRIES);
  private rng: number;

  constructor(seed = (Math.random() * 0xffffffff) | 1) {
    this.rng = seed | 1;
  }

  lookup(keys: Uint32Array, ofs: number, h: number, flows: (Megaflow | null)[]): Megaflow | null {
    const b = (h & SMC_BUCKET_MASK) * SMC_WAYS;
    const sig = h >>> 16;
    for (let j = b; j < b + SMC_WAYS; j++) {
      if (this.sigs[j] !== sig) continue;
      const s = this.slots[j] - 1;
      if (s < 0 || s >= flows.length) continue;
      const mf = flows[s];
      if (mf !== null && megaflowMatches(mf, keys, ofs)) return mf;
    }
    return null;
  }

  /**
   * As lookup(), as the slot + 1 of the megaflow (0: none), comparing the
   * key with the slot's record (mf-records.ts) where it holds the whole
   * masked key: a hit then reads the line it credits, not the megaflow
   * object and its key (two more misses at 100,000 megaflows).
   */
  lookupSlot(keys: Uint32Array, ofs: number, h: number, mc: MegaflowCache): number {
    const b = (h & SMC_BUCKET_MASK) * SMC_WAYS;
    const sig = h >>> 16;
    for (let j = b; j < b + SMC_WAYS; j++) {
      if (this.sigs[j] !== sig) continue;
      const s = this.slots[j] - 1;
      // slotGen 0: the slot is empty (its subtable id is then stale).
      if (s < 0 || s >= mc.flows.length || mc.slotGen[s] === 0) continue;
      const st = mc.subtableById[mc.slotSubtable[s]]!;
      if (st.inRecord ? st.matchesRecord(keys, ofs, s) : megaflowMatches(mc.flows[s]!, keys, ofs)) return s + 1;
    }
    return 0;
  }

  /** As OVS's smc_insert: over the entry with the same signature, else a free one, else a random one of the bucket. */
  insert(h: number, mf: Megaflow): void {
    const b = (h & SMC_BUCKET_MASK) * SMC_WAYS;
    const sig = h >>> 16;
    const slot = mf.index + 1;
    for (let j = b; j < b + SMC_WAYS; j++) {
      if (this.sigs[j] === sig && this.slots[j] !== 0) {
        this.slots[j] = slot;
        return;
      }
    }
    for (let j = b; j < b + SMC_WAYS; j++) {
      if (this.slots[j] === 0) {
        this.sigs[j] = sig;
        this.slots[j] = slot;
        return;
      }
    }
    this.rng = xorshift32(this.rng);
    const j = b + (this.rng & (SMC_WAYS - 1));
    this.sigs[j] = sig;
    this.slots[j] = slot;
  }

  clear(): void {
    this.slots.fill(0);
  }
}

