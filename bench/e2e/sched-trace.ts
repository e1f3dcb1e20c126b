// bench/e2e/sched-trace.ts: what the machine did during the slowest idle
// round trips. 300 pings 10 ms apart ns1 -> ns2 through seed 001's ACL
// (swd with 1 PMD thread, or OVS netdev), with the kernel's scheduler and
// softirq events traced (ftrace, /sys/kernel/tracing; root) and the pinger
// writing a mark into the trace at each send and each reply: for the 5
// slowest pings every event between the two marks is printed (which task
// ran on each CPU, who woke whom, the network softirqs), so a round trip's
// time can be told apart: swd's threads working, swd waiting for a CPU, the
// pinger waiting for one, the kernel's own work.
//
//   node --import tsx bench/e2e/sched-trace.ts swd|ovs [N slowest, default 5]
//   SCHED_LOADED=1: 150 pings beside an iperf3 TCP stream ns1 -> ns2 instead, and
//   per ping (the median one and the N slowest) each CPU's time by task and in
//   network softirqs rather than every event (there are thousands).

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { runSync, Topology } from '../../test/netns/topology.ts';
import { FLOWS_ACL, NS2_IP, ovsNetdev, swd } from './fabrics.ts';
import { pingPy } from '../../test/netns/ping-py.ts';
import { tcp } from './iperf.ts';

const LOADED = process.env.SCHED_LOADED === '1';

// Mounted here too: `ip netns exec` gives the pinger its own /sys.
const T = '/tmp/swd-tracefs';
// The pinger marks each request's send and its reply in the trace.
const PY = pingPy({
  setup: `m = open('${T}/trace_marker', 'w', buffering=1)`,
  beforeSend: "m.write('PING S %d\\n' % seq)",
  onReply: "m.write('PING R %d\\n' % seq)",
  end: ' ',
});

/** Events listed per ping at most. */
const MAX_LINES = 150;

function w(file: string, v: string): void {
  writeFileSync(`${T}/${file}`, v);
}

async function main(): Promise<void> {
  const which = process.argv[2];
  const worst = Number(process.argv[3] ?? 5);
  if (which !== 'swd' && which !== 'ovs') throw new Error('usage: sched-trace.ts swd|ovs [N]');
  if (!existsSync(`${T}/trace_marker`)) {
    mkdirSync(T, { recursive: true });
    const m = runSync(['mount', '-t', 'tracefs', 'nodev', T]);
    if (m.code !== 0) throw new Error(`mount tracefs: ${m.stderr}`);
  }
  const topo = new Topology();
  const f = which === 'ovs' ? ovsNetdev('ACL+ct', FLOWS_ACL) : swd('ACL+ct', FLOWS_ACL, 1);
  try {
    const path = await f.build(topo);
    await topo.ping(path.ns1, NS2_IP, 3, 1000);
    await new Promise((r) => setTimeout(r, 500));
    w('tracing_on', '0');
    w('trace', '');
    w('buffer_size_kb', '32768');
    w('trace_clock', 'mono');
    w('set_event', '');
    for (const e of ['sched:sched_switch', 'sched:sched_wakeup', 'sched:sched_migrate_task', 'irq:softirq_entry', 'irq:softirq_exit']) {
      writeFileSync(`${T}/set_event`, e + '\n', { flag: 'a' });
    }
    const stream = LOADED ? tcp({ topo, clientNs: path.ns1, serverNs: path.ns2, serverIp: NS2_IP, port: 5201 }, 4) : null;
    if (stream) await new Promise((r) => setTimeout(r, 1000));
    w('tracing_on', '1');
    const r = await topo.exec(path.ns1, ['python3', '-c', PY, NS2_IP, LOADED ? '150' : '300', '1', '0.01'], { timeoutMs: 60_000 });
    w('tracing_on', '0');
    if (r.code !== 0) throw new Error(r.stderr);
    if (stream) console.log(`TCP beside the pings: ${((await stream).bps / 1e9).toFixed(2)} Gbps`);
    const text = readFileSync(`${T}/trace`, 'utf8');
    w('set_event', '');
    w('trace', '');
    await path.stop?.();
    report(text, worst);
  } finally {
    try {
      w('tracing_on', '0');
      w('set_event', '');
    } catch { /* not mounted */ }
    await topo.stopProcesses();
    topo.teardown();
  }
}

interface Ev { t: number; cpu: string; task: string; what: string }

function report(text: string, worst: number): void {
  const evs: Ev[] = [];
  // "  python3-123   [001] d..2.  1234.567890: sched_switch: ..."
  const re = /^\s*(.+?)-(\d+)\s+\[(\d+)\]\s+\S+\s+([\d.]+): (\w+): (.*)$/;
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (m) evs.push({ t: Number(m[4]) * 1e6, cpu: m[3]!, task: `${m[1]}-${m[2]}`, what: `${m[5]}: ${m[6]}` });
  }
  const sent = new Map<number, number>();
  const rtts: { seq: number; s: number; us: number }[] = [];
  for (const e of evs) {
    const m = /tracing_mark_write: PING ([SR]) (\d+)/.exec(e.what);
    if (!m) continue;
    const seq = Number(m[2]);
    if (m[1] === 'S') sent.set(seq, e.t);
    else if (sent.has(seq)) rtts.push({ seq, s: sent.get(seq)!, us: e.t - sent.get(seq)! });
  }
  const sorted = [...rtts].sort((a, b) => a.us - b.us);
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]?.us ?? NaN;
  console.log(`${rtts.length} pings traced: p50 ${(pct(0.5) / 1000).toFixed(3)} ms, p99 ${(pct(0.99) / 1000).toFixed(3)} ms`);
  if (LOADED) {
    const median = sorted[Math.floor(sorted.length / 2)];
    for (const p of [median, ...sorted.slice(-worst).reverse()]) if (p) occupancy(evs, p, p === median ? 'median' : 'slow');
    return;
  }
  for (const p of sorted.slice(-worst).reverse()) {
    console.log(`\nping ${p.seq}: ${(p.us / 1000).toFixed(3)} ms`);
    let shown = 0;
    for (const e of evs) {
      if (e.t < p.s - 50 || e.t > p.s + p.us + 50) continue;
      if (++shown > MAX_LINES) {
        console.log(`  … (more than ${MAX_LINES} events)`);
        break;
      }
      console.log(`  +${(e.t - p.s).toFixed(0).padStart(6)} us cpu${e.cpu} ${e.task.padEnd(24)} ${e.what.slice(0, 150)}`);
    }
  }
}

/** Between a ping's send and its reply: each CPU's time per task (from sched_switch) and in NET_RX softirqs. */
function occupancy(evs: Ev[], p: { seq: number; s: number; us: number }, what: string): void {
  const end = p.s + p.us;
  const running = new Map<string, string>(); // cpu -> task, as of the window's start
  const busy = new Map<string, Map<string, number>>();
  const since = new Map<string, number>();
  const rxSince = new Map<string, number>();
  const add = (cpu: string, task: string, us: number): void => {
    if (us <= 0) return;
    const m = busy.get(cpu) ?? new Map<string, number>();
    m.set(task, (m.get(task) ?? 0) + us);
    busy.set(cpu, m);
  };
  for (const e of evs) {
    if (e.t > end) break;
    const sw = /sched_switch: prev_comm=(.+?) prev_pid=(\d+) .*==> next_comm=(.+?) next_pid=(\d+)/.exec(e.what);
    if (e.t < p.s) {
      if (sw) running.set(e.cpu, `${sw[3]}-${sw[4]}`);
      continue;
    }
    if (!since.has(e.cpu)) since.set(e.cpu, p.s);
    if (sw) {
      add(e.cpu, running.get(e.cpu) ?? `${sw[1]}-${sw[2]}`, e.t - since.get(e.cpu)!);
      running.set(e.cpu, `${sw[3]}-${sw[4]}`);
      since.set(e.cpu, e.t);
    } else if (/softirq_entry: vec=3/.test(e.what)) rxSince.set(e.cpu, e.t);
    else if (/softirq_exit: vec=3/.test(e.what) && rxSince.has(e.cpu)) {
      add(e.cpu, 'NET_RX softirq (inside the above)', e.t - rxSince.get(e.cpu)!);
      rxSince.delete(e.cpu);
    }
  }
  for (const [cpu, task] of running) add(cpu, task, end - (since.get(cpu) ?? p.s));
  console.log(`\nping ${p.seq} (${what}): ${(p.us / 1000).toFixed(3)} ms`);
  for (const [cpu, m] of [...busy].sort()) {
    const parts = [...m].sort((a, b) => b[1] - a[1]).map(([t, us]) => `${t} ${us.toFixed(0)} us`);
    console.log(`  cpu${cpu}: ${parts.join(', ')}`);
  }
}

main().then(() => process.exit(0), (e: unknown) => {
  console.error(e);
  process.exit(1);
});
