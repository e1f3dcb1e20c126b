// Lock words in shared memory, taken with Atomics: a spin on
// compareExchange, then a futex-style Atomics.wait (0 = free, 1 = held,
// 2 = held with waiters). Node lets the main thread wait too. Locks are not
// re-entrant; who takes which lock in which order is stated in table.ts.

const SPINS = 64;

/**
 * This thread's lock waits (module state, so per thread): takes that found
 * the lock held, those of them that had to sleep, and the time they slept
 * (µs). The free take costs nothing more; only a held lock is counted, and
 * only a sleep is timed. Shown by `swctl pmd-stats-show`.
 */
export const lockWaits = { contended: 0, slept: 0, sleptUs: 0 };

export function lockWord(m: Int32Array, i: number): void {
  if (Atomics.compareExchange(m, i, 0, 1) === 0) return;
  lockWaits.contended++;
  for (let n = 0; n < SPINS; n++) {
    if (Atomics.load(m, i) === 0 && Atomics.compareExchange(m, i, 0, 1) === 0) return;
  }
  // Announce a waiter (2) and sleep until the holder notifies.
  lockWaits.slept++;
  const t0 = performance.now();
  while (Atomics.exchange(m, i, 2) !== 0) Atomics.wait(m, i, 2, 10);
  lockWaits.sleptUs += (performance.now() - t0) * 1000;
}

export function unlockWord(m: Int32Array, i: number): void {
  if (Atomics.exchange(m, i, 0) === 2) Atomics.notify(m, i, 1);
}

/** Take the lock only if it is free right now (never waits). */
export function tryLockWord(m: Int32Array, i: number): boolean {
  return Atomics.compareExchange(m, i, 0, 1) === 0;
}
