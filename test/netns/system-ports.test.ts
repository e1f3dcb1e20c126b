// Real traffic through swd: network namespaces on veth pairs whose host
// ends are system ports of br0 (AF_PACKET), and a tap port. Each test
// starts its own swd process (temporary run directory), builds its hosts,
// and tears everything down afterwards, failed or not.
//
// Covered: NORMAL switching (ping both ways, promiscuous mode on while
// attached and off after del-port, a truncated frame counted as a drop);
// seed 001's stateful ACL with TCP data both ways, a blocked reverse
// connection and an ICMP port unreachable passed as +rel; seed 000's SNAT
// table; DNAT spreading connections over two servers; DNAT with an
// additional SNAT (the packet keeps its connection); a long TCP stream
// offloaded to the flowtable with exact counters; a tap port between
// the host and a namespace.

import { describe, expect, it } from 'vitest';
import type { SwdInstance } from '../e2e/harness.ts';
import { fresh } from './fresh.ts';
import { FLOWS_ACL } from './seed001-acl.ts';
import { requireRoot, runSync, Topology, waitFor, type CmdResult } from './topology.ts';

const skip = requireRoot() ?? missingTools();

/** Why the peers cannot run (no ping or python3), or null; under CI=true nothing may skip. */
function missingTools(): string | null {
  if (runSync(['sh', '-c', 'command -v ping && command -v python3']).code === 0) return null;
  if (process.env.CI === 'true') throw new Error('needs ping and python3: CI must not skip real-traffic tests');
  return 'needs ping and python3';
}
const ACL_FLOWS = FLOWS_ACL.join('\n');

/** A namespace joined to the host by a veth pair: `port` is the host end (a system port), `dev` the namespace end. */
interface Host {
  ns: string;
  port: string;
  dev: string;
  ip: string;
  mac: string;
}

/** Namespace `h<n>` with its end of a veth pair addressed ip/24 and up; the host end up, no address. */
function addHost(topo: Topology, n: number, ip: string): Host {
  const ns = topo.addNamespace(`h${n}`);
  const { host, inner } = topo.plug(ns, `p${n}`, `${ip}/24`);
  const mac = topo.execSync(ns, ['cat', `/sys/class/net/${inner}/address`], { check: true }).stdout.trim();
  return { ns, port: host, dev: inner, ip, mac };
}

/** Run a command in h's namespace; throws unless it exits 0. */
function inNs(topo: Topology, h: Host, argv: string[]): string {
  return topo.execSync(h.ns, argv, { check: true }).stdout;
}

/** Run a command in h's namespace, whatever its result. */
function tryInNs(topo: Topology, h: Host, argv: string[], timeoutMs = 10_000): CmdResult {
  return topo.execSync(h.ns, argv, { timeoutMs });
}

const sh = (argv: string[], timeoutMs = 10_000) => runSync(argv, { timeoutMs });

const ping = (topo: Topology, from: Host, to: Host) =>
  tryInNs(topo, from, ['ping', '-c', '3', '-i', '0.2', '-w', '10', to.ip], 15_000);

const promiscuity = (dev: string) => Number(/promiscuity (\d+)/.exec(sh(['ip', '-d', 'link', 'show', dev]).stdout)?.[1] ?? -1);

/** Two or more namespaces on system ports 1..n of br0 in a fresh swd. */
async function setup(nHosts: number, swdArgs: string[] = []): Promise<{ topo: Topology; swd: SwdInstance; h: Host[] }> {
  const { topo, swd } = fresh();
  const h: Host[] = [];
  for (let i = 1; i <= nHosts; i++) h.push(addHost(topo, i, `10.77.0.${i}`));
  await swd.start(['--no-default-bridge', ...swdArgs]);
  swd.ok(['add-br', 'br0']);
  h.forEach((x, i) => swd.ok(['add-port', 'br0', x.port, 'type=system', `ofport=${i + 1}`]));
  await untilReading(topo, swd, h[0], '1');
  return { topo, swd, h };
}

/**
 * Wait until swd reads port `ofport` (its PMD threads boot, compiling their
 * code, after the first real port is added): a frame sent from `from` shows
 * in the port's rx counter, whatever the flow table does with it.
 */
async function untilReading(topo: Topology, swd: SwdInstance, from: Host, ofport: string): Promise<void> {
  const rx = () => Number(/rx pkts=(\d+)/.exec(swd.ok(['dump-ports', 'br0', ofport])[1])![1]);
  const seen = await waitFor(() => {
    tryInNs(topo, from, ['ping', '-c', '1', '-W', '1', from.ip.replace(/\.\d+$/, '.250')], 5_000); // an ARP request at least
    return rx() > 0;
  }, 60_000, 200);
  if (!seen) throw new Error(`swd never read port ${ofport}`);
}


describe.skipIf(skip !== null)(`system and tap ports in network namespaces${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('NORMAL switches ping both ways; the interface is promiscuous only while attached; a truncated frame does no harm', async () => {
    const { topo, swd, h } = await setup(2);
    swd.ok(['add-flow', 'br0', 'actions=normal']);
    expect(promiscuity(h[0].port)).toBe(1);
    const a = ping(topo, h[0], h[1]);
    expect(a.stdout).toContain('3 packets transmitted, 3 received');
    const b = ping(topo, h[1], h[0]);
    expect(b.stdout).toContain('3 packets transmitted, 3 received');
    const ports = swd.ok(['dump-ports', 'br0', '1']);
    expect(Number(/rx pkts=(\d+)/.exec(ports[1])![1])).toBeGreaterThanOrEqual(6);

    // A broadcast frame claiming IPv4 but cut 6 bytes into the IP header: switched as an L2 frame, swd goes on.
    const rx2 = () => Number(/tx pkts=(\d+)/.exec(swd.ok(['dump-ports', 'br0', '2'])[2])![1]);
    const before = rx2();
    const runt = `s.send(bytes.fromhex('ffffffffffff${h[0].mac.replace(/:/g, '')}0800450005dc0000'))`;
    inNs(topo, h[0], [PYTHON, '-c', `import socket; s=socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(('${h[0].dev}', 0)); ${runt}`]);
    expect(await waitFor(() => rx2() > before)).toBe(true);
    expect(ping(topo, h[0], h[1]).stdout).toContain('3 received');

    swd.ok(['del-port', 'br0', h[0].port]);
    expect(promiscuity(h[0].port)).toBe(0);

    // An interface that does not exist: refused with the reason, nothing added.
    const bad = swd.ctl(['add-port', 'br0', `${topo.tag}zz`, 'type=system']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain(`no network interface named '${topo.tag}zz'`);
    expect(swd.ok(['show', 'br0']).some((l) => l.includes(`${topo.tag}zz`))).toBe(false);
  });

  it("seed 001's ACL: TCP from ns1 carries data both ways, ns2 cannot connect back, ICMP port unreachable passes as related", async () => {
    const { topo, swd, h } = await setup(2);
    swd.ok(['add-flows', 'br0', '-'], ACL_FLOWS);
    await aclScenario(topo, swd, h);
  });

  it("seed 000's SNAT: the server sees the client inside the NAT range and the replies reach the client", async () => {
    const { topo, swd, h } = await setup(2);
    swd.ok(['add-flows', 'br0', '-'], [
      'priority=10,arp,action=normal',
      'in_port=1,ip,action=ct(commit,zone=1,nat(src=10.77.0.240-10.77.0.254)),2',
      'in_port=2,ct_state=-trk,ip,action=ct(table=0,zone=1,nat)',
      'in_port=2,ct_state=+est,ct_zone=1,ip,action=1',
    ].join('\n'));
    // The NATed addresses are nobody's: ns2 reaches them through a static neighbour entry, as a real setup would.
    // The range stops short of 10.77.0.255, ns2's broadcast address: the kernel drops a segment from it as martian.
    for (let a = 240; a <= 254; a++) inNs(topo, h[1], ['ip', 'neigh', 'replace', `10.77.0.${a}`, 'lladdr', h[0].mac, 'dev', h[1].dev, 'nud', 'permanent']);
    const server = await startTcpServer(topo, h[1], 8080);
    const answer = tcpRequest(topo, h[0], h[1].ip, 8080, 'hello through snat');
    const m = /^10\.77\.0\.(\d+) HELLO THROUGH SNAT$/.exec(answer);
    expect(m, answer).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(240);
    expect(Number(m![1])).toBeLessThanOrEqual(254);
    expect(await waitFor(() => server.accepted().length === 1)).toBe(true);
    expect(server.accepted()).toEqual([`10.77.0.${m![1]}`]);
    const ct = swd.ok(['dump-conntrack']).filter((l) => l.startsWith('tcp,'));
    expect(ct.some((l) => l.includes(`orig=(src=10.77.0.1,dst=10.77.0.2,`) && l.includes(`reply=(src=10.77.0.2,dst=10.77.0.${m![1]},`))).toBe(true);
  });

  it('DNAT to two servers: connections to the virtual address spread over both, replies come from the virtual address', async () => {
    const { topo, swd, h } = await setup(3);
    const vip = '10.77.0.100';
    swd.ok(['add-flows', 'br0', '-'], [
      'priority=10,arp,action=normal',
      `priority=100,in_port=1,ip,nw_dst=${vip},action=ct(commit,zone=2,nat(dst=10.77.0.2-10.77.0.3),table=1)`,
      `table=1,ip,nw_dst=10.77.0.2,action=mod_dl_dst:${h[1].mac},output:2`,
      `table=1,ip,nw_dst=10.77.0.3,action=mod_dl_dst:${h[2].mac},output:3`,
      'priority=100,in_port=2,ip,action=ct(zone=2,nat,table=2)',
      'priority=100,in_port=3,ip,action=ct(zone=2,nat,table=2)',
      'table=2,ip,ct_state=+trk+est,action=1',
    ].join('\n'));
    inNs(topo, h[0], ['ip', 'neigh', 'replace', vip, 'lladdr', '02:00:00:00:00:64', 'dev', h[0].dev, 'nud', 'permanent']);
    const s2 = await startTcpServer(topo, h[1], 8080);
    const s3 = await startTcpServer(topo, h[2], 8080);
    for (let i = 0; i < 16; i++) {
      // The answer names the peer the server saw: the client itself (DNAT leaves the source alone).
      expect(tcpRequest(topo, h[0], vip, 8080, `request ${i}`)).toBe(`10.77.0.1 REQUEST ${i}`);
    }
    expect(await waitFor(() => s2.accepted().length + s3.accepted().length === 16)).toBe(true);
    expect(s2.accepted().length).toBeGreaterThan(0);
    expect(s3.accepted().length).toBeGreaterThan(0);
  });

  it('DNAT with additional SNAT (OVS\'s system test): the packet keeps its connection, so the second nat() is ignored, mark and label are set, one connection', async () => {
    const { topo, swd, h } = await setup(2);
    swd.ok(['add-flows', 'br0', '-'], [
      'priority=30,in_port=1,ip,nw_dst=172.1.1.2,actions=ct(commit,nat(dst=10.77.0.2:8080),table=1)',
      'priority=20,in_port=2,ip,actions=ct(nat),1',
      'priority=10,arp,actions=NORMAL',
      'priority=1,actions=drop',
      'table=1,ip,actions=ct(commit,nat(src=10.77.0.240),exec(set_field:0xac->ct_mark,set_field:0xac->ct_label),table=2)',
      'table=2,in_port=1,ip,ct_mark=0xac,ct_label=0xac,actions=2',
    ].join('\n'));
    inNs(topo, h[0], ['ip', 'route', 'add', '172.1.1.0/24', 'via', h[1].ip]);
    const server = await startTcpServer(topo, h[1], 8080);
    // The server sees the client's own address (no SNAT), the client gets its answer from 172.1.1.2.
    expect(tcpRequest(topo, h[0], '172.1.1.2', 8080, 'dnat only')).toBe('10.77.0.1 DNAT ONLY');
    expect(await waitFor(() => server.accepted().length === 1)).toBe(true);
    const ct = swd.ok(['dump-conntrack']).filter((l) => l.startsWith('tcp,'));
    expect(ct.map((l) => l.replace(/([sd])port=\d+/g, '$1port=N').replace(/,protoinfo=.*/, ''))).toEqual([
      'tcp,orig=(src=10.77.0.1,dst=172.1.1.2,sport=N,dport=N),reply=(src=10.77.0.2,dst=10.77.0.1,sport=N,dport=N),mark=172,labels=0xac',
    ]);
  });

  it("offload (seed 004): a long TCP stream through seed 001's ACL is forwarded from the flowtable, its counters stay exact, and its FIN tears the entries down", async () => {
    const { topo, swd, h } = await setup(2);
    await offloadScenario(topo, swd, h);
  });

  it('a tap port carries traffic between the host and a namespace', async () => {
    const { topo, swd } = fresh();
    const net = `10.213.${process.pid % 250}`;
    const ns1 = addHost(topo, 1, `${net}.2`);
    // swd creates the tap device and removes it at del-port; teardown removes it if a failure left it.
    const tap = topo.ifname('t');
    topo.onTeardown(() => void runSync(['ip', 'link', 'del', tap]));
    await swd.start(['--no-default-bridge']);
    swd.ok(['add-br', 'br0']);
    swd.ok(['add-port', 'br0', ns1.port, 'type=system', 'ofport=1']);
    swd.ok(['add-port', 'br0', tap, 'type=tap', 'ofport=2']);
    await untilReading(topo, swd, ns1, '1');
    swd.ok(['add-flow', 'br0', 'actions=normal']);
    expect(sh(['ip', 'link', 'show', tap]).stdout).toMatch(/state (UP|UNKNOWN)|,UP/);
    expect(sh(['ip', 'addr', 'add', `${net}.1/24`, 'dev', tap]).code).toBe(0);
    const p = sh(['ping', '-c', '3', '-i', '0.2', '-w', '10', '-I', tap, `${net}.2`], 15_000);
    expect(p.stdout).toContain('3 packets transmitted, 3 received');
    await startTcpServer(topo, ns1, 8081);
    const r = sh([PYTHON, '-c', TCP_CLIENT, `${net}.2`, '8081', 'from the host', '3'], 10_000);
    expect(r.stdout.trim()).toBe(`${net}.1 FROM THE HOST`);
    swd.ok(['del-port', 'br0', tap]);
    // The device goes once the PMD threads have let go of its descriptor.
    expect(await waitFor(() => sh(['ip', 'link', 'show', tap]).code !== 0)).toBe(true);
  });
});

describe.skipIf(skip !== null)(`PMD threads${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it("seed 001's ACL with --pmd-threads 2: the same behaviour, both threads listed by pmd-stats-show", async () => {
    const { topo, swd, h } = await setup(2, ['--pmd-threads', '2']);
    swd.ok(['add-flows', 'br0', '-'], ACL_FLOWS);
    await aclScenario(topo, swd, h);
    const stats = swd.ok(['pmd-stats-show']);
    expect(stats.filter((l) => l.startsWith('pmd thread numa_id 0 core_id '))).toEqual([
      'pmd thread numa_id 0 core_id 0:',
      'pmd thread numa_id 0 core_id 1:',
    ]);
    const received = stats.filter((l) => l.startsWith('  packets received: ')).map((l) => Number(l.split(': ')[1]));
    expect(received.slice(0, 2).reduce((a, b) => a + b, 0)).toBeGreaterThan(10);
    expect(stats).toContain('main thread:');
    // Each thread, the main one too, says how often it found a conntrack lock held (lock.ts; counted in test/conntrack/lock.test.ts).
    expect(stats.filter((l) => /^ {2}conntrack lock waits: \d+ \(slept \d+, \d+\.\d{3} ms\)$/.test(l))).toHaveLength(3);
  });

  it('offload with --pmd-threads 2: the same stream, entries in whichever thread reads each direction, counters still exact', async () => {
    const { topo, swd, h } = await setup(2, ['--pmd-threads', '2']);
    await offloadScenario(topo, swd, h);
  });

  it('pmd-set-threads changes the thread count at run time and traffic goes on', async () => {
    const { topo, swd, h } = await setup(2);
    swd.ok(['add-flow', 'br0', 'actions=normal']);
    expect(ping(topo, h[0], h[1]).stdout).toContain('3 received');
    swd.ok(['pmd-set-threads', '3']);
    expect(swd.ok(['pmd-stats-show']).filter((l) => l.startsWith('pmd thread'))).toHaveLength(3);
    // Traffic pauses while the new threads boot (they compile their code first): wait for it to resume.
    const onePing = () => tryInNs(topo, h[0], ['ping', '-c', '1', '-W', '1', h[1].ip], 5_000).code === 0;
    expect(await waitFor(onePing, 60_000, 200)).toBe(true);
    expect(ping(topo, h[0], h[1]).stdout).toContain('3 received');
    expect(swd.ctl(['pmd-set-threads', '0']).code).not.toBe(0);
  });
});

/** The ACL checks, shared with the PMD test. */
async function aclScenario(topo: Topology, swd: SwdInstance, h: Host[]): Promise<void> {
  const s2 = await startTcpServer(topo, h[1], 8080);
  await startTcpServer(topo, h[0], 8080);
  // Data both ways: a payload out, the server's upper-cased answer back; more than one segment each way.
  const big = 'x'.repeat(20_000);
  expect(tcpRequest(topo, h[0], h[1].ip, 8080, 'hello acl')).toBe('10.77.0.1 HELLO ACL');
  expect(tcpRequest(topo, h[0], h[1].ip, 8080, big)).toBe(`10.77.0.1 ${big.toUpperCase()}`);
  expect(await waitFor(() => s2.accepted().length === 2)).toBe(true);
  expect(s2.accepted()).toEqual(['10.77.0.1', '10.77.0.1']);
  // ns2 -> ns1: the SYN is +new from port 2 and dropped.
  expect(tcpRequest(topo, h[1], h[0].ip, 8080, 'sneaky', 2)).toMatch(/^failed (TimeoutError|timeout)/);
  // A UDP probe to a closed port in ns2: the ICMP port unreachable comes back as +rel.
  const probe = tryInNs(topo, h[0], [PYTHON, '-c', UDP_PROBE, h[1].ip, '9']);
  expect(probe.stdout.trim()).toBe('refused');
  const ct = swd.ok(['dump-conntrack']);
  expect(ct.some((l) => l.startsWith('udp,orig=(src=10.77.0.1,dst=10.77.0.2,') && l.includes('dport=9)'))).toBe(true);
  expect(ct.filter((l) => l.startsWith('tcp,orig=(src=10.77.0.1,dst=10.77.0.2,')).length).toBe(2);
  expect(ct.some((l) => l.startsWith('tcp,orig=(src=10.77.0.2,'))).toBe(false);
}

/** The offload checks, shared with the PMD test: a 4 s TCP stream through the ACL with offload on. */
async function offloadScenario(topo: Topology, swd: SwdInstance, h: Host[]): Promise<void> {
    swd.ok(['add-flows', 'br0', '-'], ACL_FLOWS);
    swd.ok(['offload-set', 'br0', 'on', 'tcp']);
    const sink = topo.spawn(h[1].ns, [PYTHON, '-u', '-c', SINK_SERVER, '5001']);
    expect(await waitFor(() => sink.stdout.includes('listening'), 10_000, 50)).toBe(true);
    const client = topo.spawn(h[0].ns, [PYTHON, '-u', '-c', STREAM_CLIENT, h[1].ip, '5001', '4']);
    // While the stream runs, its connection is offloaded: entries in the flowtable, OFFLOAD in conntrack.
    const offloaded = () => {
      const a = swd.ok(['dump-offloaded', 'br0']);
      const b = swd.ok(['dump-conntrack', '-m']);
      // Read in the same moment: on a loaded machine the 4 s stream may end (FIN) between two checks.
      const c = swd.ok(['dump-conntrack', '--format=conntrack']);
      return a.length > 0 && b.some((l) => l.includes('dport=5001)') && l.includes('status=OFFLOAD')) && c.some((l) => l.includes('dport=5001 ') && l.includes('[OFFLOAD]'));
    };
    expect(await waitFor(offloaded, 10_000, 100)).toBe(true);
    expect(await waitFor(() => /^sent \d+$/m.test(client.stdout) && /^received \d+$/m.test(sink.stdout), 30_000, 100)).toBe(true);
    expect(/received (\d+)/.exec(sink.stdout)![1]).toBe(/sent (\d+)/.exec(client.stdout)![1]);
    // The FIN took the full path: no entry is left and conntrack saw the close.
    expect(await waitFor(() => swd.ok(['dump-offloaded', 'br0']).length === 0, 5_000, 100)).toBe(true);
    const conn = () => swd.ok(['dump-conntrack', '-s', '-m']).find((l) => l.includes('dport=5001,'))!;
    const closed = conn();
    expect(closed).toContain('status=0');
    expect(closed).not.toMatch(/state_orig=ESTABLISHED,state_reply=ESTABLISHED/);
    // Exact counters: the ACL's rules saw exactly the packets and bytes conntrack counted per direction.
    const rule = (match: string) => {
      const l = swd.ok(['dump-flows', 'br0']).find((x) => x.includes(match) && x.includes('table=1,'))!;
      return [Number(/n_packets=(\d+)/.exec(l)![1]), Number(/n_bytes=(\d+)/.exec(l)![1])];
    };
    // The PMD thread pushes rule counters every 100 ms: they agree with conntrack's once pushed.
    let seen = '';
    const agree = () => {
      const line = conn();
      if (line === undefined) return false;
      seen = line;
      const o = /orig=\([^)]*packets=(\d+),bytes=(\d+)\)/.exec(line);
      const r = /reply=\([^)]*packets=(\d+),bytes=(\d+)\)/.exec(line);
      if (!o || !r) return false;
      const n1 = rule('+new+trk,ip,in_port=1'), e1 = rule('+est+trk,ip,in_port=1'), e2 = rule('+est+trk,ip,in_port=2');
      return n1[0] + e1[0] === Number(o[1]) && n1[1] + e1[1] === Number(o[2]) && e2[0] === Number(r[1]) && e2[1] === Number(r[2]) && Number(o[1]) > 1000;
    };
    expect(await waitFor(agree, 5_000, 200), seen).toBe(true);

}

// ---------------------------------------------------------------- peers

/** The python3 interpreter itself (not a version-manager shim, which is slow to start). */
const PYTHON = (() => {
  const r = sh(['python3', '-c', 'import sys; print(sys.executable)']);
  return r.code === 0 && r.stdout.trim() ? r.stdout.trim() : 'python3';
})();


/**
 * A TCP server in python3: for each connection it reads one line, answers
 * "<peer address> <line upper-cased>\n" and prints "accepted <peer>" on stdout.
 */
const TCP_SERVER = `
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', int(sys.argv[1])))
s.listen(64)
print('listening', flush=True)
while True:
    c, a = s.accept()
    c.settimeout(5)
    try:
        data = b''
        while not data.endswith(b'\\n'):
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
        c.sendall(a[0].encode() + b' ' + data.upper())
        print('accepted', a[0], len(data), flush=True)
    except Exception as e:
        print('error', e, flush=True)
    finally:
        c.close()
`;

/** Client: connect, send `payload` + newline, print the answer line (exit 1 on any failure). */
const TCP_CLIENT = `
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[4]))
    s.sendall(sys.argv[3].encode() + b'\\n')
    data = b''
    while not data.endswith(b'\\n'):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    print(data.decode().strip())
except Exception as e:
    print('failed', type(e).__name__, e)
    sys.exit(1)
`;

/** A sink: accept one connection, read it to the end, print "received <bytes>". */
const SINK_SERVER = `
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', int(sys.argv[1])))
s.listen(1)
print('listening', flush=True)
c, a = s.accept()
n = 0
while True:
    d = c.recv(65536)
    if not d:
        break
    n += len(d)
c.close()
print('received', n, flush=True)
`;

/** Stream to ip:port for SECS seconds, then close (FIN); print "sent <bytes>". */
const STREAM_CLIENT = `
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
chunk = b'x' * 16384
end = time.time() + float(sys.argv[3])
n = 0
while time.time() < end:
    s.sendall(chunk)
    n += len(chunk)
s.shutdown(socket.SHUT_WR)
s.recv(1)
s.close()
print('sent', n, flush=True)
`;

/** UDP probe: send one datagram to a closed port, print what comes back (refused = ICMP port unreachable). */
const UDP_PROBE = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect((sys.argv[1], int(sys.argv[2])))
s.send(b'probe')
try:
    s.recv(100)
    print('answered')
except ConnectionRefusedError:
    print('refused')
except socket.timeout:
    print('timeout')
`;

/** Start TCP_SERVER in h's namespace (stopped at teardown) and wait until it listens. */
async function startTcpServer(topo: Topology, h: Host, port: number): Promise<{ accepted: () => string[] }> {
  const p = topo.spawn(h.ns, [PYTHON, '-u', '-c', TCP_SERVER, String(port)]);
  const up = await waitFor(() => p.stdout.includes('listening') || !p.running, 10_000, 50);
  if (!up || !p.running) throw new Error(`TCP server in ${h.ns} did not start: ${p.stdout}${p.stderr}`);
  return {
    /** The peers of the connections answered so far (printed after the answer: wait with waitFor). */
    accepted: () => p.stdout.split('\n').filter((l) => l.startsWith('accepted ')).map((l) => l.split(' ')[1]),
  };
}

/** Run TCP_CLIENT in h's namespace; returns the answer line or "failed ...". */
function tcpRequest(topo: Topology, h: Host, ip: string, port: number, payload: string, timeoutSec = 3): string {
  const r = tryInNs(topo, h, [PYTHON, '-c', TCP_CLIENT, ip, String(port), payload, String(timeoutSec)], (timeoutSec + 5) * 1000);
  return r.stdout.trim() || `failed ${r.stderr.trim()}`;
}
