// `npm run bench:e2e`: real traffic from ns1 to ns2 through each fabric —
// a bare veth pair, a Linux bridge, OVS's userspace datapath and swd, with
// NORMAL and with seed 001's ACL — measured side by side in one run, and the
// ratios that say where swd stands: UDP and TCP throughput, TCP connections
// per second with 1 and 8 clients, and ICMP round trips (p50 / p99) on the
// idle path and beside an iperf3 TCP stream. Needs root. Everything it builds lives in
// Topology objects that are torn down after each measurement, on SIGINT/SIGTERM
// and at exit.
//
//   npm run bench:e2e                   # every fabric
//   npm run bench:e2e -- ovs swd        # only fabrics whose label contains a word
//   npm run bench:e2e -- "ovs netdev, ACL" "swd (1 PMD thread), ACL" "swd (1 PMD thread), ACL [SWD_RX_RING_FRAMES=256]"
//                                       # the same fabric again with an environment for swd (old/new in one run)
//   E2E_SECONDS=5 E2E_REPEAT=3          # seconds per measurement (default 5); rounds, median reported (default 1)
//   E2E_IDLE_SECONDS=10                 # seconds the switch's CPU is watched with no traffic (default 5)

import { cpus, loadavg } from 'node:os';
import { spawnSync } from 'node:child_process';
import { Topology, teardownAll } from '../../test/netns/topology.ts';
import { FLOWS_ACL, FLOWS_NORMAL, linuxBridge, NotAvailable, NS1_IP, NS2_IP, ovsNetdev, swd, vethPair, type Fabric } from './fabrics.ts';
import { FLOWS_SNAT, swdOffload, withSnat } from './fabrics.ts';
import { tcpConnectRate, type CpsResult } from './cps.ts';
import { tcp, udp64, type TcpResult, type UdpResult } from './iperf.ts';
import { pingRtt, type RttResult } from './rtt.ts';
import { cpuSeconds } from './cpu.ts';
import { splitEnvWord, withEnv } from './env-fabric.ts';

const SECONDS = Number(process.env.E2E_SECONDS ?? 5);
const REPEAT = Number(process.env.E2E_REPEAT ?? 1);
/** Seconds the switch's CPU is watched with no traffic (it must not spin). */
const IDLE_SECONDS = Number(process.env.E2E_IDLE_SECONDS ?? 5);
const IPERF_PORT = 5201;
const CPS_PORT = 5202;
/** Idle round trips: this many echo requests, RTT_GAP_MS apart (the path falls idle between two). */
const RTT_PINGS = 200;
const RTT_GAP_MS = 10;
/** Parallel clients of the second connect/close run. */
const CPS_CLIENTS = 8;

interface Sample {
  udp?: UdpResult;
  /** Packets per second ns2's interface received during the UDP run (before any socket could drop them). */
  deliveredPps?: number;
  /** CPU the switch process used during the UDP run, in cores (1.0 = one core all the time). */
  switchCores?: number;
  /** CPU the switch process used with no traffic at all, in cores. */
  idleCores?: number;
  tcp?: TcpResult;
  cps?: CpsResult;
  /** Connect/close with CPS_CLIENTS clients at once. */
  cps8?: CpsResult;
  /** ICMP echo round trips ns1 -> ns2 on the idle path. */
  rtt?: RttResult;
  /** The same while the TCP stream runs. */
  rttLoaded?: RttResult;
  /** Idle round trips after the other measurements. */
  rttWarm?: RttResult;
  conns?: number;
  /** ACL fabrics: whether a new connection from ns2 (a ping to ns1) was dropped. */
  aclHolds?: boolean;
  note?: string;
  error?: string;
}

const FABRICS: Fabric[] = [
  vethPair,
  linuxBridge,
  ovsNetdev('NORMAL', FLOWS_NORMAL),
  ovsNetdev('ACL+ct', FLOWS_ACL),
  swd('NORMAL', FLOWS_NORMAL, 0),
  swd('ACL+ct', FLOWS_ACL, 0),
  swd('NORMAL', FLOWS_NORMAL, 1),
  swd('ACL+ct', FLOWS_ACL, 1),
  swd('NORMAL', FLOWS_NORMAL, 2),
  swd('ACL+ct', FLOWS_ACL, 2),
  // Offload (issue 16 part 5): the ACL with offload on beside the rows above; seed 000's SNAT off and on, and OVS with it.
  swdOffload('ACL+ct', FLOWS_ACL, 1),
  swdOffload('ACL+ct', FLOWS_ACL, 2),
  withSnat(ovsNetdev('SNAT+ct', FLOWS_SNAT)),
  withSnat(swd('SNAT+ct', FLOWS_SNAT, 1)),
  withSnat(swdOffload('SNAT+ct', FLOWS_SNAT, 1)),
];

function preflight(): void {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    console.error('bench:e2e needs root: it builds network namespaces, veth pairs, a Linux bridge and a private OVS.');
    console.error('Run it as root (e.g. `sudo npm run bench:e2e`).');
    process.exit(2);
  }
  for (const tool of ['ip', 'iperf3', 'ethtool', 'ss', 'python3']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
      console.error(`bench:e2e needs ${tool} on PATH (Debian: iproute2, iperf3, ethtool, python3).`);
      process.exit(2);
    }
  }
}

// Runs once the event loop is free: a setup command in flight (spawnSync,
// bounded at 30 s) finishes first, then everything goes.
function onSignal(sig: NodeJS.Signals): void {
  const problems = teardownAll();
  console.error(`\n${sig}: torn down${problems.length ? ` (problems: ${problems.join('; ')})` : ''}`);
  process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
}

/**
 * One round through one fabric: build, warm up (ping), idle round trips, UDP
 * (with the path's delivered count and the switch's CPU), TCP with round
 * trips alongside, connections in conntrack, connect/close rate with 1 and
 * with 8 clients, idle round trips again (a warm switch), the ACL check, stop,
 * tear down.
 */
async function measure(fabric: Fabric): Promise<Sample> {
  const topo = new Topology();
  try {
    const path = await fabric.build(topo);
    // ARP, the first upcalls and the connectivity check in one go.
    const replies = await topo.ping(path.ns1, NS2_IP, 3, 1_000);
    if (replies === 0) return { error: 'no connectivity (ping ns1 -> ns2 got no reply)' };
    const ep = { topo, clientNs: path.ns1, serverNs: path.ns2, serverIp: NS2_IP, port: IPERF_PORT };
    const sample: Sample = { note: path.note };
    const pid = path.pid?.();
    const idle0 = cpuSeconds(pid);
    await sleep(IDLE_SECONDS * 1000);
    const idle1 = cpuSeconds(pid);
    if (idle0 !== undefined && idle1 !== undefined) sample.idleCores = (idle1 - idle0) / IDLE_SECONDS;
    sample.rtt = await pingRtt(topo, path.ns1, NS2_IP, RTT_PINGS, RTT_GAP_MS);
    const before = rxPackets(topo, path.ns2, path.ns2If);
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    sample.udp = await udp64(ep, SECONDS);
    const cpu1 = cpuSeconds(pid);
    sample.deliveredPps = (rxPackets(topo, path.ns2, path.ns2If) - before) / SECONDS;
    if (cpu0 !== undefined && cpu1 !== undefined) sample.switchCores = (cpu1 - cpu0) / ((performance.now() - t0) / 1000);
    // TCP, with round trips measured alongside from its second second on (a ping every RTT_GAP_MS adds no load to speak of).
    const loaded = sleep(1000).then(() => pingRtt(topo, path.ns1, NS2_IP, Math.max(10, Math.floor(((SECONDS - 2) * 1000) / (RTT_GAP_MS + 0.3))), RTT_GAP_MS));
    [sample.tcp, sample.rttLoaded] = await Promise.all([tcp(ep, SECONDS), loaded]);
    sample.conns = path.conns?.();
    sample.cps = await tcpConnectRate({ ...ep, port: CPS_PORT }, SECONDS, 1);
    sample.cps8 = await tcpConnectRate({ ...ep, port: CPS_PORT + 1 }, SECONDS, CPS_CLIENTS);
    // Idle round trips again, now that the switch has carried traffic (a fresh swd's first
    // seconds include its JIT warm-up and first full collection; OVS has neither).
    await sleep(1000);
    sample.rttWarm = await pingRtt(topo, path.ns1, NS2_IP, RTT_PINGS, RTT_GAP_MS);
    // The table must really be in force: new traffic from ns2 is dropped.
    if (fabric.acl) sample.aclHolds = (await topo.ping(path.ns2, NS1_IP, 1, 1_000)) === 0;
    await path.stop?.();
    return sample;
  } catch (e) {
    if (e instanceof NotAvailable) return { error: `not available yet: ${e.message}` };
    return { error: `failed: ${(e as Error).message.split('\n')[0]}` };
  } finally {
    await topo.stopProcesses();
    const problems = topo.teardown();
    if (problems.length > 0) console.error(`teardown of ${fabric.label}: ${problems.join('; ')}`);
  }
}

/** User + system CPU seconds of process `pid` (all its threads), from /proc. */
/** The kernel's rx packet counter of `ifname` in `ns`. */
function rxPackets(topo: Topology, ns: string, ifname: string): number {
  const r = topo.execSync(ns, ['ip', '-j', '-s', 'link', 'show', 'dev', ifname], { check: true });
  const [link] = JSON.parse(r.stdout) as { stats64?: { rx?: { packets?: number } } }[];
  return link?.stats64?.rx?.packets ?? 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface Summary {
  label: string;
  rxPps?: number;
  deliveredPps?: number;
  switchCores?: number;
  idleCores?: number;
  offeredPps?: number;
  lossPct?: number;
  gbps?: number;
  retransmits?: number;
  cps?: number;
  cps8?: number;
  rttP50?: number;
  rttP99?: number;
  rttLoadedP50?: number;
  rttLoadedP99?: number;
  rttWarmP50?: number;
  rttWarmP99?: number;
  spread?: string;
  stalls?: number;
  conns?: number;
  acl?: string;
  note?: string;
  error?: string;
}

function summarise(label: string, samples: Sample[]): Summary {
  const ok = samples.filter((s) => s.udp && s.tcp && s.cps);
  if (ok.length === 0) return { label, error: samples.find((s) => s.error)?.error ?? 'no result' };
  const rx = ok.map((s) => s.udp!.rxPps);
  const gb = ok.map((s) => s.tcp!.bps / 1e9);
  const spread = ok.length > 1 ? `${fmt(Math.min(...rx))}–${fmt(Math.max(...rx))} pps; ${Math.min(...gb).toFixed(2)}–${Math.max(...gb).toFixed(2)} Gbps` : '';
  return {
    label,
    rxPps: median(rx),
    deliveredPps: median(ok.map((s) => s.deliveredPps ?? NaN)),
    switchCores: ok[0]!.switchCores === undefined ? undefined : median(ok.map((s) => s.switchCores ?? NaN)),
    idleCores: ok[0]!.idleCores === undefined ? undefined : median(ok.map((s) => s.idleCores ?? NaN)),
    offeredPps: median(ok.map((s) => s.udp!.offeredPps)),
    lossPct: median(ok.map((s) => s.udp!.lossPct)),
    gbps: median(gb),
    retransmits: median(ok.map((s) => s.tcp!.retransmits)),
    cps: median(ok.map((s) => s.cps!.cps)),
    cps8: median(ok.map((s) => s.cps8?.cps ?? NaN)),
    rttP50: median(ok.map((s) => s.rtt?.p50Ms ?? NaN)),
    rttP99: median(ok.map((s) => s.rtt?.p99Ms ?? NaN)),
    rttLoadedP50: median(ok.map((s) => s.rttLoaded?.p50Ms ?? NaN)),
    rttLoadedP99: median(ok.map((s) => s.rttLoaded?.p99Ms ?? NaN)),
    rttWarmP50: median(ok.map((s) => s.rttWarm?.p50Ms ?? NaN)),
    rttWarmP99: median(ok.map((s) => s.rttWarm?.p99Ms ?? NaN)),
    stalls: ok.reduce((n, s) => n + s.udp!.emptyIntervals, 0),
    spread,
    conns: ok[ok.length - 1]!.conns,
    acl: ok[0]!.aclHolds === undefined ? '' : ok.every((s) => s.aclHolds) ? 'dropped' : 'NOT DROPPED',
    note: ok[0]!.note,
    error: ok.length < samples.length ? `${samples.length - ok.length} of ${samples.length} rounds failed` : undefined,
  };
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

type RatioKey = 'rxPps' | 'deliveredPps' | 'gbps' | 'cps' | 'cps8';
type TimeKey = 'rttP50' | 'rttP99' | 'rttLoadedP50' | 'rttLoadedP99' | 'rttWarmP50' | 'rttWarmP99';

/** a / b for a rate: above 1 when a is faster. */
function ratio(a: Summary | undefined, b: Summary | undefined, key: RatioKey): string {
  const x = a?.[key];
  const y = b?.[key];
  return x !== undefined && y !== undefined && y > 0 && Number.isFinite(x) ? (x / y).toFixed(2) : 'n/a';
}

/** b / a for a time: above 1 when a is faster, like the rate ratios. */
function speedup(a: Summary | undefined, b: Summary | undefined, key: TimeKey): string {
  const x = a?.[key];
  const y = b?.[key];
  return x !== undefined && y !== undefined && x > 0 && Number.isFinite(y) ? (y / x).toFixed(2) : 'n/a';
}

const ms = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '' : `${v.toFixed(3)}`);

async function main(): Promise<void> {
  preflight();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // A word with [NAME=VALUE ...] adds that fabric once more, started with that environment (env-fabric.ts).
  const words = process.argv.slice(2).map(splitEnvWord);
  const only = words.filter((w) => w.env === null).map((w) => w.word.toLowerCase());
  const fabrics = FABRICS.filter((f) => words.length === 0 || only.some((w) => f.label.toLowerCase().includes(w)));
  for (const w of words) {
    if (w.env === null) continue;
    const f = FABRICS.find((x) => x.label.toLowerCase().includes(w.word.toLowerCase()));
    if (f === undefined) throw new Error(`no fabric matches '${w.word}'`);
    fabrics.push(withEnv(f, w.env));
  }

  const cpu = cpus()[0]?.model ?? 'cpu';
  const kernel = spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout.trim();
  console.log(`# swd end-to-end (netns) — node ${process.version}, ${cpus().length} × ${cpu}, kernel ${kernel}`);
  const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');
  console.log(`# load average at start: ${load()}`);
  console.log(`# ns1 -> ns2, ${SECONDS} s per run, ${REPEAT} round(s), median; iperf3 UDP: 18-byte payload = 64-byte frames, unlimited rate; iperf3 TCP; TCP connect/close loop`);

  const samples = new Map<string, Sample[]>(fabrics.map((f) => [f.label, []]));
  const unavailable = new Set<string>();
  for (let round = 1; round <= REPEAT; round++) {
    // Rounds interleave the fabrics, so that noise from the machine falls on all of them alike.
    for (const f of fabrics) {
      if (unavailable.has(f.label)) continue;
      const s = await measure(f);
      if (s.error?.startsWith('not available')) unavailable.add(f.label);
      samples.get(f.label)!.push(s);
      const what =
        s.udp && s.tcp && s.cps
          ? `${fmt(s.udp.rxPps)} pps rx (${fmt(s.deliveredPps ?? NaN)} delivered, ${fmt(s.udp.offeredPps)} sent${s.switchCores === undefined ? '' : `, switch ${s.switchCores.toFixed(2)} cores (idle ${s.idleCores?.toFixed(3)})`}), ${(s.tcp.bps / 1e9).toFixed(2)} Gbps (${s.tcp.retransmits} retransmits), ${fmt(s.cps.cps)} conn/s (${s.cps.failed} failed), ${fmt(s.cps8?.cps ?? NaN)} conn/s with ${CPS_CLIENTS} clients, ping p50/p99 ${ms(s.rtt?.p50Ms)}/${ms(s.rtt?.p99Ms)} ms idle, ${ms(s.rttLoaded?.p50Ms)}/${ms(s.rttLoaded?.p99Ms)} ms beside TCP, ${ms(s.rttWarm?.p50Ms)}/${ms(s.rttWarm?.p99Ms)} ms idle after the traffic${s.udp.emptyIntervals ? `; UDP: ${s.udp.emptyIntervals} s with nothing received` : ''}`
          : s.error;
      console.error(`round ${round}/${REPEAT}: ${f.label}: ${what}`);
    }
  }

  console.log(`# load average at end: ${load()}`);
  const rows = fabrics.map((f) => summarise(f.label, samples.get(f.label)!));
  console.log('');
  console.log(`| path ns1 → ns2 | UDP 64 B received | UDP at ns2's interface | switch CPU idle | switch CPU during UDP | UDP sent | UDP lost | TCP | TCP retransmits | TCP connections/s, 1 client | ${CPS_CLIENTS} clients | ping RTT p50 / p99 idle | p50 / p99 beside TCP | p50 / p99 idle after the traffic | conns in ct after | new from ns2 | note |`);
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |');
  for (const r of rows) {
    if (r.rxPps === undefined) {
      console.log(`| ${r.label} | | | | | | | | | | | | | | | | ${r.error} |`);
      continue;
    }
    const stalls = r.stalls ? `UDP: ${r.stalls} s with nothing received` : '';
    const note = [r.note ?? '', r.spread ? `range ${r.spread}` : '', stalls, r.error ?? ''].filter(Boolean).join('; ');
    console.log(
      `| ${r.label} | ${fmt(r.rxPps)} pps | ${fmt(r.deliveredPps!)} pps | ${r.idleCores === undefined ? '' : `${r.idleCores.toFixed(3)} cores`} | ${r.switchCores === undefined ? '' : `${r.switchCores.toFixed(2)} cores`} | ${fmt(r.offeredPps!)} pps | ${r.lossPct!.toFixed(1)} % | ${r.gbps!.toFixed(2)} Gbps | ${fmt(r.retransmits!)} | ${fmt(r.cps!)} | ${fmt(r.cps8!)} | ${ms(r.rttP50)} / ${ms(r.rttP99)} ms | ${ms(r.rttLoadedP50)} / ${ms(r.rttLoadedP99)} ms | ${ms(r.rttWarmP50)} / ${ms(r.rttWarmP99)} ms | ${r.conns ?? ''} | ${r.acl ?? ''} | ${note} |`,
    );
  }

  const by = (label: string) => rows.find((r) => r.label === label && r.rxPps !== undefined);
  const pairs: [string, string][] = [
    ['swd (1 PMD thread), ACL+ct', 'OVS netdev, ACL+ct'],
    ['swd (2 PMD threads), ACL+ct', 'OVS netdev, ACL+ct'],
    ['swd (1 PMD thread), NORMAL', 'OVS netdev, NORMAL'],
    ['swd (2 PMD threads), NORMAL', 'OVS netdev, NORMAL'],
    ['swd (main thread), ACL+ct', 'OVS netdev, ACL+ct'],
    ['swd (2 PMD threads), ACL+ct', 'swd (1 PMD thread), ACL+ct'],
    ['swd (1 PMD thread), ACL+ct', 'swd (main thread), ACL+ct'],
    ['swd (1 PMD thread), NORMAL', 'Linux bridge'],
    ['swd (1 PMD thread), ACL+ct', 'Linux bridge'],
    ['swd (2 PMD threads), ACL+ct', 'Linux bridge'],
    ['OVS netdev, ACL+ct', 'Linux bridge'],
    ['OVS netdev, NORMAL', 'Linux bridge'],
    ['Linux bridge', 'veth pair (no switch)'],
    ['swd (1 PMD thread), ACL+ct, offload on', 'swd (1 PMD thread), ACL+ct'],
    ['swd (2 PMD threads), ACL+ct, offload on', 'swd (2 PMD threads), ACL+ct'],
    ['swd (1 PMD thread), ACL+ct, offload on', 'OVS netdev, ACL+ct'],
    ['swd (1 PMD thread), SNAT+ct, offload on', 'swd (1 PMD thread), SNAT+ct'],
    ['swd (1 PMD thread), SNAT+ct', 'OVS netdev, SNAT+ct'],
    ['swd (1 PMD thread), SNAT+ct, offload on', 'OVS netdev, SNAT+ct'],
  ];
  // Each fabric run with an environment against OVS with the same table and against itself without it.
  for (const f of fabrics) {
    const i = f.label.indexOf(' [');
    if (i < 0) continue;
    const base = f.label.slice(0, i);
    pairs.push([f.label, base.endsWith('NORMAL') ? 'OVS netdev, NORMAL' : 'OVS netdev, ACL+ct'], [f.label, base]);
  }
  console.log('');
  console.log('Ratios a / b; for round trips b\'s time / a\'s, so that above 1 always means a does better.');
  console.log('');
  console.log(`| ratio | UDP pps received | UDP pps delivered | TCP | TCP connections/s, 1 client | ${CPS_CLIENTS} clients | ping RTT p50 idle | p99 idle | p50 beside TCP | p99 beside TCP | p50 idle after the traffic | p99 idle after |`);
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const [a, b] of pairs) {
    if (!fabrics.some((f) => f.label === a) || !fabrics.some((f) => f.label === b)) continue;
    const [x, y] = [by(a), by(b)];
    console.log(
      `| ${a} / ${b} | ${ratio(x, y, 'rxPps')} | ${ratio(x, y, 'deliveredPps')} | ${ratio(x, y, 'gbps')} | ${ratio(x, y, 'cps')} | ${ratio(x, y, 'cps8')} | ${speedup(x, y, 'rttP50')} | ${speedup(x, y, 'rttP99')} | ${speedup(x, y, 'rttLoadedP50')} | ${speedup(x, y, 'rttLoadedP99')} | ${speedup(x, y, 'rttWarmP50')} | ${speedup(x, y, 'rttWarmP99')} |`,
    );
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    teardownAll();
    console.error(e);
    process.exit(1);
  },
);
