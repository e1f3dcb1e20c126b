// Packets through swd's PMD threads do not wait: a single ping through seed
// 001's ACL and two PMD threads gets its reply at the first try (its ARP and
// its echo each make upcalls, queued while the main thread translates) — and
// through the main thread's receive loop (--pmd-threads 0) as well —, and
// a storm of upcalls — thousands of new UDP 5-tuples, each its own megaflow —
// leaves an established TCP stream on the same thread flowing and intact.
// Nothing here is timed: the assertions are on replies, bytes and counters.

import { describe, expect, it } from 'vitest';
import type { SwdInstance } from '../e2e/harness.ts';
import { fresh } from './fresh.ts';
import { FLOWS_ACL as ACL_FLOWS } from './seed001-acl.ts';
import { requireRoot, Topology } from './topology.ts';

const skip = requireRoot();

/** Makes every UDP packet's megaflow exact on the destination port: each new port is an upcall. */
const UDP_PORT_RULE = 'table=0,priority=200,udp,tp_dst=7,action=drop';

const IP1 = '10.78.0.1';
const IP2 = '10.78.0.2';

interface Rig {
  topo: Topology;
  swd: SwdInstance;
  ns1: string;
  ns2: string;
}


/** ns1 and ns2 on system ports 1 and 2 of br0 in a fresh swd with `flows`; returns once swd reads both ports. */
async function setup(pmdThreads: number, flows: string[]): Promise<Rig> {
  const { topo, swd } = fresh();
  const ns1 = topo.addNamespace('ns1');
  const ns2 = topo.addNamespace('ns2');
  const p1 = topo.plug(ns1, '1', `${IP1}/24`);
  const p2 = topo.plug(ns2, '2', `${IP2}/24`);
  await swd.start(['--no-default-bridge', '--pmd-threads', String(pmdThreads)]);
  swd.ok(['add-br', 'br0']);
  swd.ok(['add-port', 'br0', p1.host, 'type=system', 'ofport=1']);
  swd.ok(['add-port', 'br0', p2.host, 'type=system', 'ofport=2']);
  swd.ok(['add-flows', 'br0', '-'], flows.join('\n'));
  // The PMD threads boot (compiling their code) after the first real port:
  // wait until both ports are read, with ARP requests for an address nobody
  // has — they warm nothing the tests below use.
  for (const [ns, port] of [[ns1, '1'], [ns2, '2']] as const) {
    await until(async () => {
      await topo.exec(ns, ['python3', '-c', ARP_PROBE, '10.78.0.250']);
      return rxPackets(swd, port) > 0;
    }, `swd never read port ${port}`);
  }
  return { topo, swd, ns1, ns2 };
}

/** One ARP request from the namespace's first interface (a UDP send to an unresolved neighbour). */
const ARP_PROBE = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b'x', (sys.argv[1], 9))
`;

function rxPackets(swd: SwdInstance, port: string): number {
  return Number(/rx pkts=(\d+)/.exec(swd.ok(['dump-ports', 'br0', port])[1]!)![1]);
}

/** Sum of one counter line of pmd-stats-show over the PMD threads. */
function pmdSum(swd: SwdInstance, label: string): number {
  const lines = swd.ok(['pmd-stats-show']);
  let n = 0;
  let inPmd = false;
  for (const l of lines) {
    if (!l.startsWith('  ')) inPmd = l.startsWith('pmd thread');
    else if (inPmd && l.startsWith(`  ${label}: `)) n += Number(l.slice(label.length + 4));
  }
  return n;
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 120; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(what);
}

/** Receives one TCP stream, printing the running byte count every 50 ms and the total at its end. */
const STREAM_SERVER = `
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
print('listening', flush=True)
c, _ = s.accept()
total = 0
last = time.monotonic()
while True:
    d = c.recv(65536)
    if not d:
        break
    total += len(d)
    now = time.monotonic()
    if now - last >= 0.05:
        print('progress', total, flush=True)
        last = now
print('done', total, flush=True)
`;

/** Sends 16 KiB writes for argv[3] seconds, then closes and prints what it sent. */
const STREAM_CLIENT = `
import socket, sys, time
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
buf = b'z' * 16384
sent = 0
end = time.monotonic() + float(sys.argv[3])
while time.monotonic() < end:
    c.sendall(buf)
    sent += len(buf)
c.shutdown(socket.SHUT_WR)
c.recv(1)
c.close()
print(sent, flush=True)
`;

/**
 * UDP to a new destination port for every packet, for argv[2] seconds,
 * paced to about 10,000 packets a second (a storm of new flows, each an
 * upcall, not a flood that fills the interface's receive ring and so would
 * drop the TCP stream's segments before swd sees them); prints how many it sent.
 */
const UDP_STORM = `
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.monotonic() + float(sys.argv[2])
n = 0
port = 10000
while time.monotonic() < end:
    time.sleep(0.01)
    for _ in range(100):
        try:
            s.sendto(b'storm', (sys.argv[1], port))
        except OSError:
            pass
        n += 1
        port = 10000 if port == 65000 else port + 1
print(n, flush=True)
`;

const lastProgress = (out: string) => {
  const all = [...out.matchAll(/^progress (\d+)$/gm)];
  return all.length ? Number(all[all.length - 1]![1]) : 0;
};

describe.skipIf(skip !== undefined)(`latency through PMD threads${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it("a single ping through seed 001's ACL and 2 PMD threads gets its reply with no retries", async () => {
    const { topo, swd, ns1 } = await setup(2, ACL_FLOWS);
    const r = await topo.exec(ns1, ['ping', '-c', '1', '-W', '1', IP2], { timeoutMs: 10_000 });
    expect(r.stdout).toContain('1 packets transmitted, 1 received');
    expect(r.code).toBe(0);
    // The echo and its reply each made upcalls (at recirc 0 and after ct), answered without loss.
    expect(pmdSum(swd, 'packets queued for an upcall')).toBeGreaterThan(0);
    expect(pmdSum(swd, 'packets dropped, upcall queue full')).toBe(0);
    expect(pmdSum(swd, 'packets dropped, upcall not answered')).toBe(0);
    expect(swd.ok(['dump-conntrack']).filter((l) => l.startsWith(`icmp,orig=(src=${IP1},dst=${IP2},`))).toHaveLength(1);
  });

  it("with --pmd-threads 0 (the main thread's receive loop) a single ping through the ACL gets its reply with no retries too", async () => {
    const { topo, swd, ns1 } = await setup(0, ACL_FLOWS);
    const r = await topo.exec(ns1, ['ping', '-c', '1', '-W', '1', IP2], { timeoutMs: 10_000 });
    expect(r.stdout).toContain('1 packets transmitted, 1 received');
    expect(swd.ok(['pmd-stats-show']).filter((l) => l.startsWith('pmd thread'))).toEqual([]);
  });

  it('an upcall storm of new UDP 5-tuples leaves an established TCP stream on the same PMD thread flowing', async () => {
    const { topo, swd, ns1, ns2 } = await setup(1, [UDP_PORT_RULE, ...ACL_FLOWS]);
    const server = topo.spawn(ns2, ['python3', '-u', '-c', STREAM_SERVER, IP2, '8081']);
    await until(async () => server.stdout.includes('listening'), `stream server did not start: ${server.stderr}`);
    const client = topo.exec(ns1, ['python3', '-c', STREAM_CLIENT, IP2, '8081', '8'], { timeoutMs: 60_000 });
    await until(async () => lastProgress(server.stdout) > 0, 'the TCP stream never started');
    const upcallsBefore = pmdSum(swd, 'miss with success upcall');
    const storm = topo.exec(ns1, ['python3', '-c', UDP_STORM, IP2, '4'], { timeoutMs: 60_000 });
    // Let the storm get going, then note how far the stream is, and again when the storm is over.
    await until(async () => pmdSum(swd, 'miss with success upcall') > upcallsBefore + 500, 'the storm made no upcalls');
    const during = lastProgress(server.stdout);
    const stormed = await storm;
    expect(stormed.code).toBe(0);
    const after = lastProgress(server.stdout);
    expect(after).toBeGreaterThan(during);
    // Thousands of new megaflows came through upcalls while the stream went on.
    expect(pmdSum(swd, 'miss with success upcall') - upcallsBefore).toBeGreaterThan(1000);
    expect(pmdSum(swd, 'packets queued for an upcall')).toBeGreaterThan(1000);
    // The stream ends whole: every byte the client sent arrived.
    const c = await client;
    expect(c.code).toBe(0);
    await until(async () => /^done \d+$/m.test(server.stdout), 'the stream did not end');
    expect(Number(/^done (\d+)$/m.exec(server.stdout)![1])).toBe(Number(c.stdout.trim()));
  });
});
