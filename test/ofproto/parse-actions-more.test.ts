// Parse and print of learn, clone, multipath, bundle, sample, queues, the
// stack, MPLS and friends: each line as Debian's ovs-ofctl 3.1 parse-flows
// printed it (ovs-sandbox, 2026-12-01), and refusals with OVS's reason.

import { describe, expect, it } from 'vitest';
import { parseFlowFile } from '../../src/ofproto/parse-flow.ts';
import { formatParseFlows } from '../../src/ofproto/parse-flows-cmd.ts';

const parsed = (flow: string) => {
  try {
    return formatParseFlows(parseFlowFile(flow + '\n', 'f.txt', 'add')).trim().split('\n').pop()!.replace(/^\S+ \(xid=0x1\): ADD /, '');
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
};

describe('more actions: parse and print as ovs-ofctl', () => {
  it.each([
    ['actions=push_mpls:0x8847', 'actions=push_mpls:0x8847'],
    ['actions=pop_mpls:0x800', 'actions=pop_mpls:0x0800'],
    ['actions=sample(probability=12,collector_set_id=1,ingress)', 'actions=sample(probability=12,collector_set_id=1,obs_domain_id=0,obs_point_id=0,ingress)'],
    ['actions=clone(output:1,clone(exit))', 'actions=clone(output:1,clone(exit))'],
    ['actions=bundle(eth_src,0,hrw,ofport,slaves:1,2)', 'actions=bundle(eth_src,0,hrw,ofport,members:1,2)'],
    ['actions=multipath(symmetric_l4,1024,hrw,4,0,NXM_NX_REG0[0..1])', 'actions=multipath(symmetric_l4,1024,hrw,4,0,NXM_NX_REG0[0..1])'],
    ['actions=fin_timeout(hard_timeout=3,idle_timeout=2)', 'actions=fin_timeout(idle_timeout=2,hard_timeout=3)'],
    ['actions=enqueue(1,2)', 'actions=enqueue:1:2'],
    ['actions=set_tunnel:0x123456789', 'actions=set_tunnel64:0x123456789'],
    ['actions=learn(priority=5,idle_timeout=0,hard_timeout=65535,limit=0)', 'actions=learn(table=1,hard_timeout=65535,priority=5)'],
    ['actions=learn(in_port=1,output:NXM_NX_REG0[0..3])', 'actions=learn(table=1,in_port=1,output:NXM_NX_REG0[0..3])'],
    ['actions=controller(reason=no_match,max_len=100,id=2,userdata=01.02,pause,meter_id=3)', 'actions=controller(reason=no_match,max_len=100,id=2,userdata=01.02,pause,meter_id=3)'],
    ['actions=pop_queue,set_queue:5', 'actions=pop_queue,set_queue:5'],
  ])('%s', (flow, ovs) => {
    expect(parsed(flow)).toBe(ovs);
  });

  it.each([
    ['actions=multipath(symmetric_l4,1024,hrw,5,0,NXM_NX_REG0[0..1])', '2-bit destination field has 4 possible values, less than specified n_links 5'],
    ['actions=check_pkt_larger(100)->NXM_NX_REG0[0..1]', 'Only 1-bit destination field is allowed'],
    ['actions=learn(table=255)', "table id 255 not valid for `learn' action"],
    ['actions=learn(NXM_OF_IP_SRC[])', 'OFPBAC_MATCH_INCONSISTENT'],
    ['ip,actions=learn(NXM_OF_IP_SRC[])', 'OFPBAC_MATCH_INCONSISTENT'],
    ['actions=learn(eth_type=0x800,NXM_OF_IP_SRC[]=0x01020304)', 'cannot be parsed as a subfield or an immediate value'],
    ['actions=sample(probability=0,collector_set_id=1)', 'invalid probability value "0"'],
    ['actions=meter:1,output:2', 'no usable protocol'],
    ['actions=bundle(eth_src,0,rr,ofport,members:1)', "unknown algorithm `rr'"],
  ])('%s is refused', (flow, why) => {
    expect(parsed(flow)).toMatch(/^error: /);
    expect(parsed(flow)).toContain(why);
  });
});
