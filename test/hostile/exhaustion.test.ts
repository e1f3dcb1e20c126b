// Exhaustion, in process (the switch and datapath swd runs, fed through
// the datapath's receive path): a connection table at maxconns, a zone at
// its limit, a SNAT range with no tuple left, a megaflow cache at its
// limit under a storm of new 5-tuples. Each time the overflow is counted,
// the packets meet the documented fate (forwarded untracked-committed, or
// dropped for NAT), the control calls still answer, the table stays
// consistent, and when the load stops (flush / expiry) things recover.

import { describe, expect, it } from 'vitest';
import { Switch } from '../../src/ofproto/switch.ts';
import { checkTable } from '../../src/conntrack/check.ts';
import { eth, ipv4, udp } from './packets.ts';

function rig(flows: string[]) {
  let now = 5_000_000;
  const warnings: string[] = [];
  const noop = () => {};
  const sw = Switch.fromConfig(null, { now: () => now, logger: { info: noop, error: noop, warn: (_o: unknown, m?: unknown) => warnings.push(String(m)) }, pmdThreads: 0 });
  sw.addFlows('br0', flows.join('\n'), 'test');
  const br = sw.bridges.get('br0')!;
  const p1 = br.portsByOf.get(1)!.dpPort;
  const p2 = br.portsByOf.get(2)!.dpPort;
  /** n new UDP 5-tuples from p1 (source port and address vary). */
  const storm = (n: number, base = 0) => {
    const pkts: Uint8Array[] = [];
    for (let i = base; i < base + n; i++) pkts.push(eth(0x0800, ipv4(0x0a000000 + (i >>> 14), 0x0a640001, 17, udp(1024 + (i & 0x3fff), 53))));
    sw.dp.datapath.receive(p1, pkts, now);
  };
  const tx = () => sw.dp.portStats(p2).txPackets;
  return { sw, storm, tx, warnings, advance: (ms: number) => { now += ms; sw.tick(now); } };
}

describe('exhaustion', () => {
  it('maxconns and a zone limit full: refused commits counted, packets forwarded, logged once, recovery after a flush', () => {
    // The first 16,384 sources (10.0.0.0) go to zone 2, the rest to zone 1.
    const { sw, storm, tx, warnings, advance } = rig(['priority=10,ip,nw_src=10.0.0.0,actions=ct(commit,zone=2),2', 'priority=0,ip,actions=ct(commit,zone=1),2']);
    try {
      sw.ctSetMaxconns(3000);
      sw.ctSetLimits('zone=2,limit=500');
      storm(20_000);
      expect(tx()).toBe(20_000);
      expect(sw.ctGetNconns().nconns).toBe(3000);
      expect(sw.ctGetLimits('zone=2').lines).toEqual(['default limit=0', 'zone=2,limit=500,count=500']);
      const c = sw.dp.conntrack.counters();
      // zone 2 stops at 500 of its 16,384; zone 1 fills the rest of the table
      expect({ zoneLimitDrops: c.zoneLimitDrops, limitDrops: c.limitDrops }).toEqual({ zoneLimitDrops: 16_384 - 500, limitDrops: 20_000 - 16_384 - 2500 });
      advance(1);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/^conntrack: \d+ new connections not committed \(table full, maxconns 3000\), \d+ refused by zone limits$/);
      expect(checkTable(sw.dp.conntrack.table).problems).toEqual([]);
      sw.flushConntrack({});
      storm(100, 50_000);
      expect(sw.ctGetNconns().nconns).toBe(100);
      expect(checkTable(sw.dp.conntrack.table).problems).toEqual([]);
    } finally {
      sw.close();
    }
  });

  it('NAT ports exhausted: the extra connections are dropped and counted; expiry frees the range', () => {
    const { sw, storm, tx, advance } = rig(['ip,actions=ct(commit,zone=4,nat(src=10.9.9.9:7000-7099)),2']);
    try {
      storm(5000);
      expect(sw.ctGetNconns().nconns).toBe(100);
      expect(tx()).toBe(100);
      expect(sw.ctStatsShow({ zone: 4 }).natExhaustionDrops).toBe(4900);
      expect(checkTable(sw.dp.conntrack.table).problems).toEqual([]);
      advance(61_000); // past udp_first (60 s): the daemon's sweep steps free the tuples
      for (let i = 0; i < 10; i++) sw.dp.dpif.sweepStep(61_000 + 5_000_000 + i);
      expect(sw.ctGetNconns().nconns).toBe(0);
      storm(50, 9000);
      expect(tx()).toBe(150);
      expect(checkTable(sw.dp.conntrack.table).problems).toEqual([]);
    } finally {
      sw.close();
    }
  });

  it('megaflow cache at its limit under an upcall storm: refused installs counted, every packet still forwarded, recovery after del-dp-flows', () => {
    // tp_src is consulted, so each new source port is a megaflow of its own.
    const { sw, storm, tx } = rig(['priority=10,udp,tp_src=1,actions=drop', 'priority=0,actions=2']);
    try {
      const cache = sw.dp.datapath.cache;
      // A smaller limit than the default 200,000 keeps the test short; same code path.
      (cache as unknown as { limit: number }).limit = 2000;
      storm(10_000);
      expect(tx()).toBe(10_000);
      expect(cache.size).toBe(2000);
      expect(cache.refused).toBe(8000);
      expect(sw.dumpDpFlows({}).lines).toHaveLength(2000);
      sw.delDpFlows();
      expect(cache.size).toBe(0);
      storm(10, 20_000);
      expect(cache.size).toBe(10);
      expect(tx()).toBe(10_010);
    } finally {
      sw.close();
    }
  });
});
