// Conntrack benchmarks, each beside OVS's own figure from the same run where
// one exists (../shared/tools/ovstest, built from OVS v3.7.1):
// - `ovstest test-conntrack benchmark T N 32` equivalent: batches of 32 UDP
//   packets of one connection per thread through ct(commit), 1 and 2 threads;
// - new connections per second, then their expiry;
// - bytes per connection at 1M and 3M connections;
// - lookup cost of existing connections at 1k .. 3M connections, at 1M and
//   3M also on 4 KB pages beside the huge pages the table asks for (memory.ts).
// BENCH_SCALE (default 1) scales the table sizes down for quick runs.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Conntrack } from '../src/conntrack/conntrack.ts';
import type { CtExec } from '../src/conntrack/execute.ts';
import { FK_WORDS } from '../src/packet/flow-key.ts';
import { CSUM_L3_GOOD, CSUM_L4_GOOD, PacketBatch } from '../src/packet/batch.ts';
import { conntrackHook } from '../src/datapath/datapath.ts';
// As the daemon (dpif.ts): the native layer lends conntrack its huge pages (conntrack/memory.ts).
import '../src/datapath/native/native.ts';
import { ct as ctAction, type DpCtAction } from '../src/datapath/dp-actions.ts';
import { batchOfOneConn, loadConn, TEMPLATE } from './ct-packets.ts';
import type { BenchRow } from './run.ts';

/** ../shared/tools/ovstest beside the checkout, from a worktree nested deeper too; OVSTEST overrides. */
function findOvstest(): string {
  if (process.env.OVSTEST) return process.env.OVSTEST;
  let dir = join(import.meta.dirname, '..');
  for (let up = 0; up < 4; up++) {
    const p = join(dir, '../shared/tools/ovstest');
    if (existsSync(p)) return p;
    dir = join(dir, '..');
  }
  return join(import.meta.dirname, '../../shared/tools/ovstest');
}
const OVSTEST = findOvstest();
const SCALE = Number(process.env.BENCH_SCALE ?? 1);

function ovstest(args: string[]): string | null {
  if (!existsSync(OVSTEST)) return null;
  const r = spawnSync(OVSTEST, args, { encoding: 'utf8', timeout: 300_000 });
  return r.status === 0 ? r.stdout + r.stderr : null;
}

/** OVS: packets per second of `ovstest test-conntrack benchmark threads n 32` (n packets per thread). */
function ovsCommitPps(threads: number, n: number): number | null {
  const out = ovstest(['test-conntrack', 'benchmark', String(threads), String(n), '32']);
  const m = out && /conntrack:\s+(\d+) ms/.exec(out);
  return m ? (threads * n) / (Number(m[1]) / 1000) : null;
}

async function swdCommitPps(threads: number, n: number, freshCsum = false): Promise<number> {
  const ct = Conntrack.create({ capacity: 1024 });
  const desc = ct.shared();
  // Workers register tsx themselves (an --import in execArgv is not always honoured).
  const url = new URL('./ct-worker.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url)}); })`;
  const workers = Array.from({ length: threads }, (_, i) => new Worker(boot, { eval: true, workerData: { desc, conn: i + 1, packets: n, freshCsum } }));
  await Promise.all(workers.map((w) => new Promise((r) => w.once('message', r))));
  const t0 = process.hrtime.bigint();
  const times = await Promise.all(
    workers.map(
      (w) =>
        new Promise<number>((r) => {
          w.once('message', r);
          w.postMessage('go');
        }),
    ),
  );
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  await Promise.all(workers.map((w) => w.terminate()));
  void times;
  if (ct.counters().invalid !== 0) throw new Error('the commit bench sent packets conntrack found invalid');
  return (threads * n) / wall;
}

const COMMIT: CtExec = { zone: 0, commit: true, force: false, mark: null, label: null, nat: null, alg: 0 };

const LOOKUP_ACTION = ctAction({ zone: 0, commit: false, force: false, mark: null, label: null, nat: null, alg: null }) as DpCtAction;

/** Commit `n` new connections; returns conns/s, bytes per connection and the time to expire them all. */
export function newConns(n: number, hugePages = true): { perSec: number; bytesPerConn: number; rssPerConn: number; expireMs: number; ct: Conntrack } {
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  const ct = Conntrack.create({ capacity: n + 1024, hugePages });
  const b = new PacketBatch(256);
  b.push(TEMPLATE);
  const now = Date.now();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    loadConn(b, 0, i);
    b.ctConn[0] = 0; // a new packet carries no connection
    ct.execute(b, 0, b.keys, 0, COMMIT, now);
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (ct.nconns() !== n) throw new Error(`expected ${n} connections, have ${ct.nconns()}`);
  const rssPerConn = (process.memoryUsage().rss - rss0) / n;
  const bytesPerConn = ct.table.bytesPerConn();
  return { perSec: n / secs, bytesPerConn, rssPerConn, expireMs: 0, ct };
}

export function expireAll(ct: Conntrack): number {
  const later = Date.now() + 3_600_000;
  const t0 = process.hrtime.bigint();
  while (ct.nconns() > 0) ct.sweep(later, 4096);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/**
 * Lookups of existing connections (no commit) in a table of n: lookups per
 * second. `random`: connections in random order, else in the order they
 * were made (OVS's benchmark-zones). Only the ct() calls are timed: the
 * packets of each batch are written and parsed before (as rx does). As in
 * OVS's benchmark-zones, whose lookup pass sends the packets its commit
 * passes checked, the packets' checksums are known good (`summed`: not,
 * conntrack sums them all again).
 */
export function lookupRate(ct: Conntrack, n: number, lookups: number, random = true, summed = false): number {
  const hook = conntrackHook(ct);
  const b = new PacketBatch(256);
  for (let i = 0; i < 32; i++) b.push(TEMPLATE);
  const now = Date.now();
  let x = 12345;
  let seq = 0;
  let done = 0;
  let ms = 0;
  while (done < lookups) {
    for (let i = 0; i < 32; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      loadConn(b, i, random ? x % n : seq++ % n);
    }
    b.count = 32;
    b.ctConn.fill(0); // fresh packets carry no connection (PacketBatch.commit() on arrival)
    b.csum.fill(summed ? 0 : CSUM_L3_GOOD | CSUM_L4_GOOD);
    const t0 = performance.now();
    // The datapath's entry point: the ct() hook, per packet.
    for (let i = 0; i < 32; i++) hook.execute(b, i, b.keys, i * FK_WORDS, LOOKUP_ACTION, now);
    hook.endBatch?.(); // as the datapath at the end of each batch
    ms += performance.now() - t0;
    done += 32;
  }
  if (ct.counters().invalid !== 0) throw new Error('the lookup bench sent packets conntrack found invalid');
  return done / (ms / 1000);
}

/** OVS: lookups per second of `ovstest test-conntrack benchmark-zones n 1 3` (its "ct execute (no commit)" average). */
function ovsLookupRate(n: number): number | null {
  const out = ovstest(['test-conntrack', 'benchmark-zones', String(n), '1', '3']);
  const m = out && /\| Avg\s+\|\s*[\d.]+ us \|\s*([\d.]+) us/.exec(out);
  return m ? n / (Number(m[1]) / 1e6) : null;
}

export async function rows(): Promise<BenchRow[]> {
  const out: BenchRow[] = [];
  const n1 = Math.round(10_000_000 * SCALE);
  // CT_BENCH=commit or =lookup runs only that part.
  const part = process.env.CT_BENCH ?? 'all';
  for (const threads of part === 'lookup' ? [] : [1, 2]) {
    const swd = await swdCommitPps(threads, n1);
    const ovs = ovsCommitPps(threads, n1);
    out.push({
      bench: 'conntrack',
      case: `commit path, one UDP connection per thread, batches of 32, ${threads} thread${threads > 1 ? 's' : ''}`,
      value: swd,
      unit: 'packets/s',
      note: ovs ? `OVS ovstest: ${Math.round(ovs).toLocaleString('en-US')} packets/s; swd/OVS = ${(swd / ovs).toFixed(2)}` : 'ovstest not found',
    });
    if (threads === 1) {
      const fresh = await swdCommitPps(1, n1, true);
      out.push({
        bench: 'conntrack', case: 'the same, 1 thread, every checksum summed (packets as from a port that validated nothing)', value: fresh, unit: 'packets/s',
        note: ovs ? `swd/OVS = ${(fresh / ovs).toFixed(2)}` : '',
      });
    }
  }
  if (part === 'commit') return out;
  // CT_SIZES=1000,1000000 picks table sizes (default 1k, 100k, 1M, 3M).
  const sizes = (process.env.CT_SIZES ? process.env.CT_SIZES.split(',').map(Number) : [1000, 100_000, 1_000_000, 3_000_000])
    .map((s) => Math.max(1000, Math.round(s * SCALE)));
  let base = 0;
  for (const n of sizes) {
    const r = newConns(n);
    if (n >= 100_000) {
      out.push({ bench: 'conntrack', case: `new connections (commit), table growing to ${n.toLocaleString('en-US')}`, value: r.perSec, unit: 'conns/s' });
    }
    if (n >= 1_000_000 * SCALE) {
      out.push({
        bench: 'conntrack', case: `memory per connection at ${n.toLocaleString('en-US')} connections`, value: r.rssPerConn, unit: 'bytes (RSS growth / conns)',
        note: `table accounting: ${r.bytesPerConn.toFixed(1)} B per connection (record + index)`,
      });
    }
    // The first table also warms the code up (its first pass is not counted).
    if (base === 0) lookupRate(r.ct, n, Math.round(2_000_000 * Math.max(SCALE, 0.1)));
    const lr = lookupRate(r.ct, n, Math.round(2_000_000 * Math.max(SCALE, 0.1)));
    if (base === 0) base = lr;
    out.push({ bench: 'conntrack', case: `lookup of existing connections in random order, table of ${n.toLocaleString('en-US')}`, value: lr, unit: 'lookups/s', note: `cost ×${(base / lr).toFixed(2)} of the smallest table` });
    if (n === Math.max(1000, Math.round(1_000_000 * SCALE))) {
      const seq = lookupRate(r.ct, n, n, false);
      const ovs = ovsLookupRate(n);
      out.push({
        bench: 'conntrack', case: `lookup of existing connections in the order made (as OVS's benchmark-zones), table of ${n.toLocaleString('en-US')}`,
        value: seq, unit: 'lookups/s',
        note: ovs ? `OVS ovstest benchmark-zones ${n} 1 3, no-commit pass: ${Math.round(ovs).toLocaleString('en-US')} lookups/s; swd/OVS = ${(seq / ovs).toFixed(2)}` : 'ovstest not found',
      });
      const summed = lookupRate(r.ct, n, n, false, true);
      out.push({
        bench: 'conntrack', case: `the same, every checksum summed again`, value: summed, unit: 'lookups/s',
        note: ovs ? `swd/OVS = ${(summed / ovs).toFixed(2)}` : '',
      });
    }
    if (n >= 100_000) {
      const ms = expireAll(r.ct);
      out.push({ bench: 'conntrack', case: `expire ${n.toLocaleString('en-US')} connections (sweep steps of 4,096)`, value: (n / ms) * 1000, unit: 'conns/s', note: `${ms.toFixed(0)} ms in all` });
    }
    if (n >= 1_000_000 * SCALE && process.env.CT_PAGES4K !== '0') {
      // The same table on 4 KB pages (as before the huge-page advice), in the same run; CT_PAGES4K=0 skips it.
      const r4 = newConns(n, false);
      const lr4 = lookupRate(r4.ct, n, Math.round(2_000_000 * Math.max(SCALE, 0.1)));
      expireAll(r4.ct);
      out.push({
        bench: 'conntrack', case: `the same random lookups on 4 KB pages (no huge-page advice), table of ${n.toLocaleString('en-US')}`, value: lr4, unit: 'lookups/s',
        note: `cost ×${(base / lr4).toFixed(2)} of the smallest table; huge pages / 4 KB = ${(lr / lr4).toFixed(2)}`,
      });
    }
  }
  const zones = ovstest(['test-conntrack', 'benchmark-zones', String(Math.round(1_000_000 * SCALE)), '1', '1']);
  if (zones) {
    const m = /initial insert time: (\d+) ms/.exec(zones);
    if (m) {
      const n = Math.round(1_000_000 * SCALE);
      out.push({ bench: 'conntrack', case: `OVS ovstest benchmark-zones: initial insert of ${n.toLocaleString('en-US')}`, value: (n / Number(m[1])) * 1000, unit: 'conns/s', note: 'reference, same run' });
    }
  }
  return out;
}

export { batchOfOneConn };
