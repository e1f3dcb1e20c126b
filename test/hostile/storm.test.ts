// An upcall storm with real traffic: a raw-socket sender in a namespace
// sends new UDP 5-tuples into swd's system port as fast as it can for a few
// seconds (it prints its rate), into a table that commits each one (maxconns
// 2,000) and SNATs into a small range. During the storm the control socket
// answers; the refused commits are logged rate-limited; afterwards a flush
// brings the table back and ordinary traffic flows again.

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { fresh } from '../netns/fresh.ts';
import { requireRoot, runSync } from '../netns/topology.ts';

const skip = requireRoot() ?? (runSync(['sh', '-c', 'command -v python3 && command -v ping']).code === 0 ? null : 'needs python3 and ping');
if (skip && !skip.startsWith('needs root') && process.env.CI === 'true') throw new Error(`${skip}: CI must not skip real-traffic tests`);

const STORM = `
import socket, sys, time, struct
dev, secs = sys.argv[1], float(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind((dev, 0))
mac = open('/sys/class/net/%s/address' % dev).read().strip().replace(':', '')
head = bytes.fromhex('505400000002' + mac + '0800')
n = 0; t0 = time.time()
while time.time() - t0 < secs:
    for k in range(256):
        i = n + k
        ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 28, 0, 0, 64, 17, 0, bytes([10, 80, (i >> 16) & 255, (i >> 8) & 255]), bytes([10, 81, 0, 2]))
        c = sum(struct.unpack('!10H', ip)); c = (c & 0xffff) + (c >> 16); c = (c & 0xffff) + (c >> 16)
        ip = ip[:10] + struct.pack('!H', ~c & 0xffff) + ip[12:]  # conntrack checks it (an IPv4 header with a wrong checksum is +inv)
        udp = struct.pack('!HHHH', 1024 + (i & 0x3fff), 53, 8, 0)
        try:
            s.send(head + ip + udp)
        except OSError:
            pass
    n += 256
print('%d %.0f' % (n, n / (time.time() - t0)))
`;

describe.skipIf(!!skip)(`upcall storm${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('new 5-tuples as fast as a raw socket sends them: control answers, refusals logged rate-limited, recovery after the storm', async () => {
    const { topo, swd } = fresh();
    const ns1 = topo.addNamespace('u1');
    const ns2 = topo.addNamespace('u2');
    const a = topo.plug(ns1, 'u1', '10.80.0.1/16');
    const b = topo.plug(ns2, 'u2', '10.81.0.2/16');
    topo.execSync(ns1, ['ip', 'route', 'add', '10.81.0.0/16', 'dev', a.inner], { check: true });
    topo.execSync(ns2, ['ip', 'route', 'add', '10.80.0.0/16', 'dev', b.inner], { check: true });
    // The SNAT addresses belong to nobody: ns2 reaches them through ns1's MAC.
    const mac1 = topo.execSync(ns1, ['cat', `/sys/class/net/${a.inner}/address`], { check: true }).stdout.trim();
    for (let i = 1; i <= 4; i++) topo.execSync(ns2, ['ip', 'neigh', 'replace', `10.80.255.${i}`, 'lladdr', mac1, 'dev', b.inner], { check: true });
    await swd.start(['--no-default-bridge']);
    swd.ok(['add-br', 'br0']);
    swd.ok(['add-port', 'br0', a.host, 'type=system', 'ofport=1']);
    swd.ok(['add-port', 'br0', b.host, 'type=system', 'ofport=2']);
    swd.ok(['add-flows', 'br0', '-'], [
      'arp,actions=normal',
      'in_port=1,ip,actions=ct(commit,zone=7,nat(src=10.80.255.1-10.80.255.4:1024-65535)),2',
      'in_port=2,ip,actions=ct(zone=7,nat),1',
    ].join('\n'));
    swd.ok(['ct-set-maxconns', '2000']);
    let up = false;
    for (let i = 0; i < 40 && !up; i++) up = topo.execSync(ns1, ['ping', '-c', '1', '-W', '1', '10.81.0.2'], { timeoutMs: 5000 }).code === 0;
    expect(up).toBe(true);

    const storm = topo.exec(ns1, ['python3', '-c', STORM, a.inner, '4'], { timeoutMs: 60_000 });
    // The control socket answers while the storm runs (no time bound asserted: swctl's own 30 s timeout).
    const answers: string[] = [];
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const r = spawnSync(process.execPath, ['bin/swctl.js', '--socket', swd.socket, 'ct-get-nconns'], { encoding: 'utf8', timeout: 30_000 });
      expect(r.status).toBe(0);
      answers.push(r.stdout.trim());
    }
    const out = (await storm).stdout.trim().split(' ');
    console.log(`upcall storm: ${out[0]} packets, ${out[1]} packets/s offered by one raw socket`);
    expect(Number(answers[answers.length - 1])).toBe(2000); // the table is full
    // Logged, rate-limited (one line per interval, not one per packet).
    await new Promise((r) => setTimeout(r, 300));
    const logged = swd.stderr.split('\n').filter((l) => l.includes('new connections not committed'));
    expect(logged.length).toBeGreaterThanOrEqual(1);
    expect(logged.length).toBeLessThanOrEqual(3);
    // Recovery: flush, and an ordinary exchange is tracked again.
    swd.ok(['flush-conntrack']);
    expect(topo.execSync(ns1, ['ping', '-c', '2', '-i', '0.2', '-W', '2', '10.81.0.2'], { timeoutMs: 10_000 }).stdout).toContain('2 received');
    const conns = swd.ok(['dump-conntrack', 'zone=7']);
    expect(conns.some((l) => l.startsWith('icmp,orig=(src=10.80.0.1,dst=10.81.0.2,'))).toBe(true);
  }, 120_000);
});
