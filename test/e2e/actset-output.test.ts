// actset_output through swd and swctl: a flow file that writes an output
// into the action set and lets a later table decide by that port (as OVS's
// ofproto-dpif "actset_output" test does), packets injected, what each port
// sent and each rule's counters read back; the megaflows never match on it.

import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { path, SwdInstance } from './harness.ts';

const udp = (inPort: number) =>
  `in_port(${inPort}),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1000,dst=53)`;

describe('actset_output end to end', () => {
  const swd = new SwdInstance();
  const txPkts = (port: string) => Number(/tx pkts=(\d+)/.exec(swd.ok(['dump-ports', 'br0', port]).join('\n'))![1]);

  beforeAll(async () => {
    await swd.start();
    for (const p of [3, 4, 5]) swd.ok(['add-port', 'br0', `p${p}`, `ofport=${p}`]);
    swd.ok(['add-group', 'br0', 'group_id=1,type=indirect,bucket=output:5']);
    writeFileSync(path(swd, 'flows.txt'), [
      '# The action set says where the packet will go; table 1 acts on it.',
      'table=0,in_port=1 actions=write_actions(output:2),goto_table:1',
      'table=0,in_port=5 actions=write_actions(output:3),goto_table:1',
      'table=0,in_port=4 actions=write_actions(output:2,group:1),goto_table:1',
      'table=1,priority=20,actset_output=2 actions=output:4',
      'table=1,priority=20,actset_output=3 actions=output:1,clear_actions',
      'table=1,priority=20,actset_output=UNSET actions=output:3',
      'table=1,priority=10 actions=drop',
    ].join('\n') + '\n');
    swd.ok(['add-flows', 'br0', path(swd, 'flows.txt')]);
  });
  afterAll(() => swd.dispose());

  it('each packet leaves by the port its action-set output picked, and the matching rules count it', () => {
    swd.ok(['inject', 'br0', 'p1', udp(1), '--count', '3']);
    swd.ok(['inject', 'br0', 'p5', udp(5), '--count', '2']);
    swd.ok(['inject', 'br0', 'p4', udp(4)]);
    // p1's packets: table 1 sends them to p4, then the action set to p2. p5's: to p1 only (the set cleared).
    // p4's: a group in the set makes actset_output UNSET: to p3, then the set's group (not its output) to p5.
    expect(['p1', 'p2', 'p3', 'p4', 'p5'].map(txPkts)).toEqual([2, 3, 1, 3, 1]);
    const counts = swd.ok(['dump-flows', 'br0']).slice(1).map((l) => {
      const m = /table=(\d+), n_packets=(\d+),.* (priority=\d+,)?(\S+) actions=/.exec(l)!;
      return `${m[1]} ${m[4]} ${m[2]}`;
    });
    expect(counts).toEqual([
      '0 in_port=1 3', '0 in_port=5 2', '0 in_port=4 1',
      '1 actset_output=2 3', '1 actset_output=3 2', '1 actset_output=UNSET 1', '1 priority=10 0',
    ]);
  });

  it('dump-dp-flows shows megaflows that do not match on it', () => {
    const lines = swd.ok(['dump-dp-flows']).map((l) => l.replace(/, packets:.*actions:/, ' actions:')).sort();
    expect(lines).toEqual([
      'recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(frag=no) actions:4,2',
      'recirc_id(0),in_port(4),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(frag=no) actions:3,5',
      'recirc_id(0),in_port(5),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(frag=no) actions:1',
    ]);
  });

  it('a flow that writes to it is refused with the file position, and nothing is added', () => {
    writeFileSync(path(swd, 'bad.txt'), 'table=2,actions=drop\ntable=2,actions=load:1->OXM_OF_ACTSET_OUTPUT[]\n');
    const r = swd.ctl(['add-flows', 'br0', path(swd, 'bad.txt')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/bad\.txt:2:\d+: .*actset_output/);
    expect(swd.ok(['dump-flows', 'br0', 'table=2'])).toHaveLength(1);
  });
});
