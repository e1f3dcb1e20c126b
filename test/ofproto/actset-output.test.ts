// actset_output (ovs-fields(7)): the port of the action set's output action,
// UNSET without one, matched by later tables and read by move/output. It is
// translation-only: the megaflow never matches on it. The first case is OVS's
// own "ofproto-dpif - actset_output" test (tests/ofproto-dpif.at).

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { actionSetOutput } from '../../src/ofproto/action-set.ts';
import { OFPP_CONTROLLER, OFPP_UNSET, type OfAction } from '../../src/ofproto/actions.ts';
import { parseFlow } from '../../src/ofproto/parse-flow.ts';
import { Switch } from '../../src/ofproto/switch.ts';
import { formatMatch } from '../../src/ofproto/format-flow.ts';
import { Reader, Writer } from '../../src/openflow/buffer.ts';
import { decodeOxmMatch, encodeOxmMatch } from '../../src/openflow/oxm.ts';
import { badLen } from '../../src/openflow/errors.ts';

const UDP = (inPort: number, src = '50:54:00:00:00:01') =>
  `in_port(${inPort}),eth(src=${src},dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=no),udp(src=5,dst=1)`;

const actionsOf = (text: string): OfAction[] => {
  const a = parseFlow(`actions=${text}`, 'add').actions;
  return a.length === 1 && a[0].type === 'write_actions' ? a[0].actions : a;
};

describe('actionSetOutput (OVS xlate_write_actions__)', () => {
  it('is the last output written, UNSET without one or once a group is in the set', () => {
    expect(actionSetOutput([])).toBe(OFPP_UNSET);
    expect(actionSetOutput(actionsOf('write_actions(mod_vlan_vid:5)'))).toBe(OFPP_UNSET);
    expect(actionSetOutput(actionsOf('write_actions(output:3,output:2)'))).toBe(2);
    expect(actionSetOutput(actionsOf('write_actions(output:3,group:1)'))).toBe(OFPP_UNSET);
    expect(actionSetOutput([...actionsOf('write_actions(group:1)'), ...actionsOf('write_actions(output:3)')])).toBe(OFPP_UNSET);
    expect(actionSetOutput(actionsOf('write_actions(controller)'))).toBe(OFPP_CONTROLLER);
  });
});

describe('matching on actset_output', () => {
  let sw: Switch;
  beforeEach(() => {
    sw = Switch.fromConfig(null, { defaultBridge: true });
    for (let i = 3; i <= 13; i++) sw.addPort('br0', { name: `p${i}`, ofport: i });
  });
  afterEach(() => sw.close());
  const tx = (ofport: number) => sw.dumpPorts('br0').ports.find((p) => p.ofport === ofport)!.txPackets;
  const counts = () => sw.dumpFlows('br0', null, {}).flows.map((f) => `${f.table}:${f.match || '-'}:${f.nPackets}`);

  it("follows write_actions, groups and clear_actions as OVS's ofproto-dpif test has it", () => {
    sw.addGroups('br0', 'group_id=5,type=all,bucket=output:1', 't');
    sw.addFlows('br0', [
      'table=0,actset_output=unset     actions=write_actions(output(2)),goto_table(1)',
      'table=1     actions=move:ONFOXM_ET_ACTSET_OUTPUT[0..31]->OXM_OF_PKT_REG0[0..31],goto_table(2)',
      'table=2,priority=20,actset_output=2  actions=4,goto_table(3)',
      'table=2,priority=10                  actions=5,goto_table(3)',
      'table=3,priority=20,xreg0=2  actions=6,goto_table(4)',
      'table=3,priority=10          actions=7,goto_table(4)',
      'table=3,priority=20,xxreg0=2  actions=6,goto_table(4)',
      'table=3,priority=10           actions=7,goto_table(4)',
      'table=4 actions=write_actions(group(5),output(10)),goto_table(5)',
      'table=5,priority=20,actset_output=unset  actions=8,goto_table(6)',
      'table=5,priority=10                      actions=9,goto_table(6)',
      'table=6 actions=write_actions(output(3)),goto_table(7)',
      'table=7,priority=20,actset_output=unset  actions=10,goto_table(8)',
      'table=7,priority=10                      actions=11,goto_table(8)',
      'table=8,actions=clear_actions,write_actions(output(3),output(2)),goto_table(9)',
      'table=9,priority=20,actset_output=2 actions=12',
      'table=9,priority=10                 actions=13',
    ].join('\n'), 'flows.txt');
    const trace = sw.trace('br0', 'in_port(1),eth(src=50:54:00:00:00:05,dst=50:54:00:00:00:07),eth_type(0x0800),ipv4(src=192.168.0.1,dst=192.168.0.2,proto=1,tos=0,ttl=128,frag=no),icmp(type=8,code=0)').lines;
    expect(trace.at(-1)).toBe('Datapath actions: 4,6,8,10,12,2');
    // The move read actset_output as OpenFlow 1.1 writes ports: 2 stays 2.
    expect(trace).toContain(' 3. reg0=0,reg1=0x2, priority 20');
  });

  it('sends each packet where the rule for its action-set port says, and counts the rules', () => {
    sw.addFlows('br0', [
      'table=0,in_port=1,actions=write_actions(output:2),goto_table:1',
      'table=0,in_port=3,actions=write_actions(output:3),goto_table:1',
      'table=1,priority=20,actset_output=2,actions=output:4',
      'table=1,priority=20,actset_output=3,actions=output:5,clear_actions',
      'table=1,priority=10,actions=drop',
    ].join('\n'), 'flows.txt');
    sw.inject('br0', 'p1', UDP(1), 3);
    sw.inject('br0', 'p3', UDP(3), 2);
    expect([tx(2), tx(3), tx(4), tx(5)]).toEqual([3, 0, 3, 2]);
    expect(counts()).toEqual([
      '0:in_port=1:3', '0:in_port=3:2', '1:actset_output=2:3', '1:actset_output=3:2', '1:-:0',
    ]);
    // Neither megaflow matches on the action set's port (the datapath key has no such field).
    expect(sw.dumpDpFlows({}).lines.map((l) => l.replace(/, packets:.*actions:/, ' actions:')).sort()).toEqual([
      'recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(frag=no) actions:4,2',
      'recirc_id(0),in_port(3),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(frag=no) actions:5',
    ]);
  });

  it("is looked at before the packet's fields: a rule for another port leaves them wildcarded", () => {
    sw.addFlows('br0', [
      'table=0,in_port=1,actions=write_actions(output:2),goto_table:1',
      'table=0,in_port=5,actions=write_actions(output:3),goto_table:1',
      'table=1,priority=30,actset_output=3,dl_src=00:00:00:00:00:99,actions=drop',
      'table=1,priority=20,actions=output:4',
    ].join('\n'), 'flows.txt');
    sw.inject('br0', 'p1', UDP(1), 1);
    sw.inject('br0', 'p5', UDP(5), 1);
    expect(sw.dumpDpFlows({}).lines.map((l) => l.replace(/, packets:.*actions:/, ' actions:')).sort()).toEqual([
      'recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(frag=no) actions:4,2',
      'recirc_id(0),in_port(5),packet_type(ns=0,id=0),eth(src=50:54:00:00:00:01),eth_type(0x0800),ipv4(frag=no) actions:4,3',
    ]);
  });

  it('is set again from the action set a ct(table=N) recirculation thaws', () => {
    sw.addFlows('br0', [
      'table=0,ip,in_port=1,actions=write_actions(output:3),goto_table:1',
      'table=1,ip,actions=ct(table=2)',
      'table=2,priority=20,ct_state=+trk,actset_output=3,ip,actions=output:4',
      'table=2,priority=10,actions=output:5',
    ].join('\n'), 'flows.txt');
    sw.inject('br0', 'p1', UDP(1), 1);
    // Before the fork the set's output goes too; after it, table 2 saw actset_output=3.
    expect([tx(3), tx(4), tx(5)]).toEqual([2, 1, 0]);
  });

  it('is read-only, and its value names a port (UNSET, a number, a reserved or bridge port)', () => {
    expect(() => sw.addFlows('br0', 'actions=set_field:1->actset_output', 'f')).toThrow(/actset_output is read-only/);
    expect(() => sw.addFlows('br0', 'actset_output=0x10000,actions=drop', 'f')).toThrow(/actset_output/);
    sw.addFlows('br0', 'actset_output=p4,actions=drop\nactset_output=LOCAL,actions=drop', 'f');
    expect(sw.dumpFlows('br0', null, { noStats: true }).lines.sort()).toEqual([' actset_output=4 actions=drop', ' actset_output=LOCAL actions=drop']);
  });
});

describe('actset_output on the wire', () => {
  it("travels as ONF's experimenter field before OpenFlow 1.5 and as OXM_OF_ACTSET_OUTPUT from 1.5, ports in 1.1 form", () => {
    const m = parseFlow('actset_output=LOCAL,ip,actions=drop', 'add').match;
    const hex = (v: number) => {
      const w = new Writer();
      encodeOxmMatch(w, m, v);
      return w.done();
    };
    expect(hex(4).toString('hex')).toContain('ffff56084f4e4600fffffffe');
    expect(hex(6).toString('hex')).toContain('80005604fffffffe');
    for (const v of [4, 6]) expect(formatMatch(decodeOxmMatch(new Reader(hex(v), 0, hex(v).length, () => badLen('match'))))).toBe('actset_output=LOCAL,ip');
  });
});
