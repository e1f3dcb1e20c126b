// Logging from any layer and any thread, and rate limiting for messages a
// packet can cause (bad checksum, table full, NAT exhaustion, a malformed
// helper command), after OVS's VLOG_RATE_LIMIT_INIT: a token bucket of
// `perMinute` messages with a `burst`; what it holds back is counted, and
// the next message that gets through is preceded by one line saying how
// many similar ones were suppressed.
//
// This sits in the lowest layer so that conntrack and the datapath can use
// it without knowing about pino or threads. Each thread has its own copy of
// this module and so its own sink: the daemon's main thread points it at
// its module loggers (src/ctl/vlog.ts); a PMD worker points it at a message
// to the main thread (src/datapath/pmd/), which logs it there. A rate limit
// is per thread too, so the bucket is checked before anything is posted.
//
// Hot path: `rl.enter(nowMs)` allocates nothing; build the message's fields
// only when it returns true, then `emit()`.

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogSink = (module: string, level: LogLevel, fields: Record<string, unknown>, msg: string) => void;

let sink: LogSink = () => {};

/** Where this thread's log calls go (the daemon and each PMD worker set it once). */
export function setLogSink(s: LogSink): void {
  sink = s;
}

export function log(module: string, level: LogLevel, fields: Record<string, unknown>, msg: string): void {
  sink(module, level, fields, msg);
}

export class RateLimit {
  private tokens: number;
  private lastMs = -1;
  /** Messages held back since the last one that got through. */
  suppressed = 0;
  private firstSuppressedMs = 0;

  /** At most `perMinute` messages a minute on average, `burst` at once (OVS's default is 20 / minute, burst 20 for warnings). */
  constructor(readonly perMinute = 20, readonly burst = 20) {
    this.tokens = burst;
  }

  /** Whether a message may go out now; counts it as suppressed when not. */
  enter(nowMs: number): boolean {
    if (this.lastMs < 0) this.lastMs = nowMs;
    const refill = ((nowMs - this.lastMs) * this.perMinute) / 60_000;
    if (refill > 0) {
      this.tokens = Math.min(this.burst, this.tokens + refill);
      this.lastMs = nowMs;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    if (this.suppressed++ === 0) this.firstSuppressedMs = nowMs;
    return false;
  }

  /** When the current run of held-back messages began. */
  suppressedSinceMs(): number {
    return this.firstSuppressedMs;
  }

  /** The suppressed count (and reset it), with the seconds it spans. */
  takeSuppressed(nowMs: number): { count: number; seconds: number } {
    const r = { count: this.suppressed, seconds: Math.max(0, Math.round((nowMs - this.firstSuppressedMs) / 1000)) };
    this.suppressed = 0;
    return r;
  }
}

/** The line that reports held-back messages. */
export function suppressedText(count: number, seconds: number): string {
  return `${count} similar message${count === 1 ? '' : 's'} suppressed in the last ${seconds} s`;
}

/** Log a message that `rl.enter()` let through, after the count of those it held back. */
export function emit(rl: RateLimit, module: string, level: LogLevel, fields: Record<string, unknown>, msg: string, nowMs: number): void {
  if (rl.suppressed > 0) {
    const s = rl.takeSuppressed(nowMs);
    sink(module, level, { suppressed: s.count }, suppressedText(s.count, s.seconds));
  }
  sink(module, level, fields, msg);
}

/** Report what `rl` held back when no further message came to carry it (call now and then, e.g. from a tick). */
export function flushSuppressed(rl: RateLimit, module: string, level: LogLevel, nowMs: number): void {
  if (rl.suppressed === 0) return;
  const s = rl.takeSuppressed(nowMs);
  sink(module, level, { suppressed: s.count }, suppressedText(s.count, s.seconds));
}

const registered: RateLimitedLog[] = [];

/** A rate-limited message kind of one module, e.g. conntrack's NAT exhaustion
 *  warning. Registered with this thread, so that flushAllSuppressed() can
 *  report what it held back once things are quiet again. */
export class RateLimitedLog extends RateLimit {
  constructor(readonly module: string, readonly level: LogLevel = 'warn', perMinute = 20, burst = 20) {
    super(perMinute, burst);
    registered.push(this);
  }

  /** Log (fields, msg) if the limit lets it through; build them only then (see enter()). */
  emit(fields: Record<string, unknown>, msg: string, nowMs: number): void {
    emit(this, this.module, this.level, fields, msg, nowMs);
  }
}

/** Report the counts of every registered limit that has held messages back
 *  for at least `minAgeMs` (the daemon's tick and the PMD loop call this). */
export function flushAllSuppressed(nowMs: number, minAgeMs = 10_000): void {
  for (const r of registered) {
    if (r.suppressed > 0 && nowMs - r.suppressedSinceMs() >= minAgeMs) flushSuppressed(r, r.module, r.level, nowMs);
  }
}
