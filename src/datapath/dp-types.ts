// What the datapath (datapath.ts) and its owner exchange: the upcall that
// translates a miss, revalidation, and the datapath's counters.

import type { PacketBatch } from '../packet/batch.ts';
import type { DpAction } from './dp-actions.ts';

export interface UpcallResult {
  actions: DpAction[];
  mask: Uint32Array;
  /** Opaque to the datapath; stored in the megaflow (e.g. the rules to credit). */
  owner?: unknown;
  /** Translation failed: drop the packet and install nothing. */
  error?: string | null;
}

/**
 * Translate a miss. `key` is a private copy; `len` the packet's length (for
 * rule stats). A miss on the fast path also passes the packet (`batch`,
 * `idx`) and its recirculation depth: an owner that translates elsewhere
 * (a PMD thread) may copy the packet and return UPCALL_QUEUED, then give it
 * back to processResumed once the megaflow is installed. Revalidation has
 * its own function (Revalidate).
 */
export type Upcall = (key: Uint32Array, len: number, batch?: PacketBatch, idx?: number, depth?: number) => UpcallResult | null;

/** What an Upcall returns when it took the packet to finish later (not a drop). */
export const UPCALL_QUEUED: UpcallResult = Object.freeze({ actions: [], mask: new Uint32Array(0), error: null }) as UpcallResult;

/** Translate an installed megaflow's key again, without side effects (revalidation). */
export type Revalidate = (key: Uint32Array) => UpcallResult | null;

export interface DatapathStats {
  /** Lookups answered from a cache: emcHit + smcHit + megaflow (classifier) hits. */
  hit: number;
  emcHit: number;
  smcHit: number;
  /** Packets recirculated (each pass after the first). */
  recirc: number;
  missed: number;
  lost: number;
  /** Packets dropped by a datapath action list (explicit drop). */
  dropped: number;
  recircTooDeep: number;
  ctUnavailable: number;
  controller: number;
}
