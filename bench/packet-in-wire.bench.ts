// Packet-in round trips over real ports, swd beside OVS in one run (issue 17
// part 6): ns1 and ns2 plugged by veth pairs into swd's system ports or OVS's
// netdev (userspace) bridge, no flows, fail mode secure, and
// `ovs-testcontroller -n` as the controller. The controller never learns
// where the destination is, so each frame from ns1 goes up as a packet-in
// and comes back as a packet-out that floods it; bench/e2e/pin-wire.py sends
// the frames in windows and counts those that reach ns2 (one round trip
// each). The same window for both switches: OVS keeps at most 100
// packet-ins queued per controller connection.
//
//   npm run bench -- packet-in     (the dummy-port rows of packet-in.bench.ts, then these)
//   npm run bench -- packet-in-wire  (these alone)
//   PIN_WINDOW=64 PIN_SECONDS=2 PIN_ROUNDS=3

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, Topology } from '../test/netns/topology.ts';
import { freePort } from '../test/e2e/fake-controller.ts';
import { NotAvailable, ovsNetdev, swd, type Fabric } from './e2e/fabrics.ts';
import type { BenchRow } from './run.ts';

const WINDOW = Number(process.env.PIN_WINDOW ?? 64);
const SECONDS = Number(process.env.PIN_SECONDS ?? 2);
const ROUNDS = Number(process.env.PIN_ROUNDS ?? 3);
const SENDER = join(import.meta.dirname, 'e2e/pin-wire.py');

interface PinResult { rates: number[]; lost: number }

async function measure(fabric: Fabric, version: string): Promise<PinResult> {
  const topo = new Topology();
  try {
    const path = await fabric.build(topo);
    if (!path.setController) throw new NotAvailable(`${fabric.label}: cannot set a controller`);
    for (const ns of [path.ns1, path.ns2]) topo.execSync(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
    const port = await freePort();
    const rundir = mkdtempSync(join(tmpdir(), 'swd-pin-'));
    topo.onTeardown(() => rmSync(rundir, { recursive: true, force: true }));
    const ctl = topo.spawn(null, ['ovs-testcontroller', '-n', '-O', version, `ptcp:${port}:127.0.0.1`], { ...process.env, OVS_RUNDIR: rundir });
    path.setController(`tcp:127.0.0.1:${port}`);
    const r = await run(['python3', SENDER, path.ns1, path.ns1If, path.ns2, path.ns2If, String(WINDOW), String(SECONDS), String(ROUNDS)],
      { timeoutMs: 60_000 + ROUNDS * SECONDS * 2_000 });
    await ctl.stop('SIGTERM', 2_000);
    await path.stop?.();
    const out = JSON.parse(r.stdout.trim().split('\n').pop() || '{}') as PinResult & { error?: string };
    if (out.error || !out.rates) throw new Error(`${fabric.label}: ${out.error ?? `sender failed: ${r.stderr.trim()}`}`);
    return out;
  } finally {
    await topo.stopProcesses();
    topo.teardown();
  }
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];

export async function rows(): Promise<BenchRow[]> {
  if (process.getuid?.() !== 0) throw new NotAvailable('needs root (namespaces)');
  if (spawnSync('ovs-testcontroller', ['--version']).status !== 0) throw new Error('needs ovs-testcontroller (openvswitch-testcontroller)');
  const out: BenchRow[] = [];
  for (const version of ['OpenFlow10', 'OpenFlow13']) {
    const load = loadavg()[0].toFixed(2);
    const s = await measure(swd('no flows', [], 1), version);
    const o = await measure(ovsNetdev('no flows', []), version);
    const [sr, or] = [median(s.rates), median(o.rates)];
    const how = `windows of ${WINDOW}, median of ${ROUNDS} × ${SECONDS} s, load ${load}`;
    out.push({ bench: 'packet-in', case: `real ports, ovs-testcontroller -n, ${version}: swd (1 PMD thread)`, value: sr, unit: 'round trips/s', note: `${how}; ${s.lost} lost` });
    out.push({ bench: 'packet-in', case: `real ports, ovs-testcontroller -n, ${version}: OVS netdev`, value: or, unit: 'round trips/s', note: `${o.lost} lost; swd/OVS ${(sr / or).toFixed(2)}` });
  }
  return out;
}
