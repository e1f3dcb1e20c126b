// CoDel (RFC 8289) on a system port's receive ring: the ring is the queue
// in front of swd, and a TCP stream that outruns the thread keeps it
// standing full (TCP grows its window until something drops, and the ring
// drops only when all of it is full) — every other packet, a ping, a
// handshake, an RPC, then waits behind a ring's worth of the stream's
// frames. CoDel keeps the deep ring for what it is for, a burst while the
// thread is descheduled, and sheds the standing queue: when packets have
// waited longer than TARGET for a whole INTERVAL, it drops one, and then
// more often (INTERVAL / sqrt(count)) until the wait falls below TARGET.
// The wait is exact: the kernel stamps each frame when it writes it
// (tp_sec/tp_nsec, CLOCK_REALTIME).
//
// Only bulk frames are dropped (longer than SMALL_FRAME): a queue is built
// by bulk data, dropping a 64-byte ACK, ping or SYN frees nothing and only
// hurts the sparse flows (fq_codel protects those the same way, by queueing
// them apart). So a flood of small packets is unaffected, as before (the
// ring overflows and the kernel counts the drops).
//
// SWD_RX_CODEL=0 in the environment turns it off (for old/new measurements).
// One instance per ring; single-threaded.

import { realtimeUs } from '../native/native.ts';

/** Sojourn time above which a queue counts as standing, µs. */
export const CODEL_TARGET_US = Number(process.env.SWD_RX_CODEL_TARGET_US ?? 200);
/** How long it must stand before the first drop (about a round trip), µs. */
export const CODEL_INTERVAL_US = Number(process.env.SWD_RX_CODEL_INTERVAL_US ?? 2000);
/** Frames up to this long (bytes on the wire) are never dropped. */
export const SMALL_FRAME = 256;
export const CODEL_ON = process.env.SWD_RX_CODEL !== '0';

export class RxCodel {
  /** When the sojourn time first stayed above target (+ interval), 0 when below. */
  private firstAboveUs = 0;
  private dropping = false;
  private count = 0;
  private lastCount = 0;
  private dropNextUs = 0;
  /** Frames dropped by CoDel. */
  drops = 0;

  /**
   * One bulk frame leaving the ring after `sojournUs` in it, at `nowUs`;
   * `more`: frames are waiting behind it. True: drop it.
   */
  onDequeue(nowUs: number, sojournUs: number, more: boolean): boolean {
    let ok = false;
    if (sojournUs < CODEL_TARGET_US || !more) this.firstAboveUs = 0;
    else if (this.firstAboveUs === 0) this.firstAboveUs = nowUs + CODEL_INTERVAL_US;
    else ok = nowUs >= this.firstAboveUs;
    if (this.dropping) {
      if (!ok) {
        this.dropping = false;
        return false;
      }
      if (nowUs < this.dropNextUs) return false;
      this.count++;
      this.dropNextUs = controlLaw(this.dropNextUs, this.count);
      this.drops++;
      return true;
    }
    if (!ok) return false;
    this.dropping = true;
    // Back in the dropping state soon after leaving it: resume near the old rate.
    const delta = this.count - this.lastCount;
    this.count = delta > 1 && nowUs - this.dropNextUs < 16 * CODEL_INTERVAL_US ? delta : 1;
    this.dropNextUs = controlLaw(nowUs, this.count);
    this.lastCount = this.count;
    this.drops++;
    return true;
  }
}

function controlLaw(t: number, count: number): number {
  return t + CODEL_INTERVAL_US / Math.sqrt(count);
}

let offsetUs = 0;
let calibratedMs = -Infinity;

/**
 * Now on the ring's clock (CLOCK_REALTIME, µs) without a system call:
 * performance.now() plus an offset re-read from the kernel every second
 * (so that a clock step or NTP slew is followed within a second).
 */
export function ringClockUs(): number {
  const t = performance.now();
  if (t - calibratedMs > 1000) {
    calibratedMs = t;
    offsetUs = realtimeUs() - t * 1000;
  }
  return t * 1000 + offsetUs;
}
