// A topology and an swd for one real-traffic test, both torn down after the
// test whatever happens (processes stopped, namespaces and links removed,
// the daemon stopped and its directory deleted). Importing this module
// registers the afterEach hook that does it. systemBridge() is the usual
// bridge on top: interfaces as system ports 1, 2, ... and a flow table.

import { afterEach } from 'vitest';
import { SwdInstance } from '../e2e/harness.ts';
import { Topology } from './topology.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

export function fresh(): { topo: Topology; swd: SwdInstance } {
  const topo = new Topology();
  const swd = new SwdInstance();
  cleanups.push(async () => {
    await swd.dispose();
    await topo.stopProcesses();
    topo.teardown();
  });
  return { topo, swd };
}

/** On a started swd: bridge `bridge` with `ports` (host-side interfaces) as
 *  system ports 1, 2, ... in order, and `flows` added (none: no add-flows). */
export function systemBridge(swd: SwdInstance, ports: string[], flows: string[] = [], bridge = 'br0'): void {
  swd.ok(['add-br', bridge]);
  ports.forEach((p, i) => swd.ok(['add-port', bridge, p, 'type=system', `ofport=${i + 1}`]));
  if (flows.length > 0) swd.ok(['add-flows', bridge, '-'], flows.join('\n'));
}
