// Control-socket latency while millions of connections expire: the daemon's
// own pieces in one process — the JSON-RPC server on a Unix socket
// answering ct-get-nconns, and the conntrack expiry steps sweeping the
// table — while a client in a worker
// thread measures 1,000 sequential requests. Reported: p50/p99/max.
// The sweep steps are the daemon's own (src/datapath/ct-sweep.ts: sweepBudget every SWEEP_INTERVAL_MS).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Conntrack } from '../src/conntrack/conntrack.ts';
import type { CtExec } from '../src/conntrack/execute.ts';
import { RpcServer } from '../src/ctl/rpc-server.ts';
import { SWEEP_INTERVAL_MS, sweepBudget } from '../src/datapath/ct-sweep.ts';
import { PacketBatch } from '../src/packet/batch.ts';
import { loadConn, TEMPLATE } from './ct-packets.ts';
import type { BenchRow } from './run.ts';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);

const CLIENT = `
const { parentPort, workerData } = require('node:worker_threads');
const { connect } = require('node:net');
const s = connect(workerData.sock);
const lat = [];
let buf = '', t0 = 0, n = 0;
function send() { t0 = process.hrtime.bigint(); s.write(JSON.stringify({ jsonrpc: '2.0', id: n, method: 'ct-get-nconns', params: {} }) + '\\n'); }
s.on('connect', send);
s.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    buf = buf.slice(i + 1);
    lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (++n >= workerData.count) { s.end(); parentPort.postMessage(lat); return; }
    setTimeout(send, 2);
  }
});
`;

export async function rows(): Promise<BenchRow[]> {
  const n = Math.round(3_000_000 * SCALE);
  const ct = Conntrack.create({ capacity: n + 1024 });
  const b = new PacketBatch(256);
  b.push(TEMPLATE);
  const t0 = Date.now();
  const commit: CtExec = { zone: 0, commit: true, force: false, mark: null, label: null, nat: null, alg: 0 };
  for (let i = 0; i < n; i++) {
    loadConn(b, 0, i);
    b.ctConn[0] = 0; // a new packet carries no connection
    ct.execute(b, 0, b.keys, 0, commit, t0);
  }
  const dir = mkdtempSync(join(tmpdir(), 'swd-lat-'));
  const sock = join(dir, 'swd.sock');
  const server = new RpcServer(new Map([['ct-get-nconns', () => ({ nconns: ct.nconns() })]]));
  await server.listen(sock);
  // Every connection is past its timeout from now on: the daemon's tick sweeps them.
  const expiredAt = t0 + 3_600_000;
  let sweptMs = 0;
  const tick = setInterval(() => {
    const s = process.hrtime.bigint();
    ct.sweep(expiredAt, sweepBudget(ct.table.highWater()));
    sweptMs += Number(process.hrtime.bigint() - s) / 1e6;
  }, SWEEP_INTERVAL_MS);
  const lat: number[] = await new Promise((resolve) => {
    const w = new Worker(CLIENT, { eval: true, workerData: { sock, count: 1000 } });
    w.once('message', resolve);
  });
  clearInterval(tick);
  const left = ct.nconns();
  await server.close(sock);
  rmSync(dir, { recursive: true, force: true });
  lat.sort((a, c) => a - c);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))];
  const note = `${n.toLocaleString('en-US')} connections expiring; ${(n - left).toLocaleString('en-US')} swept during the run (${sweptMs.toFixed(0)} ms of sweeping)`;
  return [
    { bench: 'control socket', case: 'ct-get-nconns latency p50 while connections expire', value: pct(0.5), unit: 'ms', note },
    { bench: 'control socket', case: 'ct-get-nconns latency p99 while connections expire', value: pct(0.99), unit: 'ms', note },
    { bench: 'control socket', case: 'ct-get-nconns latency max while connections expire', value: lat[lat.length - 1], unit: 'ms', note },
  ];
}
