// The pace of the main thread's conntrack expiry (Dpif.sweepStep): how many
// slab slots a step visits and how long until the next step. A full pass
// over a large slab takes about 20 s in steps of SWEEP_INTERVAL_MS, each a
// few ms at most even with 3M connections. A slab that one step covers
// whole is swept every SMALL_SWEEP_INTERVAL_MS instead: at 10 ms those 100
// wake-ups a second were most of an idle swd's CPU (threads-cpu.ts, no
// traffic: the main thread 0.023 cores at 10 ms, 0.007 at 100 ms), and
// a connection is still removed within 0.1 s of its expiry.
//
// Pure functions; main thread only.

/** SWD_CT_SWEEP_MS overrides it, for measurements. */
export const SWEEP_INTERVAL_MS = Number(process.env.SWD_CT_SWEEP_MS ?? 10) || 10;
/** The step interval when one step visits the whole slab. */
export const SMALL_SWEEP_INTERVAL_MS = Math.max(SWEEP_INTERVAL_MS, 100);

/** Slots to visit per sweep step so that a full pass takes about 20 s. */
export function sweepBudget(highWater: number): number {
  return Math.max(1024, Math.ceil(highWater / 2000));
}

/** The time until the next sweep step, for a slab whose high-water mark is `highWater`. */
export function sweepIntervalMs(highWater: number): number {
  return highWater <= sweepBudget(highWater) ? SMALL_SWEEP_INTERVAL_MS : SWEEP_INTERVAL_MS;
}
