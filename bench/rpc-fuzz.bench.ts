// Control latency under a fuzzing load: a real swd (child process), 2,000
// idle connections and 8 clients sending random and malformed JSON-RPC
// (test/hostile/rpc-fuzz.ts) in rounds, while one more client measures
// 1,000 sequential ct-get-nconns (2 ms apart). Reported: p50/p99/max.
// Goal (issue 18): p99 < 50 ms. Run: npm run bench -- rpc-fuzz

import { connect } from 'node:net';
import { SwdInstance } from '../test/e2e/harness.ts';
import { fuzzClient, idleConnections } from '../test/hostile/rpc-fuzz.ts';
import type { BenchRow } from './run.ts';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);

function measure(sock: string, count: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const s = connect(sock);
    const lat: number[] = [];
    let buf = '';
    let t0 = 0n;
    const send = () => {
      t0 = process.hrtime.bigint();
      s.write(JSON.stringify({ jsonrpc: '2.0', id: lat.length, method: 'ct-get-nconns', params: {} }) + '\n');
    };
    s.on('connect', send);
    s.on('error', reject);
    s.on('data', (d) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        buf = buf.slice(i + 1);
        lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (lat.length >= count) { s.end(); resolve(lat); return; }
        setTimeout(send, 2);
      }
    });
  });
}

export async function rows(): Promise<BenchRow[]> {
  const swd = new SwdInstance();
  await swd.start();
  try {
    const idle = await idleConnections(swd.socket, Math.round(2000 * SCALE));
    let fuzzing = true;
    let rounds = 0;
    const load = (async () => {
      for (let seed = 1; fuzzing; seed += 8) {
        await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((c) => fuzzClient(swd.socket, seed + c, 200, c === 3)));
        rounds++;
      }
    })();
    const lat = await measure(swd.socket, Math.round(1000 * SCALE));
    fuzzing = false;
    await load;
    for (const s of idle) s.destroy();
    lat.sort((a, b) => a - b);
    const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
    const note = `${idle.length} idle connections, ${rounds} fuzz rounds of 8 x 200 requests`;
    return [
      { bench: 'rpc-fuzz', case: 'ct-get-nconns p50 during the fuzz', value: q(0.5), unit: 'ms', note },
      { bench: 'rpc-fuzz', case: 'ct-get-nconns p99 during the fuzz', value: q(0.99), unit: 'ms', note: 'goal < 50 ms' },
      { bench: 'rpc-fuzz', case: 'ct-get-nconns max during the fuzz', value: lat[lat.length - 1], unit: 'ms' },
    ];
  } finally {
    await swd.dispose();
  }
}
