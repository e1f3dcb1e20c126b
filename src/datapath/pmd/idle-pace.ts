// How long a PMD thread sleeps in poll(2) when no port has work.
//
// A request that wakes the thread after 10 ms of quiet pays 3-5 times the
// reply's cost in every stage (the loop between poll(2) and the read, the
// read, the lookup, conntrack, even the kernel's send: the rx trace,
// bench/e2e/probe.ts). It is not this code: on this VM any process that
// sleeps 10 ms finds its caches cold (a clock read 5 us instead of 0.5,
// 64 cache lines 7.5 us instead of 0.3), and a JavaScript packet path
// touches far more lines than OVS's C. So, keep-warm ticks: for
// WARM_WINDOW_MS after the last packet (SWD_PMD_WARM_MS, default 200; 0:
// off) the thread wakes every WARM_TICK_MS, sends one synthetic echo and
// its reply through its private datapath (self-warm.ts keepWarm: the same
// classes, so the same compiled code, none of the switch's state), looks
// at its rings and sleeps again. Measured (probe.ts, 3 interleaved rounds,
// pings 10 ms apart through seed 001's ACL): idle p50 0.27 ms against 0.39-
// 0.44 without and OVS's 0.31-0.39; the loop alone, without the echo
// (SWD_PMD_WARM_PING=0), 0.34-0.38. The cost is the ticks' CPU while the
// window is open: a tick takes 24 us warm and 60 us after its 1 ms sleep,
// 0.14 cores in all (keepWarm() in a loop with 1 ms sleeps). Hence a
// short window: packets further apart than WARM_WINDOW_MS find the caches
// cold, as before, and a switch with no traffic is back to sleeping
// IDLE_POLL_MS at a time 200 ms after its last packet.
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
export const WARM_TICK_MS = envMs('SWD_PMD_WARM_TICK_MS', 1); // for measurements (2 ms: idle p50 0.26-0.33 ms against 0.22-0.29)
/** Keep-warm window after the last packet (SWD_PMD_WARM_MS). */
export const WARM_WINDOW_MS = envMs('SWD_PMD_WARM_MS', 200);
/** A keep-warm tick also sends a synthetic echo through the thread's private datapath (SWD_PMD_WARM_PING=0: the loop alone). */
const WARM_PING = process.env.SWD_PMD_WARM_PING !== '0';

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
    readonly ping = WARM_PING,
  ) {}

  /** The thread forwarded packets at `nowMs`. */
  sawPackets(nowMs: number): void {
    this.lastPacketMs = nowMs;
  }

  /** The poll(2) timeout for a thread with nothing to read (`dirty`: counters to publish soon). */
  timeoutMs(nowMs: number, dirty: boolean): number {
    if (this.inWindow(nowMs)) return Math.min(this.tickMs, dirty ? PUBLISH_IDLE_MS : IDLE_POLL_MS);
    return dirty ? PUBLISH_IDLE_MS : IDLE_POLL_MS;
  }

  /** A poll(2) that timed out at `nowMs` was a keep-warm tick (run one synthetic packet, self-warm.ts keepWarm). */
  tick(nowMs: number): boolean {
    return this.ping && this.inWindow(nowMs);
  }

  /** Ticks are on and the last packet is less than the window ago. */
  private inWindow(nowMs: number): boolean {
    return this.tickMs > 0 && nowMs - this.lastPacketMs < this.windowMs;
  }
}
