// Conntrack events (src/conntrack/event-ring.ts, event-format.ts): what the
// packet path, flushes and the expiry sweep post, in conntrack -E's words;
// nothing posted without a listener; a full ring drops and counts instead
// of waiting; events from another thread arrive in the same reader.

import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { Harness } from './helpers.ts';
import { Conntrack } from '../../src/conntrack/conntrack.ts';
import { decodeEvent } from '../../src/conntrack/event-format.ts';
import { EV_EXP_NEW, EV_RING_SLOTS } from '../../src/conntrack/event-ring.ts';
import { REC_WORDS, R_KEY_ORIG, KEY_WORDS, K_PORTS } from '../../src/conntrack/layout.ts';

function drainLines(h: Harness): string[] {
  const lines: string[] = [];
  h.ct.events.drain((t, rec, f64, r, tm) => lines.push(decodeEvent(t, rec, f64, r, tm, h.now).line));
  return lines;
}

const SYN = { proto: 6, sport: 34567, dport: 80, flags: 'S', seq: 100 };
const SYNACK = { proto: 6, sport: 80, dport: 34567, flags: 'SA', seq: 500, ack: 101 };
const ACK = { proto: 6, sport: 34567, dport: 80, flags: 'A', seq: 101, ack: 501 };
const TUPLES = 'src=10.1.1.1 dst=10.1.1.2 sport=34567 dport=80 src=10.1.1.2 dst=10.1.1.1 sport=80 dport=34567';

describe('conntrack events', () => {
  it('a TCP handshake, a UDP and an ICMP exchange, and a flush, as conntrack -E prints them', () => {
    const h = new Harness();
    h.ct.events.addListener();
    h.send('10.1.1.1', '10.1.1.2', SYN, { zone: 1 });
    h.send('10.1.1.2', '10.1.1.1', SYNACK, { zone: 1 });
    h.send('10.1.1.1', '10.1.1.2', ACK, { zone: 1 });
    h.send('10.1.1.1', '10.1.1.2', ACK, { zone: 1 }); // no change: no event
    h.send('10.1.1.1', '10.1.1.3', { proto: 17, sport: 5000, dport: 53 });
    h.send('10.1.1.3', '10.1.1.1', { proto: 17, sport: 53, dport: 5000 });
    h.send('10.1.1.1', '10.1.1.3', { proto: 1, type: 8, id: 7 });
    h.send('10.1.1.3', '10.1.1.1', { proto: 1, type: 0, id: 7 });
    expect(drainLines(h)).toEqual([
      '    [NEW] tcp      6 30 SYN_SENT src=10.1.1.1 dst=10.1.1.2 sport=34567 dport=80 [UNREPLIED] src=10.1.1.2 dst=10.1.1.1 sport=80 dport=34567 zone=1',
      ` [UPDATE] tcp      6 30 ESTABLISHED ${TUPLES} [ASSURED] zone=1`,
      ` [UPDATE] tcp      6 86400 ESTABLISHED ${TUPLES} [ASSURED] zone=1`,
      '    [NEW] udp      17 60 src=10.1.1.1 dst=10.1.1.3 sport=5000 dport=53 [UNREPLIED] src=10.1.1.3 dst=10.1.1.1 sport=53 dport=5000',
      ' [UPDATE] udp      17 30 src=10.1.1.1 dst=10.1.1.3 sport=5000 dport=53 src=10.1.1.3 dst=10.1.1.1 sport=53 dport=5000',
      '    [NEW] icmp     1 60 src=10.1.1.1 dst=10.1.1.3 type=8 code=0 id=7 [UNREPLIED] src=10.1.1.3 dst=10.1.1.1 type=0 code=0 id=7',
      ' [UPDATE] icmp     1 30 src=10.1.1.1 dst=10.1.1.3 type=8 code=0 id=7 src=10.1.1.3 dst=10.1.1.1 type=0 code=0 id=7',
    ]);
    h.ct.flush({ zone: 1 });
    expect(drainLines(h)).toEqual([`[DESTROY] tcp      6 ${TUPLES} [ASSURED] zone=1`]);
  });

  it('the expiry sweep posts DESTROY; a mark set by ct(commit) is an UPDATE', () => {
    const h = new Harness();
    h.ct.events.addListener();
    h.send('10.1.1.1', '10.1.1.2', SYN);
    h.send('10.1.1.1', '10.1.1.2', { ...SYN }, { mark: { value: 5, mask: 0xffffffff } });
    expect(drainLines(h)).toEqual([
      '    [NEW] tcp      6 30 SYN_SENT src=10.1.1.1 dst=10.1.1.2 sport=34567 dport=80 [UNREPLIED] src=10.1.1.2 dst=10.1.1.1 sport=80 dport=34567',
      ' [UPDATE] tcp      6 30 SYN_SENT src=10.1.1.1 dst=10.1.1.2 sport=34567 dport=80 [UNREPLIED] src=10.1.1.2 dst=10.1.1.1 sport=80 dport=34567 mark=5',
    ]);
    h.now += 31_000;
    expect(h.ct.sweep(h.now, 4096)).toBe(1);
    expect(drainLines(h)).toEqual([
      '[DESTROY] tcp      6 src=10.1.1.1 dst=10.1.1.2 sport=34567 dport=80 [UNREPLIED] src=10.1.1.2 dst=10.1.1.1 sport=80 dport=34567 mark=5',
    ]);
  });

  it('posts nothing while nobody listens, and forgets what came before a listener', () => {
    const h = new Harness();
    h.send('10.1.1.1', '10.1.1.2', SYN);
    expect(h.ct.events.counters().posted).toBe(0);
    h.ct.events.addListener();
    h.ct.events.removeListener();
    h.send('10.1.1.1', '10.1.1.2', { ...SYN, sport: 1 });
    expect(h.ct.events.counters().posted).toBe(0);
    h.ct.events.addListener();
    h.send('10.1.1.1', '10.1.1.2', { ...SYN, sport: 2 });
    expect(drainLines(h)).toHaveLength(1);
  });

  it('a full ring drops and counts events, and the packets are tracked as usual', () => {
    const h = new Harness(Conntrack.create({ capacity: EV_RING_SLOTS * 2 }));
    h.ct.events.addListener();
    const n = EV_RING_SLOTS + 100;
    for (let i = 0; i < n; i++) {
      expect(h.send('10.1.1.1', '10.1.1.2', { proto: 17, sport: 1 + (i >> 8), dport: 1 + (i & 0xff) })).toBe('+trk+new');
    }
    expect(h.ct.nconns()).toBe(n);
    expect(h.ct.events.counters()).toEqual({ posted: EV_RING_SLOTS, lost: 100 });
    expect(h.ct.events.takeLost()).toBe(100);
    expect(h.ct.events.takeLost()).toBe(0);
    expect(drainLines(h)).toHaveLength(EV_RING_SLOTS);
    // Room again after the drain.
    h.send('10.1.1.1', '10.1.1.9', { proto: 17, sport: 1, dport: 1 });
    expect(drainLines(h)).toHaveLength(1);
  });

  it('the expectation hook: a helper posts an expectation with its master connection', () => {
    const h = new Harness();
    h.ct.events.addListener();
    h.send('10.1.1.1', '10.1.1.2', { proto: 6, sport: 40000, dport: 21, flags: 'S', seq: 1 }, { zone: 3 });
    drainLines(h);
    const exp = new Int32Array(KEY_WORDS);
    const t = h.ct.table;
    let r = -1;
    for (let i = 0; i < t.highWater(); i++) if (t.isInUse(i)) r = i;
    for (let i = 0; i < KEY_WORDS; i++) exp[i] = t.rec[r * REC_WORDS + R_KEY_ORIG + i];
    exp[K_PORTS] = (0 << 16) | 41234; // any source port, data port 41234
    h.ct.events.postExpectation(EV_EXP_NEW, t.rec, r, exp, 0, 77, h.now + 300_000, h.now);
    expect(drainLines(h)).toEqual([
      '    [NEW] 300 proto=6 src=10.1.1.1 dst=10.1.1.2 sport=0 dport=41234 mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 master-src=10.1.1.1 master-dst=10.1.1.2 sport=40000 dport=21 zone=3',
    ]);
  });

  it('events posted by another thread reach the reader', async () => {
    const ct = Conntrack.create({ capacity: 4096 });
    ct.events.addListener();
    // Register tsx inside the worker (as concurrency.test.ts does).
    const url = new URL('./events-worker.ts', import.meta.url).href;
    const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url)}); })`;
    const w = new Worker(boot, { eval: true, workerData: ct.shared() });
    const done = await new Promise<number>((res, rej) => { w.once('message', res); w.once('error', rej); });
    expect(done).toBe(50);
    const lines: string[] = [];
    ct.events.drain((t, rec, f64, r, tm) => lines.push(decodeEvent(t, rec, f64, r, tm, 0).line));
    expect(lines).toHaveLength(50);
    expect(lines.every((l) => l.startsWith('    [NEW] udp      17 60 src=10.9.0.1 dst=10.9.0.2 '))).toBe(true);
    await w.terminate();
  });
});
