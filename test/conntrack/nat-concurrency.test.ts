// NAT across worker threads: several workers commit source-NATed
// connections into one shared conntrack table at once, competing for the
// tuples of one small range (4 addresses x 64 ports). Afterwards: no reply
// tuple is taken twice, every un-NAT key is in the index and points at its
// record, every translation lies in the range, every reply was un-NATed to
// its own client, and expiry and flush remove both keys. Each worker must
// finish (a deadlock between shard locks would leave it waiting: the wait
// is bounded and reported as such).

import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Conntrack } from '../../src/conntrack/conntrack.ts';
import { compileNat } from '../../src/nat/range.ts';
import { Harness } from './helpers.ts';
import { K_DST, K_META, K_PORTS, KEY_WORDS, R_FLAGS, R_KEY_ORIG, R_KEY_REPLY, REC_WORDS, RF_NAT_SHIFT, NF_SRC } from '../../src/conntrack/layout.ts';

type Counts = Record<'committed' | 'exhausted' | 'replied' | 'lost' | 'takenOver' | 'wrong' | 'flushes' | 'swept', number>;

/** Ample for 3 x 4000 operations on a 2-core machine; only reached if a worker never returns. */
const DEADLOCK_BOUND_MS = 60_000;

function runWorker(desc: unknown, worker: number, phase: 'commit' | 'churn', ops: number): Promise<Counts> {
  return new Promise((resolve, reject) => {
    const url = new URL('./nat-worker.ts', import.meta.url).href;
    const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url)}); })`;
    const w = new Worker(boot, { eval: true, workerData: { desc, seed: 7919 * worker + 1, ops, worker, phase } });
    const bound = setTimeout(() => {
      void w.terminate();
      reject(new Error(`worker ${worker} (${phase}) still running after ${DEADLOCK_BOUND_MS} ms: deadlock?`));
    }, DEADLOCK_BOUND_MS);
    w.once('message', (m: Counts) => {
      clearTimeout(bound);
      resolve(m);
    });
    w.once('error', (e) => {
      clearTimeout(bound);
      reject(e);
    });
  });
}

const RANGE_LO = 0x0a0101f0, RANGE_HI = 0x0a0101f3;
const snat = compileNat({ kind: 'src', addrMin: '10.1.1.240', addrMax: '10.1.1.243', portMin: 1024, portMax: 1087 });

/** Check every live record and the index; returns the number of live connections. */
function checkNatTable(ct: Conntrack): number {
  const t = ct.table;
  const keys = new Map<string, number>();
  let live = 0;
  for (let r = 0; r < t.highWater(); r++) {
    if (!t.isInUse(r)) continue;
    live++;
    const b = r * REC_WORDS;
    expect((t.rec[b + R_FLAGS] >>> RF_NAT_SHIFT) & NF_SRC).toBe(NF_SRC);
    // The translation: an address and port of the range, to the server's port 53.
    const addr = t.rec[b + R_KEY_REPLY + K_DST] >>> 0;
    const port = t.rec[b + R_KEY_REPLY + K_PORTS] & 0xffff;
    expect(addr >= RANGE_LO && addr <= RANGE_HI, `address ${addr.toString(16)}`).toBe(true);
    expect(port >= 1024 && port <= 1087, `port ${port}`).toBe(true);
    expect(t.rec[b + R_KEY_REPLY + K_PORTS] >>> 16).toBe(53);
    for (const kb of [R_KEY_ORIG, R_KEY_REPLY]) {
      const key = t.rec.slice(b + kb, b + kb + KEY_WORDS);
      const text = Array.from(key).join(',');
      expect(keys.has(text), `key ${text} of record ${r} is also record ${keys.get(text)}'s`).toBe(false);
      keys.set(text, r);
      // The key is in the index and leads to this record.
      const s = t.shardOfKey(key, 0);
      const node = t.lookupLocked(key, 0, t.bucketOf(s, t.hashKey(key, 0)), t.hashKey(key, 0));
      expect(node >= 0 && node >>> 1 === r).toBe(true);
      expect(node & 1).toBe(kb === R_KEY_REPLY ? 1 : 0);
    }
    expect(t.rec[b + R_KEY_ORIG + K_META] & 0xffff).toBe(1);
  }
  // Every index node belongs to a live record: two per connection.
  let nodes = 0;
  for (let i = 0; i < t.bkt.length; i++) {
    if (t.bkt[i] === 0) continue;
    expect(t.isInUse(t.slotNode(t.bkt[i]) >>> 1)).toBe(true);
    nodes++;
  }
  expect(nodes).toBe(2 * live);
  expect(ct.nconns()).toBe(live);
  expect(ct.zoneCount(1)).toBe(live);
  return live;
}

const sum = (rs: Counts[], f: keyof Counts) => rs.reduce((a, r) => a + r[f], 0);

describe('NAT across worker threads', () => {
  it('concurrent SNAT commits into one table: unique reply tuples, un-NAT keys linked, replies un-NATed to their own client', async () => {
    const ct = Conntrack.create({ capacity: 8192, shards: 16 });
    const rs = await Promise.all([1, 2, 3].map((w) => runWorker(ct.shared(), w, 'commit', 3000)));
    // 3 x 256 clients x 8 ports compete for 256 tuples: the range fills up.
    expect(sum(rs, 'committed')).toBeGreaterThan(0);
    expect(sum(rs, 'exhausted')).toBeGreaterThan(0);
    expect(sum(rs, 'wrong')).toBe(0);
    expect(sum(rs, 'lost')).toBe(0);
    expect(sum(rs, 'takenOver')).toBe(0);
    expect(sum(rs, 'replied')).toBe(sum(rs, 'committed'));
    expect(ct.counters().natExhausted).toBe(sum(rs, 'exhausted'));
    // Whatever a worker skipped under contention is still free: committing
    // from fresh clients here fills the range to exactly its 256 tuples and
    // no further (nothing leaked, nothing taken twice).
    const h = new Harness(ct);
    for (let i = 0; ct.nconns() < 256 && i < 1024; i++) {
      h.send(`10.9.${i >> 8}.${i & 255}`, '10.1.1.2', { proto: 17, sport: 5000, dport: 53 }, { zone: 1, nat: snat });
    }
    h.batch.dropped[0] = 0;
    h.send('10.9.9.9', '10.1.1.2', { proto: 17, sport: 5000, dport: 53 }, { zone: 1, nat: snat });
    expect(h.batch.dropped[0]).toBe(1);
    expect(checkNatTable(ct)).toBe(256);
    // Expiry removes both keys of every connection.
    let swept = 0;
    while (ct.nconns() > 0) swept += ct.sweep(1e15, 1000);
    expect(swept).toBe(256);
    expect(checkNatTable(ct)).toBe(0);
  }, 120_000);

  it('commits, flushes and sweeps at once: the table stays whole and a flush empties it, both keys', async () => {
    const ct = Conntrack.create({ capacity: 8192, shards: 16 });
    const rs = await Promise.all([1, 2, 3].map((w) => runWorker(ct.shared(), w, 'churn', 4000)));
    expect(sum(rs, 'committed')).toBeGreaterThan(0);
    expect(sum(rs, 'flushes') + sum(rs, 'swept')).toBeGreaterThan(0);
    expect(sum(rs, 'wrong')).toBe(0);
    const live = checkNatTable(ct);
    expect(live).toBeGreaterThan(0);
    expect(ct.flush({ zone: 1 })).toBe(live);
    expect(checkNatTable(ct)).toBe(0);
  }, 120_000);
});
