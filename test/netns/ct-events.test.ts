// swctl ct-events with real traffic: two namespaces on system ports of a
// swd with two PMD threads (each port's packets handled by one of them), a
// stateful zone, and ping: the stream shows the connection made by one
// thread, answered through the other, and destroyed by a flush.

import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fresh, systemBridge } from './fresh.ts';
import { requireRoot, runSync } from './topology.ts';

const SWCTL = join(resolve(import.meta.dirname, '../..'), 'bin/swctl.js');
const skip = requireRoot() ?? (runSync(['sh', '-c', 'command -v ping']).code === 0 ? null : 'needs ping');
if (skip === 'needs ping' && process.env.CI === 'true') throw new Error('needs ping: CI must not skip real-traffic tests');

const UDP_ECHO = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', int(sys.argv[1])))
while True:
    d, a = s.recvfrom(2048)
    s.sendto(d, a)
`;
const UDP_CLIENT = `
import socket, sys
n = 0
for i in range(int(sys.argv[3])):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('0.0.0.0', 41000 + i))
    s.settimeout(2)
    for attempt in range(3):
        s.sendto(b'x', (sys.argv[1], int(sys.argv[2])))
        try:
            s.recvfrom(100)
            n += 1
            break
        except socket.timeout:
            pass
    s.close()
print(n, 'answered')
`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!!skip)(`ct-events with real traffic${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('UDP through ct(commit,zone=3) with --pmd-threads 2: NEW and UPDATE from both threads, DESTROY on flush', async () => {
    const { topo, swd } = fresh();
    const ns1 = topo.addNamespace('e1');
    const ns2 = topo.addNamespace('e2');
    const p1 = topo.plug(ns1, 'e1', '10.78.0.1/24');
    const p2 = topo.plug(ns2, 'e2', '10.78.0.2/24');
    await swd.start(['--no-default-bridge', '--pmd-threads', '2']);
    systemBridge(swd, [p1.host, p2.host], [
      'arp,actions=normal',
      'in_port=1,ip,actions=ct(commit,zone=3),2',
      'in_port=2,ip,actions=ct(commit,zone=3),1',
    ]);
    // Both ports read (the PMD threads compile their code first).
    let up = false;
    for (let i = 0; i < 120 && !up; i++) up = topo.execSync(ns1, ['ping', '-c', '1', '-W', '1', '10.78.0.2'], { timeoutMs: 5000 }).code === 0;
    expect(up).toBe(true);
    swd.ok(['flush-conntrack']);

    const child = spawn(process.execPath, [SWCTL, '--socket', swd.socket, 'ct-events', 'zone=3'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d.toString()));
    const jchild = spawn(process.execPath, [SWCTL, '--socket', swd.socket, 'ct-events', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let jout = '';
    jchild.stdout!.on('data', (d) => (jout += d.toString()));
    try {
      // Subscribed once a probe connection shows up.
      for (let i = 0; i < 100 && !(out.includes('[NEW]') && jout.includes('"NEW"')); i++) {
        topo.execSync(ns1, ['ping', '-c', '1', '-W', '1', '-p', 'ff', '10.78.0.2'], { timeoutMs: 5000 });
        await sleep(100);
      }
      expect(out).toContain('[NEW]');
      swd.ok(['flush-conntrack']);
      for (let i = 0; i < 100 && !out.includes('[DESTROY]'); i++) await sleep(50);
      out = '';
      jout = '';

      // 16 UDP exchanges from different source ports (the PMD threads share
      // the ports by a symmetric flow hash, so both threads see some).
      const echo = topo.spawn(ns2, ['python3', '-c', UDP_ECHO, '7000']);
      void echo;
      await sleep(300);
      const r = topo.execSync(ns1, ['python3', '-c', UDP_CLIENT, '10.78.0.2', '7000', '16'], { timeoutMs: 30000 });
      expect(r.stdout.trim()).toBe('16 answered');
      const lines = () => out.split('\n').filter((l) => l.length > 0);
      for (let i = 0; i < 100 && lines().length < 32; i++) await sleep(50);
      const got = lines();
      const news = got.filter((l) => l.startsWith('    [NEW] '));
      const upds = got.filter((l) => l.startsWith(' [UPDATE] '));
      const ports = (ls: string[]) => ls.map((l) => Number(/sport=(\d+) dport=7000/.exec(l)![1])).sort((a, b) => a - b);
      expect(ports(news)).toEqual([...Array(16).keys()].map((i) => 41000 + i));
      expect(ports(upds)).toEqual(ports(news));
      expect(got).toHaveLength(32);
      expect(news[0]).toMatch(/^ {4}\[NEW\] udp {6}17 60 src=10\.78\.0\.1 dst=10\.78\.0\.2 sport=(\d+) dport=7000 \[UNREPLIED\] src=10\.78\.0\.2 dst=10\.78\.0\.1 sport=7000 dport=\1 zone=3$/);
      expect(upds[0]).toMatch(/^ \[UPDATE\] udp {6}17 30 src=10\.78\.0\.1 dst=10\.78\.0\.2 sport=(\d+) dport=7000 src=10\.78\.0\.2 dst=10\.78\.0\.1 sport=7000 dport=\1 zone=3$/);
      swd.ok(['flush-conntrack', 'zone=3']);
      for (let i = 0; i < 100 && lines().length < 48; i++) await sleep(50);
      const destroys = lines().slice(32);
      expect(ports(destroys)).toEqual(ports(news));
      expect(destroys.every((l) => l.startsWith('[DESTROY] udp      17 src=10.78.0.1 '))).toBe(true);

      // Both PMD threads posted events: each thread has its own ring (0 is the main thread's).
      const jnew = jout.split('\n').filter((l) => l.includes('"type":"NEW"')).map((l) => JSON.parse(l));
      expect(jnew.filter((o) => o.zone === 3)).toHaveLength(16);
      expect(new Set(jnew.map((o) => o.ring)).size).toBe(2);
      expect(jnew.every((o) => o.ring > 0)).toBe(true);
      // Both PMD threads handled packets.
      const received = swd.ok(['pmd-stats-show']).filter((l) => l.startsWith('  packets received: ')).map((l) => Number(l.split(': ')[1]));
      expect(received.slice(0, 2).every((n) => n > 0)).toBe(true);
    } finally {
      child.kill('SIGKILL');
      jchild.kill('SIGKILL');
    }
  }, 120_000);
});
