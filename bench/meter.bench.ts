// The metered megaflow hit path beside the same traffic unmetered, in the
// same run: the whole switch in process, one UDP flow in batches of 32 from
// port 1 hitting one megaflow. "plain": actions=output:2; "meter, passing":
// actions=meter:1,output:2 with a pktps band far above the offered rate
// (every packet takes tokens from the shared bucket, under its lock, and
// passes); "meter, dropping": a band of 1 packet/s (almost every packet is
// dropped by the band and counted). Best of alternating 0.5 s slices.

import { PacketBatch } from '../src/packet/batch.ts';
import { composePacket } from '../src/packet/compose.ts';
import { parseOdpFlow } from '../src/packet/odp-parse.ts';
import { Switch } from '../src/ofproto/switch.ts';
import type { BenchRow } from './run.ts';
import { packetsPerSecond } from './slices.ts';

const PKT = composePacket(parseOdpFlow('eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1000,dst=53)').key);

type Case = 'plain' | 'passing' | 'dropping';

function rig(c: Case): { slice: (seconds: number) => number; close: () => void } {
  const sw = Switch.fromConfig(null, { defaultBridge: true });
  if (c !== 'plain') sw.addMeter('br0', `meter=1 pktps burst bands=type=drop rate=${c === 'passing' ? 4_000_000_000 : 1} burst_size=${c === 'passing' ? 4_000_000_000 : 1}`);
  sw.addFlows('br0', c === 'plain' ? 'in_port=1,actions=output:2' : 'in_port=1,actions=meter:1,output:2', 'bench');
  const dp = sw.dp.datapath;
  const b = new PacketBatch(256);
  const run = (iters: number) => {
    for (let it = 0; it < iters; it++) {
      b.clear();
      for (let j = 0; j < 32; j++) b.push(PKT);
      dp.processBatch(b, 1, Date.now());
    }
  };
  run(16);
  const missed = dp.stats.missed;
  const slice = (seconds: number) => {
    const pps = packetsPerSecond(run, seconds);
    if (dp.stats.missed !== missed) throw new Error('the traffic missed the megaflow');
    return pps;
  };
  return { slice, close: () => sw.close() };
}

export async function rows(): Promise<BenchRow[]> {
  const secs = Number(process.env.BENCH_SECONDS ?? 3);
  const cases: Case[] = ['plain', 'passing', 'dropping'];
  const rigs = cases.map(rig);
  const best = cases.map(() => 0);
  // Warm-up (JIT) slices, not counted.
  for (const r of rigs) r.slice(0.3);
  for (let t = 0; t < secs; t += 0.5) rigs.forEach((r, i) => (best[i] = Math.max(best[i], r.slice(0.5))));
  rigs.forEach((r) => r.close());
  const [plain, passing, dropping] = best;
  return [
    { bench: 'meter', case: 'megaflow hit, batches of 32, actions=output:2', value: plain, unit: 'packets/s' },
    { bench: 'meter', case: 'megaflow hit, batches of 32, actions=meter:1,output:2, every packet passes', value: passing, unit: 'packets/s', note: `${(passing / plain).toFixed(2)}× unmetered` },
    { bench: 'meter', case: 'megaflow hit, batches of 32, actions=meter:1,output:2, rate 1 pktps (the band drops)', value: dropping, unit: 'packets/s', note: `${(dropping / plain).toFixed(2)}× unmetered` },
  ];
}
