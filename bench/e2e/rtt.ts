// ICMP echo round trips from one namespace to another, spaced out so that
// each request finds the path idle (a switch thread that went to sleep must
// wake for it: that is the latency a request/response protocol sees), with
// percentiles, through the test topology's raw-socket ping (python3, no ping
// binary, 0.1 us resolution).

import type { Topology } from '../../test/netns/topology.ts';

export interface RttResult {
  /** Median and 99th percentile round trip, ms (NaN when no reply came). */
  p50Ms: number;
  p99Ms: number;
  sent: number;
  received: number;
}

/** `count` echo requests from `ns` to `dst`, one every `gapMs` after the previous reply (or its 1 s timeout). */
export async function pingRtt(topo: Topology, ns: string, dst: string, count: number, gapMs: number): Promise<RttResult> {
  const { rttMs } = await topo.pingStats(ns, dst, count, 1_000, gapMs);
  const s = rttMs.sort((a, b) => a - b);
  const pct = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : NaN);
  return { p50Ms: pct(50), p99Ms: pct(99), sent: count, received: s.length };
}
