// --max-idle reaches the PMD threads: the megaflows a PMD thread installed
// for real traffic on system ports go once they have been idle that long,
// not after the 10 s default (OVS other_config:max-idle).

import { describe, expect, it } from 'vitest';
import { fresh, systemBridge } from './fresh.ts';
import { requireRoot } from './topology.ts';

const skip = requireRoot();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!!skip)(`--max-idle with PMD threads${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('a PMD thread removes its idle megaflows after --max-idle', async () => {
    const { topo, swd } = fresh();
    const ns1 = topo.addNamespace('mi1');
    const ns2 = topo.addNamespace('mi2');
    const p1 = topo.plug(ns1, 'mi1', '10.79.0.1/24');
    const p2 = topo.plug(ns2, 'mi2', '10.79.0.2/24');
    await swd.start(['--no-default-bridge', '--pmd-threads', '1', '--max-idle', '1500']);
    systemBridge(swd, [p1.host, p2.host], ['in_port=1,actions=2', 'in_port=2,actions=1']);
    expect(await topo.ping(ns1, '10.79.0.2', 3)).toBe(3);
    const flows = () => swd.ok(['dump-dp-flows']).filter((l) => l.includes('actions:'));
    expect(flows().length).toBeGreaterThan(0);
    // Idle past 1.5 s and the thread's next expiry step (every second): gone.
    let left = flows().length;
    for (let i = 0; i < 20 && left > 0; i++) {
      await sleep(500);
      left = flows().length;
    }
    expect(left).toBe(0);
    // And the thread did not drop them early: traffic installs them again, and they stay while used.
    expect(await topo.ping(ns1, '10.79.0.2', 2)).toBe(2);
    expect(flows().length).toBeGreaterThan(0);
  }, 30_000);
});
