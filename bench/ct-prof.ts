// The conntrack paths of bench/conntrack.bench.ts in the main thread, for a
// profile: `node --cpu-prof --import tsx bench/ct-prof.ts [packets]`, or with
// `--prof` / `perf record` and `--perf-basic-prof`. Prints packets/s.
// - default: the commit path (one UDP connection, batches of 32, through the
//   datapath's ct() hook); CT_FRESH_CSUM=1: every batch's checksums summed again;
// - CT_PROF=lookup CT_CONNS=N: lookups of N existing connections in the order
//   they were made (as OVS's benchmark-zones), checksums known good;
//   CT_RANDOM=1 in random order; CT_HUGE=0: the table on 4 KB pages.

import { Conntrack } from '../src/conntrack/conntrack.ts';
import { conntrackHook } from '../src/datapath/datapath.ts';
// As the daemon (dpif.ts): the native layer lends conntrack its huge pages (conntrack/memory.ts).
import '../src/datapath/native/native.ts';
import { ct as ctAction, type DpCtAction } from '../src/datapath/dp-actions.ts';
import { FK_WORDS } from '../src/packet/flow-key.ts';
import { CSUM_L3_GOOD, CSUM_L4_GOOD, PacketBatch } from '../src/packet/batch.ts';
import { batchOfOneConn, loadConn, TEMPLATE } from './ct-packets.ts';

const packets = Number(process.argv[2] ?? 20_000_000);
const lookup = process.env.CT_PROF === 'lookup';
const nconns = Number(process.env.CT_CONNS ?? 1_000_000);
const COMMIT = ctAction({ zone: 0, commit: true, force: false, mark: null, label: null, nat: null, alg: null }) as DpCtAction;
const LOOKUP = ctAction({ zone: 0, commit: false, force: false, mark: null, label: null, nat: null, alg: null }) as DpCtAction;
const conntrack = Conntrack.create({ capacity: lookup ? nconns + 1024 : 1024, hugePages: process.env.CT_HUGE !== '0' });
const hook = conntrackHook(conntrack);
const now = Date.now();
let b = batchOfOneConn(1);
if (lookup) {
  b = new PacketBatch(256);
  for (let i = 0; i < 32; i++) b.push(TEMPLATE);
  for (let n = 0; n < nconns; n++) {
    loadConn(b, 0, n);
    b.ctConn[0] = 0;
    conntrack.execute(b, 0, b.keys, 0, COMMIT.exec, now);
  }
}
const fresh = process.env.CT_FRESH_CSUM === '1'; // sum every checksum of every batch
let cpuMs = 0; // lookups: the ct() calls' time
let seq = 0;
let x = 12345;
const rnd = process.env.CT_RANDOM === '1';
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
for (let n = 0; n < packets; n += 32) {
  if (lookup) for (let i = 0; i < 32; i++) loadConn(b, i, rnd ? (x = (Math.imul(x, 1103515245) + 12345) >>> 0) % nconns : seq++ % nconns); // not timed
  const c0 = lookup ? performance.now() : -1; // as the bench (a cpuUsage() per batch would cost more than the batch)
  b.count = 32;
  b.ctConn.fill(0);
  if (lookup) b.csum.fill(CSUM_L3_GOOD | CSUM_L4_GOOD);
  else if (fresh) b.csum.fill(0);
  const a = lookup ? LOOKUP : COMMIT;
  for (let i = 0; i < 32; i++) hook.execute(b, i, b.keys, i * FK_WORDS, a, now);
  hook.endBatch?.();
  if (c0 >= 0) cpuMs += performance.now() - c0;
}
const s = Number(process.hrtime.bigint() - t0) / 1e9;
if (lookup) {
  console.log(`${Math.round(packets / (cpuMs / 1000)).toLocaleString('en-US')} lookups/s, the ct() calls only (${nconns.toLocaleString('en-US')} connections)`);
} else {
  const cpu = process.cpuUsage(cpu0);
  // On a busy machine the CPU time says more than the wall clock.
  console.log(`${Math.round(packets / s).toLocaleString('en-US')} packets/s (wall), ${Math.round(packets / ((cpu.user + cpu.system) / 1e6)).toLocaleString('en-US')} per CPU second`);
}
