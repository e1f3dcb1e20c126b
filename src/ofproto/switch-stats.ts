// A snapshot of the switch's counters for monitoring (src/ctl/metrics.ts
// turns it into Prometheus text): ports, datapath and PMD threads, OpenFlow
// rules per table, conntrack by zone, protocol and TCP state, and the drop
// counters of limits and NAT. Gathered from the counters the datapath and
// the PMD threads already keep; reading them takes no lock on the fast path
// (the conntrack walk takes each shard lock for one record at a time, as
// dump-conntrack does). Plain JSON, so it can also be returned over RPC.

import { protoName, tcpCoalescedState } from '../conntrack/format.ts';
import type { IpfStatus } from '../conntrack/ipf-shared.ts';
import { TCP_STATE_NAMES } from '../conntrack/tcp.ts';
import type { PortCounters } from '../datapath/port.ts';
import { OFPP_LOCAL } from './actions.ts';
import type { Bridge } from './bridge.ts';
import type { UpcallAdapter } from './upcall.ts';

export interface SwitchStats {
  ports: ({ bridge: string; port: string; ofport: number; type: string; up: boolean } & PortCounters)[];
  threads: { thread: string; packets: number; hits: number; emcHits: number; smcHits: number; misses: number; lost: number; busyNs: number; idleNs: number; heapUsed: number }[];
  megaflows: number;
  rules: { bridge: string; table: number; count: number }[];
  conntrack: {
    connections: { zone: number; protocol: string; state: string; count: number }[];
    maxConns: number;
    /** Slab records ever handed out (the table's high water; freed records are reused first). */
    slabRecords: number;
    invalid: number;
    /** ...of which for a wrong checksum. */
    badChecksum: number;
    commits: number;
    expired: number;
    maxconnsDrops: number;
    zoneLimitDrops: number;
    natExhausted: number;
    sweepNs: number;
    sweepSteps: number;
  };
  /** The fragment module (ipf-get-status). */
  ipf: IpfStatus;
}

export function collectSwitchStats(bridges: Iterable<Bridge>, dp: UpcallAdapter, nowMs: number): SwitchStats {
  const ports: SwitchStats['ports'] = [];
  const rules: SwitchStats['rules'] = [];
  for (const br of bridges) {
    for (const p of br.sortedPorts()) {
      ports.push({ bridge: br.name, port: p.name, ofport: p.ofport === OFPP_LOCAL ? 0xfffe : p.ofport, type: p.type, up: p.up, ...dp.portStats(p.dpPort) });
    }
    br.tables.forEach((t, table) => {
      if (t.count > 0) rules.push({ bridge: br.name, table, count: t.count });
    });
  }
  const threads = dp.pmdStats().threads.map((t) => ({
    thread: t.thread, packets: t.packets, hits: t.hits, emcHits: t.emcHits ?? 0, smcHits: t.smcHits ?? 0, misses: t.misses, lost: t.lost, busyNs: t.busyNs, idleNs: t.idleNs, heapUsed: t.heapUsed ?? 0,
  }));
  const ct = dp.conntrack;
  const byKey = new Map<string, { zone: number; protocol: string; state: string; count: number }>();
  ct.forEachConn((c) => {
    const state = c.tcp ? TCP_STATE_NAMES[tcpCoalescedState(c.tcp.stateOrig, c.tcp.stateReply)] : '';
    const protocol = protoName(c.proto);
    const k = `${c.zone}/${protocol}/${state}`;
    const e = byKey.get(k);
    if (e) e.count++;
    else byKey.set(k, { zone: c.zone, protocol, state, count: 1 });
  }, undefined, nowMs);
  const n = ct.counters();
  return {
    ports,
    threads,
    megaflows: dp.dpif.megaflows().length,
    rules,
    conntrack: {
      connections: [...byKey.values()],
      maxConns: ct.getMaxConns(),
      slabRecords: ct.table.highWater(),
      invalid: n.invalid,
      badChecksum: n.badChecksum,
      commits: n.commits,
      expired: n.expired,
      maxconnsDrops: n.limitDrops,
      zoneLimitDrops: n.zoneLimitDrops,
      natExhausted: n.natExhausted,
      sweepNs: dp.dpif.sweepStats.ns,
      sweepSteps: dp.dpif.sweepStats.steps,
    },
    ipf: ct.ipf.shared.status(),
  };
}
