// Conntrack under concurrent use: worker threads attached to one shared
// table commit, look up and remove overlapping connections at once; after
// they stop no connection is lost, duplicated or torn (both keys linked to
// one whole record), and the survivors answer from both directions.

import { describe, it, expect } from 'vitest';
import { Worker } from 'node:worker_threads';
import { Conntrack } from '../../src/conntrack/conntrack.ts';
import { REC_WORDS, R_KEY_ORIG, R_KEY_REPLY, K_META, KEY_WORDS, R_ID, R_MARK, K_PORTS } from '../../src/conntrack/layout.ts';
import { reverseKey } from '../../src/conntrack/key.ts';
import { Harness } from './helpers.ts';
import { PF_MIN_RECORDS } from '../../src/conntrack/prefetch.ts';

function runWorker(desc: unknown, seed: number, ops: number, ports: number): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    // Register tsx inside the worker (an --import in execArgv is not honoured
    // when the test runner itself runs in a worker).
    const url = new URL('./ct-worker.ts', import.meta.url).href;
    const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url)}); })`;
    const w = new Worker(boot, { eval: true, workerData: { desc, seed, ops, ports } });
    w.once('message', resolve);
    w.once('error', reject);
  });
}

/** Check the table's structure: index and records agree, no duplicates,
 *  counters match, every record whole. */
function checkTable(ct: Conntrack): number {
  const t = ct.table;
  const hw = t.highWater();
  const seen = new Set<string>();
  let live = 0;
  const zoneCounts = new Map<number, number>();
  const rev = new Int32Array(KEY_WORDS);
  for (let r = 0; r < hw; r++) {
    if (!t.isInUse(r)) continue;
    live++;
    const b = r * REC_WORDS;
    const orig = Array.from(t.rec.subarray(b + R_KEY_ORIG, b + R_KEY_ORIG + KEY_WORDS)).join(',');
    const reply = Array.from(t.rec.subarray(b + R_KEY_REPLY, b + R_KEY_REPLY + KEY_WORDS)).join(',');
    // Not torn: the reply key is the reverse of the orig key, id set, mark = the port it was committed for.
    reverseKey(rev, 0, t.rec, b + R_KEY_ORIG);
    expect(Array.from(rev).join(',')).toBe(reply);
    expect(t.rec[b + R_ID]).not.toBe(0);
    const proto = (t.rec[b + R_KEY_ORIG + K_META] >>> 16) & 0xff;
    if (proto === 17) expect(t.rec[b + R_MARK]).toBe(t.rec[b + R_KEY_ORIG + K_PORTS] >>> 16);
    for (const k of [orig, reply]) {
      expect(seen.has(k), `duplicate key ${k}`).toBe(false);
      seen.add(k);
    }
    // Findable through the index under its key.
    for (const kb of [R_KEY_ORIG, R_KEY_REPLY]) {
      const key = t.rec.slice(b + kb, b + kb + KEY_WORDS);
      const s = t.shardOfKey(key, 0);
      expect(t.lookupLocked(key, 0, t.bucketOf(s, t.hashKey(key, 0)), t.hashKey(key, 0)) >>> 1).toBe(r);
    }
    const z = t.rec[b + R_KEY_ORIG + K_META] & 0xffff;
    zoneCounts.set(z, (zoneCounts.get(z) ?? 0) + 1);
  }
  // Every index node points at a live record.
  let nodes = 0;
  for (let i = 0; i < t.bkt.length; i++) {
    if (t.bkt[i] === 0) continue;
    expect(t.isInUse(t.slotNode(t.bkt[i]) >>> 1)).toBe(true);
    nodes++;
  }
  expect(nodes).toBe(2 * live);
  expect(ct.nconns()).toBe(live);
  for (const [z, n] of zoneCounts) expect(ct.zoneCount(z)).toBe(n);
  return live;
}

describe('the table under concurrent use', () => {
  it('two workers on overlapping keys: no lost, duplicated or torn connection', async () => {
    const ct = Conntrack.create({ capacity: 8192, shards: 16 });
    const results = await Promise.all([
      runWorker(ct.shared(), 1, 20000, 64),
      runWorker(ct.shared(), 2, 20000, 64),
      runWorker(ct.shared(), 3, 20000, 64),
    ]);
    for (const r of results) expect(r.inserts).toBeGreaterThan(0);
    const live = checkTable(ct);
    expect(live).toBeGreaterThan(0);
    // Model: every (zone, port) of either protocol at most once; committing
    // all of them again from here adds exactly the missing ones.
    const h = new Harness(ct);
    h.now = 1e12; // nothing has expired relative to... everything has: sweep all away
    while (ct.nconns() > 0) ct.sweep(h.now, 1000);
    expect(checkTable(ct)).toBe(0);
    h.now = 0;
    for (let z = 0; z < 2; z++) {
      for (let p = 1; p <= 64; p++) h.send('10.0.0.1', '10.0.0.2', { proto: 17, sport: p, dport: 53 }, { zone: z, mark: { value: p, mask: 0xffff } });
    }
    expect(checkTable(ct)).toBe(128);
    for (let z = 0; z < 2; z++) {
      for (let p = 1; p <= 64; p++) {
        expect(h.send('10.0.0.2', '10.0.0.1', { proto: 17, sport: 53, dport: p }, { zone: z, commit: false })).toBe('+trk+est+rpl');
      }
    }
  }, 60_000);

  it('the same in a table large enough for the batch look-ahead (prefetch.ts reads slots and records unlocked)', async () => {
    const ct = Conntrack.create({ capacity: PF_MIN_RECORDS + 8192, shards: 16 });
    // Zone 3, which the workers never touch: enough records that every lookup looks ahead.
    const h = new Harness(ct);
    h.now = 1e9; // far from the workers' clocks: their sweeps leave these alone
    for (let i = 0; i < PF_MIN_RECORDS; i++) {
      const p = 1 + (i % 60000);
      h.send(`10.3.${i >> 14}.1`, '10.0.0.2', { proto: 17, sport: p, dport: 53 }, { zone: 3, mark: { value: p, mask: 0xffff } });
    }
    expect(ct.nconns()).toBe(PF_MIN_RECORDS);
    const results = await Promise.all([1, 2, 3].map((seed) => runWorker(ct.shared(), seed, 20000, 64)));
    for (const r of results) expect(r.inserts).toBeGreaterThan(0);
    const live = checkTable(ct);
    expect(ct.zoneCount(3)).toBe(PF_MIN_RECORDS);
    expect(live).toBeGreaterThan(PF_MIN_RECORDS);
  }, 60_000);
});
