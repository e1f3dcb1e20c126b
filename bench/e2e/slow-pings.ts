// bench/e2e/slow-pings.ts: where the slowest idle round trips went. 300 pings
// 10 ms apart, ns1 -> ns2 through seed 001's ACL, each stamped with its send
// time (CLOCK_REALTIME); for swd (1 PMD thread) the PMD thread's rx trace
// (src/datapath/rx/rx-trace.ts) is joined to them, so the 8 slowest pings
// are listed with what the thread did meanwhile: when the request reached
// port 1's ring (kernel), when poll(2) returned (wake), when processing
// started, the transmit kick, the same for the reply on port 2 — all in µs
// after the send. Time after the reply's kick is outside swd (the kernel's
// delivery into ns1 and the pinger being scheduled).
//
//   node --import tsx bench/e2e/slow-pings.ts swd|ovs      (root)
//   SLOW_WARM=1: a 2 s TCP stream and 300 pings first (a warm switch)
//   SLOW_ENV="NAME=VALUE ...": swd's environment

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Topology } from '../../test/netns/topology.ts';
import { FLOWS_ACL, NS2_IP, swd, ovsNetdev } from './fabrics.ts';
import { withEnv } from './env-fabric.ts';
import { tcp } from './iperf.ts';
import { pingPy } from '../../test/netns/ping-py.ts';
import { REC_WORDS } from '../../src/datapath/rx/rx-trace.ts';
// Each reply: the request's send time (CLOCK_REALTIME, s) and the round trip (ms).
const PY = pingPy({ beforeSend: 'wall = time.time()', onReply: "print('%.6f %.4f' % (wall, rtt_ms))", end: ' ' });
const which = process.argv[2] ?? 'swd';
const topo = new Topology();
const dir = mkdtempSync(join(tmpdir(), 'swd-slow-pings-'));
const f = which === 'ovs' ? ovsNetdev('ACL+ct', FLOWS_ACL) : withEnv(swd('ACL+ct', FLOWS_ACL, 1), { SWD_RX_TRACE: dir, ...(process.env.SLOW_ENV ? Object.fromEntries(process.env.SLOW_ENV.split(' ').map((w) => w.split('='))) : {}) });
try {
  if (which !== 'ovs' && which !== 'swd') throw new Error('usage: slow-pings.ts swd|ovs');
  const path = await f.build(topo);
  await topo.ping(path.ns1, NS2_IP, 3, 1000);
  await new Promise((r) => setTimeout(r, 500));
  if (process.env.SLOW_WARM === '1') {
    await tcp({ topo, clientNs: path.ns1, serverNs: path.ns2, serverIp: NS2_IP, port: 5201 }, 2);
    await topo.ping(path.ns1, NS2_IP, 300, 1000);
    await new Promise((r) => setTimeout(r, 2000));
  }
  const r = await topo.exec(path.ns1, ['python3', '-c', PY, NS2_IP, '300', '1', '0.01'], { timeoutMs: 60000 });
  const pings = r.stdout.trim().split('\n').map((l) => l.split(' ').map(Number) as [number, number]);
  await new Promise((r) => setTimeout(r, 1500));
  await path.stop?.();
  const sorted = [...pings].sort((a, b) => b[1] - a[1]);
  const rt = sorted.map((p) => p[1]).slice().sort((a, b) => a - b);
  console.log(`${which}: p50 ${rt[rt.length >> 1]} p99 ${rt[Math.ceil(0.99 * rt.length) - 1]}`);
  const recs: number[][] = [];
  for (const n of readdirSync(dir)) {
    if (n.startsWith('gc-')) {
      console.log(`PMD thread GCs (µs, s since the thread started):\n${readFileSync(join(dir, n), 'utf8').trim()}`);
      continue;
    }
    const b = readFileSync(join(dir, n));
    const a = new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8);
    for (let o = 0; o + REC_WORDS <= a.length; o += REC_WORDS) recs.push(Array.from(a.subarray(o, o + REC_WORDS)));
  }
  const t0 = pings[0]![0] * 1e6;
  for (const [wall, rtt] of sorted.slice(0, 8)) {
    const s = wall * 1e6;
    console.log(`ping at ${((s - t0) / 1e6).toFixed(3)} s rtt ${rtt} ms`);
    for (const x of recs) {
      const k = x[2]!, w = x[3]!, st = x[4]!, end = x[7]!;
      if (end < s - 200 || (k || st) > s + rtt * 1000 + 200) continue;
      console.log(`   port ${x[0]} n=${x[1]} kernel ${(k - s).toFixed(0)} wake ${w ? (w - s).toFixed(0) : '-'} start ${(st - s).toFixed(0)} kick ${(x[5]! - s).toFixed(0)}..${(x[6]! - s).toFixed(0)} end ${(end - s).toFixed(0)} (µs after send)`);
    }
  }
} finally {
  await topo.stopProcesses();
  topo.teardown();
  rmSync(dir, { recursive: true, force: true });
}
