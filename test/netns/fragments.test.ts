// IP fragments through swd with real traffic: namespaces on veth pairs
// whose host ends are system ports of br0. swd reassembles before
// conntrack and sends the original fragments (src/conntrack/ipf.ts).
//
// Covered: ping -s 1600 / 3200 / 65000 through seed 001's stateful ACL
// (IPv4, and its IPv6 counterpart), with two PMD threads; fragments made
// with scapy sent out of order, with an overlapping one, and a datagram
// that never completes (expired and counted by ipf-get-status); SNAT of
// fragmented UDP both ways (the server sees the NAT address, the client
// gets the whole answer back).

import { describe, expect, it } from 'vitest';
import type { SwdInstance } from '../e2e/harness.ts';
import { fresh, systemBridge } from './fresh.ts';
import { FLOWS_ACL } from './seed001-acl.ts';
import { requireRoot, runSync, waitFor, type Topology } from './topology.ts';

/** Debian's python3 (python3-scapy is installed for it), not a version manager's. */
const PY = '/usr/bin/python3';

const skip = requireRoot() ?? missingTools();

function missingTools(): string | null {
  if (runSync(['sh', '-c', `command -v ping && ${PY} -c 'import scapy'`]).code === 0) return null;
  if (process.env.CI === 'true') throw new Error('needs ping and python3-scapy: CI must not skip real-traffic tests');
  return 'needs ping and python3-scapy';
}

/** Seed 001's ACL for IPv6 (neighbour discovery switched, as ARP is for IPv4). */
const FLOWS_ACL6 = [
  'table=0,priority=200,icmp6,icmp_type=135,action=normal',
  'table=0,priority=200,icmp6,icmp_type=136,action=normal',
  'table=0,priority=100,ipv6,ct_state=-trk,action=ct(table=1)',
  'table=1,in_port=1,ipv6,ct_state=+trk+new,action=ct(commit),2',
  'table=1,in_port=1,ipv6,ct_state=+trk+est,action=2',
  'table=1,in_port=2,ipv6,ct_state=+trk+new,action=drop',
  'table=1,in_port=2,ipv6,ct_state=+trk+est,action=1',
];

interface Host { ns: string; port: string; dev: string; ip: string; ip6: string; mac: string }

async function setup(swdArgs: string[] = []): Promise<{ topo: Topology; swd: SwdInstance; h: Host[] }> {
  const { topo, swd } = fresh();
  const h: Host[] = [];
  for (let i = 1; i <= 2; i++) {
    const ns = topo.addNamespace(`h${i}`);
    const { host, inner } = topo.plug(ns, `p${i}`, `10.78.0.${i}/24`);
    topo.execSync(ns, ['ip', '-6', 'addr', 'add', `fd00:78::${i}/64`, 'dev', inner, 'nodad'], { check: true });
    const mac = topo.execSync(ns, ['cat', `/sys/class/net/${inner}/address`], { check: true }).stdout.trim();
    h.push({ ns, port: host, dev: inner, ip: `10.78.0.${i}`, ip6: `fd00:78::${i}`, mac });
  }
  await swd.start(['--no-default-bridge', ...swdArgs]);
  systemBridge(swd, h.map((x) => x.port));
  // Static neighbours: the tests are about fragments, not ARP/ND timing.
  topo.execSync(h[0].ns, ['ip', 'neigh', 'replace', h[1].ip, 'lladdr', h[1].mac, 'dev', h[0].dev, 'nud', 'permanent'], { check: true });
  topo.execSync(h[1].ns, ['ip', 'neigh', 'replace', h[0].ip, 'lladdr', h[0].mac, 'dev', h[1].dev, 'nud', 'permanent'], { check: true });
  topo.execSync(h[0].ns, ['ip', '-6', 'neigh', 'replace', h[1].ip6, 'lladdr', h[1].mac, 'dev', h[0].dev, 'nud', 'permanent'], { check: true });
  topo.execSync(h[1].ns, ['ip', '-6', 'neigh', 'replace', h[0].ip6, 'lladdr', h[0].mac, 'dev', h[1].dev, 'nud', 'permanent'], { check: true });
  // The PMD threads boot after the first real port: wait until a ping gets through NORMAL.
  swd.ok(['add-flow', 'br0', 'actions=normal']);
  const up = await waitFor(() => topo.execSync(h[0].ns, ['ping', '-c', '1', '-W', '1', h[1].ip], { timeoutMs: 5_000 }).code === 0, 60_000, 200);
  if (!up) throw new Error('swd never forwarded a ping');
  swd.ok(['del-flows', 'br0']);
  return { topo, swd, h };
}


/** One counter line of `swctl ipf-get-status`, e.g. 'v4 frags completed'. */
function ipfCounter(swd: SwdInstance, name: string): number {
  const l = swd.ok(['ipf-get-status']).find((x) => x.trim().startsWith(name + ':'));
  return Number(l!.split(':')[1]);
}

/** A UDP server in h: prints "<peer> <length> <sha1>" per datagram and answers with the same bytes (not with a third argument). */
const UDP_ECHO = `
import socket, sys, hashlib
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print('listening', flush=True)
while True:
    d, a = s.recvfrom(70000)
    print(a[0], len(d), hashlib.sha1(d).hexdigest()[:8], flush=True)
    if len(sys.argv) < 4:
        s.sendto(d, a)
`;

/** Scapy in h: send fragments of one UDP datagram to dst:port in the order given (indices), with optional extras. */
const SCAPY_SEND = `
import sys
from scapy.all import IP, UDP, Raw, fragment, send, conf
conf.verb = 0
dst, port, size, order, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
pkt = IP(dst=dst, id=4242 + size) / UDP(sport=5555, dport=port) / Raw(bytes((i * 7) & 0xff for i in range(size)))
frags = fragment(pkt, fragsize=1400)
out = [frags[int(i)] for i in order.split(',')]
if mode == 'overlap':
    over = IP(bytes(frags[1]))
    over.frag = over.frag - 25  # starts 200 bytes inside the first fragment
    del over.chksum
    out.insert(1, over)
for f in out:
    send(f)
`;

describe.skipIf(skip !== null)(`IP fragments through swd${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it("ping -s 1600, 3200 and 65000 through seed 001's ACL, IPv4 and IPv6, with two PMD threads", async () => {
    const { topo, swd, h } = await setup(['--pmd-threads', '2']);
    swd.ok(['add-flows', 'br0', '-'], [...FLOWS_ACL, ...FLOWS_ACL6].join('\n'));
    for (const size of [1600, 3200, 65000]) {
      for (const dst of [h[1].ip, h[1].ip6]) {
        const r = topo.execSync(h[0].ns, ['ping', '-c', '2', '-i', '0.3', '-W', '3', '-s', String(size), dst], { timeoutMs: 20_000 });
        expect(r.stdout, `ping -s ${size} ${dst}`).toContain('2 packets transmitted, 2 received');
      }
    }
    // Every datagram was reassembled (by swd, not by the kernel) and sent on as its fragments.
    expect(ipfCounter(swd, 'v4 frags completed')).toBeGreaterThan(0);
    expect(ipfCounter(swd, 'v6 frags completed')).toBeGreaterThan(0);
    expect(ipfCounter(swd, 'num frag')).toBe(0);
    // The reverse direction still cannot open a connection, fragmented or not.
    const back = topo.execSync(h[1].ns, ['ping', '-c', '1', '-W', '1', '-s', '3200', h[0].ip], { timeoutMs: 10_000 });
    expect(back.stdout).toContain('0 received');
    const ct = swd.ok(['dump-conntrack']);
    expect(ct.some((l) => l.startsWith(`icmp,orig=(src=${h[0].ip},dst=${h[1].ip},`))).toBe(true);
    expect(ct.some((l) => l.startsWith(`icmpv6,orig=(src=${h[0].ip6},dst=${h[1].ip6},`))).toBe(true);
  });

  it('scapy fragments: out of order and with an overlap are delivered and counted; a datagram that never completes expires', async () => {
    const { topo, swd, h } = await setup();
    swd.ok(['add-flows', 'br0', '-'], FLOWS_ACL.join('\n'));
    const server = topo.spawn(h[1].ns, [PY, '-u', '-c', UDP_ECHO, h[1].ip, '9999', 'sink']);
    expect(await waitFor(() => server.stdout.includes('listening'))).toBe(true);
    const send = (size: number, order: string, mode = 'plain') =>
      topo.execSync(h[0].ns, [PY, '-c', SCAPY_SEND, h[1].ip, '9999', String(size), order, mode], { check: true, timeoutMs: 30_000 });
    const received = () => server.stdout.split('\n').filter((l) => l.startsWith(h[0].ip));

    send(4000, '2,0,1');
    expect(await waitFor(() => received().length === 1)).toBe(true);
    expect(received()[0]).toMatch(new RegExp(`^${h[0].ip.replace(/\./g, '\\.')} 4000 `));
    // The ACL runs ct() twice (ct(table=1), then ct(commit)) and OVS's ipf counts the fragments at each.
    expect(await waitFor(() => ipfCounter(swd, 'v4 frags completed') === 6), 'v4 frags completed: 6').toBe(true);

    send(4100, '0,1,2', 'overlap');
    expect(await waitFor(() => received().length === 2)).toBe(true);
    expect(ipfCounter(swd, 'v4 frags overlapped')).toBe(1);
    expect(await waitFor(() => ipfCounter(swd, 'v4 frags completed') === 12), 'v4 frags completed: 12').toBe(true);

    send(4200, '0,2'); // 4 fragments (4208 bytes): the first and the third
    expect(await waitFor(() => ipfCounter(swd, 'num frag') === 2)).toBe(true);
    const lists = swd.ok(['ipf-get-status', '-m']).filter((l) => l.startsWith('(src='));
    expect(lists).toEqual([`(src=${h[0].ip},dst=${h[1].ip},recirc_id=0,ip_id=${4242 + 4200},dl_type=0x800,zone=0,nw_proto=17,num_fragments=2,state=first frag)`]);
    // The list times out after 15 s: its two fragments are counted expired, nothing was delivered.
    expect(await waitFor(() => ipfCounter(swd, 'v4 frags expired') === 2, 30_000, 500), swd.ok(['ipf-get-status', '-m']).join('\n') + Date.now()).toBe(true);
    expect(ipfCounter(swd, 'num frag')).toBe(0);
    expect(received().length).toBe(2);
  });

  it('SNAT of fragmented UDP: the server sees the NAT address, the whole answer comes back', async () => {
    const { topo, swd, h } = await setup();
    swd.ok(['add-flows', 'br0', '-'], [
      'priority=10,arp,action=normal',
      'in_port=1,ip,action=ct(commit,zone=1,nat(src=10.78.0.240)),2',
      'in_port=2,ct_state=-trk,ip,action=ct(table=0,zone=1,nat)',
      'in_port=2,ct_state=+trk+est,ct_zone=1,ip,action=1',
    ].join('\n'));
    topo.execSync(h[1].ns, ['ip', 'neigh', 'replace', '10.78.0.240', 'lladdr', h[0].mac, 'dev', h[1].dev, 'nud', 'permanent'], { check: true });
    const server = topo.spawn(h[1].ns, [PY, '-u', '-c', UDP_ECHO, h[1].ip, '9998']);
    expect(await waitFor(() => server.stdout.includes('listening'))).toBe(true);
    const client = `
import socket, hashlib
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
d = bytes((i * 13) & 0xff for i in range(5000))
s.sendto(d, ('${h[1].ip}', 9998))
r, a = s.recvfrom(70000)
print(len(r), hashlib.sha1(r).hexdigest()[:8], hashlib.sha1(d).hexdigest()[:8])
`;
    const r = topo.execSync(h[0].ns, [PY, '-c', client], { check: true, timeoutMs: 15_000 });
    const [len, got, sent] = r.stdout.trim().split(' ');
    expect(len).toBe('5000');
    expect(got).toBe(sent);
    expect(await waitFor(() => server.stdout.includes('10.78.0.240 5000 '))).toBe(true);
    expect(await waitFor(() => ipfCounter(swd, 'v4 frags completed') === 8), '4 fragments each way').toBe(true);
    expect(swd.ok(['dump-conntrack']).some((l) => l.includes('reply=(src=10.78.0.2,dst=10.78.0.240,'))).toBe(true);
  });
});
