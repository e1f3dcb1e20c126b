// write_actions and clear_actions through the switch (and set_vlan_*, which push no tag): the action set is
// carried across tables, runs when the pipeline ends (also after exit) in
// OVS's order (ovs-actions(7) "Action Sets": VLAN pops before sets before
// the one final action, group over output), survives the recirculation of
// a ct(table=N) fork, and a switch refuses actions an action set cannot hold.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Switch } from '../../src/ofproto/switch.ts';

const UDP = `in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=no),udp(src=5,dst=1)`;

describe('the action set (write_actions, clear_actions)', () => {
  let sw: Switch;
  beforeEach(() => {
    sw = Switch.fromConfig(null, { defaultBridge: true });
    sw.addPort('br0', { name: 'p3', ofport: 3 });
  });
  afterEach(() => sw.close());
  /** The datapath actions of each megaflow the packet made, by recirc id. */
  const dpActions = () => sw.dumpDpFlows({}).lines.map((l) => `${/recirc_id\(([^)]*)\)/.exec(l)?.[1]}: ${/actions:(.*)$/.exec(l)?.[1]}`).sort();
  const tx = (ofport: number) => sw.dumpPorts('br0').ports.find((p) => p.ofport === ofport)!.txPackets;
  const send = (flows: string) => {
    sw.addFlows('br0', flows, 't');
    sw.inject('br0', 'p1', UDP, 1);
    return dpActions();
  };

  it('runs after the apply actions, when the pipeline ends', () => {
    expect(send('in_port=1,actions=output:2,write_actions(output:3)')).toEqual(['0: 2,3']);
    expect([tx(2), tx(3)]).toEqual([1, 1]);
  });

  it('applies its sets before its output, whatever order they were written in', () => {
    expect(send('in_port=1,actions=write_actions(output:3,mod_vlan_vid:5)')).toEqual(['0: push_vlan(vid=5,pcp=0),3']);
  });

  it('is carried across tables: a later output replaces an earlier one, and a group wins over an output', () => {
    expect(send(['table=0,in_port=1,actions=write_actions(output:2),goto_table:1', 'table=1,actions=write_actions(output:3)'].join('\n'))).toEqual(['0: 3']);
    sw.delFlows('br0', null, false);
    sw.delDpFlows();
    sw.addGroups('br0', 'group_id=1,type=indirect,bucket=output:2', 't');
    expect(send(['table=0,in_port=1,actions=write_actions(group:1),goto_table:1', 'table=1,actions=write_actions(output:3)'].join('\n'))).toEqual(['0: 2']);
  });

  it('clear_actions empties it; without an output it does nothing', () => {
    expect(send(['table=0,in_port=1,actions=write_actions(output:3),goto_table:1', 'table=1,actions=clear_actions'].join('\n'))).toEqual(['0: drop']);
    sw.delFlows('br0', null, false);
    sw.delDpFlows();
    expect(send('in_port=1,actions=write_actions(mod_vlan_vid:5)')).toEqual(['0: drop']);
  });

  it('still runs after exit, and after a table miss', () => {
    expect(send(['table=0,in_port=1,actions=write_actions(output:3),goto_table:1', 'table=1,actions=exit,output:2'].join('\n'))).toEqual(['0: 3']);
    sw.delFlows('br0', null, false);
    sw.delDpFlows();
    expect(send('table=0,in_port=1,actions=write_actions(output:3),goto_table:7')).toEqual(['0: 3']);
  });

  it('goes with the packet that ct(table=N) recirculates, and stays with the original too (as in OVS)', () => {
    const acts = send(['table=0,ip,in_port=1,actions=write_actions(output:3),goto_table:1', 'table=1,ip,actions=ct(table=2)', 'table=2,ct_state=+trk,ip,actions=drop'].join('\n'));
    expect(acts).toHaveLength(2);
    expect(acts[0]).toMatch(/^0: ct,recirc\(0x[0-9a-f]+\),3$/);
    expect(acts[1]).toMatch(/^0x[0-9a-f]+: 3$/);
    expect(tx(3)).toBe(2);
  });

  it('trace shows the action set running after the last table, as ofproto/trace does', () => {
    sw.addFlows('br0', ['table=0,in_port=1,actions=write_actions(output:3),goto_table:1', 'table=1,actions=output:2'].join('\n'), 't');
    const lines = sw.trace('br0', 'in_port=1,udp,nw_src=10.1.1.1,nw_dst=10.1.1.2,udp_src=1,udp_dst=2').lines;
    expect(lines.slice(lines.indexOf(' 1. priority 32768'), lines.indexOf(' 1. priority 32768') + 4)).toEqual([
      ' 1. priority 32768', '    output:2', '--. Executing action set:', '    output:3',
    ]);
    expect(lines.at(-1)).toBe('Datapath actions: 2,3');
  });

  it('set_vlan_pcp/set_vlan_vid change a tag but push none; mod_vlan_pcp pushes one', () => {
    expect(send('in_port=1,actions=set_vlan_pcp:3,output:2')).toEqual(['0: 2']);
    sw.delFlows('br0', null, false);
    sw.delDpFlows();
    expect(send('in_port=1,actions=mod_vlan_pcp:3,output:2')).toEqual(['0: push_vlan(vid=0,pcp=3),2']);
    expect(sw.dumpFlows('br0', null, { noStats: true }).lines).toEqual([' in_port=1 actions=mod_vlan_pcp:3,output:2']);
  });

  it('dump-flows shows write_actions; a switch refuses what an action set cannot hold, and instructions out of order', () => {
    sw.addFlows('br0', 'ip,actions=write_actions(set_field:10.0.0.9->ip_dst,output:2),goto_table:1', 't');
    // (goto_table stays goto_table after an instruction, so that the text reads back: the database keeps flows as text.)
    expect(sw.dumpFlows('br0', null, { noStats: true }).lines).toEqual([' ip actions=write_actions(mod_nw_dst:10.0.0.9,output:2),goto_table:1']);
    const err = (f: string) => {
      try {
        sw.addFlows('br0', f, 'f');
        return 'accepted';
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect(err('tcp,actions=write_actions(fin_timeout(idle_timeout=1))')).toBe('f:1:27: OFPBAC_UNSUPPORTED_ORDER: fin_timeout cannot be written to the action set (see ovs-actions(7) "Action Sets")');
    expect(err('actions=write_actions(output:2),output:3')).toBe('f:1:9: invalid instruction ordering: apply_actions must appear before write_actions, for OpenFlow 1.1+ compatibility (OFPBAC_UNSUPPORTED_ORDER)');
    expect(err('actions=write_actions(goto_table:1)')).toBe('f:1:23: goto_table instruction not allowed here (OFPBIC_UNSUP_INST)');
  });
});
