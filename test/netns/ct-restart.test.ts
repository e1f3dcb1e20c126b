// Connections that outlive `swd restart`: a TCP stream through seed 001's
// stateful ACL (br0: ns1 -> ns2, replies only) and a UDP flow through seed
// 000's SNAT table (br1: ns3 -> ns4) keep going across a restart of swd.
// Every line of the stream arrives in order, the stream ends with a clean
// close (no reset: the restored connection is +est, so the ACL passes the
// server's segments), and the UDP server sees one and the same
// translated source address and port before and after the restart.

import { writeFileSync, existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fresh, systemBridge } from './fresh.ts';
import { FLOWS_ACL } from './seed001-acl.ts';
import { requireRoot, runSync, until, waitFor, type Topology } from './topology.ts';

const skip = requireRoot() ?? (runSync(['sh', '-c', 'command -v python3']).code === 0 ? null : 'needs python3');
if (skip === 'needs python3' && process.env.CI === 'true') throw new Error('needs python3: CI must not skip real-traffic tests');

// The server pushes the stream (the client only acknowledges), so after the
// restart the first segment comes from ns2: without the restored connection
// the ACL would take it for +new from port 2 and drop it, and the stream
// would stall (a client segment alone would be picked up mid-stream).
const TCP_SERVER = `
import socket, sys, select, time
port, log = int(sys.argv[1]), sys.argv[2]
out = open(log, 'w', buffering=1)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', port)); s.listen(1)
print('listening', flush=True)
c, a = s.accept()
n = 0
try:
    while True:
        n += 1; c.sendall(b'seq %d\\n' % n)
        r, _, _ = select.select([c], [], [], 0.02)
        if r:
            d = c.recv(100)
            if d == b'bye\\n':
                out.write('BYE\\n'); break
            out.write('UNEXPECTED %r\\n' % d); sys.exit(1)
    c.shutdown(socket.SHUT_WR)
    out.write('CLOSED %d\\n' % n)
except Exception as e:
    out.write('ERROR %r\\n' % e); sys.exit(1)
`;

const TCP_CLIENT = `
import socket, sys, os
ip, port, stop, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
out = open(log, 'w', buffering=1)
try:
    c = socket.create_connection((ip, port), timeout=10); c.settimeout(300)
    f = c.makefile('rb')
    i = 0
    while not os.path.exists(stop):
        i += 1; want = b'seq %d\\n' % i
        got = f.readline()
        if got != want: print('MISMATCH', i, got); sys.exit(1)
        out.write(got.decode())
    c.sendall(b'bye\\n')
    while f.readline(): pass
    print('OK', i)
except Exception as e:
    print('ERROR', repr(e)); sys.exit(2)
`;

const UDP_SERVER = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', int(sys.argv[1])))
out = open(sys.argv[2], 'w', buffering=1)
print('listening', flush=True)
while True:
    d, a = s.recvfrom(100); out.write('%s:%d %s\\n' % (a[0], a[1], d.decode())); s.sendto(d, a)
`;

const UDP_CLIENT = `
import socket, sys, os, time
ip, port, stop, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 4000)); s.settimeout(0.1)
out = open(log, 'w', buffering=1)
i = 0
while not os.path.exists(stop):
    i += 1; s.sendto(b'%d' % i, (ip, port))
    try:
        d, a = s.recvfrom(100); out.write('reply %s\\n' % d.decode())
    except socket.timeout:
        pass
    time.sleep(0.1)
print('OK', i)
`;

interface Host { ns: string; port: string; dev: string; ip: string; mac: string }

function addHost(topo: Topology, n: number, ip: string): Host {
  const ns = topo.addNamespace(`h${n}`);
  const { host, inner } = topo.plug(ns, `p${n}`, `${ip}/24`);
  const mac = topo.execSync(ns, ['cat', `/sys/class/net/${inner}/address`], { check: true }).stdout.trim();
  return { ns, port: host, dev: inner, ip, mac };
}

const lines = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter((l) => l !== '') : []);

describe.skipIf(skip !== null)(`conntrack across swd restart, real traffic${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it("a TCP stream through seed 001's ACL and a UDP flow through seed 000's SNAT continue; the SNAT mapping stays", { timeout: 600_000 }, async () => {
    const { topo, swd } = fresh();
    const swdCmd = (...a: string[]) => spawnSync(process.execPath, ['bin/swd.js', ...a, '--rundir', swd.rundir], { encoding: 'utf8', timeout: 120_000 });
    const h = [addHost(topo, 1, '10.78.0.1'), addHost(topo, 2, '10.78.0.2'), addHost(topo, 3, '10.78.1.3'), addHost(topo, 4, '10.78.1.4')];
    const f = (name: string) => join(swd.dir, name);
    for (const [name, text] of [['tcp-server.py', TCP_SERVER], ['tcp-client.py', TCP_CLIENT], ['udp-server.py', UDP_SERVER], ['udp-client.py', UDP_CLIENT]]) {
      writeFileSync(f(name), text);
    }
    try {
      await swd.start(['--no-default-bridge']);
      systemBridge(swd, [h[0].port, h[1].port], FLOWS_ACL);
      systemBridge(swd, [h[2].port, h[3].port], [
        'priority=10,arp,action=normal',
        'in_port=1,ip,action=ct(commit,zone=1,nat(src=10.78.1.240-10.78.1.254)),2',
        'in_port=2,ct_state=-trk,ip,action=ct(table=0,zone=1,nat)',
        'in_port=2,ct_state=+est,ct_zone=1,ip,action=1',
      ], 'br1');
      // Generous UDP timeouts in zone 1 (a loaded machine may take a while to restart); the policy travels too.
      swd.ok(['ct-set-timeout-policy', 'zone=1', 'udp_first=600', 'udp_single=600', 'udp_multiple=600']);
      // The range stops short of 10.78.1.255: that is ns4's broadcast address, and a reply sent to it
      // is refused by the kernel (EACCES without SO_BROADCAST), which would end the UDP server.
      for (let a = 240; a <= 254; a++) {
        topo.execSync(h[3].ns, ['ip', 'neigh', 'replace', `10.78.1.${a}`, 'lladdr', h[2].mac, 'dev', h[3].dev, 'nud', 'permanent'], { check: true });
      }

      const tcpServer = topo.spawn(h[1].ns, ['python3', f('tcp-server.py'), '9000', f('tcp-server.log')]);
      const udpServer = topo.spawn(h[3].ns, ['python3', f('udp-server.py'), '5353', f('udp-server.log')]);
      // A client started before its server listens would be refused (a loaded machine may take a while to start python).
      await until('the servers to listen', () => tcpServer.stdout.includes('listening') && udpServer.stdout.includes('listening'), 60_000);
      const tcpClient = topo.spawn(h[0].ns, ['python3', f('tcp-client.py'), h[1].ip, '9000', f('stop'), f('tcp-client.log')]);
      const udpClient = topo.spawn(h[2].ns, ['python3', f('udp-client.py'), h[3].ip, '5353', f('stop'), f('udp-client.log')]);
      // Both flows run through swd (its PMD threads boot first).
      const going = () => lines(f('tcp-client.log')).length >= 20 && lines(f('udp-client.log')).length >= 5;
      if (!(await waitFor(going, 120_000))) {
        const st = (p: typeof tcpClient) => `${p.running ? 'running' : `exited ${p.child.exitCode ?? p.child.signalCode}`}: ${(p.stdout + p.stderr).trim() || '(no output)'}`;
        throw new Error(
          `timed out waiting for traffic before the restart: tcp client ${lines(f('tcp-client.log')).length} lines (${st(tcpClient)}), ` +
            `udp client ${lines(f('udp-client.log')).length} replies (${st(udpClient)}), tcp server ${st(tcpServer)}, udp server ${st(udpServer)}, conntrack: ${swd.ok(['dump-conntrack']).join('; ')}`,
        );
      }
      const before = swd.ok(['dump-conntrack']).sort();
      expect(before.some((l) => l.startsWith('tcp,orig=(src=10.78.0.1,dst=10.78.0.2,') && l.includes('state=ESTABLISHED'))).toBe(true);
      const udpBefore = before.find((l) => l.startsWith('udp,orig=(src=10.78.1.3,'));
      expect(udpBefore).toBeDefined();

      const r = swdCmd('restart', '--detach', '--no-default-bridge', '--log-level', 'warn');
      expect(r.status, r.stderr).toBe(0);
      const tcpAt = lines(f('tcp-client.log')).length;
      const udpAt = Number(lines(f('udp-client.log')).at(-1)!.split(' ')[1]);
      expect(swd.ok(['ct-save-show'])[1]).toMatch(/^restore: [2-9]\d* connections restored/);
      // Both go on after the restart.
      await until('the TCP stream after the restart', () => lines(f('tcp-client.log')).length >= tcpAt + 50, 300_000);
      await until('UDP replies after the restart', () => lines(f('udp-client.log')).some((l) => Number(l.split(' ')[1]) > udpAt + 5), 300_000);
      writeFileSync(f('stop'), '');
      expect(await tcpClient.exited, tcpClient.stdout + tcpClient.stderr).toBe(0);
      expect(tcpClient.stdout).toMatch(/^OK \d+\n$/);
      expect(await tcpServer.exited).toBe(0);
      const client = lines(f('tcp-client.log'));
      expect(client).toEqual(client.map((_l, i) => `seq ${i + 1}`));
      const server = lines(f('tcp-server.log'));
      expect(server[0]).toBe('BYE');
      expect(Number(/^CLOSED (\d+)$/.exec(server[1])?.[1])).toBeGreaterThanOrEqual(client.length);
      expect(await udpClient.exited).toBe(0);

      // One translated source for the whole UDP flow, the one conntrack had before the restart.
      const sources = new Set(lines(f('udp-server.log')).map((l) => l.split(' ')[0]));
      expect(sources.size).toBe(1);
      const [src] = [...sources];
      const m = /reply=\(src=10\.78\.1\.4,dst=([\d.]+),sport=5353,dport=(\d+)\)/.exec(udpBefore!);
      expect(`${m![1]}:${m![2]}`).toBe(src);
      expect(swd.ok(['dump-conntrack']).find((l) => l.startsWith('udp,orig=(src=10.78.1.3,'))).toBe(udpBefore);
    } finally {
      swdCmd('stop');
    }
  });
});
