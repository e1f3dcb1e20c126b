// The quick start, end to end: a real swd, driven only through swctl.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPcap } from '../../src/packet/pcap.ts';
import { path, SwdInstance } from './harness.ts';

const ETH12 = 'eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02)';
const UDP_P1 = `in_port(1),${ETH12},eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1000,dst=53)`;

/** dump-dp-flows lines with the time column normalised. */
function dpFlows(swd: SwdInstance): string[] {
  return swd.ok(['dump-dp-flows']).map((l) => l.replace(/used:[0-9.]+s/, 'used:X'));
}

/** dump-flows lines without duration/idle_age. */
function flows(swd: SwdInstance, br = 'br0'): string[] {
  return swd.ok(['dump-flows', br]).map((l) => l.replace(/duration=[0-9.]+s/, 'duration=X').replace(/idle_age=\d+/, 'idle_age=X'));
}

describe('swd + swctl: bridges, flows, packets', () => {
  const swd = new SwdInstance();
  beforeAll(() => swd.start());
  afterAll(() => swd.dispose());

  it('starts with br0 and dummy ports p1, p2 (and the LOCAL port) and an owner-only socket', () => {
    expect(swd.ok(['list-br'])).toEqual(['br0']);
    const show = swd.ok(['show', 'br0']);
    expect(show.filter((l) => /^ \S+\(/.test(l))).toEqual([
      ' 1(p1): addr:aa:55:aa:55:00:01',
      ' 2(p2): addr:aa:55:aa:55:00:02',
      ' LOCAL(br0): addr:aa:55:aa:55:00:64',
    ]);
    expect(statSync(swd.socket).mode & 0o777).toBe(0o600);
  });

  it('forwards an injected packet by the flow table, counts it, and writes it to tx_pcap', () => {
    const pcap = path(swd, 'p3.pcap');
    swd.ok(['add-port', 'br0', 'p3', 'type=dummy', 'ofport=3', `options:tx_pcap=${pcap}`]);
    writeFileSync(path(swd, 'fwd.txt'), 'priority=10,in_port=1,udp,tp_dst=53,actions=output:3\npriority=1,actions=drop\n');
    swd.ok(['add-flows', 'br0', path(swd, 'fwd.txt')]);
    swd.ok(['inject', 'br0', 'p1', UDP_P1, '--count', '3']);
    expect(flows(swd)).toEqual([
      'NXST_FLOW reply (xid=0x4):',
      ' cookie=0x0, duration=X, table=0, n_packets=3, n_bytes=318, idle_age=X, priority=10,udp,in_port=1,tp_dst=53 actions=output:3',
      ' cookie=0x0, duration=X, table=0, n_packets=0, n_bytes=0, idle_age=X, priority=1 actions=drop',
    ]);
    expect(dpFlows(swd)).toEqual([
      'recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(proto=17,frag=no),udp(dst=53), packets:2, bytes:212, used:X, actions:3',
    ]);
    const ports = swd.ok(['dump-ports', 'br0', 'p3']);
    expect(ports).toEqual([
      'OFPST_PORT reply (xid=0x2): 1 ports',
      '  port  3: rx pkts=0, bytes=0, drop=0, errs=0, frame=0, over=0, crc=0',
      '           tx pkts=3, bytes=318, drop=0, errs=0, coll=0',
    ]);
    const sent = readPcap(pcap);
    expect(sent).toHaveLength(3);
    expect(Buffer.from(sent[0].data).toString('hex')).toBe(
      '505400000002505400000001080045000' + '05c000000004011648d0a0101010a01010203e8003500480139' +
        Array.from({ length: 64 }, (_, i) => i.toString(16).padStart(2, '0')).join(''),
    );
  });

  it('revalidates megaflows when the flow table changes: no forwarding by a deleted rule', () => {
    swd.ok(['del-flows', 'br0', 'udp,tp_dst=53']);
    expect(dpFlows(swd)).toEqual([]);
    swd.ok(['inject', 'br0', 'p1', UDP_P1]);
    expect(dpFlows(swd)).toEqual([
      'recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(frag=no), packets:0, bytes:0, used:never, actions:drop',
    ]);
    expect(swd.ok(['dump-ports', 'br0', '3'])[2]).toBe('           tx pkts=3, bytes=318, drop=0, errs=0, coll=0');
  });

  it('refuses a flows file with one bad line, naming file, line and column, and applies nothing', () => {
    const before = flows(swd);
    writeFileSync(path(swd, 'bad.txt'), 'priority=5,ip,actions=drop\n\npriority=6,ip,nw_scr=10.0.0.1,actions=drop\n');
    const r = swd.ctl(['add-flows', 'br0', path(swd, 'bad.txt')]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`swctl: ${path(swd, 'bad.txt')}:3:15: unknown field 'nw_scr'`);
    expect(flows(swd)).toEqual(before);
  });

  it('answers errors for bad requests in one line and keeps running', () => {
    expect(swd.ctl(['show', 'nosuchbr']).stderr.trim()).toBe('swctl: no bridge named nosuchbr');
    expect(swd.ctl(['inject', 'br0', 'p1', 'in_port(1),eth(']).code).toBe(1);
    expect(swd.ctl(['inject', 'br0', 'p1', 'zz']).stderr).toMatch(/^swctl: bad packet: /);
    expect(swd.ctl(['add-port', 'br0', 'p1']).stderr.trim()).toBe('swctl: port p1 already exists on bridge br0');
    expect(swd.ok(['list-br'])).toEqual(['br0']);
  });

  it('learns MAC addresses with NORMAL and shows them like fdb/show', () => {
    swd.ok(['del-flows', 'br0']);
    swd.ok(['add-flow', 'br0', 'actions=NORMAL']);
    swd.ok(['inject', 'br0', 'p1', UDP_P1]);
    const fdb = swd.ok(['fdb-show', 'br0']).map((l) => l.replace(/\s+\d+$/, ' AGE'));
    expect(fdb).toEqual([' port  VLAN  MAC                Age', '    1     0  50:54:00:00:00:01 AGE']);
    // Unknown destination: flooded to every port but the input one (p2, p3, LOCAL).
    expect(dpFlows(swd)).toEqual([
      'recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(frag=no), packets:0, bytes:0, used:never, actions:2,3,100',
    ]);
  });

  it('traces a flow like ofproto/trace', () => {
    swd.ok(['del-flows', 'br0']);
    swd.ok(['add-flow', 'br0', 'table=0,priority=100,udp,tp_dst=53,actions=mod_nw_src:10.9.9.9,resubmit(,1)']);
    swd.ok(['add-flow', 'br0', 'table=1,in_port=1,actions=set_field:5->reg0,output:2']);
    const t = swd.ok(['trace', 'br0', UDP_P1]);
    expect(t.slice(1)).toEqual([
      'bridge("br0")',
      '-------------',
      ' 0. udp,tp_dst=53, priority 100',
      '    mod_nw_src:10.9.9.9',
      '    resubmit(,1)',
      ' 1. in_port=1, priority 32768',
      '    load:0x5->NXM_NX_REG0[]',
      '    output:2',
      'Final flow: udp,reg0=0x5,in_port=1,vlan_tci=0x0000,dl_src=50:54:00:00:00:01,dl_dst=50:54:00:00:00:02,nw_src=10.9.9.9,nw_dst=10.1.1.2,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,tp_src=1000,tp_dst=53',
      'Megaflow: recirc_id=0,eth,udp,in_port=1,nw_src=10.1.1.1,nw_frag=no,tp_dst=53',
      'Datapath actions: set(ipv4(src=10.9.9.9)),2',
    ]);
  });

  it('prints JSON with --json', () => {
    const r = swd.ctl(['--json', 'list-br']);
    expect(JSON.parse(r.stdout)).toEqual({ bridges: ['br0'] });
  });

  it('persists configuration across a restart and refuses a second daemon on the same rundir', async () => {
    const again = new SwdInstance();
    try {
      const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
        const c = spawn(process.execPath, ['bin/swd.js', 'start', '--rundir', swd.rundir], { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        c.stderr.on('data', (d: Buffer) => (err += d.toString()));
        c.on('exit', (code) => resolve({ code, err }));
      });
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/^swd: another swd \(pid \d+\) is already running on /);
    } finally {
      await again.dispose();
    }
    const before = swd.ok(['dump-flows', 'br0', '--no-stats']);
    await swd.stop();
    expect(existsSync(swd.socket)).toBe(false);
    const db = JSON.parse(readFileSync(`${swd.rundir}/swd.db.json`, 'utf8'));
    expect(db.bridges[0].ports.map((p: { name: string }) => p.name)).toEqual(['p1', 'p2', 'p3']);
    await swd.start();
    expect(swd.ok(['dump-flows', 'br0', '--no-stats'])).toEqual(before);
    expect(swd.ok(['show', 'br0']).filter((l) => l.includes('(p3)'))).toEqual([' 3(p3): addr:aa:55:aa:55:00:03']);
  });
});
