// learn(...) inside the switch: the flow is built from the packet and
// installed (visible in dump-flows), refreshed when learned again, refused
// past limit= (result_dst tells which), removed with the learning flow under
// delete_learned, and expires by its hard_timeout. Tracing learns nothing.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Switch } from '../../src/ofproto/switch.ts';

const UDP = (inPort: number, src: string, dport = 53) =>
  `in_port(${inPort}),eth(src=${src},dst=50:54:00:00:00:09),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1000,dst=${dport})`;

describe('learn', () => {
  let sw: Switch;
  let now = 1_000_000;
  beforeEach(() => {
    now = 1_000_000;
    sw = Switch.fromConfig(null, { defaultBridge: true, now: () => now });
    sw.addPort('br0', { name: 'p3', ofport: 3 });
  });
  afterEach(() => sw.close());
  const flows = (table: number) => sw.dumpFlows('br0', `table=${table}`, { noStats: true }).lines;
  const send = (inPort: number, src: string, dport = 53) => {
    sw.inject('br0', `p${inPort}`, UDP(inPort, src, dport), 1);
  };

  it('limit= stops learning; result_dst says whether the flow was learned', () => {
    sw.addFlows('br0', [
      'table=0,actions=learn(table=1,limit=2,result_dst=reg0[0],cookie=0x7,hard_timeout=30,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[]),resubmit(,2)',
      'table=2,reg0=1,actions=output:2',
      'table=2,reg0=0,actions=output:3',
    ].join('\n'), 't');
    send(1, '50:54:00:00:00:01');
    send(1, '50:54:00:00:00:02');
    send(1, '50:54:00:00:00:03'); // over the limit: not learned, reg0[0]=0
    send(1, '50:54:00:00:00:01'); // already learned: refreshed, counts as learned
    expect(flows(1)).toEqual([
      ' cookie=0x7, table=1, hard_timeout=30, dl_dst=50:54:00:00:00:01 actions=output:1',
      ' cookie=0x7, table=1, hard_timeout=30, dl_dst=50:54:00:00:00:02 actions=output:1',
    ]);
    const tx = sw.dumpPorts('br0').ports.filter((p) => p.ofport === 2 || p.ofport === 3).map((p) => p.txPackets);
    expect(tx).toEqual([3, 1]);
    // Revalidation decides as the upcall did: the refused source still goes to p3.
    sw.addFlows('br0', 'table=5,actions=drop', 't');
    sw.revalidate(true);
    send(1, '50:54:00:00:00:03');
    expect(sw.dumpPorts('br0').ports.filter((p) => p.ofport === 2 || p.ofport === 3).map((p) => p.txPackets)).toEqual([3, 2]);
    expect(flows(1)).toHaveLength(2);
  });

  it('hard_timeout expires a learned flow; re-learning restarts it', () => {
    sw.addFlows('br0', 'actions=learn(table=1,hard_timeout=10,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0x5->NXM_NX_REG1[]),output:2', 't');
    send(1, '50:54:00:00:00:01');
    expect(flows(1)).toEqual([' table=1, hard_timeout=10, dl_dst=50:54:00:00:00:01 actions=load:0x5->NXM_NX_REG1[]']);
    now += 8_000;
    sw.delDpFlows();
    send(1, '50:54:00:00:00:01');
    now += 8_000;
    sw.tick(now);
    expect(flows(1)).toHaveLength(1);
    now += 3_000;
    sw.tick(now);
    expect(flows(1)).toEqual([]);
  });

  it('delete_learned removes the learned flows with the learning flow; trace learns nothing', () => {
    sw.addFlows('br0', 'priority=5,actions=learn(table=1,delete_learned,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[]),output:2\npriority=1,actions=drop', 't');
    sw.trace('br0', 'in_port=1,dl_src=50:54:00:00:00:07,dl_dst=50:54:00:00:00:09');
    expect(flows(1)).toEqual([]);
    send(1, '50:54:00:00:00:01');
    expect(flows(1)).toEqual([' table=1, dl_dst=50:54:00:00:00:01 actions=drop']);
    sw.delFlows('br0', 'priority=5', true);
    expect(flows(1)).toEqual([]);
  });
});
