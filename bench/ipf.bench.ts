// Fragment reassembly cost: a 3000-byte UDP datagram of one established
// connection through the datapath's entry point (Datapath.receive, flows
// ct(zone=1,commit) then output), whole (one jumbo frame) and as three
// fragments (held, reassembled, tracked whole, the fragments sent) — each
// beside the other in the same run. Also a 1400-byte datagram whole, to
// show the cost per frame.

import { Conntrack } from '../src/conntrack/conntrack.ts';
import { conntrackHook, Datapath } from '../src/datapath/datapath.ts';
import { ct, output, recirc, type DpAction } from '../src/datapath/dp-actions.ts';
import { DpPort } from '../src/datapath/port.ts';
import { DummyBackend } from '../src/datapath/ports/dummy.ts';
import { FK_RECIRC_ID, FK_WORDS } from '../src/packet/flow-key.ts';
import { fragments, type Datagram } from '../test/conntrack/frag-packets.ts';
import type { BenchRow } from './run.ts';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);

function rig(): Datapath {
  const ctk = Conntrack.create({ capacity: 1024 });
  const mask = new Uint32Array(FK_WORDS);
  mask[FK_RECIRC_ID] = 0xffffffff;
  const a0: DpAction[] = [ct({ zone: 1, commit: true, force: false, mark: null, label: null, nat: null, alg: null }), recirc(1)];
  const a1: DpAction[] = [output(2)];
  const dp = new Datapath((key) => ({ actions: key[FK_RECIRC_ID] === 0 ? a0 : a1, mask }), conntrackHook(ctk));
  dp.addPort(new DpPort(1, 'p1', new DummyBackend(), {}));
  dp.addPort(new DpPort(2, 'p2', new DummyBackend(), {}));
  return dp;
}

/** Datagrams per second: `frames` (one datagram) received `n` times. */
function run(frames: Uint8Array[], n: number): number {
  const dp = rig();
  let now = 1_000_000;
  dp.receive(1, frames, now); // the connection and the megaflows
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) dp.receive(1, frames, (now += 0.001));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const sent = dp.ports.get(2)!.stats.txPackets;
  if (sent !== (n + 1) * frames.length) throw new Error(`expected ${(n + 1) * frames.length} frames out, got ${sent}`);
  return n / secs;
}

export async function rows(): Promise<BenchRow[]> {
  const n = Math.round(200_000 * SCALE);
  const g: Datagram = { src: '10.1.1.1', dst: '10.1.1.2', proto: 17, sport: 1000, dport: 53, size: 3000 };
  // Warm every path up first (the JIT), then measure.
  for (const fr of [fragments(g, []), fragments(g, [1400, 2800]), fragments({ ...g, size: 1400 }, [])]) run(fr, Math.max(1000, n / 10));
  const whole = run(fragments(g, []), n);
  const frag = run(fragments(g, [1400, 2800]), n);
  const small = run(fragments({ ...g, size: 1400 }, []), n);
  return [
    { bench: 'ipf', case: 'UDP datagram of 3,000 bytes, one frame, ct(commit) + output', value: whole, unit: 'datagrams/s' },
    { bench: 'ipf', case: 'the same datagram as 3 fragments (reassembled, tracked, fragments sent)', value: frag, unit: 'datagrams/s', note: `${(frag / whole).toFixed(2)}× the rate of one frame` },
    { bench: 'ipf', case: 'UDP datagram of 1,400 bytes, one frame (per-frame baseline)', value: small, unit: 'datagrams/s' },
  ];
}
