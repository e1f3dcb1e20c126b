// How long a PMD thread sleeps in poll(2) when no port has work.
//
// Sleeping long lets the CPU's caches and TLBs fill with other work: a
// request that wakes the thread after 10 ms of quiet paid 3-5 times the
// reply's cost in every stage (the loop between poll(2) and the read, the
// read, the lookup, conntrack — the rx trace, bench/e2e/probe.ts), while
// the reply, right after, ran warm. So for a while after the last packet
// (SWD_PMD_WARM_MS, 1 s by default; 0 turns it off) the thread wakes every
// WARM_TICK_MS, runs its loop once and sleeps again, which keeps the loop's
// code and data warm for the next request at a cost of a few microseconds
// per tick; after that window it sleeps IDLE_POLL_MS at a time, so an idle
// switch still burns nothing to speak of.
//
// One instance per thread; not shared.

/** Idle sleep bound: control messages also kick the eventfd, so this only paces housekeeping. */
export const IDLE_POLL_MS = 100;
/** Counters are published this long after the last packet (and every PUSH_INTERVAL_MS under load). */
export const PUBLISH_IDLE_MS = 2;
/** The sleep between two keep-warm ticks. */
export const WARM_TICK_MS = envMs('SWD_PMD_WARM_TICK_MS', 1); // for measurements
/** Keep-warm window after the last packet (SWD_PMD_WARM_MS). */
export const WARM_WINDOW_MS = envMs('SWD_PMD_WARM_MS', 1000);

function envMs(name: string, dflt: number): number {
  const v = Number(process.env[name] ?? dflt);
  return Number.isFinite(v) && v >= 0 ? v : dflt;
}

/** One PMD thread's idle sleep: the keep-warm window after its last packet. */
export class IdlePace {
  private lastPacketMs = -Infinity;

  constructor(
    readonly windowMs = WARM_WINDOW_MS,
    readonly tickMs = WARM_TICK_MS,
  ) {}

  /** The thread forwarded packets at `nowMs`. */
  sawPackets(nowMs: number): void {
    this.lastPacketMs = nowMs;
  }

  /** The poll(2) timeout for a thread with nothing to read (`dirty`: counters to publish soon). */
  timeoutMs(nowMs: number, dirty: boolean): number {
    if (this.tickMs > 0 && nowMs - this.lastPacketMs < this.windowMs) return Math.min(this.tickMs, dirty ? PUBLISH_IDLE_MS : IDLE_POLL_MS);
    return dirty ? PUBLISH_IDLE_MS : IDLE_POLL_MS;
  }
}
