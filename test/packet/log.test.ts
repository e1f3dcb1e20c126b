// The rate limit for per-packet log messages: a burst goes through, the
// rest is counted, and the next message that gets through is preceded by
// "N similar messages suppressed"; a limit that went quiet reports its
// count on the next flush. Messages go to this thread's sink.

import { afterEach, describe, expect, it } from 'vitest';
import { flushAllSuppressed, RateLimit, RateLimitedLog, setLogSink, suppressedText } from '../../src/packet/log.ts';

const got: string[] = [];
setLogSink((module, level, fields, msg) => got.push(`${module} ${level} ${JSON.stringify(fields)} ${msg}`));
afterEach(() => {
  got.length = 0;
});

describe('rate-limited log messages', () => {
  it('a token bucket: the burst at once, then perMinute a minute', () => {
    const rl = new RateLimit(60, 3); // one a second, three at once
    const t = 1_000_000;
    expect([0, 1, 2, 3, 4].map(() => rl.enter(t))).toEqual([true, true, true, false, false]);
    expect(rl.suppressed).toBe(2);
    expect(rl.enter(t + 500)).toBe(false);
    expect(rl.enter(t + 1000)).toBe(true); // 1 s: one token back
    expect(rl.enter(t + 1000)).toBe(false);
    expect(rl.takeSuppressed(t + 4000)).toEqual({ count: 4, seconds: 4 });
    expect(rl.suppressed).toBe(0);
    expect([rl.enter(t + 60_000), rl.enter(t + 60_000), rl.enter(t + 60_000), rl.enter(t + 60_000)]).toEqual([true, true, true, false]);
  });

  it('the message after suppressed ones carries their count first', () => {
    const w = new RateLimitedLog('conntrack', 'warn', 60, 2);
    const t = 5_000;
    for (let i = 0; i < 10; i++) if (w.enter(t)) w.emit({ zone: i }, `zone ${i}: full`, t);
    expect(got).toEqual(['conntrack warn {"zone":0} zone 0: full', 'conntrack warn {"zone":1} zone 1: full']);
    got.length = 0;
    if (w.enter(t + 2000)) w.emit({ zone: 7 }, 'zone 7: full', t + 2000);
    expect(got).toEqual([
      'conntrack warn {"suppressed":8} 8 similar messages suppressed in the last 2 s',
      'conntrack warn {"zone":7} zone 7: full',
    ]);
    expect(suppressedText(1, 0)).toBe('1 similar message suppressed in the last 0 s');
  });

  it('flushAllSuppressed reports a limit that has held messages back long enough, once', () => {
    const w = new RateLimitedLog('pmd', 'error', 1, 1);
    w.enter(0);
    for (let i = 0; i < 5; i++) w.enter(100);
    flushAllSuppressed(5_000); // not yet 10 s
    expect(got).toEqual([]);
    flushAllSuppressed(10_100);
    expect(got).toEqual(['pmd error {"suppressed":5} 5 similar messages suppressed in the last 10 s']);
    flushAllSuppressed(30_000);
    expect(got).toHaveLength(1);
  });
});
