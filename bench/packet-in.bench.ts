// Packet-in round trips per second with a real controller: a child swd
// (dummy ports) connects to `ovs-testcontroller -n` (it installs no flows, so
// every packet goes up as a packet-in and comes back as a packet-out), and
// packets injected on p1 are counted leaving p2. Reported: round trips per
// second over windows of WINDOW packets (a window is injected once the last
// one is through, so the controller connection never overflows its
// packet-in backlog), swd's whole path (datapath → packet-in encode →
// controller → packet-out decode → xlate → datapath) and the controller's.
//
//   npm run bench -- packet-in        (BENCH_SCALE=0.2 for a short run)

import { spawn, spawnSync } from 'node:child_process';
import { call } from '../src/ctl/rpc-client.ts';
import { SwdInstance } from '../test/e2e/harness.ts';
import { freePort, until } from '../test/e2e/fake-controller.ts';
import type { BenchRow } from './run.ts';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const WINDOW = 256;
const TOTAL = Math.max(WINDOW, Math.round(20_000 * SCALE / WINDOW) * WINDOW);
// Two hosts that never learn each other's port in the controller (-n floods or outputs each packet).
const REQ = '000000000002000000000001080045000054000100004001f94bc0a80001c0a800020800f7ff0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000';

export async function rows(): Promise<BenchRow[]> {
  if (spawnSync('ovs-testcontroller', ['--version']).status !== 0) throw new Error('needs ovs-testcontroller (openvswitch-testcontroller)');
  const out: BenchRow[] = [];
  for (const version of ['OpenFlow10', 'OpenFlow13']) {
    const swd = new SwdInstance();
    const port = await freePort();
    const ctl = spawn('ovs-testcontroller', ['-n', '-O', version, `ptcp:${port}:127.0.0.1`], { stdio: 'ignore', env: { ...process.env, OVS_RUNDIR: swd.dir } });
    try {
      await swd.start();
      swd.ok(['set-fail-mode', 'br0', 'secure']);
      swd.ok(['set-controller', 'br0', `tcp:127.0.0.1:${port}`]);
      const rpc = (m: string, p: Record<string, unknown>) => call(swd.socket, m, p);
      const tx = async () => {
        const r = (await rpc('dump-ports', { bridge: 'br0', port: 'p2' })) as { ports?: { txPackets: number }[]; lines: string[] };
        return Number(/tx pkts=(\d+)/.exec(r.lines[2])![1]);
      };
      await until('the controller connected', () => {
        const s = JSON.parse(swd.ok(['--json', 'get-controller', 'br0']).join('\n')).controllers[0];
        return s.isConnected && (version === 'OpenFlow10' || swd.ok(['dump-flows', 'br0']).length > 0);
      }, 30_000);
      // Warm up (the controller learns p1's MAC; swd's code is compiled).
      await rpc('inject', { bridge: 'br0', port: 'p1', packet: REQ, count: WINDOW });
      let base = WINDOW;
      const deadline = Date.now() + 60_000;
      while ((await tx()) < base && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      base = await tx();
      const t0 = process.hrtime.bigint();
      for (let sent = 0; sent < TOTAL; sent += WINDOW) {
        await rpc('inject', { bridge: 'br0', port: 'p1', packet: REQ, count: WINDOW });
        while ((await tx()) < base + sent + WINDOW) {
          if (Date.now() > deadline + 120_000) throw new Error(`lost packet-ins: ${(await tx()) - base} of ${sent + WINDOW} came back`);
        }
      }
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      out.push({ bench: 'packet-in', case: `ovs-testcontroller -n, ${version}, ${TOTAL} packets`, value: TOTAL / secs, unit: 'round trips/s', note: `windows of ${WINDOW}` });
    } finally {
      ctl.kill('SIGTERM');
      await swd.dispose();
    }
  }
  return out;
}
