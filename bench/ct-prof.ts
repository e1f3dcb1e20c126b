// The conntrack commit path of bench/conntrack.bench.ts (one UDP connection,
// batches of 32, through the datapath's ct() hook) in the main thread, for a
// profile: `node --cpu-prof --import tsx bench/ct-prof.ts [packets]`, or with
// `--prof` / `perf record` and `--perf-basic-prof`. Prints packets/s.
// CT_FRESH_CSUM=1: every batch's checksums are summed again.

import { Conntrack } from '../src/conntrack/conntrack.ts';
import { conntrackHook } from '../src/datapath/datapath.ts';
import { ct as ctAction, type DpCtAction } from '../src/datapath/dp-actions.ts';
import { FK_WORDS } from '../src/packet/flow-key.ts';
import { batchOfOneConn } from './ct-packets.ts';

const packets = Number(process.argv[2] ?? 20_000_000);
const COMMIT = ctAction({ zone: 0, commit: true, force: false, mark: null, label: null, nat: null, alg: null }) as DpCtAction;
const hook = conntrackHook(Conntrack.create({ capacity: 1024 }));
const b = batchOfOneConn(1);
const fresh = process.env.CT_FRESH_CSUM === '1'; // sum every checksum of every batch
const now = Date.now();
const t0 = process.hrtime.bigint();
const c0 = process.cpuUsage();
for (let n = 0; n < packets; n += 32) {
  b.count = 32;
  b.ctConn.fill(0);
  if (fresh) b.csum.fill(0);
  for (let i = 0; i < 32; i++) hook.execute(b, i, b.keys, i * FK_WORDS, COMMIT, now);
  hook.endBatch?.();
}
const s = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(c0);
// On a busy machine the CPU time says more than the wall clock.
console.log(`${Math.round(packets / s).toLocaleString('en-US')} packets/s (wall), ${Math.round(packets / ((cpu.user + cpu.system) / 1e6)).toLocaleString('en-US')} per CPU second`);
