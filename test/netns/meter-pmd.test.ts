// A meter shared by two PMD threads, with real traffic: two namespaces on
// system ports of a swd with --pmd-threads 2 (each port's packets spread
// over both threads by flow hash), UDP from 60 source ports through
// meter:1 (1 packet/s, burst 10). Both threads take from the one bucket, so
// what passes is the burst plus at most one packet per second of the run —
// never a burst per thread — and meter-stats counts every packet exactly.

import { describe, expect, it } from 'vitest';
import { fresh } from './fresh.ts';
import { requireRoot, runSync } from './topology.ts';

const skip = requireRoot() ?? (runSync(['sh', '-c', 'command -v ping']).code === 0 ? null : 'needs ping');
if (skip === 'needs ping' && process.env.CI === 'true') throw new Error('needs ping: CI must not skip real-traffic tests');

const COUNTER = `
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', int(sys.argv[1])))
print('ready', flush=True)
s.settimeout(float(sys.argv[2]))
n = 0
try:
    while True:
        s.recvfrom(2048)
        n += 1
except socket.timeout:
    pass
print(n, 'received', flush=True)
`;
const SENDER = `
import socket, sys
for i in range(int(sys.argv[3])):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('0.0.0.0', 42000 + i))
    s.sendto(b'm' * 50, (sys.argv[1], int(sys.argv[2])))
    s.close()
`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!!skip)(`a meter shared by PMD threads${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('--pmd-threads 2: one bucket for both threads; meter-stats counts every packet', async () => {
    const { topo, swd } = fresh();
    const ns1 = topo.addNamespace('m1');
    const ns2 = topo.addNamespace('m2');
    const p1 = topo.plug(ns1, 'm1', '10.79.0.1/24');
    const p2 = topo.plug(ns2, 'm2', '10.79.0.2/24');
    await swd.start(['--no-default-bridge', '--pmd-threads', '2']);
    swd.ok(['add-br', 'br0']);
    swd.ok(['add-port', 'br0', p1.host, 'type=system', 'ofport=1']);
    swd.ok(['add-port', 'br0', p2.host, 'type=system', 'ofport=2']);
    swd.ok(['add-meter', 'br0', 'meter=1 pktps burst stats bands=type=drop rate=1 burst_size=10']);
    swd.ok(['add-flows', 'br0', '-'], [
      'arp,actions=normal',
      'icmp,actions=normal',
      'in_port=1,udp,tp_dst=7000,actions=meter:1,output:2',
    ].join('\n'));
    // Both ports read (the PMD threads compile their code first); ARP resolved.
    let up = false;
    for (let i = 0; i < 120 && !up; i++) up = topo.execSync(ns1, ['ping', '-c', '1', '-W', '1', '10.79.0.2'], { timeoutMs: 5000 }).code === 0;
    expect(up).toBe(true);
    // The bucket filled up again while the threads started: re-set the meter (full bucket, counters at 0).
    swd.ok(['mod-meter', 'br0', 'meter=1 pktps burst stats bands=type=drop rate=1 burst_size=10']);

    const rxByThread = () => swd.ok(['pmd-stats-show']).filter((l) => l.startsWith('  packets received: ')).slice(0, 2).map((l) => Number(l.split(': ')[1]));
    const rxBefore = rxByThread();
    const counter = topo.spawn(ns2, ['python3', '-c', COUNTER, '7000', '2']);
    for (let i = 0; i < 100 && !counter.stdout.includes('ready'); i++) await sleep(50);
    const t0 = Date.now();
    const r = topo.execSync(ns1, ['python3', '-c', SENDER, '10.79.0.2', '7000', '60'], { timeoutMs: 30000 });
    expect(r.code).toBe(0);
    for (let i = 0; i < 200 && !counter.stdout.includes('received'); i++) await sleep(50);
    const elapsedSec = (Date.now() - t0) / 1000;
    const received = Number(/(\d+) received/.exec(counter.stdout)![1]);

    // The burst, plus one token per second the sending and counting took.
    expect(received).toBeGreaterThanOrEqual(10);
    expect(received).toBeLessThanOrEqual(10 + Math.ceil(elapsedSec));
    const stats = swd.ok(['meter-stats', 'br0', 'meter=1']).filter((l) => l.length > 0);
    expect(stats[1]).toMatch(/^meter:1 flow_count:1 packet_in_count:60 byte_in_count:5520 duration:[0-9.]+s bands:$/);
    expect(stats[2]).toBe(`0: packet_count:${60 - received} byte_count:${(60 - received) * 92}`);
    // Both PMD threads handled some of the 60 metered packets (the flow hash spreads the source ports).
    const rxAfter = rxByThread();
    expect(rxAfter.map((n, i) => n - rxBefore[i]).every((d) => d > 0), `per-thread rx ${rxBefore} -> ${rxAfter}`).toBe(true);
  }, 120_000);
});
