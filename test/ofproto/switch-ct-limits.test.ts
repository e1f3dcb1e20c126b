// Connection limits: refused commits are counted and logged, at most once per interval.

import { describe, expect, it } from 'vitest';
import { LIMIT_LOG_INTERVAL_MS, Switch } from '../../src/ofproto/switch.ts';

const pkt = (sport: number) =>
  `in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=no),udp(src=${sport},dst=53)`;

describe('switch: connection limits', () => {
  it('does not commit past a zone limit, counts and logs it rate-limited', () => {
    let now = 1_000_000;
    const warnings: string[] = [];
    const noop = () => {};
    const sw = Switch.fromConfig(null, { now: () => now, logger: { info: noop, error: noop, warn: (_o: unknown, msg?: unknown) => warnings.push(String(msg)) } });
    try {
      sw.addFlows('br0', 'ip,actions=ct(commit,zone=1),output:2', 'test');
      sw.ctSetLimits('zone=1,limit=2');
      for (let p = 1000; p < 1005; p++) sw.inject('br0', 'p1', pkt(p), 1);
      expect(sw.ctGetLimits('zone=1').lines).toEqual(['default limit=0', 'zone=1,limit=2,count=2']);
      expect(sw.dumpConntrack({}).lines).toHaveLength(2);
      sw.tick(now);
      expect(warnings).toEqual(['conntrack: 0 new connections not committed (table full, maxconns 3000000), 3 refused by zone limits']);
      sw.inject('br0', 'p1', pkt(2000), 1);
      now += LIMIT_LOG_INTERVAL_MS / 2;
      sw.tick(now);
      expect(warnings).toHaveLength(1);
      now += LIMIT_LOG_INTERVAL_MS;
      sw.tick(now);
      expect(warnings[1]).toBe('conntrack: 0 new connections not committed (table full, maxconns 3000000), 1 refused by zone limits');
    } finally {
      sw.close();
    }
  });
});

describe('switch: NAT exhaustion', () => {
  it('drops, counts in ct-stats-show -m, and logs rate-limited', () => {
    let now = 2_000_000;
    const warnings: string[] = [];
    const noop = () => {};
    const sw = Switch.fromConfig(null, { now: () => now, logger: { info: noop, error: noop, warn: (_o: unknown, msg?: unknown) => warnings.push(String(msg)) } });
    try {
      sw.addFlows('br0', 'ip,actions=ct(commit,zone=4,nat(src=10.9.9.9:7000-7000)),output:2', 'test');
      for (let p = 1000; p < 1003; p++) sw.inject('br0', 'p1', pkt(p), 1);
      const st = sw.ctStatsShow({ verbose: true });
      expect(st.lines.slice(-5)).toEqual(['  NAT: 1', '  NAT exhaustion drops: 2',
        '  ALG expectations: created 0, matched 0, expired 0', '  ALG malformed control messages: 0', '  Invalid for a bad checksum: 0']);
      expect(sw.ctStatsShow({ zone: 4 }).natExhaustionDrops).toBe(2);
      sw.tick(now);
      expect(warnings).toEqual(['conntrack: 2 packets dropped: unable to NAT due to tuple space exhaustion']);
      now += 1000;
      sw.inject('br0', 'p1', pkt(2000), 1);
      sw.tick(now);
      expect(warnings).toHaveLength(1);
    } finally {
      sw.close();
    }
  });
});
