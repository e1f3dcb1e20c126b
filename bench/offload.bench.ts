// Offload (flowtable, seed 004) against the full path, in one run: the
// established packets of one UDP connection through seed 001's stateful ACL
// (ct(table=1), recirculation, ct(commit)) on the default bridge's dummy
// ports, in batches of 32 per direction, through Datapath.receive — the
// entry point a port's rx loop calls — with `offload-set br0 off` and `on udp`.

import { Switch } from '../src/ofproto/switch.ts';
import { udp64 } from './datapath.bench.ts';
import { setIpv4HeaderChecksum, setL4Checksum } from '../src/packet/checksum.ts';
import { wr16, wr32 } from '../src/packet/bytes.ts';
import type { BenchRow } from './run.ts';
import { FLOWS_ACL } from '../test/netns/seed001-acl.ts';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);

/** Seed 000's SNAT in the same shape, to one address and port (so the reply is known in advance). */
const FLOWS_SNAT = [
  'table=0,priority=1,action=drop',
  'table=0,priority=10,arp,action=normal',
  'table=0,priority=100,ip,ct_state=-trk,action=ct(table=1,nat)',
  'table=1,in_port=1,ip,ct_state=+trk+new,action=ct(commit,nat(src=10.1.1.240:1000)),2',
  'table=1,in_port=1,ip,ct_state=+trk+est,action=2',
  'table=1,in_port=2,ip,ct_state=+trk+est,action=1',
];

/** The answer to a frame SNATed to 10.1.1.240:1000. */
function replyToSnat(p: Uint8Array): Uint8Array {
  const b = reply(p);
  wr32(b, 30, 0x0a0101f0);
  wr16(b, 36, 1000);
  setIpv4HeaderChecksum(b, 14);
  setL4Checksum(b, 14, 34, b.length, 17);
  return b;
}

/** The answer to udp64's frame: MACs, addresses and ports swapped. */
function reply(p: Uint8Array): Uint8Array {
  const b = Uint8Array.from(p);
  const swap = (a: number, c: number, n: number) => {
    for (let i = 0; i < n; i++) [b[a + i], b[c + i]] = [b[c + i], b[a + i]];
  };
  swap(0, 6, 6);
  swap(26, 30, 4);
  swap(34, 36, 2);
  return b;
}

export function run(offload: boolean, seconds: number, snat = false): { pps: number; hits: number } {
  const sw = Switch.fromConfig(null, { defaultBridge: true });
  sw.addFlows('br0', (snat ? FLOWS_SNAT : FLOWS_ACL).join('\n'), 'bench');
  if (offload) sw.offloadSet('br0', ['on', 'udp']);
  const br = sw.bridges.get('br0')!;
  const dpOf = (ofport: number) => [...br.portsByDp.entries()].find(([, p]) => p.ofport === ofport)![0];
  const in1 = dpOf(1), in2 = dpOf(2);
  const dp = sw.dp.datapath;
  const out = udp64(7);
  const back = snat ? replyToSnat(out) : reply(out);
  const outs = Array.from({ length: 32 }, () => out);
  const backs = Array.from({ length: 32 }, () => back);
  let now = Date.now();
  for (let i = 0; i < 4; i++) {
    dp.receive(in1, [out], now);
    dp.receive(in2, [back], now);
  }
  let n = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(seconds * 1e9));
  while (process.hrtime.bigint() < end) {
    for (let i = 0; i < 64; i++) {
      dp.receive(in1, outs, now);
      dp.receive(in2, backs, now);
    }
    n += 64 * 64;
    now = Date.now();
  }
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  const hits = dp.flowtable.stats.hits;
  const conns = sw.dp.conntrack.nconns();
  sw.close();
  if (conns !== 1) throw new Error(`expected one connection, found ${conns}`);
  if (offload && hits < n / 2) throw new Error(`offload on but only ${hits} of ${n} packets hit the flowtable`);
  return { pps: n / secs, hits };
}

export async function rows(): Promise<BenchRow[]> {
  const secs = 3 * Math.max(SCALE, 0.1);
  const off = run(false, secs);
  const on = run(true, secs);
  const snatOff = run(false, secs, true);
  const snatOn = run(true, secs, true);
  return [
    { bench: 'offload', case: "seed 001's ACL, established UDP, batches of 32 each way, offload off", value: off.pps, unit: 'packets/s' },
    { bench: 'offload', case: "seed 001's ACL, established UDP, batches of 32 each way, offload on udp", value: on.pps, unit: 'packets/s', note: `${(on.pps / off.pps).toFixed(2)}× offload off; ${on.hits.toLocaleString('en-US')} flowtable hits` },
    { bench: 'offload', case: "seed 000's SNAT (to 10.1.1.240:1000), established UDP, batches of 32 each way, offload off", value: snatOff.pps, unit: 'packets/s' },
    { bench: 'offload', case: "seed 000's SNAT (to 10.1.1.240:1000), established UDP, batches of 32 each way, offload on udp", value: snatOn.pps, unit: 'packets/s', note: `${(snatOn.pps / snatOff.pps).toFixed(2)}× offload off; ${snatOn.hits.toLocaleString('en-US')} flowtable hits` },
  ];
}
