// The PMD thread's idle sleep (src/datapath/pmd/idle-pace.ts): short ticks
// for a while after traffic, the long idle sleep once the window has passed.

import { describe, expect, it } from 'vitest';
import { IDLE_POLL_MS, IdlePace, PUBLISH_IDLE_MS, WARM_WINDOW_MS } from '../../src/datapath/pmd/idle-pace.ts';

describe('IdlePace', () => {
  it('sleeps the long idle sleep before any packet', () => {
    const p = new IdlePace(1000, 1);
    expect(p.timeoutMs(5_000, false)).toBe(IDLE_POLL_MS);
    expect(p.timeoutMs(5_000, true)).toBe(PUBLISH_IDLE_MS);
  });

  it('ticks within the window after the last packet, and stops ticking when it has passed', () => {
    const p = new IdlePace(1000, 1);
    p.sawPackets(10_000);
    expect(p.timeoutMs(10_000, false)).toBe(1);
    expect(p.timeoutMs(10_999, true)).toBe(1);
    expect(p.timeoutMs(11_000, false)).toBe(IDLE_POLL_MS);
    expect(p.timeoutMs(11_000, true)).toBe(PUBLISH_IDLE_MS);
    p.sawPackets(11_500); // traffic again: the window starts over
    expect(p.timeoutMs(12_000, false)).toBe(1);
  });

  it('never sleeps longer than the counters may wait', () => {
    const p = new IdlePace(1000, 50);
    p.sawPackets(0);
    expect(p.timeoutMs(1, false)).toBe(50);
    expect(p.timeoutMs(1, true)).toBe(PUBLISH_IDLE_MS);
  });

  it('is on for 200 ms after the last packet by default (SWD_PMD_WARM_MS unset)', () => {
    if (process.env.SWD_PMD_WARM_MS !== undefined) return;
    expect(WARM_WINDOW_MS).toBe(200);
    const p = new IdlePace();
    p.sawPackets(0);
    expect(p.timeoutMs(0, false)).toBe(1);
    expect(p.tick(199)).toBe(true);
    expect(p.tick(200)).toBe(false);
    expect(p.timeoutMs(200, false)).toBe(IDLE_POLL_MS);
  });

  it('a timed-out poll is a tick with a synthetic echo only within the window, and only when asked to send one', () => {
    const p = new IdlePace(1000, 1, true);
    expect(p.tick(0)).toBe(false); // no packet yet
    p.sawPackets(5_000);
    expect(p.tick(5_500)).toBe(true);
    expect(p.tick(6_000)).toBe(false);
    const loopOnly = new IdlePace(1000, 1, false);
    loopOnly.sawPackets(0);
    expect(loopOnly.tick(1)).toBe(false);
    expect(loopOnly.timeoutMs(1, false)).toBe(1); // it still wakes every tick
    const noTick = new IdlePace(1000, 0, true);
    noTick.sawPackets(0);
    expect(noTick.tick(1)).toBe(false);
  });

  it('a window or a tick of 0 turns the ticks off', () => {
    const off = new IdlePace(0, 1);
    off.sawPackets(0);
    expect(off.timeoutMs(0, false)).toBe(IDLE_POLL_MS);
    const noTick = new IdlePace(1000, 0);
    noTick.sawPackets(0);
    expect(noTick.timeoutMs(0, false)).toBe(IDLE_POLL_MS);
  });
});
