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
//   PROBE_ROUNDS=3 PROBE_PINGS=200 PROBE_LOADED=1 PROBE_TRACE=1 PROBE_STATS=1 (swctl pmd-stats-show around the idle pings)
//   PROBE_WORST=12 (how many of the slowest traced packets to list, with when they came)
//   PROBE_GAP_MS=N (the idle pings N ms apart; 10 by default)
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
import { cpuSeconds } from './cpu.ts';
import { REC_WORDS } from '../../src/datapath/rx/rx-trace.ts';

const ROUNDS = Number(process.env.PROBE_ROUNDS ?? 3);
const PINGS = Number(process.env.PROBE_PINGS ?? 200);
const LOADED = process.env.PROBE_LOADED === '1';
const TRACE = process.env.PROBE_TRACE === '1';
const STATS = process.env.PROBE_STATS === '1';
const SECONDS = Number(process.env.E2E_SECONDS ?? 4);
const GAP_MS = Number(process.env.PROBE_GAP_MS ?? 10); // PROBE_GAP_MS: the idle pings' spacing

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
  /** The switch's CPU (cores) while the idle pings ran. */
  idleCores?: number;
  pingSpan?: string;
  loaded?: RttResult;
  gbps?: number;
  trace?: string;
  /** PROBE_STATS=1: swctl pmd-stats-show before and after the idle pings. */
  stats?: string;
  error?: string;
}

async function probe(f: Fabric): Promise<Probe> {
  const topo = new Topology();
  const traceDir = TRACE && f.label.startsWith('swd') ? mkdtempSync(join(tmpdir(), 'swd-rx-trace-')) : undefined;
  const fab = traceDir ? withEnv(f, { SWD_RX_TRACE: traceDir }) : f;
  try {
    const tBuild = performance.now();
    const path = await fab.build(topo);
    if ((await topo.ping(path.ns1, NS2_IP, 3, 1_000)) === 0) return { error: 'no connectivity' };
    if (process.env.PROBE_PREWARM) {
      await pingRtt(topo, path.ns1, NS2_IP, Number(process.env.PROBE_PREWARM), 1);
      await new Promise((r) => setTimeout(r, Number(process.env.PROBE_PREWARM_SLEEP ?? 1000)));
    }
    await new Promise((r) => setTimeout(r, 500));
    const pid = path.pid?.();
    const c0 = cpuSeconds(pid);
    const t0 = performance.now();
    const stats0 = STATS ? path.ctl?.('pmd-stats-show').stdout : undefined;
    const out: Probe = { idle: await pingRtt(topo, path.ns1, NS2_IP, PINGS, GAP_MS) };
    if (STATS && path.ctl) out.stats = `before the idle pings:\n${stats0}\nafter:\n${path.ctl('pmd-stats-show').stdout}`;
    out.pingSpan = `${((t0 - tBuild) / 1000).toFixed(1)}–${((performance.now() - tBuild) / 1000).toFixed(1)} s after the build started`;
    const c1 = cpuSeconds(pid);
    if (c0 !== undefined && c1 !== undefined) out.idleCores = (c1 - c0) / ((performance.now() - t0) / 1000);
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
  const gcs: { type: string; us: number; s: number }[] = [];
  const worst: number[][] = [];
  for (const name of readdirSync(dir)) {
    if (name.startsWith('gc-')) {
      for (const l of readFileSync(join(dir, name), 'utf8').split('\n')) if (l) gcs.push(JSON.parse(l) as { type: string; us: number; s: number });
      continue;
    }
    const b = readFileSync(join(dir, name));
    rows.push(new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8));
  }
  for (const port of [1, 2]) {
    const col: Record<string, number[]> = { wake: [], loop: [], rx_proc: [], read: [], lookup: [], ct: [], post: [], kick: [], tail: [], total: [], slept: [] };
    // A whole single-packet record of this port.
    const traced = (r: Float64Array, o: number) => r[o] === port && r[o + 1] === 1 && r[o + 2] !== 0 && r[o + 5] !== 0;
    // PROBE_TRACE_LAST=N: only the port's last N records (the measured pings after PROBE_PREWARM's).
    const last = Number(process.env.PROBE_TRACE_LAST ?? 0);
    let since = -Infinity;
    if (last > 0) {
      const ks: number[] = [];
      for (const r of rows) for (let o = 0; o + REC_WORDS <= r.length; o += REC_WORDS) if (traced(r, o)) ks.push(r[o + 2]!);
      ks.sort((a, b) => a - b);
      if (ks.length > last) since = ks[ks.length - last]!;
    }
    for (const r of rows) {
      for (let o = 0; o + REC_WORDS <= r.length; o += REC_WORDS) {
        if (!traced(r, o) || r[o + 2]! < since) continue;
        const [k, w, s, f0, f1, d] = [r[o + 2]!, r[o + 3]!, r[o + 4]!, r[o + 5]!, r[o + 6]!, r[o + 7]!];
        if (w > 0) {
          col.wake!.push(w - k);
          col.loop!.push(s - w);
        }
        col.slept!.push(w > 0 ? 1 : 0);
        col.rx_proc!.push(f0 - Math.max(s, k));
        const [rd, c0, c1] = [r[o + 8]!, r[o + 9]!, r[o + 10]!];
        if (rd > 0 && c0 > 0) {
          col.read!.push(rd - s);
          col.lookup!.push(c0 - rd);
          col.ct!.push(c1 - c0);
          col.post!.push(f0 - c1);
        }
        col.kick!.push(f1 - f0);
        col.tail!.push(d - f1);
        col.total!.push(d - k);
        worst.push([d - k, k, port, w > 0 ? w - k : NaN, w > 0 ? s - w : NaN, r[o + 8]! - s, r[o + 9]! - r[o + 8]!, r[o + 10]! - r[o + 9]!, f0 - r[o + 10]!, f1 - f0]);
      }
    }
    const med = (xs: number[]) => {
      if (xs.length === 0) return 'n/a';
      const s = [...xs].sort((a, b) => a - b);
      return `${s[s.length >> 1]!.toFixed(1)}`;
    };
    const n = col.total!.length;
    const p99 = (xs: number[]) => {
      if (xs.length === 0) return 'n/a';
      const s = [...xs].sort((a, b) => a - b);
      return `${s[Math.min(s.length - 1, Math.ceil(0.99 * s.length) - 1)]!.toFixed(1)}`;
    };
    const slept = col.slept!.reduce((a, b) => a + b, 0);
    lines.push(
      `    port ${port}: ${n} single-packet batches (${slept} after a sleep); median µs: kernel→poll returned ${med(col.wake!)}, →reading ${med(col.loop!)}, reading+processing ${med(col.rx_proc!)} (read ${med(col.read!)}, →first ct ${med(col.lookup!)}, ct ${med(col.ct!)}, →kick ${med(col.post!)}), send() kick ${med(col.kick!)}, after kick ${med(col.tail!)}, kernel→done ${med(col.total!)}; p99 µs: kernel→poll returned ${p99(col.wake!)}, →reading ${p99(col.loop!)}, reading+processing ${p99(col.rx_proc!)}, kick ${p99(col.kick!)}, kernel→done ${p99(col.total!)}`,
    );
  }
  const t0 = Math.min(...worst.map((w) => w[1]!));
  worst.sort((a, b) => b[0]! - a[0]!);
  for (const w of worst.slice(0, Number(process.env.PROBE_WORST ?? 4))) {
    lines.push(`    worst: at ${((w[1]! - t0) / 1e6).toFixed(3)} s port ${w[2]} kernel→done ${w[0]!.toFixed(0)} µs = wake ${w[3]!.toFixed(0)}, loop ${w[4]!.toFixed(0)}, read ${w[5]!.toFixed(0)}, →ct ${w[6]!.toFixed(0)}, ct ${w[7]!.toFixed(0)}, →kick ${w[8]!.toFixed(0)}, kick ${w[9]!.toFixed(0)}`);
  }
  const big = gcs.filter((g) => g.us >= 200).map((g) => `${g.type} ${(g.us / 1000).toFixed(2)} ms (by ${g.s} s)`);
  lines.push(`    PMD thread GCs: ${gcs.length}, ${gcs.reduce((a, g) => a + g.us, 0).toFixed(0)} µs in all${big.length ? `; ≥ 0.2 ms: ${big.join(', ')}` : ''}`);
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
        : `idle p50/p99 ${ms(p.idle?.p50Ms)}/${ms(p.idle?.p99Ms)} ms${p.idleCores === undefined ? '' : ` (switch ${p.idleCores.toFixed(3)} cores)`}${p.loaded ? `, beside TCP ${ms(p.loaded.p50Ms)}/${ms(p.loaded.p99Ms)} ms, ${p.gbps!.toFixed(2)} Gbps` : ''}`;
      console.log(`round ${round}: ${f.label}: ${line}`);
      if (p.trace) console.log(`    idle pings ${p.pingSpan}\n${p.trace}`);
      if (p.stats) console.log(p.stats.replace(/^/gm, '    '));
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
