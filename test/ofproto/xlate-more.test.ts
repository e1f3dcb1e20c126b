// multipath and bundle through the switch: each packet takes exactly one
// link, all links get traffic, the choice is stable per flow and, for the
// symmetric field sets, the same in both directions; bundle's hrw picks only
// live members. MPLS actions are refused by a switch. The hashes are OVS's
// (flow-hash.ts): like OVS, symmetric_l4 and symmetric_l3l4 leave UDP ports
// out, so these tests spread TCP connections.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Switch } from '../../src/ofproto/switch.ts';

const TCP = (src: string, dst: string, sport: number, dport: number) =>
  `in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=${src},dst=${dst},proto=6,tos=0,ttl=64,frag=no),tcp(src=${sport},dst=${dport})`;
const UDP = (src: string, dst: string, sport: number, dport: number) =>
  `in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=${src},dst=${dst},proto=17,tos=0,ttl=64,frag=no),udp(src=${sport},dst=${dport})`;

describe('multipath and bundle', () => {
  let sw: Switch;
  beforeEach(() => {
    sw = Switch.fromConfig(null, { defaultBridge: true });
    sw.addPort('br0', { name: 'p3', ofport: 3 });
  });
  afterEach(() => sw.close());
  const tx = () => sw.dumpPorts('br0').ports.filter((p) => p.ofport === 2 || p.ofport === 3).map((p) => p.txPackets);
  const portFor = (pkt: string) => {
    const before = tx();
    sw.inject('br0', 'p1', pkt, 1);
    const after = tx();
    const d = after.map((v, i) => v - before[i]);
    expect(d.reduce((a, b) => a + b)).toBe(1);
    return d[0] === 1 ? 2 : 3;
  };

  it('multipath(symmetric_l4,...,hrw,2,...) spreads flows, stable and symmetric', () => {
    sw.addFlows('br0', 'table=0,actions=multipath(symmetric_l4,0,hrw,2,0,NXM_NX_REG0[0..1]),resubmit(,1)\ntable=1,reg0=0,actions=output:2\ntable=1,reg0=1,actions=output:3', 't');
    const seen = new Set<number>();
    for (let sport = 1000; sport < 1040; sport++) {
      const fwd = portFor(TCP('10.0.0.1', '10.0.0.2', sport, 80));
      expect(portFor(TCP('10.0.0.1', '10.0.0.2', sport, 80))).toBe(fwd);
      expect(portFor(TCP('10.0.0.2', '10.0.0.1', 80, sport))).toBe(fwd);
      seen.add(fwd);
    }
    expect([...seen].sort()).toEqual([2, 3]);
    // UDP ports are not hashed: every UDP flow between the two hosts takes one link.
    const udp = new Set([1000, 1001, 1002, 1003, 1004].map((sport) => portFor(UDP('10.0.0.1', '10.0.0.2', sport, 80))));
    expect(udp.size).toBe(1);
  });

  it('bundle hrw uses live members only', () => {
    sw.addFlows('br0', 'actions=bundle(symmetric_l3l4,0,hrw,ofport,members:2,3,9)', 't');
    const seen = new Set<number>();
    for (let sport = 1000; sport < 1040; sport++) seen.add(portFor(TCP('10.0.0.1', '10.0.0.2', sport, 80)));
    expect([...seen].sort()).toEqual([2, 3]);
  });

  it('fin_timeout shortens the flow\'s idle timeout on a TCP FIN, not on other segments', () => {
    sw.addFlows('br0', 'tcp,idle_timeout=60,actions=fin_timeout(idle_timeout=2),output:2', 't');
    const tcp = (flags: string) =>
      `in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=6,tos=0,ttl=64,frag=no),tcp(src=1000,dst=80),tcp_flags(${flags})`;
    sw.inject('br0', 'p1', tcp('ack'), 1);
    expect(sw.dumpFlows('br0', null, { noStats: true }).lines).toEqual([' idle_timeout=60, tcp actions=fin_timeout(idle_timeout=2),output:2']);
    sw.inject('br0', 'p1', tcp('fin|ack'), 1);
    expect(sw.dumpFlows('br0', null, { noStats: true }).lines).toEqual([' idle_timeout=2, tcp actions=fin_timeout(idle_timeout=2),output:2']);
  });

  it('a switch refuses actions it cannot execute', () => {
    const err = (f: string) => {
      try {
        sw.addFlows('br0', f, 'f');
        return 'accepted';
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect(err('actions=clone(push_mpls:0x8847),output:2')).toBe('f:1:15: action push_mpls is not supported by swd (swd does not carry MPLS packets)');
    expect(err('ip,actions=clone(set_field:1.2.3.4->ip_dst),push:NXM_OF_TCP_SRC[]')).toMatch(/OFPBAC_MATCH_INCONSISTENT\): push from tcp_src lacks its prerequisites$/);
  });
});
