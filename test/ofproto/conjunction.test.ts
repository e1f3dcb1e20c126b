// Conjunctive matches as OVS's classifier evaluates them: every dimension of
// a conjunction must match at the same priority; a higher-priority ordinary
// flow wins; a conjunction without a conj_id flow, or with a dimension
// missing, falls through to lower priorities (also to a lower-priority flow
// with the same match); conjunction() cannot be mixed with other actions.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Switch } from '../../src/ofproto/switch.ts';
import { parseFlowFile } from '../../src/ofproto/parse-flow.ts';
import { formatParseFlows } from '../../src/ofproto/parse-flows-cmd.ts';

const UDP = (src: string, dst: string, dport = 53) =>
  `in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=${src},dst=${dst},proto=17,tos=0,ttl=64,frag=no),udp(src=1000,dst=${dport})`;

describe('conjunction(id,k/n) and conj_id', () => {
  let sw: Switch;
  beforeEach(() => {
    sw = Switch.fromConfig(null, { defaultBridge: true });
    sw.addPort('br0', { name: 'p3', ofport: 3 });
    sw.addPort('br0', { name: 'p4', ofport: 4 });
  });
  afterEach(() => sw.close());
  const tx = () => sw.dumpPorts('br0').ports.filter((p) => p.ofport >= 2 && p.ofport <= 4).map((p) => p.txPackets);
  const send = (src: string, dst: string, dport = 53) => {
    sw.inject('br0', 'p1', UDP(src, dst, dport), 1);
    sw.delDpFlows();
  };

  it('needs every dimension, at one priority, and a conj_id flow', () => {
    sw.addFlows('br0', [
      'priority=100,ip,nw_src=10.0.0.1,actions=conjunction(7,1/3)',
      'priority=100,ip,nw_dst=10.0.0.3,actions=conjunction(7,2/3)',
      'priority=100,udp,tp_dst=53,actions=conjunction(7,3/3)',
      'priority=90,ip,nw_src=10.0.0.1,actions=conjunction(8,1/2)',
      'priority=90,ip,nw_dst=10.0.0.3,actions=conjunction(8,2/2)',
      'conj_id=7,ip,actions=output:2',
      'priority=1,ip,actions=output:4',
    ].join('\n'), 't');
    send('10.0.0.1', '10.0.0.3'); // all three dimensions of 7
    expect(tx()).toEqual([1, 0, 0]);
    send('10.0.0.1', '10.0.0.3', 54); // two of three: 7 fails; 8 (lower priority) has no conj_id flow
    expect(tx()).toEqual([1, 0, 1]);
    sw.addFlows('br0', 'conj_id=8,ip,actions=output:3', 't');
    send('10.0.0.1', '10.0.0.3', 54);
    expect(tx()).toEqual([1, 1, 1]);
    send('10.0.0.2', '10.0.0.3');
    expect(tx()).toEqual([1, 1, 2]);
  });

  it('a higher-priority ordinary flow wins; a lower-priority twin of a failed clause still matches', () => {
    sw.addFlows('br0', [
      'priority=100,ip,nw_src=10.0.0.1,actions=conjunction(1,1/2)',
      'priority=100,ip,nw_dst=10.0.0.3,actions=conjunction(1,2/2)',
      'priority=50,ip,nw_src=10.0.0.1,actions=output:3',
      'conj_id=1,actions=output:2',
      'priority=200,ip,nw_dst=10.0.0.9,actions=output:4',
    ].join('\n'), 't');
    send('10.0.0.1', '10.0.0.3');
    expect(tx()).toEqual([1, 0, 0]);
    send('10.0.0.1', '10.0.0.4'); // clause 2 missing: the priority-50 twin of clause 1
    expect(tx()).toEqual([1, 1, 0]);
    send('10.0.0.1', '10.0.0.9');
    expect(tx()).toEqual([1, 1, 1]);
    // mod-flows turns a clause into an ordinary flow.
    sw.modFlows('br0', 'priority=100,ip,nw_dst=10.0.0.3,actions=output:4', 't', true);
    send('10.0.0.2', '10.0.0.3');
    expect(tx()).toEqual([1, 1, 2]);
  });

  it('dump-flows shows conjunctions and conj_id; bad conjunctions are refused', () => {
    sw.addFlows('br0', 'priority=100,ip,nw_src=10.0.0.1,actions=conjunction(1,1/2),conjunction(4294967295,2/64)\nconj_id=1,ip,actions=drop', 't');
    expect(sw.dumpFlows('br0', null, { noStats: true }).lines).toEqual([
      ' conj_id=1,ip actions=drop',
      ' priority=100,ip,nw_src=10.0.0.1 actions=conjunction(1,1/2),conjunction(4294967295,2/64)',
    ]);
    const err = (f: string) => {
      try {
        formatParseFlows(parseFlowFile(f + '\n', 'f.txt', 'add'));
        return 'accepted';
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect(err('ip,actions=conjunction(1,1/2),output:1')).toBe('f.txt:1:12: "conjunction" actions may be used along with "note" but not any other kind of action (such as the "output" action used here)');
    expect(err('ip,actions=conjunction(1,1/1)')).toMatch(/conjunction must have at least 2 clauses$/);
    expect(err('ip,actions=conjunction(1,3/2)')).toMatch(/clause index must be less than or equal to number of clauses$/);
    expect(err('ip,actions=conjunction(1,0/2)')).toMatch(/clause index must be positive$/);
    expect(err('ip,actions=conjunction(1,1/65)')).toMatch(/at most 64 clauses$/);
    expect(err('ip,actions=conjunction(1)')).toMatch(/is not ID,K\/N$/);
  });
});
