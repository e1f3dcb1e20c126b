// Worker for nat-concurrency.test.ts: commits source-NATed UDP connections
// into a shared conntrack table while the other workers do the same for
// the same small NAT range, and answers each one at its translated tuple.
// Phase 'commit' removes nothing, so every reply must find its own
// connection and come back un-NATed to its own client; phase 'churn' also
// flushes and sweeps, so a reply may find its connection gone (+new) or its
// tuple already given to another client.
import { parentPort, workerData } from 'node:worker_threads';
import { Conntrack } from '../../src/conntrack/conntrack.ts';
import { compileNat } from '../../src/nat/range.ts';
import { FK_NW_DST, FK_NW_SRC, FK_TP_DST, FK_TP_SRC } from '../../src/packet/flow-key.ts';
import { ipv4Str } from '../../src/packet/odp-format.ts';
import { Harness } from './helpers.ts';

const { desc, seed, ops, worker, phase } = workerData as {
  desc: ReturnType<Conntrack['shared']>; seed: number; ops: number; worker: number; phase: 'commit' | 'churn';
};
const h = new Harness(Conntrack.attach(desc));
// The range nat-concurrency.test.ts checks against.
const snat = compileNat({ kind: 'src', addrMin: '10.1.1.240', addrMax: '10.1.1.243', portMin: 1024, portMax: 1087 });
const bare = compileNat({ kind: null });
let s = seed >>> 0;
const rnd = (n: number) => {
  s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
  return s % n;
};
const counts = { committed: 0, exhausted: 0, replied: 0, lost: 0, takenOver: 0, wrong: 0, flushes: 0, swept: 0 };
for (let i = 0; i < ops; i++) {
  // Each worker has its own clients, so a reply can only be un-NATed to
  // this worker's client; the NAT tuples they compete for are shared.
  const c = rnd(256);
  const client = `10.${worker}.${c >> 4}.${c & 15}`;
  const sport = 5000 + rnd(8);
  const op = rnd(100);
  h.now += 1;
  if (phase === 'churn' && op >= 90) {
    if (op < 95) counts.flushes += h.ct.flush({ zone: 1, orig: { src: client } });
    else counts.swept += h.ct.sweep(h.now + 60_000, 64);
    continue;
  }
  h.batch.dropped[0] = 0;
  const st = h.send(client, '10.1.1.2', { proto: 17, sport, dport: 53 }, { zone: 1, nat: snat });
  if (h.batch.dropped[0] !== 0) {
    counts.exhausted++;
    continue;
  }
  if (!st.includes('+snat')) {
    counts.wrong++;
    continue;
  }
  counts.committed++;
  const natIp = ipv4Str(h.key()[FK_NW_SRC]);
  const natPort = h.key()[FK_TP_SRC];
  const back = h.send('10.1.1.2', natIp, { proto: 17, sport: 53, dport: natPort }, { zone: 1, commit: false, nat: bare });
  if (back === '+trk+new') {
    counts.lost++; // removed meanwhile by another worker's flush or sweep
    continue;
  }
  counts.replied++;
  const to = ipv4Str(h.key()[FK_NW_DST]);
  const toPort = h.key()[FK_TP_DST];
  if (back === '+trk+est+rpl+dnat' && to === client && toPort === sport) continue;
  // In 'churn' the connection may have been flushed or swept and its tuple
  // given to another client meanwhile: the reply then goes, whole, to that
  // client (any worker's, ports 5000-5007). Anything else is wrong.
  const anyClient = /^10\.[1-3]\.\d+\.\d+$/.test(to) && toPort >= 5000 && toPort < 5008;
  if (phase === 'churn' && back === '+trk+est+rpl+dnat' && anyClient) counts.takenOver++;
  else counts.wrong++;
}
parentPort!.postMessage(counts);
