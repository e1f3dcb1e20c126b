// Groups inside the switch: megaflows through a group are revalidated when
// the group changes or goes; the counters of an `all` group count a packet
// once and every bucket; trace prints buckets as OVS 3.1's ofproto/trace
// does; a loop of groups ends in a translation error, not a hang.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SwitchError } from '../../src/ofproto/api.ts';
import { Switch } from '../../src/ofproto/switch.ts';

const UDP = (sport: number) =>
  `in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=no),udp(src=${sport},dst=1)`;
const dpFlows = (sw: Switch) => sw.dumpDpFlows({}).lines.map((l) => l.replace(/used:[0-9.]+s/, 'used:X'));

describe('groups in the switch', () => {
  let sw: Switch;
  beforeEach(() => {
    sw = Switch.fromConfig(null, { defaultBridge: true });
    sw.addPort('br0', { name: 'p3', ofport: 3 });
  });
  afterEach(() => sw.close());

  it('mod-group and del-groups revalidate the megaflows that went through the group', () => {
    sw.addGroups('br0', 'group_id=1,type=indirect,bucket=output:2', 't');
    sw.addFlows('br0', 'in_port=1,udp,actions=group:1', 't');
    sw.inject('br0', 'p1', UDP(5), 1);
    expect(dpFlows(sw)).toEqual(['recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(proto=17,frag=no), packets:0, bytes:0, used:never, actions:2']);
    // Same match, new actions: the megaflow is updated in place and keeps counting (as OVS's revalidator does).
    sw.modGroups('br0', 'group_id=1,type=indirect,bucket=output:3', 't', false);
    expect(dpFlows(sw)).toEqual(['recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(proto=17,frag=no), packets:0, bytes:0, used:never, actions:3']);
    sw.inject('br0', 'p1', UDP(5), 1);
    expect(dpFlows(sw)).toEqual(['recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(proto=17,frag=no), packets:1, bytes:106, used:X, actions:3']);
    expect(sw.dumpPorts('br0', 'p3').ports[0].txPackets).toBe(1);
    // Deleting the group deletes the flow; with nothing matching, the megaflow's mask changes: it goes.
    sw.delGroups('br0', 'group_id=1');
    expect(dpFlows(sw)).toEqual([]);
    expect(sw.dumpFlows('br0', null, { noStats: true }).lines).toEqual([]);
  });

  it('an all group counts each packet once and in every bucket; a select group in the bucket it took', () => {
    sw.addGroups('br0', ['group_id=1,type=all,bucket=output:2,bucket=output:3', 'group_id=2,type=select,bucket=output:2,bucket=output:3'].join('\n'), 't');
    sw.addFlows('br0', ['in_port=1,udp,tp_src=5,actions=group:1', 'in_port=1,udp,tp_src=6,actions=group:2'].join('\n'), 't');
    sw.inject('br0', 'p1', UDP(5), 3);
    sw.inject('br0', 'p1', UDP(6), 2);
    const stats = sw.dumpGroupStats('br0', null).stats;
    expect(stats.map((s) => [s.groupId, s.refCount, s.packetCount, s.buckets.map((b) => b.packetCount)])).toEqual([
      [1, 1, 3, [3, 3]],
      [2, 1, 2, expect.arrayContaining([0, 2])],
    ]);
    expect(stats[0].byteCount).toBe(stats[0].buckets[0].byteCount);
  });

  it('trace shows the buckets as ofproto/trace does', () => {
    sw.addGroups('br0', ['group_id=70,type=all,bucket=output:2,bucket=mod_nw_src:1.1.1.1,output:3', 'group_id=71,type=ff,bucket=watch_port:9,output:2,bucket=watch_port:3,output:3'].join('\n'), 't');
    sw.addFlows('br0', ['in_port=1,udp,tp_dst=1,actions=group:70,output:3', 'in_port=1,udp,tp_dst=2,actions=group:71'].join('\n'), 't');
    // Lines as OVS 3.1 printed them for the same tables (ovs-sandbox, 2026-11-29).
    expect(sw.trace('br0', 'in_port=1,udp,nw_src=10.1.1.1,nw_dst=10.1.1.2,udp_src=1234,udp_dst=1').lines.slice(2)).toEqual([
      'bridge("br0")',
      '-------------',
      ' 0. udp,in_port=1,tp_dst=1, priority 32768',
      '    group:70',
      '    bucket 0',
      '            output:2',
      '    bucket 1',
      '            mod_nw_src:1.1.1.1',
      '            output:3',
      '    output:3',
      '',
      'Final flow: unchanged',
      'Megaflow: recirc_id=0,eth,udp,in_port=1,nw_src=10.1.1.1,nw_frag=no,tp_dst=1',
      'Datapath actions: 2,set(ipv4(src=1.1.1.1)),3,set(ipv4(src=10.1.1.1)),3',
    ]);
    expect(sw.trace('br0', 'in_port=1,udp,nw_src=10.1.1.1,nw_dst=10.1.1.2,udp_src=1234,udp_dst=2').lines.slice(4)).toEqual([
      ' 0. udp,in_port=1,tp_dst=2, priority 32768',
      '    group:71',
      '     -> bucket 0: not live due to port 9',
      '     -> using bucket 1',
      '    bucket 1',
      '            output:3',
      '',
      'Final flow: unchanged',
      'Megaflow: recirc_id=0,eth,udp,in_port=1,nw_frag=no,tp_dst=2',
      'Datapath actions: 3',
    ]);
  });

  it('a loop of all groups is a translation error, and the packet is dropped', () => {
    sw.addGroups('br0', 'group_id=1,type=all,bucket=group:1,bucket=group:1', 't');
    sw.addFlows('br0', 'in_port=1,actions=group:1', 't');
    const t = sw.trace('br0', 'in_port=1,udp,nw_src=10.1.1.1,nw_dst=10.1.1.2');
    expect(t.datapathActions).toBe('drop');
    expect(t.lines.at(-1)).toBe('Translation failed (over max translation depth 64 on bridge br0), packet is dropped.');
    sw.inject('br0', 'p1', UDP(5), 1);
    expect(sw.dumpPorts('br0', 'p2').ports[0].txPackets).toBe(0);
  });

  it('refuses with OpenFlow error names and applies nothing', () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(SwitchError);
        return `${(e as SwitchError).code}: ${(e as Error).message}`;
      }
      throw new Error('no error');
    };
    sw.addGroups('br0', 'group_id=1,type=all,bucket=output:2', 't');
    expect(err(() => sw.addGroups('br0', 'group_id=2,type=all,bucket=output:2\ngroup_id=1,type=all,bucket=output:3', 'g.txt'))).toBe(
      'OFPGMFC_GROUP_EXISTS: g.txt:2: OFPGMFC_GROUP_EXISTS: group 1 already exists',
    );
    expect(sw.dumpGroups('br0', 2).groups).toEqual([]);
    expect(err(() => sw.addGroups('br0', 'group_id=3,type=all,bucket=bucket_id=1,output:2,bucket=bucket_id=1,output:3', 't'))).toBe(
      'OFPGMFC_BAD_BUCKET: t:1: OFPGMFC_BAD_BUCKET: duplicate bucket id 1',
    );
    expect(err(() => sw.addGroups('br0', 'group_id=3,type=indirect', 't'))).toBe('OFPGMFC_INVALID_GROUP: t:1: OFPGMFC_INVALID_GROUP: an indirect group needs exactly one bucket');
    expect(err(() => sw.addGroups('br0', 'group_id=3,type=all,bucket=watch_port:2,output:2', 't'))).toBe(
      'OFPGMFC_WATCH_UNSUPPORTED: t:1: OFPGMFC_WATCH_UNSUPPORTED: all groups do not watch ports or groups',
    );
    expect(err(() => sw.addGroups('br0', 'group_id=all,type=all,bucket=output:2', 't'))).toBe('OFPGMFC_INVALID_GROUP: t:1: OFPGMFC_INVALID_GROUP: group_id=all is reserved');
    expect(err(() => sw.addFlows('br0', 'priority=1,actions=drop\n\n# x\nin_port=1, actions=output:2,group:9', 'f.txt'))).toBe(
      'OFPBAC_BAD_OUT_GROUP: f.txt:4:29: OFPBAC_BAD_OUT_GROUP: group 9 does not exist',
    );
    expect(sw.dumpFlows('br0', null, { noStats: true }).lines).toEqual([]);
    // A bucket may commit with a helper.
    sw.addGroups('br0', 'group_id=3,type=all,bucket=ct(alg=ftp,commit)', 't');
    expect(sw.dumpGroups('br0', 3).lines).toEqual(['NXST_GROUP_DESC reply (xid=0x2):', ' group_id=3,type=all,bucket=bucket_id:0,actions=ct(commit,alg=ftp)']);
  });
});
