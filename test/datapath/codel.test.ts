// CoDel on a receive ring (src/datapath/rx/codel.ts): a queue that stands
// above the target for a whole interval loses a bulk frame, then more
// often while it stands, and nothing once it drains; a burst shorter than
// the interval, or a queue that empties, loses nothing.

import { describe, expect, it } from 'vitest';
import { CODEL_INTERVAL_US, CODEL_TARGET_US, RxCodel } from '../../src/datapath/rx/codel.ts';

/** Dequeue one frame every `stepUs` from `fromUs` for `forUs`, each having waited `sojournUs`; the times of the drops. */
function run(c: RxCodel, fromUs: number, forUs: number, stepUs: number, sojournUs: number, more = true): number[] {
  const drops: number[] = [];
  for (let t = fromUs; t < fromUs + forUs; t += stepUs) if (c.onDequeue(t, sojournUs, more)) drops.push(t);
  return drops;
}

describe('RxCodel', () => {
  it('drops nothing while frames wait less than the target', () => {
    const c = new RxCodel();
    expect(run(c, 1e6, 100 * CODEL_INTERVAL_US, 5, CODEL_TARGET_US - 1)).toEqual([]);
    expect(c.drops).toBe(0);
  });

  it('lets a burst shorter than the interval through', () => {
    const c = new RxCodel();
    expect(run(c, 1e6, CODEL_INTERVAL_US - 10, 5, 10 * CODEL_TARGET_US)).toEqual([]);
    expect(run(c, 1e6 + CODEL_INTERVAL_US, 10 * CODEL_INTERVAL_US, 5, 0)).toEqual([]);
  });

  it('drops nothing when no frame waits behind (the queue is one frame)', () => {
    const c = new RxCodel();
    expect(run(c, 1e6, 20 * CODEL_INTERVAL_US, 5, 10 * CODEL_TARGET_US, false)).toEqual([]);
  });

  it('drops once a queue has stood for an interval, then faster, and stops when it drains', () => {
    const c = new RxCodel();
    const start = 1e6;
    const drops = run(c, start, 20 * CODEL_INTERVAL_US, 5, 3 * CODEL_TARGET_US);
    // The first drop comes one interval after the queue began to stand.
    expect(drops[0]! - start).toBeGreaterThanOrEqual(CODEL_INTERVAL_US);
    expect(drops[0]! - start).toBeLessThan(CODEL_INTERVAL_US + 10);
    // The gaps between drops shrink as interval / sqrt(count).
    const gaps = drops.slice(1).map((t, i) => t - drops[i]!);
    expect(gaps.length).toBeGreaterThan(10);
    expect(gaps[gaps.length - 1]!).toBeLessThan(gaps[0]!);
    expect(c.drops).toBe(drops.length);
    // Drained: no more drops.
    expect(run(c, start + 20 * CODEL_INTERVAL_US, 20 * CODEL_INTERVAL_US, 5, CODEL_TARGET_US / 2)).toEqual([]);
  });
});
