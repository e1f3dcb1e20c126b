// OpenFlow groups through swd and swctl: a load balancer as OVN builds one
// (a select group whose buckets each run ct(commit,nat(dst=...),table=N))
// spreading 60 TCP connections over three backends, replies un-NATed;
// fast_failover moving to the next bucket when the watched port goes and
// back when it returns; groups surviving a restart. What leaves the ports
// is read back from tx_pcap.

import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePacketArg } from '../../src/packet/compose.ts';
import { PcapWriter } from '../../src/packet/pcap.ts';
import { path, SwdInstance } from './harness.ts';
import { sent } from './sent.ts';

const E12 = 'eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02)';
const E21 = 'eth(src=50:54:00:00:00:02,dst=50:54:00:00:00:01)';
const tcp = (eth: string, src: string, dst: string, sport: number, dport: number, flags: string) =>
  `${eth},eth_type(0x0800),ipv4(src=${src},dst=${dst},proto=6,tos=0,ttl=64,frag=no),tcp(src=${sport},dst=${dport}),tcp_flags(${flags})`;


/** Write packets (datapath-flow text) as a pcap file for a pcap port to replay. */
function writePackets(file: string, packets: string[]): void {
  const w = new PcapWriter(file);
  for (const p of packets) {
    const { bytes } = parsePacketArg(p);
    w.write(bytes, 0, bytes.length);
  }
  w.close();
}

const VIP = '10.0.0.100';
const BACKENDS = ['10.1.1.2', '10.1.1.3', '10.1.1.4'];
const CLIENT = '10.9.0.1';
const N_CONN = 60;
const sport = (c: number) => 20000 + c;

describe('groups end to end', () => {
  const swd = new SwdInstance();
  const f = (n: string) => path(swd, n);
  beforeAll(async () => {
    await swd.start(['--no-default-bridge']);
    swd.ok(['add-br', 'br0']);
    for (const p of ['p1', 'p2']) {
      writePackets(f(`${p}-rx.pcap`), []);
      swd.ok(['add-port', 'br0', p, 'type=pcap', `ofport=${p.slice(1)}`, `options:rx_pcap=${f(`${p}-rx.pcap`)},tx_pcap=${f(`${p}.pcap`)}`]);
    }
    swd.ok(['add-port', 'br0', 'p3', 'ofport=3', `options:tx_pcap=${f('p3.pcap')}`]);
  });
  afterAll(() => swd.dispose());

  it('a select group of three DNAT buckets spreads 60 connections, keeps each on one backend and un-NATs the replies', () => {
    const buckets = BACKENDS.map((b) => `bucket=weight=100,ct(commit,zone=1,nat(dst=${b}:8080),table=4)`).join(',');
    swd.ok(['add-group', 'br0', `group_id=1,type=select,${buckets}`]);
    writeFileSync(
      f('lb.txt'),
      [
        'table=0,in_port=1,ip,actions=ct(table=1,zone=1,nat)',
        `table=1,in_port=1,ct_state=+trk+new,tcp,nw_dst=${VIP},tp_dst=80,actions=group:1`,
        'table=1,in_port=1,ct_state=+trk+est,ip,actions=2',
        'table=4,ip,actions=2',
        'table=0,in_port=2,ip,actions=ct(table=3,zone=1,nat)',
        'table=3,in_port=2,ct_state=+trk+est,ip,actions=1',
      ].join('\n'),
    );
    swd.ok(['add-flows', 'br0', f('lb.txt')]);
    expect(swd.ok(['dump-groups', 'br0'])).toEqual([
      'NXST_GROUP_DESC reply (xid=0x2):',
      ' group_id=1,type=select,' +
        BACKENDS.map((b, i) => `bucket=bucket_id:${i},weight:100,actions=ct(commit,table=4,zone=1,nat(dst=${b}:8080))`).join(','),
    ]);

    // 60 SYNs from one client to the VIP.
    writePackets(f('p1-rx.pcap'), [...Array(N_CONN).keys()].map((c) => tcp(E12, CLIENT, VIP, sport(c), 80, 'syn')));
    swd.ok(['pcap-replay', 'br0', 'p1']);
    const syns = sent(f('p2.pcap'));
    expect(syns).toHaveLength(N_CONN);
    const backendOf = new Map<number, string>();
    for (const s of syns) {
      expect(BACKENDS).toContain(s.dst);
      expect([s.src, s.dport, s.checksumsOk]).toEqual([CLIENT, 8080, true]);
      backendOf.set(s.sport, s.dst);
    }
    expect(backendOf.size).toBe(N_CONN);
    // Every backend gets connections.
    const perBackend = BACKENDS.map((b) => syns.filter((s) => s.dst === b).length);
    expect(perBackend.every((n) => n > 0)).toBe(true);

    // Each connection's megaflow through the group matches its whole hashed tuple.
    const natFlows = swd.ok(['dump-dp-flows']).filter((l) => l.includes('nat(dst='));
    expect(natFlows).toHaveLength(N_CONN);
    for (const l of natFlows) {
      expect(l).toMatch(/eth\(src=50:54:00:00:00:01,dst=50:54:00:00:00:02\),eth_type\(0x0800\),ipv4\(src=10\.9\.0\.1,dst=10\.0\.0\.100,proto=6,frag=no\),tcp\(src=\d+,dst=80\)/);
    }

    // The backends answer; the client sees the VIP.
    writePackets(f('p2-rx.pcap'), syns.map((s) => tcp(E21, s.dst, CLIENT, 8080, s.sport, 'syn|ack')));
    swd.ok(['pcap-replay', 'br0', 'p2']);
    const replies = sent(f('p1.pcap'));
    expect(replies.map((r) => [r.src, r.sport, r.dst, r.checksumsOk])).toEqual(syns.map(() => [VIP, 80, CLIENT, true]));
    expect(replies.map((r) => r.dport)).toEqual(syns.map((s) => s.sport));

    // The client's second packet of each connection goes to the same backend.
    // (The composed segments carry no real sequence numbers.)
    swd.ok(['ct-disable-tcp-seq-chk']);
    writePackets(f('p1-rx.pcap'), [...Array(N_CONN).keys()].map((c) => tcp(E12, CLIENT, VIP, sport(c), 80, 'ack')));
    swd.ok(['pcap-replay', 'br0', 'p1']);
    const acks = sent(f('p2.pcap')).slice(N_CONN);
    expect(acks).toHaveLength(N_CONN);
    for (const a of acks) expect([a.sport, a.dst, a.dport]).toEqual([a.sport, backendOf.get(a.sport), 8080]);

    // Group counters: the 60 new connections went through the group, split as chosen.
    const stats = swd.ok(['dump-group-stats', 'br0', '1']);
    expect(stats[0]).toBe('NXST_GROUP reply (xid=0x6):');
    expect(stats[1].replace(/duration=[0-9.]+s/, 'duration=X')).toBe(
      ` group_id=1,duration=X,ref_count=1,packet_count=${N_CONN},byte_count=${N_CONN * 54},` +
        perBackend.map((n, i) => `bucket${i}:packet_count=${n},byte_count=${n * 54}`).join(','),
    );
    expect(swd.ok(['dump-conntrack', 'zone=1'])).toHaveLength(N_CONN);
  });

  it('removing a bucket (mod-group) moves only its connections; deleting the group deletes the flows that use it', () => {
    swd.ok(['flush-conntrack']);
    swd.ok(['del-dp-flows']);
    const before = sent(f('p2.pcap')).length;
    // Two backends left: new SYNs of the same 60 connections.
    const buckets = BACKENDS.slice(0, 2).map((b, i) => `bucket=bucket_id=${i},weight=100,ct(commit,zone=1,nat(dst=${b}:8080),table=4)`).join(',');
    swd.ok(['mod-group', 'br0', `group_id=1,type=select,${buckets}`]);
    writePackets(f('p1-rx.pcap'), [...Array(N_CONN).keys()].map((c) => tcp(E12, CLIENT, VIP, sport(c), 80, 'syn')));
    swd.ok(['pcap-replay', 'br0', 'p1']);
    const syns = sent(f('p2.pcap')).slice(before);
    expect(syns).toHaveLength(N_CONN);
    const first = new Map(sent(f('p2.pcap')).slice(0, N_CONN).map((s) => [s.sport, s.dst]));
    for (const s of syns) {
      expect(BACKENDS.slice(0, 2)).toContain(s.dst);
      // Rendezvous hashing: a connection that was on a remaining backend stays there.
      if (first.get(s.sport) !== BACKENDS[2]) expect(s.dst).toBe(first.get(s.sport));
    }
    expect(swd.ok(['dump-group-stats', 'br0', 'group_id=1'])[1]).toMatch(/^ group_id=1,duration=[0-9.]+s,ref_count=1,packet_count=60,/);

    swd.ok(['del-groups', 'br0', 'group_id=1']);
    expect(swd.ok(['dump-groups', 'br0'])).toEqual(['NXST_GROUP_DESC reply (xid=0x2):']);
    expect(swd.ok(['dump-flows', 'br0', '--no-stats']).some((l) => l.includes('group:1'))).toBe(false);
    expect(swd.ok(['dump-dp-flows']).some((l) => l.includes('nat(dst='))).toBe(false);
  });

  it('refuses a flow to a missing group and a bad group, applying nothing', () => {
    const r = swd.ctl(['add-flow', 'br0', 'in_port=1,actions=group:99']);
    expect([r.code, r.stderr]).toEqual([1, 'swctl: (command line):1:19: OFPBAC_BAD_OUT_GROUP: group 99 does not exist\n']);
    writeFileSync(f('bad-groups.txt'), ['group_id=5,type=all,bucket=output:2', 'group_id=6,type=select,bucket=weight=65536,output:2'].join('\n'));
    const b = swd.ctl(['add-groups', 'br0', f('bad-groups.txt')]);
    expect([b.code, b.stderr]).toEqual([1, `swctl: ${f('bad-groups.txt')}:2:38: invalid weight "65536"\n`]);
    expect(swd.ok(['dump-groups', 'br0', '5'])).toEqual(['NXST_GROUP_DESC reply (xid=0x2):']);
    const m = swd.ctl(['mod-group', 'br0', 'group_id=7,type=all,bucket=output:2']);
    expect([m.code, m.stderr]).toEqual([1, 'swctl: (command line):1: OFPGMFC_UNKNOWN_GROUP: group 7 does not exist\n']);
  });

  it('fast_failover takes the first bucket whose watched port is live, and moves when the port goes and comes back', () => {
    swd.ok(['del-flows', 'br0']);
    swd.ok(['add-group', 'br0', 'group_id=2,type=fast_failover,bucket=watch_port:2,output:2,bucket=watch_port:3,output:3']);
    swd.ok(['add-flow', 'br0', 'in_port=1,ip,actions=group:2']);
    const pkt = `in_port(1),${tcp(E12, CLIENT, VIP, 30000, 80, 'syn')}`;
    const n2 = sent(f('p2.pcap')).length;
    swd.ok(['inject', 'br0', 'p1', pkt]);
    expect(sent(f('p2.pcap')).length).toBe(n2 + 1);
    expect(sent(f('p3.pcap'))).toHaveLength(0);

    swd.ok(['del-port', 'br0', 'p2']);
    swd.ok(['inject', 'br0', 'p1', pkt]);
    expect(sent(f('p3.pcap'))).toHaveLength(1);
    expect(swd.ok(['trace', 'br0', 'in_port=1,tcp,nw_src=10.9.0.1,nw_dst=10.0.0.100,tp_src=30000,tp_dst=80'])).toEqual(
      expect.arrayContaining(['     -> bucket 0: not live due to port 2', '     -> using bucket 1', 'Datapath actions: 3']),
    );

    swd.ok(['add-port', 'br0', 'p2', 'ofport=2', `options:tx_pcap=${f('p2-again.pcap')}`]);
    swd.ok(['inject', 'br0', 'p1', pkt]);
    expect(sent(f('p2-again.pcap'))).toHaveLength(1);
    expect(sent(f('p3.pcap'))).toHaveLength(1);
    expect(swd.ok(['dump-group-stats', 'br0', '2'])[1]).toMatch(
      /^ group_id=2,duration=[0-9.]+s,ref_count=1,packet_count=3,byte_count=162,bucket0:packet_count=2,byte_count=108,bucket1:packet_count=1,byte_count=54$/,
    );
  });

  it('groups come back after a restart, before the flows that use them', async () => {
    const groups = swd.ok(['dump-groups', 'br0']);
    const flows = swd.ok(['dump-flows', 'br0', '--no-stats']);
    await swd.stop();
    await swd.start();
    expect(swd.ok(['dump-groups', 'br0'])).toEqual(groups);
    expect(swd.ok(['dump-flows', 'br0', '--no-stats'])).toEqual(flows);
  });
});
