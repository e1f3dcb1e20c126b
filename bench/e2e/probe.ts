// bench/e2e/probe.ts: where swd's round trip goes. Idle ICMP round
// trips (and, with PROBE_LOADED=1, beside an iperf3 TCP stream) through OVS
// netdev, swd and the floor forwarders (floor.ts: swd's native calls with no
// pipeline), fabrics interleaved round by round, with each round's ratios
// against OVS. With PROBE_TRACE=1 swd's PMD thread records where each
// packet's time went (src/datapath/rx/rx-trace.ts) and the probe prints the
// medians: kernel receive → poll(2) returned → reading started → transmit
// kick → done.
//
//   node --import tsx bench/e2e/probe.ts ovs "swd (1" "floor ring" "floor sock"
//   PROBE_ROUNDS=3 PROBE_PINGS=200 PROBE_LOADED=1 PROBE_TRACE=1
//   A fabric label of the form "swd (1 PMD thread), ACL+ct [NAME=VALUE]" runs swd with that environment.

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Topology } from '../../test/netns/topology.ts';
import { FLOWS_ACL, NS2_IP, ovsNetdev, swd, type Fabric } from './fabrics.ts';
import { floorFabric } from './floor.ts';
import { splitEnvWord, withEnv } from './env-fabric.ts';
import { tcp } from './iperf.ts';
import { pingRtt, type RttResult } from './rtt.ts';
import { REC_WORDS } from '../../src/datapath/rx/rx-trace.ts';

const ROUNDS = Number(process.env.PROBE_ROUNDS ?? 3);
const PINGS = Number(process.env.PROBE_PINGS ?? 200);
const LOADED = process.env.PROBE_LOADED === '1';
const TRACE = process.env.PROBE_TRACE === '1';
const SECONDS = Number(process.env.E2E_SECONDS ?? 4);
const GAP_MS = 10;

const BASE: Fabric[] = [
  ovsNetdev('ACL+ct', FLOWS_ACL),
  swd('ACL+ct', FLOWS_ACL, 1),
  swd('ACL+ct', FLOWS_ACL, 2),
  swd('ACL+ct', FLOWS_ACL, 0),
  floorFabric('ring', false),
  floorFabric('ring', true),
  floorFabric('ring-send', false),
  floorFabric('sock', false),
  floorFabric('sock', true),
];

function pick(words: string[]): Fabric[] {
  return words.map((w) => {
    const { word, env } = splitEnvWord(w);
    const f = BASE.find((b) => b.label.toLowerCase().includes(word.toLowerCase()));
    if (!f) throw new Error(`no fabric matches '${w}'`);
    return env ? withEnv(f, env) : f;
  });
}

interface Probe {
  idle?: RttResult;
  loaded?: RttResult;
  gbps?: number;
  trace?: string;
  error?: string;
}

async function probe(f: Fabric): Promise<Probe> {
  const topo = new Topology();
  const traceDir = TRACE && f.label.startsWith('swd') ? mkdtempSync(join(tmpdir(), 'swd-rx-trace-')) : undefined;
  const fab = traceDir ? withEnv(f, { SWD_RX_TRACE: traceDir }) : f;
  try {
    const path = await fab.build(topo);
    if ((await topo.ping(path.ns1, NS2_IP, 3, 1_000)) === 0) return { error: 'no connectivity' };
    await new Promise((r) => setTimeout(r, 500));
    const out: Probe = { idle: await pingRtt(topo, path.ns1, NS2_IP, PINGS, GAP_MS) };
    if (LOADED) {
      const ep = { topo, clientNs: path.ns1, serverNs: path.ns2, serverIp: NS2_IP, port: 5201 };
      const loaded = new Promise((r) => setTimeout(r, 1000)).then(() =>
        pingRtt(topo, path.ns1, NS2_IP, Math.max(10, Math.floor(((SECONDS - 2) * 1000) / (GAP_MS + 0.3))), GAP_MS),
      );
      const [t, l] = await Promise.all([tcp(ep, SECONDS), loaded]);
      out.gbps = t.bps / 1e9;
      out.loaded = l;
    }
    if (traceDir) await new Promise((r) => setTimeout(r, 1500)); // the PMD thread writes its trace every second
    await path.stop?.();
    if (traceDir) out.trace = summariseTrace(traceDir);
    return out;
  } catch (e) {
    return { error: (e as Error).message.split('\n')[0] };
  } finally {
    await topo.stopProcesses();
    topo.teardown();
    if (traceDir) rmSync(traceDir, { recursive: true, force: true });
  }
}

/** Medians of the trace's single-packet records, per port (1: the request's way in, 2: the reply's). */
function summariseTrace(dir: string): string {
  const lines: string[] = [];
  const rows: Float64Array[] = [];
  for (const name of readdirSync(dir)) {
    const b = readFileSync(join(dir, name));
    rows.push(new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8));
  }
  for (const port of [1, 2]) {
    const col: Record<string, number[]> = { wake: [], loop: [], rx_proc: [], kick: [], tail: [], total: [], slept: [] };
    for (const r of rows) {
      for (let o = 0; o + REC_WORDS <= r.length; o += REC_WORDS) {
        if (r[o] !== port || r[o + 1] !== 1 || r[o + 2] === 0 || r[o + 5] === 0) continue;
        const [k, w, s, f0, f1, d] = [r[o + 2]!, r[o + 3]!, r[o + 4]!, r[o + 5]!, r[o + 6]!, r[o + 7]!];
        if (w > 0) {
          col.wake!.push(w - k);
          col.loop!.push(s - w);
        }
        col.slept!.push(w > 0 ? 1 : 0);
        col.rx_proc!.push(f0 - Math.max(s, k));
        col.kick!.push(f1 - f0);
        col.tail!.push(d - f1);
        col.total!.push(d - k);
      }
    }
    const med = (xs: number[]) => {
      if (xs.length === 0) return 'n/a';
      const s = [...xs].sort((a, b) => a - b);
      return `${s[s.length >> 1]!.toFixed(1)}`;
    };
    const n = col.total!.length;
    const slept = col.slept!.reduce((a, b) => a + b, 0);
    lines.push(
      `    port ${port}: ${n} single-packet batches (${slept} after a sleep); median µs: kernel→poll returned ${med(col.wake!)}, →reading ${med(col.loop!)}, reading+processing ${med(col.rx_proc!)}, send() kick ${med(col.kick!)}, after kick ${med(col.tail!)}, kernel→done ${med(col.total!)}`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const words = process.argv.slice(2);
  const fabrics = pick(words.length ? words : ['ovs', 'swd (1', 'floor ring', 'floor sock']);
  const ms = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(3));
  console.log(`# latency probe: ${PINGS} pings ${GAP_MS} ms apart${LOADED ? `, and beside a ${SECONDS} s iperf3 TCP stream` : ''}; load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  for (let round = 1; round <= ROUNDS; round++) {
    const res: [string, Probe][] = [];
    for (const f of fabrics) {
      const p = await probe(f);
      res.push([f.label, p]);
      const line = p.error
        ? p.error
        : `idle p50/p99 ${ms(p.idle?.p50Ms)}/${ms(p.idle?.p99Ms)} ms${p.loaded ? `, beside TCP ${ms(p.loaded.p50Ms)}/${ms(p.loaded.p99Ms)} ms, ${p.gbps!.toFixed(2)} Gbps` : ''}`;
      console.log(`round ${round}: ${f.label}: ${line}`);
      if (p.trace) console.log(p.trace);
    }
    const ovs = res.find(([l]) => l.startsWith('OVS'))?.[1];
    if (ovs?.idle) {
      for (const [l, p] of res) {
        if (l.startsWith('OVS') || !p.idle) continue;
        const r = (a?: number, b?: number) => (a && b ? (b / a).toFixed(2) : 'n/a');
        console.log(
          `round ${round}: OVS / ${l}: idle p50 ${r(p.idle.p50Ms, ovs.idle.p50Ms)}, p99 ${r(p.idle.p99Ms, ovs.idle.p99Ms)}${LOADED ? `; beside TCP p50 ${r(p.loaded?.p50Ms, ovs.loaded?.p50Ms)}, p99 ${r(p.loaded?.p99Ms, ovs.loaded?.p99Ms)}; TCP ${p.gbps && ovs.gbps ? (p.gbps / ovs.gbps).toFixed(2) : 'n/a'}` : ''}`,
        );
      }
    }
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
