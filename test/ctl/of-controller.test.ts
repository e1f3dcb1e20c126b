// rconn's timing (OVS lib/rconn.c) on a clock the test moves: connection
// attempts to a port nobody listens on back off 1, 2, 4, 8, 8 … seconds
// (max_backoff 8 s), and the fail-open decision of a standalone bridge
// (3 × the probe interval without an admitted controller, at least 1 s).

import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ActiveController, DEFAULT_SETTINGS, type Controller } from '../../src/ctl/of-controller.ts';
import type { OfBridge } from '../../src/ctl/of-bridge.ts';
import { FailOpen } from '../../src/ctl/of-failmode.ts';
import { parseTarget } from '../../src/ctl/of-target.ts';

const lines: string[] = [];
const log = { info: (_o: object, m: string) => lines.push(m), warn: (_o: object, m: string) => lines.push(m), error: (_o: object, m: string) => lines.push(m), debug: () => {} };

async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function until(fn: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !fn(); i++) await new Promise((r) => setTimeout(r, 25));
  if (!fn()) throw new Error('condition never held');
}

describe('rconn backoff', () => {
  it('waits 1, 2, 4, 8, 8 seconds between refused attempts and logs as OVS does', async () => {
    let now = 1_000_000;
    const port = await deadPort();
    lines.length = 0;
    const c = new ActiveController(parseTarget(`tcp:127.0.0.1:${port}`, '/tmp'), DEFAULT_SETTINGS, () => ({ name: 'br0' }) as OfBridge, log, () => {}, () => now);
    const waits: number[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        await until(() => c.state === 'BACKOFF');
        const s = c.status(now);
        waits.push(s.backoffSec);
        expect(s).toMatchObject({ isConnected: false, attempts: i + 1, lastError: 'ECONNREFUSED' });
        // Not before its time…
        now += s.backoffSec * 1000 - 1;
        c.run(now);
        expect(c.state).toBe('BACKOFF');
        // …then another attempt.
        now += 1;
        c.run(now);
        expect(c.state).toBe('CONNECTING');
      }
    } finally {
      c.close();
    }
    expect(waits).toEqual([1, 2, 4, 8, 8]);
    const name = `br0<->tcp:127.0.0.1:${port}`;
    expect(lines.slice(0, 4)).toEqual([`${name}: connecting...`, `${name}: connection failed (ECONNREFUSED)`, `${name}: connecting...`, `${name}: connection failed (ECONNREFUSED)`]);
    expect(lines).toContain(`${name}: waiting 2 seconds before reconnect`);
    expect(lines).toContain(`${name}: continuing to retry connections in the background but suppressing further logging`);
  });
});

describe('fail-open', () => {
  const ctl = (probe: number, admitted: boolean, lastAdmitted: number) =>
    ({ target: { text: 'tcp:1.2.3.4', kind: 'tcp' }, settings: { inactivityProbeMs: probe, maxBackoffMs: 8000 }, admitted, lastAdmitted }) as unknown as Controller;

  it('opens after 3 probe intervals (and 1 s) without an admitted controller, flushing once; recovers when one is admitted', () => {
    let flushed = 0;
    const fo = new FailOpen('br0', log, () => flushed++);
    expect(fo.run(14_999, 'standalone', [ctl(5000, false, 0)])).toBe(false);
    expect(fo.run(15_000, 'standalone', [ctl(5000, false, 0)])).toBe(true);
    expect(fo.run(16_000, 'standalone', [ctl(5000, false, 0)])).toBe(true);
    expect(flushed).toBe(1);
    // The longest probe interval of the controllers counts; one admitted controller is enough.
    expect(fo.run(17_000, 'standalone', [ctl(5000, false, 0), ctl(5000, true, 17_000)])).toBe(false);
    expect(fo.run(17_000 + 900, 'standalone', [ctl(100, false, 17_000)])).toBe(false);
    expect(fo.run(17_000 + 1000, 'standalone', [ctl(100, false, 17_000)])).toBe(true);
    expect(fo.run(30_000, 'standalone', [ctl(100, false, 17_000), ctl(6000, false, 17_000)])).toBe(true);
    expect(flushed).toBe(2);
  });

  it('never opens in secure mode, nor for a bridge with only listeners', () => {
    const fo = new FailOpen('br0', log, () => {
      throw new Error('flushed');
    });
    expect(fo.run(1e9, 'secure', [ctl(100, false, 0)])).toBe(false);
    const listener = { ...ctl(100, false, 0), target: { text: 'ptcp:6653', kind: 'ptcp' } } as Controller;
    expect(fo.run(1e9, 'standalone', [listener])).toBe(false);
  });
});
