// The conntrack lock words (src/conntrack/lock.ts) and the per-thread count
// of lock waits that `swctl pmd-stats-show` shows.

import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { lockWaits, lockWord, tryLockWord, unlockWord } from '../../src/conntrack/lock.ts';

function startWorker(sab: SharedArrayBuffer): Worker {
  const url = new URL('./lock-worker.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url)}); })`;
  return new Worker(boot, { eval: true, workerData: { sab } });
}

describe('conntrack lock words', () => {
  it('a free lock is taken and given back without counting a wait', () => {
    const m = new Int32Array(new SharedArrayBuffer(8));
    const before = { ...lockWaits };
    for (let i = 0; i < 100; i++) {
      lockWord(m, 0);
      expect(m[0]).toBe(1);
      expect(tryLockWord(m, 0)).toBe(false);
      unlockWord(m, 0);
      expect(m[0]).toBe(0);
    }
    expect(lockWaits).toEqual(before);
  });

  it('a thread that finds the lock held counts the wait, sleeps until it is let go, and times the sleep', async () => {
    const sab = new SharedArrayBuffer(8);
    const m = new Int32Array(sab);
    lockWord(m, 0); // held by the test
    const w = startWorker(sab);
    const report = new Promise<typeof lockWaits>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    // Wait until the worker is in lockWord and has announced itself (2: held with a waiter).
    const t0 = performance.now();
    while (Atomics.load(m, 0) !== 2) {
      expect(performance.now() - t0, 'the worker never waited for the lock').toBeLessThan(20_000);
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 30));
    unlockWord(m, 0);
    const r = await report;
    await w.terminate();
    expect(r.contended).toBe(1);
    expect(r.slept).toBe(1);
    // It slept at least the 30 ms the lock was held after it began to wait, and not longer than the whole hold.
    expect(r.sleptUs).toBeGreaterThanOrEqual(25_000);
    expect(r.sleptUs).toBeLessThanOrEqual((performance.now() - t0 + 1) * 1000);
    expect(m[0]).toBe(0);
  });
});
