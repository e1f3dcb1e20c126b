// The conntrack sweep's pace (src/datapath/ct-sweep.ts): a slab one step
// covers is swept every SMALL_SWEEP_INTERVAL_MS, a larger one in steps of
// SWEEP_INTERVAL_MS that visit it whole in about 20 s; and a switch's
// connections still expire through the timer-driven sweep.

import { describe, expect, it } from 'vitest';
import { SMALL_SWEEP_INTERVAL_MS, SWEEP_INTERVAL_MS, sweepBudget, sweepIntervalMs } from '../../src/datapath/ct-sweep.ts';

describe('conntrack sweep pace', () => {
  it('sweeps a small slab whole every 100 ms and a large one in 10 ms steps', () => {
    expect(SWEEP_INTERVAL_MS).toBe(10);
    expect(SMALL_SWEEP_INTERVAL_MS).toBe(100);
    expect(sweepIntervalMs(0)).toBe(100);
    expect(sweepIntervalMs(1024)).toBe(100);
    expect(sweepIntervalMs(1025)).toBe(10);
    expect(sweepIntervalMs(3_000_000)).toBe(10);
  });

  it('visits a large slab whole in about 20 s of steps', () => {
    for (const hw of [10_000, 2_048_000, 3_000_000]) {
      const steps = Math.ceil(hw / sweepBudget(hw));
      const seconds = (steps * sweepIntervalMs(hw)) / 1000;
      expect(seconds).toBeGreaterThan(0.09);
      expect(seconds).toBeLessThanOrEqual(20);
    }
    expect(sweepBudget(100)).toBe(1024);
    expect(sweepBudget(4_000_000)).toBe(2000);
  });
});
