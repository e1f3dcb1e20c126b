// Per-stage cost of the megaflow hit path (bench/datapath.bench.ts's case)
// by subtraction: receive alone, + parse, + lookup, the whole pollPort.
// `node --import tsx bench/mf-stages.ts [flows] [mode] [seconds]`.
import { Datapath } from '../src/datapath/datapath.ts';
import { DpPort } from '../src/datapath/port.ts';
import { DummyBackend } from '../src/datapath/ports/dummy.ts';
import { BATCH_MAX, type PacketBatch } from '../src/packet/batch.ts';
import { extractBatchZeroed } from '../src/packet/extract.ts';
import { FK_IN_PORT, FK_WORDS } from '../src/packet/flow-key.ts';
import { CACHE_MODES, udp64, exactUpcallFor, WireBackend } from './datapath.bench.ts';

const flows = Number(process.argv[2] ?? 100_000);
const mode = CACHE_MODES.find((m) => m.name.startsWith(process.argv[3] ?? 'EMC'))!;
const seconds = Number(process.argv[4] ?? 1);

const dp = new Datapath(exactUpcallFor(1));
dp.flowCache.configure(mode.emcInsertInvProb, mode.smc);
const frames = new Uint8Array(flows * 64);
for (let i = 0; i < flows; i++) frames.set(udp64(i), i * 64);
const wire = new WireBackend(frames, flows);
const rx = new DpPort(1, 'p1', wire, {});
dp.addPort(rx);
dp.addPort(new DpPort(2, 'p2', new DummyBackend(), {}));
const now = Date.now();
for (let i = 0; i < flows * 2; i += 128) dp.pollPort(rx, 4, now);
const b = (dp as unknown as { batch: PacketBatch }).batch;
const pkt = Int32Array.from({ length: BATCH_MAX }, (_, i) => i);
const slots = new Int32Array(BATCH_MAX);
const levels = new Uint8Array(BATCH_MAX);

function time(name: string, step: () => void): number {
  const end = process.hrtime.bigint() + BigInt(seconds * 1e9);
  const t0 = process.hrtime.bigint();
  let n = 0;
  for (;;) {
    for (let k = 0; k < 64; k++) step();
    n += 64 * BATCH_MAX;
    if (process.hrtime.bigint() > end) break;
  }
  const ns = Number(process.hrtime.bigint() - t0) / n;
  return ns;
}
const st = rx.stats;
const recv = () => { b.clear(); wire.receive(b, BATCH_MAX, st); };
const parse = () => { recv(); extractBatchZeroed(b, dp.parseStats); for (let i = 0; i < b.count; i++) b.keys[i * FK_WORDS + FK_IN_PORT] = 1; };
const look = () => { parse(); dp.flowCache.lookupBatch(b.keys, pkt, BATCH_MAX, slots, levels); };
const full = () => { dp.pollPort(rx, 1, now); };
for (let r = 0; r < 2; r++) {
  const a = time('recv', recv), p = time('parse', parse), l = time('lookup', look), f = time('full', full);
  console.log(`${flows} ${mode.name}: receive ${a.toFixed(1)} ns, parse ${(p - a).toFixed(1)}, lookup ${(l - p).toFixed(1)}, rest ${(f - l).toFixed(1)}; total ${f.toFixed(1)} ns = ${(1000 / f).toFixed(2)} Mpps`);
}
