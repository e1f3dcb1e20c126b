// swctl ct-events against a real swd: connection events stream as
// conntrack -E prints them while packets go through ct(); zone=N filters;
// --json gives one object per line; a reader that stops reading never
// slows the datapath, and what it (or the rings) missed is counted in its
// stream, so that delivered + reported-lost is every event there was.

import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PcapWriter } from '../../src/packet/pcap.ts';
import { path, SwdInstance } from './harness.ts';

const SWCTL = join(resolve(import.meta.dirname, '../..'), 'bin/swctl.js');
const E12 = 'eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02)';
const E21 = 'eth(src=50:54:00:00:00:02,dst=50:54:00:00:00:01)';
const v4 = (src: string, dst: string, l4: string, proto: number) =>
  `eth_type(0x0800),ipv4(src=${src},dst=${dst},proto=${proto},tos=0,ttl=64,frag=no),${l4}`;

/** A running `swctl ct-events ...` and the lines it printed so far. */
class Stream {
  readonly child: ChildProcess;
  lines: string[] = [];
  private buf = '';
  constructor(socket: string, args: string[]) {
    this.child = spawn(process.execPath, [SWCTL, '--socket', socket, 'ct-events', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => {
      this.buf += d;
      const parts = this.buf.split('\n');
      this.buf = parts.pop()!;
      this.lines.push(...parts);
    });
  }
  async waitFor(pred: (lines: string[]) => boolean, what: string): Promise<void> {
    for (let i = 0; i < 300; i++) {
      if (pred(this.lines)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`ct-events: no ${what}; got ${JSON.stringify(this.lines.slice(-5))}`);
  }
  /** Interrupt it as a user would (Ctrl-C) and get its exit status. */
  async interrupt(): Promise<number | null> {
    const exited = new Promise<number | null>((r) => this.child.once('exit', (c) => r(c)));
    this.child.kill('SIGINT');
    return exited;
  }
}

describe('swctl ct-events', () => {
  const swd = new SwdInstance();
  const streams: Stream[] = [];
  const stream = (args: string[] = []) => {
    const s = new Stream(swd.socket, args);
    streams.push(s);
    return s;
  };

  beforeAll(async () => {
    await swd.start(['--no-default-bridge', '--max-idle', '600000']);
    swd.ok(['add-br', 'br0']);
    swd.ok(['add-port', 'br0', 'p1', 'ofport=1']);
    swd.ok(['add-port', 'br0', 'p2', 'ofport=2']);
    writeFileSync(path(swd, 'flows.txt'), [
      'in_port=1,udp,action=ct(commit,zone=1),2',
      'in_port=2,udp,action=ct(commit,zone=1),1',
      'in_port=1,tcp,action=ct(commit,zone=2),2',
      'in_port=2,tcp,action=ct(commit,zone=2),1',
      'in_port=3,udp,action=ct(commit,zone=5),2',
    ].join('\n'));
    swd.ok(['add-flows', 'br0', path(swd, 'flows.txt')]);
  }, 60_000);
  afterAll(async () => {
    for (const s of streams) s.child.kill('SIGKILL');
    await swd.dispose();
  });

  it('streams NEW, UPDATE and DESTROY lines; zone=2 only its zone; --json one object per line', async () => {
    const all = stream();
    const z2 = stream(['zone=2']);
    const json = stream(['--json']);
    // Wait until all three listen: probe connections until each has printed one.
    for (let probe = 1; !(all.lines.length && z2.lines.length && json.lines.length); probe++) {
      expect(probe).toBeLessThan(200);
      swd.ok(['inject', 'br0', 'p1', `in_port(1),${E12},${v4('10.9.9.9', '10.9.9.8', `tcp(src=${probe},dst=9),tcp_flags(syn)`, 6)}`]);
      await new Promise((r) => setTimeout(r, 100));
    }
    swd.ok(['flush-conntrack']);
    await all.waitFor((l) => l.some((x) => x.startsWith('[DESTROY]')), 'probe DESTROY');
    await z2.waitFor((l) => l.some((x) => x.startsWith('[DESTROY]')), 'probe DESTROY');
    await json.waitFor((l) => l.some((x) => x.includes('"DESTROY"')), 'probe DESTROY');
    await new Promise((r) => setTimeout(r, 200));
    for (const s of [all, z2, json]) s.lines = [];

    swd.ok(['inject', 'br0', 'p1', `in_port(1),${E12},${v4('10.1.1.1', '10.1.1.2', 'udp(src=1000,dst=53)', 17)}`]);
    swd.ok(['inject', 'br0', 'p2', `in_port(2),${E21},${v4('10.1.1.2', '10.1.1.1', 'udp(src=53,dst=1000)', 17)}`]);
    swd.ok(['inject', 'br0', 'p1', `in_port(1),${E12},${v4('10.1.1.1', '10.1.1.2', 'tcp(src=34567,dst=80),tcp_flags(syn)', 6)}`]);
    swd.ok(['flush-conntrack', 'zone=1']);
    const udp = 'src=10.1.1.1 dst=10.1.1.2 sport=1000 dport=53';
    const udpR = 'src=10.1.1.2 dst=10.1.1.1 sport=53 dport=1000';
    const tcp = 'src=10.1.1.1 dst=10.1.1.2 sport=34567 dport=80 [UNREPLIED] src=10.1.1.2 dst=10.1.1.1 sport=80 dport=34567';
    const expected = [
      `    [NEW] udp      17 60 ${udp} [UNREPLIED] ${udpR} zone=1`,
      ` [UPDATE] udp      17 30 ${udp} ${udpR} zone=1`,
      `    [NEW] tcp      6 30 SYN_SENT ${tcp} zone=2`,
      `[DESTROY] udp      17 ${udp} ${udpR} zone=1`,
    ];
    await all.waitFor((l) => l.length >= 4, 'four events');
    expect(all.lines).toEqual(expected);
    await z2.waitFor((l) => l.length >= 1, 'the zone 2 event');
    await json.waitFor((l) => l.length >= 4, 'four JSON events');
    const objs = json.lines.map((l) => JSON.parse(l));
    expect(objs.map((o) => [o.type, o.kind, o.zone, o.line])).toEqual([
      ['NEW', 'conn', 1, expected[0]], ['UPDATE', 'conn', 1, expected[1]], ['NEW', 'conn', 2, expected[2]], ['DESTROY', 'conn', 1, expected[3]],
    ]);
    expect(objs[2].conn).toMatchObject({ zone: 2, proto: 6, orig: { src: '10.1.1.1', dst: '10.1.1.2', sport: 34567, dport: 80 } });
    swd.ok(['flush-conntrack']);
    await z2.waitFor((l) => l.length >= 2, 'the zone 2 DESTROY');
    expect(z2.lines).toEqual([expected[2], `[DESTROY] tcp      6 ${tcp} zone=2`]);
    // Ctrl-C ends a stream quietly.
    for (const s of [all, z2, json]) expect(await s.interrupt()).toBe(0);
  }, 60_000);

  it('a stalled reader slows nothing; its missed events are counted in its stream', async () => {
    const N = 20_000;
    const w = new PcapWriter(path(swd, 'burst.pcap'));
    const f = new Uint8Array(14 + 20 + 8);
    f.set([0x50, 0x54, 0, 0, 0, 2, 0x50, 0x54, 0, 0, 0, 3, 0x08, 0x00]);
    f.set([0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 5, 0, 0, 10, 6, 0, 1], 14);
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += (f[14 + i] << 8) | f[15 + i];
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    f[24] = (~sum >> 8) & 0xff; f[25] = ~sum & 0xff;
    f.set([0, 0, 0, 53, 0, 8, 0, 0], 34);
    for (let i = 0; i < N; i++) {
      f[34] = (1024 + i) >> 8; f[35] = (1024 + i) & 0xff;
      w.write(f, 0, f.length);
    }
    w.close();

    // The stalled reader: subscribes, then never reads its socket.
    const stalled: Socket = connect(swd.socket);
    await new Promise<void>((r) => stalled.once('connect', () => r()));
    stalled.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ct-events', params: { zone: 5 } }) + '\n');
    let sbuf = '';
    await new Promise<void>((r) => stalled.once('data', (d) => { sbuf += d.toString(); r(); }));
    expect(JSON.parse(sbuf.split('\n')[0])).toEqual({ jsonrpc: '2.0', id: 1, result: { streaming: true, zone: 5 } });
    sbuf = sbuf.slice(sbuf.indexOf('\n') + 1);
    stalled.pause();
    const reader = stream(['zone=5', '--json']);
    await new Promise((r) => setTimeout(r, 500)); // give swctl time to subscribe (it is checked below by its counts)

    const txOf = () => Number(/tx pkts=(\d+),/.exec(swd.ok(['dump-ports', 'br0', 'p2'])[2])![1]);
    const tx0 = txOf();
    // The burst: a pcap port replays N new connections, then they are flushed.
    swd.ok(['add-port', 'br0', 'p3', 'ofport=3', 'type=pcap', `options:rx_pcap=${path(swd, 'burst.pcap')}`]);
    expect(swd.ok(['ct-get-nconns'])).toEqual([String(N)]);
    expect(txOf() - tx0).toBe(N); // every packet forwarded while the reader sleeps
    swd.ok(['flush-conntrack', 'zone=5']);
    expect(swd.ok(['ct-get-nconns'])).toEqual(['0']);

    const total = 2 * N;
    const account = (objs: { type: string; count?: number }[]) => {
      let events = 0;
      let lost = 0;
      for (const o of objs) {
        if (o.type === 'LOST') lost += o.count!;
        else events++;
      }
      return { events, lost };
    };
    await reader.waitFor((l) => { const a = account(l.map((x) => JSON.parse(x))); return a.events + a.lost >= total; }, 'every event delivered or counted lost');
    const ra = account(reader.lines.map((x) => JSON.parse(x)));
    expect(ra.events + ra.lost).toBe(total);

    // Now the stalled reader reads: what it gets plus what it is told it missed is everything.
    const objs: { type: string; count?: number; where?: string }[] = [];
    stalled.on('data', (d) => {
      sbuf += d.toString();
      const parts = sbuf.split('\n');
      sbuf = parts.pop()!;
      for (const p of parts) objs.push(JSON.parse(p).params);
    });
    stalled.resume();
    for (let i = 0; i < 400; i++) {
      const a = account(objs);
      if (a.events + a.lost >= total) break;
      if (i === 200) swd.ok(['ct-get-nconns']); // wakes nothing; just keeps the daemon busy meanwhile
      await new Promise((r) => setTimeout(r, 50));
    }
    const sa = account(objs);
    expect(sa.events + sa.lost).toBe(total);
    expect(objs.some((o) => o.type === 'LOST' && o.where === 'client')).toBe(true);
    expect(sa.events).toBeLessThan(ra.events + 1);
    stalled.destroy();
  }, 120_000);
});
