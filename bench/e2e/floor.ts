// The floor fabrics of the latency probe (probe.ts): ns1 and ns2 joined by
// floor-fwd.ts, a forwarder with swd's native calls and no pipeline, in one
// of its modes (see there), on the main thread or in a worker thread.

import { join, resolve } from 'node:path';
import type { Topology } from '../../test/netns/topology.ts';
import { NS1_IP, NS2_IP, type Fabric } from './fabrics.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const FWD = join(ROOT, 'bench/e2e/floor-fwd.ts');

export type FloorMode = 'ring' | 'ring-send' | 'sock';

export function floorFabric(mode: FloorMode, worker: boolean): Fabric {
  return {
    label: `floor ${mode}${worker ? ' (worker)' : ''}`,
    async build(topo: Topology) {
      const ns1 = topo.addNamespace('ns1');
      const ns2 = topo.addNamespace('ns2');
      const p1 = topo.plug(ns1, '1', `${NS1_IP}/24`, { tx: false });
      const p2 = topo.plug(ns2, '2', `${NS2_IP}/24`, { tx: false });
      const argv = [process.execPath, '--import', 'tsx', FWD, mode, p1.host, p2.host];
      if (worker) argv.push('worker');
      const fwd = topo.spawn(null, argv);
      // It is up when a ping gets through (the caller's first pings wait for that).
      await new Promise((r) => setTimeout(r, 1500));
      if (!fwd.running) throw new Error(`floor-fwd exited: ${fwd.stderr.split('\n')[0]}`);
      return { ns1, ns2, ns1If: p1.inner, ns2If: p2.inner, pid: () => fwd.child.pid, stop: async () => void (await fwd.stop('SIGTERM', 2_000)) };
    },
  };
}
