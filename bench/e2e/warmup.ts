// bench/e2e/warmup.ts: how a fresh swd's idle round trip changes over its
// first pings (the JIT warm-up, src/datapath/pmd/warm-up.ts). 600 idle pings
// through seed 001's ACL and 1 PMD thread, in chunks of 150 (p50 of each),
// and from the PMD thread's rx trace (rx-trace.ts) the median µs per 100
// single-packet batches of port 1 (the request) and port 2 (the reply):
// reading+processing / poll(2) returned → reading started.
//
//   node --import tsx bench/e2e/warmup.ts
//   XENV="SWD_PMD_INTERRUPT_BUDGET=0" node --import tsx bench/e2e/warmup.ts    # swd's environment
//   WARM=1 ...                                                                   # a 2 s TCP stream after the second chunk

import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Topology } from '../../test/netns/topology.ts';
import { FLOWS_ACL, NS2_IP, swd } from './fabrics.ts';
import { withEnv } from './env-fabric.ts';
import { pingRtt } from './rtt.ts';
import { tcp } from './iperf.ts';

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'swd-warmup-'));
  const extra = Object.fromEntries((process.env.XENV ?? '').split(/\s+/).filter(Boolean).map((kv) => kv.split('=')));
  const f = withEnv(swd('ACL+ct', FLOWS_ACL, 1), { SWD_RX_TRACE: dir, ...extra });
  const topo = new Topology();
  try {
    const path = await f.build(topo);
    await topo.ping(path.ns1, NS2_IP, 3, 1000);
    const res: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await pingRtt(topo, path.ns1, NS2_IP, 150, 10);
      res.push(`${r.p50Ms.toFixed(3)}`);
      if (i === 1 && process.env.WARM) await tcp({ topo, clientNs: path.ns1, serverNs: path.ns2, serverIp: NS2_IP, port: 5201 }, 2);
    }
    console.log('p50 per chunk of 150 pings:', res.join(' '));
    await new Promise((r) => setTimeout(r, 1500));
    await path.stop?.();
    for (const name of readdirSync(dir)) {
      const b = readFileSync(join(dir, name));
      const r = new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8);
      const rows: number[][] = [];
      for (let o = 0; o + 8 <= r.length; o += 8) if (r[o + 1] === 1 && r[o + 2] && r[o + 5]) rows.push([...r.subarray(o, o + 8)]);
      for (const port of [1, 2]) {
        const xs = rows.filter((x) => x[0] === port);
        const out: string[] = [];
        for (let i = 0; i < xs.length; i += 100) {
          const c = xs.slice(i, i + 100).map((x) => x[5] - Math.max(x[4], x[2])).sort((a, b) => a - b);
          const w = xs.slice(i, i + 100).filter((x) => x[3] > 0).map((x) => x[4] - x[3]).sort((a, b) => a - b);
          out.push(`${c[c.length >> 1].toFixed(0)}/${w.length ? w[w.length >> 1].toFixed(0) : '-'}`);
        }
        console.log(`port ${port} proc/loop µs per 100:`, out.join(' '));
      }
    }
  } finally {
    await topo.stopProcesses();
    topo.teardown();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
