// The datapath flow cache in front of the megaflow classifier, as OVS's
// dpif-netdev has it (lib/dpif-netdev-private-dfc.h): an exact-match cache
// (EMC) of recently seen flows by their key's hash, and a signature-match cache (SMC) that
// names megaflows by slot with a 16-bit signature of the key's hash. A
// lookup tries the EMC, then the SMC, then the tuple-space search
// (megaflow.ts); what the search finds is entered into the caches so the
// next packet of the flow skips it.
//
// What must stay true: a cache never answers with a megaflow that the
// classifier would no longer have.
// - EMC entries name the megaflow by slot and the slot's generation
//   (MegaflowCache.slotGen: new for each megaflow that takes the slot, 0
//   once it leaves by revalidation, del-dp-flows, idle expiry or a flush),
//   with the key's hash and the megaflow's masked key words. An entry is
//   used only when hash and generation are equal and the key matches those
//   words under the mask: the condition under which the classifier returns
//   that megaflow. (OVS compares the whole miniflow; in V8 the 73-word
//   compare cost more than the classifier, 0.69x measured.)
// - SMC entries hold a megaflow slot (MegaflowCache.flows) and are used only
//   when the slot still holds a megaflow and the key matches it under its
//   mask — a slot emptied or reused since is at worst a miss, never a
//   wrong answer.
// - A megaflow whose actions revalidation rewrote in place is the same
//   object: the caches see the new actions at once.
// Entries are inserted into the EMC with probability 1/emcInsertInvProb
// (OVS's other_config:emc-insert-inv-prob, default 100), so a flood of new
// flows does not evict the flows that carry the traffic; 0 turns the EMC
// off (no lookups either), 1 inserts every time.
//
// Single-threaded: each Datapath (the main thread's, each PMD thread's) has
// its own, like each OVS PMD thread.

import { FK_ETH_DST_LO, FK_ETH_SRC_LO, FK_ETH_TYPE, FK_IN_PORT, FK_CT_STATE, FK_IPV6_DST, FK_IPV6_SRC, FK_NW_DST, FK_NW_PROTO,
  FK_NW_SRC, FK_RECIRC_ID, FK_TP_DST, FK_TP_SRC, FK_WORDS } from '../packet/flow-key.ts';
import { BATCH_MAX } from '../packet/batch.ts';
import { hashFinish, hashMix } from '../packet/hash.ts';
import type { Megaflow, MegaflowCache } from './megaflow.ts';
import { SignatureMatchCache } from './smc.ts';
import { DEFAULT_EMC_INSERT_INV_PROB, ExactMatchCache } from './emc-table.ts';
export { SignatureMatchCache, SMC_ENTRIES } from './smc.ts';
export { DEFAULT_EMC_INSERT_INV_PROB, EMC_CELL_WORDS, EMC_ENTRIES, EMC_SHIFT, ExactMatchCache } from './emc-table.ts';

/**
 * Off by default, as OVS's other_config:smc-enable: measured in V8 it beat
 * the EMC alone only where the EMC was already as good (many subtables),
 * and cost up to 0.8x with 1,000 flows in one subtable (its slot and
 * bucket reads are more than the classifier's one Map lookup).
 */
export const DEFAULT_SMC_ENABLE = false;
/**
 * The adaptive bypass of FlowCache.lookupBatch (not in OVS): the EMC's hit
 * rate is measured over windows of EMC_PROBE_PACKETS lookups, and while it
 * is below 1/EMC_SKIP_BELOW_INV a batch skips the EMC lookups (each miss
 * costs a hash and two probes, more than the hits save, e.g. with far more
 * flows than entries). The skip lasts EMC_SKIP_MIN batches, doubling up to
 * EMC_SKIP_MAX while the probe in between finds the rate still low, so the
 * probes cost under 1 % and a change of traffic is seen within ~1,000
 * batches. Skipped lookups change only which stage answers, never the
 * answer: the classifier returns the same megaflow the EMC would have.
 */
export const EMC_PROBE_PACKETS = 256;
export const EMC_SKIP_BELOW_INV = 8;
export const EMC_SKIP_MIN = 16;
export const EMC_SKIP_MAX = 1024;

/** swd start --emc-insert-inv-prob / --smc; unset fields keep the defaults. */
export interface FlowCacheOptions {
  emcInsertInvProb?: number;
  smc?: boolean;
}

/** FlowCache.level after a lookup: which stage answered. */
export const LOOKUP_MISS = 0;
export const LOOKUP_EMC = 1;
export const LOOKUP_SMC = 2;
export const LOOKUP_MEGAFLOW = 3;

/**
 * The hash both caches index by: the words that tell flows apart (OVS uses
 * the packet's RSS hash the same way). Equal keys hash equal; what the
 * hash leaves out only costs collisions, never correctness.
 */
export function flowHash(keys: Uint32Array, o: number, seed: number): number {
  let h = seed;
  h = hashMix(h, keys[o + FK_RECIRC_ID]);
  h = hashMix(h, keys[o + FK_IN_PORT] ^ (keys[o + FK_CT_STATE] << 24));
  h = hashMix(h, keys[o + FK_NW_SRC]);
  h = hashMix(h, keys[o + FK_NW_DST]);
  h = hashMix(h, keys[o + FK_IPV6_SRC + 3]);
  h = hashMix(h, keys[o + FK_IPV6_DST + 3]);
  h = hashMix(h, keys[o + FK_NW_PROTO] | (keys[o + FK_ETH_TYPE] << 16));
  h = hashMix(h, (keys[o + FK_TP_SRC] << 16) | keys[o + FK_TP_DST]);
  h = hashMix(h, keys[o + FK_ETH_SRC_LO]);
  h = hashMix(h, keys[o + FK_ETH_DST_LO]);
  return hashFinish(h) | 0;
}

/**
 * The EMC and the SMC in front of one MegaflowCache, with the order of
 * lookups and inserts OVS's dfc_processing/fast_path_processing use.
 */
export class FlowCache {
  readonly emc: ExactMatchCache;
  /** Allocated when turned on (OVS's other_config:smc-enable; 6 MiB per thread). */
  smc: SignatureMatchCache | null = null;
  /** Which stage answered the last lookup (LOOKUP_*). */
  level = LOOKUP_MISS;
  private readonly seed: number;
  // lookupBatch's scratch: each packet's flow hash, and the packets the EMC and SMC missed.
  private readonly batchHash = new Int32Array(BATCH_MAX);
  private readonly batchMiss = new Int32Array(BATCH_MAX);
  /** Batches left whose EMC lookups are skipped (lookupBatch's adaptive bypass; see probed()). */
  emcSkip = 0;
  private emcSkipNext = EMC_SKIP_MIN;
  private probeLookups = 0;
  private probeHits = 0;
  /** Packets whose EMC lookup was skipped (the bench and tests). */
  emcSkipped = 0;
  private genEpoch = 0;

  constructor(readonly cache: MegaflowCache, emcInsertInvProb = DEFAULT_EMC_INSERT_INV_PROB, smc = DEFAULT_SMC_ENABLE, seed = (Math.random() * 0xffffffff) | 0) {
    this.seed = seed;
    this.emc = new ExactMatchCache(cache, emcInsertInvProb, seed ^ 0x5bd1e995);
    if (smc) this.smc = new SignatureMatchCache(seed ^ 0x1b873593);
  }

  /** Apply a configuration (PMD threads read theirs from shared memory); unchanged values cost nothing. */
  configure(emcInsertInvProb: number, smc: boolean): void {
    if (emcInsertInvProb !== this.emc.insertInvProb) {
      this.emc.insertInvProb = emcInsertInvProb;
      this.resetProbe();
    }
    if (smc !== (this.smc !== null)) this.smc = smc ? new SignatureMatchCache(this.seed ^ 0x1b873593) : null;
  }

  lookup(keys: Uint32Array, ofs: number): Megaflow | null {
    if (this.cache.genEpoch !== this.genEpoch) this.newEpoch();
    const emc = this.emc;
    const smc = this.smc;
    if (!emc.enabled && smc === null) {
      const mf = this.cache.lookup(keys, ofs);
      this.level = mf === null ? LOOKUP_MISS : LOOKUP_MEGAFLOW;
      return mf;
    }
    const h = flowHash(keys, ofs, this.seed);
    let mf: Megaflow | null;
    if (emc.enabled) {
      mf = emc.lookup(keys, ofs, h);
      if (mf !== null) {
        this.level = LOOKUP_EMC;
        return mf;
      }
    }
    if (smc !== null) {
      mf = smc.lookup(keys, ofs, h, this.cache.flows);
      if (mf !== null) {
        this.level = LOOKUP_SMC;
        emc.maybeInsert(keys, ofs, h, mf);
        return mf;
      }
    }
    mf = this.cache.lookup(keys, ofs);
    if (mf === null) {
      this.level = LOOKUP_MISS;
      return null;
    }
    this.level = LOOKUP_MEGAFLOW;
    emc.maybeInsert(keys, ofs, h, mf);
    if (smc !== null) smc.insert(h, mf);
    return mf;
  }

  /**
   * Look up the packets pkt[0..n) of a batch (indices into `keys`), each
   * stage for all of them before the next, as OVS's dfc_processing and
   * fast_path_processing: slots[p] is set to the slot + 1 of packet p's
   * megaflow (MegaflowCache.flows), or 0, and levels[p] to the stage that
   * answered (LOOKUP_*). What the classifier finds is entered into the
   * caches as lookup() does.
   */
  lookupBatch(keys: Uint32Array, pkt: Int32Array, n: number, slots: Int32Array, levels: Uint8Array): void {
    if (this.cache.genEpoch !== this.genEpoch) this.newEpoch();
    const emc = this.emc;
    const smc = this.smc;
    for (let j = 0; j < n; j++) slots[pkt[j]] = 0;
    let useEmc = emc.enabled;
    if (useEmc && this.emcSkip > 0) {
      this.emcSkip--;
      this.emcSkipped += n;
      useEmc = false;
    }
    if (!useEmc && smc === null) {
      this.cache.lookupBatch(keys, pkt, n, slots);
      if (emc.enabled) this.enterSkipped(keys, pkt, n, slots, levels);
      else for (let j = 0; j < n; j++) levels[pkt[j]] = slots[pkt[j]] === 0 ? LOOKUP_MISS : LOOKUP_MEGAFLOW;
      return;
    }
    const hs = this.batchHash, miss = this.batchMiss;
    let m = 0, hits = 0;
    for (let j = 0; j < n; j++) {
      const p = pkt[j];
      const o = p * FK_WORDS;
      const h = flowHash(keys, o, this.seed);
      hs[p] = h;
      const es = useEmc ? emc.lookupSlot(keys, o, h) : 0;
      if (es !== 0) {
        slots[p] = es;
        levels[p] = LOOKUP_EMC;
        hits++;
        continue;
      }
      if (smc !== null) {
        const ss = smc.lookupSlot(keys, o, h, this.cache);
        if (ss !== 0) {
          slots[p] = ss;
          levels[p] = LOOKUP_SMC;
          if (emc.draw()) emc.insertMatched(keys, o, h, ss - 1);
          continue;
        }
      }
      miss[m++] = p;
    }
    if (useEmc) this.probed(n, hits);
    if (m === 0) return;
    this.cache.lookupBatch(keys, miss, m, slots);
    const flows = this.cache.flows;
    for (let j = 0; j < m; j++) {
      const p = miss[j];
      const sl = slots[p];
      if (sl === 0) {
        levels[p] = LOOKUP_MISS;
        continue;
      }
      levels[p] = LOOKUP_MEGAFLOW;
      // The draw first: the megaflow is read only for the one miss in insertInvProb that is entered.
      if (emc.draw()) emc.insertMatched(keys, p * FK_WORDS, hs[p], sl - 1);
      if (smc !== null) smc.insert(hs[p], flows[sl - 1]!);
    }
  }

  /**
   * A batch whose EMC lookups were skipped: what the classifier found still
   * enters the EMC as it would have (hashed only when drawn), so the EMC
   * holds what it would hold and the next probe measures its real hit rate.
   */
  private enterSkipped(keys: Uint32Array, pkt: Int32Array, n: number, slots: Int32Array, levels: Uint8Array): void {
    const emc = this.emc;
    for (let j = 0; j < n; j++) {
      const p = pkt[j];
      const sl = slots[p];
      if (sl === 0) {
        levels[p] = LOOKUP_MISS;
        continue;
      }
      levels[p] = LOOKUP_MEGAFLOW;
      if (emc.draw()) {
        const o = p * FK_WORDS;
        emc.insertMatched(keys, o, flowHash(keys, o, this.seed), sl - 1);
      }
    }
  }

  /**
   * Count a batch's EMC lookups and hits; at the end of a probe window, a
   * hit rate below 1/EMC_SKIP_BELOW_INV skips the EMC lookups of the next
   * emcSkipNext batches (doubled each time the probe after finds it no
   * better, up to EMC_SKIP_MAX; back to EMC_SKIP_MIN when it is).
   */
  private probed(n: number, hits: number): void {
    this.probeLookups += n;
    this.probeHits += hits;
    if (this.probeLookups < EMC_PROBE_PACKETS) return;
    if (this.probeHits * EMC_SKIP_BELOW_INV < this.probeLookups) {
      this.emcSkip = this.emcSkipNext;
      this.emcSkipNext = Math.min(this.emcSkipNext * 2, EMC_SKIP_MAX);
    } else this.emcSkipNext = EMC_SKIP_MIN;
    this.probeLookups = 0;
    this.probeHits = 0;
  }

  /** The cache's slot generations started again from 1: an EMC cell could name a new megaflow by an old generation. */
  private newEpoch(): void {
    this.genEpoch = this.cache.genEpoch;
    this.emc.clear();
  }

  /** Forget what the probes measured (the EMC was emptied or reconfigured): the next batches probe afresh. */
  private resetProbe(): void {
    this.emcSkip = 0;
    this.emcSkipNext = EMC_SKIP_MIN;
    this.probeLookups = 0;
    this.probeHits = 0;
  }

  /** A miss was translated and `mf` installed for the key at `ofs`. */
  installed(keys: Uint32Array, ofs: number, mf: Megaflow): void {
    if (!this.emc.enabled && this.smc === null) return;
    const h = flowHash(keys, ofs, this.seed);
    this.emc.maybeInsert(keys, ofs, h, mf);
    this.smc?.insert(h, mf);
  }

  /** The megaflow cache was emptied: nothing here may outlive it (slots are renumbered). */
  clear(): void {
    this.emc.clear();
    this.smc?.clear();
    this.resetProbe();
  }

  /** Periodic: drop EMC references to removed megaflows. */
  sweep(): void {
    this.emc.sweep();
  }
}
