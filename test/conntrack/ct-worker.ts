// Worker for concurrency.test.ts: hammers a shared conntrack table with
// inserts, lookups, state updates, expiry sweeps and flushes on keys that
// overlap with the other workers'.
import { parentPort, workerData } from 'node:worker_threads';
import { Conntrack } from '../../src/conntrack/conntrack.ts';
import { Harness } from './helpers.ts';

const { desc, seed, ops, ports } = workerData as { desc: ReturnType<Conntrack['shared']>; seed: number; ops: number; ports: number };
const h = new Harness(Conntrack.attach(desc));
let s = seed >>> 0;
const rnd = (n: number) => {
  s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
  return s % n;
};
const counts = { inserts: 0, replies: 0, tcp: 0, flushes: 0, swept: 0 };
for (let i = 0; i < ops; i++) {
  const p = 1 + rnd(ports);
  const zone = rnd(2);
  const op = rnd(100);
  h.now += 1;
  if (op < 50) {
    h.send('10.0.0.1', '10.0.0.2', { proto: 17, sport: p, dport: 53 }, { zone, mark: { value: p, mask: 0xffff } });
    counts.inserts++;
  } else if (op < 75) {
    h.send('10.0.0.2', '10.0.0.1', { proto: 17, sport: 53, dport: p }, { zone, commit: false });
    counts.replies++;
  } else if (op < 90) {
    h.send('10.0.0.1', '10.0.0.2', { proto: 6, sport: p, dport: 80, flags: 'S', seq: 100 }, { zone });
    h.send('10.0.0.2', '10.0.0.1', { proto: 6, sport: 80, dport: p, flags: 'SA', seq: 500, ack: 101 }, { zone, commit: false });
    counts.tcp++;
  } else if (op < 95) {
    h.ct.flush({ zone, orig: { sport: p } });
    counts.flushes++;
  } else {
    // Expire what is older than ~60 s of this worker's clock in small steps.
    counts.swept += h.ct.sweep(h.now + 60_000 - 200, 64);
  }
}
parentPort!.postMessage(counts);
