// bench/e2e/threads-cpu.ts: which of swd's threads spends the CPU while idle
// pings (10 ms apart) go through 1 PMD thread and seed 001's ACL, and while
// nothing goes through at all: CPU per thread from /proc/<pid>/task (user +
// system, and the system part alone), in 10 ms ticks, so small figures are coarse.
//
//   node --import tsx bench/e2e/threads-cpu.ts ["swd (1 PMD thread), ACL+ct [NAME=VALUE]"]

import { readdirSync, readFileSync } from 'node:fs';
import { Topology } from '../../test/netns/topology.ts';
import { FLOWS_ACL, NS2_IP, swd } from './fabrics.ts';
import { splitEnvWord, withEnv } from './env-fabric.ts';
import { pingRtt } from './rtt.ts';

function threads(pid: number): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const key = `${t} ${name}`;
      m.set(key, (Number(f[11]) + Number(f[12])) / 100);
      m.set(`${key} (system)`, Number(f[12]) / 100);
    } catch {
      /* gone */
    }
  }
  return m;
}

function show(label: string, a: Map<string, number>, b: Map<string, number>, seconds: number): void {
  const rows = [...b].map(([k, v]) => [k, (v - (a.get(k) ?? 0)) / seconds] as const).filter(([, c]) => c > 0);
  const total = rows.filter(([k]) => !k.endsWith('(system)')).reduce((s, [, c]) => s + c, 0);
  console.log(`${label}: ${total.toFixed(3)} cores: ${rows.map(([k, c]) => `${k} ${c.toFixed(3)}`).join(', ')}`);
}

async function main(): Promise<void> {
  const { word, env } = splitEnvWord(process.argv[2] ?? 'swd');
  void word;
  const base = swd('ACL+ct', FLOWS_ACL, 1);
  const f = env ? withEnv(base, env) : base;
  const topo = new Topology();
  try {
    const path = await f.build(topo);
    await topo.ping(path.ns1, NS2_IP, 3, 1000);
    const pid = path.pid!()!;
    await new Promise((r) => setTimeout(r, 2000));
    let a = threads(pid);
    let t = performance.now();
    await new Promise((r) => setTimeout(r, 3000));
    show('no traffic', a, threads(pid), (performance.now() - t) / 1000);
    a = threads(pid);
    t = performance.now();
    const r = await pingRtt(topo, path.ns1, NS2_IP, 300, 10);
    show(`idle pings (p50 ${r.p50Ms.toFixed(3)} ms)`, a, threads(pid), (performance.now() - t) / 1000);
    await path.stop?.();
  } finally {
    await topo.stopProcesses();
    topo.teardown();
  }
}

main().then(() => process.exit(0), (e: unknown) => (console.error(e), process.exit(1)));
