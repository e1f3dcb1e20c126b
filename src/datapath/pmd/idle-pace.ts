// How long a PMD thread sleeps in poll(2) when no port has work.
//
// A request that wakes the thread after 10 ms of quiet pays 3-5 times the
// reply's cost in every stage (the loop between poll(2) and the read, the
// read, the lookup, conntrack — the rx trace, bench/e2e/probe.ts), while
// the reply, right after, runs warm: the caches and TLBs filled with other
// work meanwhile. Keep-warm ticks (SWD_PMD_WARM_MS=N, for measurements; off
// by default): for N ms after the last packet the thread wakes every
// WARM_TICK_MS, runs its loop once and sleeps again. Measured (probe.ts, 2
// shared cores, pings 10 ms apart) they make the loop between poll(2) and
// the read 3-4 us instead of 9-18 with the trace on, but the round trip
// without the trace did not get shorter (4 rounds: 0.159-0.197 ms against
// 0.135-0.179 without), and the thread's CPU during the pings doubled
// (0.02 -> 0.045 cores; a 1 s window with a packet a second never stops
// ticking). Outside the window it sleeps IDLE_POLL_MS at a time.
//
// The publish PUBLISH_IDLE_MS after the last packet wakes the thread (and,
// through the flow counters it posts, the main thread) once per idle ping.
// Publishing less often (SWD_PMD_PUBLISH_IDLE_MS=20: every PUSH_INTERVAL_MS
// while pings come 10 ms apart) took swd's CPU during the pings from 0.18
// to 0.14 cores, and with V8's default interrupt budget as well
// (SWD_PMD_INTERRUPT_BUDGET=0, warm-up.ts) to 0.09, but the round trip got
// longer (probe.ts, 2 rounds of 300 pings, load 2-3: p50 0.58 ms; 0.60-0.66;
// 0.71-0.85), so the default stays.
//
// One instance per thread; not shared.

/** Idle sleep bound: control messages also kick the eventfd, so this only paces housekeeping. */
export const IDLE_POLL_MS = 100;
/** Counters are published this long after the last packet (and every PUSH_INTERVAL_MS under load); SWD_PMD_PUBLISH_IDLE_MS for measurements. */
export const PUBLISH_IDLE_MS = envMs('SWD_PMD_PUBLISH_IDLE_MS', 2) || 2;
/** The sleep between two keep-warm ticks. */
export const WARM_TICK_MS = envMs('SWD_PMD_WARM_TICK_MS', 1); // for measurements
/** Keep-warm window after the last packet (SWD_PMD_WARM_MS). */
export const WARM_WINDOW_MS = envMs('SWD_PMD_WARM_MS', 0);

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
