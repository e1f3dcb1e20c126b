// Lock words in shared memory, taken with Atomics: a spin on
// compareExchange, then a futex-style Atomics.wait (0 = free, 1 = held,
// 2 = held with waiters). Node lets the main thread wait too. Locks are not
// re-entrant; who takes which lock in which order is stated in table.ts.

const SPINS = 64;

export function lockWord(m: Int32Array, i: number): void {
  if (Atomics.compareExchange(m, i, 0, 1) === 0) return;
  for (let n = 0; n < SPINS; n++) {
    if (Atomics.load(m, i) === 0 && Atomics.compareExchange(m, i, 0, 1) === 0) return;
  }
  // Announce a waiter (2) and sleep until the holder notifies.
  while (Atomics.exchange(m, i, 2) !== 0) Atomics.wait(m, i, 2, 10);
}

export function unlockWord(m: Int32Array, i: number): void {
  if (Atomics.exchange(m, i, 0) === 2) Atomics.notify(m, i, 1);
}

/** Take the lock only if it is free right now (never waits). */
export function tryLockWord(m: Int32Array, i: number): boolean {
  return Atomics.compareExchange(m, i, 0, 1) === 0;
}
