// replace-flows and diff-flows through swctl, as ovs-ofctl's: the bridge's
// tables become the file's flows with the fewest changes (unchanged flows
// keep their counters), and diff-flows prints the difference in
// ovs-ofctl diff-flows' format (-: the bridge's version, +: the file's),
// exiting 2 when there is one. Also add-flows files with line commands.

import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { path, SwdInstance } from './harness.ts';

const UDP = 'in_port(1),eth(src=00:00:00:00:00:01,dst=00:00:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1000,dst=53)';

describe('replace-flows, diff-flows, add-flows line commands', () => {
  const swd = new SwdInstance();
  const f = (name: string, lines: string[]) => {
    writeFileSync(path(swd, name), lines.join('\n') + '\n');
    return path(swd, name);
  };
  const flows = () => swd.ok(['dump-flows', 'br0']).slice(1).map((l) => l.replace(/ duration=[\d.]+s,/, '').replace(/ idle_age=\d+,/, ''));

  beforeAll(async () => {
    await swd.start();
    swd.ok(['add-flows', 'br0', f('old.txt', [
      'priority=100,udp actions=output:2',
      'table=1,priority=5,arp,actions=NORMAL',
      'cookie=0x5,tcp,tp_dst=80,actions=drop',
      'in_port=2,actions=output:1',
    ])]);
    swd.ok(['inject', 'br0', 'p1', UDP, '--count', '3']);
  });
  afterAll(() => swd.dispose());

  it('diff-flows prints what differs between the bridge and the file, as ovs-ofctl does, and exits 2', () => {
    const file = f('new.txt', [
      'priority=100,udp actions=output:2',
      'table=1,priority=5,arp,actions=drop',
      'udp,actions=output:3',
      'idle_timeout=10,in_port=p2,actions=output:p1',
      'actions=drop',
    ]);
    const r = swd.ctl(['diff-flows', 'br0', file]);
    expect(r.code).toBe(2);
    // (ovs-ofctl prints the same lines in its classifier's hash order; swd sorts by table, priority, match.)
    expect(r.stdout.split('\n').filter(Boolean)).toEqual([
      '+ actions=drop',
      '-in_port=2 actions=output:1',
      '+in_port=2 idle_timeout=10 actions=output:1',
      '-tcp,tp_dst=80 cookie=0x5 actions=drop',
      '+udp actions=output:3',
      '-table=1 priority=5,arp actions=NORMAL',
      '+table=1 priority=5,arp actions=drop',
    ]);
    expect(swd.ctl(['diff-flows', '--names', 'br0', file]).stdout).toContain('+in_port=p2 idle_timeout=10 actions=output:p1\n');
  });

  it('replace-flows makes the tables the file, keeping the counters of unchanged flows; then diff-flows finds nothing', () => {
    expect(flows()).toContain(' cookie=0x0, table=0, n_packets=3, n_bytes=318, priority=100,udp actions=output:2');
    swd.ok(['replace-flows', '--bundle', 'br0', path(swd, 'new.txt')]);
    expect(flows()).toEqual([
      ' cookie=0x0, table=0, n_packets=0, n_bytes=0, udp actions=output:3',
      ' cookie=0x0, table=0, n_packets=0, n_bytes=0, idle_timeout=10, in_port=2 actions=output:1',
      ' cookie=0x0, table=0, n_packets=0, n_bytes=0, actions=drop',
      ' cookie=0x0, table=0, n_packets=3, n_bytes=318, priority=100,udp actions=output:2',
      ' cookie=0x0, table=1, n_packets=0, n_bytes=0, priority=5,arp actions=drop',
    ]);
    const r = swd.ctl(['diff-flows', 'br0', path(swd, 'new.txt')]);
    expect([r.code, r.stdout]).toEqual([0, '']);
  });

  it('replace-flows with a bad line changes nothing', () => {
    const before = flows();
    const r = swd.ctl(['replace-flows', 'br0', f('bad.txt', ['ip,actions=drop', 'ip nw_scr=1.2.3.4 actions=drop'])]);
    expect([r.code, r.stderr]).toEqual([1, `swctl: ${path(swd, 'bad.txt')}:2:4: unknown field 'nw_scr'\n`]);
    expect(flows()).toEqual(before);
  });

  it('add-flows lines may start with add, modify, modify_strict, delete or delete_strict, applied in order', () => {
    swd.ok(['del-flows', 'br0']);
    swd.ok(['add-flows', 'br0', f('mixed.txt', [
      'priority=10 ip actions=output:1',
      'add priority=20 arp actions=NORMAL',
      'add priority=30 tcp actions=output:2',
      'modify_strict priority=20 arp actions=LOCAL',
      'delete tcp',
      'modify ip actions=output:2',
    ])]);
    expect(swd.ok(['dump-flows', 'br0', '--no-stats'])).toEqual([' priority=20,arp actions=LOCAL', ' priority=10,ip actions=output:2']);
  });

  it('port names of the bridge work in every place a port number does; fields swd cannot carry are refused at their column', () => {
    swd.ok(['del-flows', 'br0']);
    swd.ok(['add-flow', 'br0', 'in_port=p1 ip actions=resubmit(p2,1),p2']);
    expect(swd.ok(['dump-flows', 'br0', '--no-stats'])).toEqual([' ip,in_port=1 actions=resubmit(2,1),output:2']);
    expect(swd.ok(['dump-flows', 'br0', '--no-stats', '--names'])).toEqual([' ip,in_port=p1 actions=resubmit(p2,1),output:p2']);
    expect(swd.ok(['dump-flows', 'br0', '--no-stats', 'in_port=p1'])).toHaveLength(1);
    const r = swd.ctl(['add-flow', 'br0', 'ip,tun_id=0x5,actions=drop']);
    expect([r.code, r.stderr]).toEqual([1, 'swctl: (command line):1:4: field tun_id is not supported by swd (swd has no tunnel ports)\n']);
    const p = swd.ctl(['add-flow', 'br0', 'ct_state=+trk,ip,ct_nw_dst=10.0.0.5,actions=drop']);
    expect([p.code, p.stderr]).toEqual([1, 'swctl: (command line):1:18: OFPBMC_BAD_PREREQ: field ct_nw_dst needs a valid tracked connection (ct_state=+trk-inv, +new, +est, +rel, +rpl, +snat or +dnat) to be matched too\n']);
    swd.ok(['add-flow', 'br0', 'ct_state=+trk-inv,ip,ct_nw_dst=10.0.0.5,actions=drop']);
  });
});
