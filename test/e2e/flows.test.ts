// Flow-table management and pcap ports through swctl.

import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composePacket } from '../../src/packet/compose.ts';
import { parseOdpFlow } from '../../src/packet/odp-parse.ts';
import { PcapWriter, readPcap } from '../../src/packet/pcap.ts';
import { path, SwdInstance } from './harness.ts';

const noStats = (swd: SwdInstance, ...args: string[]) => swd.ok(['dump-flows', 'br0', '--no-stats', ...args]);

describe('flow mods: add, modify, delete (loose and strict), dump with a filter', () => {
  const swd = new SwdInstance();
  beforeAll(async () => {
    await swd.start();
    writeFileSync(
      path(swd, 'f.txt'),
      [
        '# a comment, then a blank line',
        '',
        'priority=100,ip,nw_src=10.0.0.1,actions=output:1',
        'priority=200,ip,nw_src=10.0.0.1,actions=output:2',
        'priority=100,tcp,nw_src=10.0.0.1,tp_dst=80,actions=drop',
        'table=1,priority=5,arp,actions=NORMAL',
      ].join('\n'),
    );
    swd.ok(['add-flows', 'br0', path(swd, 'f.txt')]);
  });
  afterAll(() => swd.dispose());

  it('dumps every table, or only flows matching a filter', () => {
    expect(noStats(swd)).toEqual([
      ' priority=200,ip,nw_src=10.0.0.1 actions=output:2',
      ' priority=100,ip,nw_src=10.0.0.1 actions=output:1',
      ' priority=100,tcp,nw_src=10.0.0.1,tp_dst=80 actions=drop',
      ' table=1, priority=5,arp actions=NORMAL',
    ]);
    expect(noStats(swd, 'tcp')).toEqual([' priority=100,tcp,nw_src=10.0.0.1,tp_dst=80 actions=drop']);
    expect(noStats(swd, 'table=1')).toEqual([' table=1, priority=5,arp actions=NORMAL']);
  });

  it('mod-flows changes the actions of every flow at least as specific as the match; --strict only the exact one', () => {
    swd.ok(['mod-flows', 'br0', '--strict', 'priority=100,ip,nw_src=10.0.0.1,actions=output:3']);
    expect(noStats(swd, 'ip')).toEqual([
      ' priority=200,ip,nw_src=10.0.0.1 actions=output:2',
      ' priority=100,ip,nw_src=10.0.0.1 actions=output:3',
      ' priority=100,tcp,nw_src=10.0.0.1,tp_dst=80 actions=drop',
    ]);
    swd.ok(['mod-flows', 'br0', 'ip,nw_src=10.0.0.1,actions=LOCAL']);
    expect(noStats(swd, 'ip')).toEqual([
      ' priority=200,ip,nw_src=10.0.0.1 actions=LOCAL',
      ' priority=100,ip,nw_src=10.0.0.1 actions=LOCAL',
      ' priority=100,tcp,nw_src=10.0.0.1,tp_dst=80 actions=LOCAL',
    ]);
  });

  it('del-flows --strict removes only the flow with that priority and match; loose removes all that match', () => {
    swd.ok(['del-flows', 'br0', '--strict', 'priority=200,ip,nw_src=10.0.0.1']);
    expect(noStats(swd, 'ip')).toEqual([
      ' priority=100,ip,nw_src=10.0.0.1 actions=LOCAL',
      ' priority=100,tcp,nw_src=10.0.0.1,tp_dst=80 actions=LOCAL',
    ]);
    swd.ok(['del-flows', 'br0', 'ip']);
    expect(noStats(swd)).toEqual([' table=1, priority=5,arp actions=NORMAL']);
    swd.ok(['del-flows', 'br0']);
    expect(noStats(swd)).toEqual([]);
  });

  it('reads flows from stdin with -', () => {
    swd.ok(['add-flows', 'br0', '-'], 'priority=7,udp,actions=drop\n');
    expect(noStats(swd)).toEqual([' priority=7,udp actions=drop']);
  });

  it('rejects malformed flows with a located one-line error and applies nothing', () => {
    const cases: [string, string][] = [
      ['ip,nw_src=10.0.0.300,actions=drop', "(command line):1:11: nw_src: '10.0.0.300' is not an IPv4 address"],
      ['ip,actions=ct(commit)),2', "(command line):1:22: unbalanced parentheses: ')' without '('"],
      ['tcp,tp_dst=80,actions=frobnicate', "(command line):1:23: unknown action 'frobnicate'"],
      ['tp_dst=80,actions=drop', '(command line):1:1: OFPBMC_BAD_PREREQ: field tp_dst needs tcp, udp or sctp to be matched too'],
    ];
    for (const [flow, msg] of cases) {
      const r = swd.ctl(['add-flow', 'br0', flow]);
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(`swctl: ${msg}`);
    }
    expect(noStats(swd)).toEqual([' priority=7,udp actions=drop']);
  });
});

describe('pcap ports and the datapath commands', () => {
  const swd = new SwdInstance();
  beforeAll(() => swd.start());
  afterAll(() => swd.dispose());

  it('replays rx_pcap when added and on pcap-replay, and writes tx_pcap readable by tcpdump', () => {
    const rx = path(swd, 'in.pcap');
    const tx = path(swd, 'out.pcap');
    const w = new PcapWriter(rx);
    for (const port of [1000, 1001]) {
      const { key } = parseOdpFlow(`eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=no),udp(src=${port},dst=53)`);
      const p = composePacket(key);
      w.write(p, 0, p.length);
    }
    w.close();
    swd.ok(['add-flow', 'br0', 'in_port=5,actions=output:6']);
    swd.ok(['add-port', 'br0', 'out', 'type=pcap', 'ofport=6', `options:tx_pcap=${tx}`]);
    swd.ok(['add-port', 'br0', 'in', 'type=pcap', 'ofport=5', `options:rx_pcap=${rx}`]);
    expect(readPcap(tx)).toHaveLength(2);
    expect(swd.ok(['pcap-replay', 'br0', 'in'])).toEqual(['2 packets']);
    expect(readPcap(tx)).toHaveLength(4);
    const t = spawnSync('tcpdump', ['-nn', '-r', tx], { encoding: 'utf8' });
    if (t.error) {
      // tcpdump is installed by .ci/run; only a developer machine may lack it.
      expect(process.env.CI, 'tcpdump is missing').not.toBe('true');
      return;
    }
    const lines = t.stdout.split('\n').filter(Boolean).map((l) => l.replace(/^\S+ /, '').replace(/: .*/, ''));
    expect(lines).toEqual([
      'IP 10.1.1.1.1000 > 10.1.1.2.53',
      'IP 10.1.1.1.1001 > 10.1.1.2.53',
      'IP 10.1.1.1.1000 > 10.1.1.2.53',
      'IP 10.1.1.1.1001 > 10.1.1.2.53',
    ]);
  });

  it('refuses a pcap port whose rx_pcap does not exist, and adds nothing', () => {
    const r = swd.ctl(['add-port', 'br0', 'bad', 'type=pcap', `options:rx_pcap=${path(swd, 'none.pcap')}`]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`swctl: rx_pcap file '${path(swd, 'none.pcap')}' does not exist`);
    expect(swd.ok(['show', 'br0']).some((l) => l.includes('(bad)'))).toBe(false);
  });

  it('deletes datapath flows with del-dp-flows', () => {
    expect(swd.ok(['dump-dp-flows']).length).toBe(1);
    swd.ok(['del-dp-flows']);
    expect(swd.ok(['dump-dp-flows'])).toEqual([]);
  });

  it('stops with swd stop, removing socket and pidfile', () => {
    const r = spawnSync(process.execPath, ['bin/swd.js', 'stop', '--rundir', swd.rundir], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr.trim()).toBe('swd stopped');
    expect(existsSync(swd.socket)).toBe(false);
    expect(existsSync(`${swd.rundir}/swd.pid`)).toBe(false);
  });
});
