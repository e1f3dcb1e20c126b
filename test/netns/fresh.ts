// A topology and an swd for one real-traffic test, both torn down after the
// test whatever happens (processes stopped, namespaces and links removed,
// the daemon stopped and its directory deleted). Importing this module
// registers the afterEach hook that does it.

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
