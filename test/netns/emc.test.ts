// The flow cache (src/datapath/emc.ts) in PMD threads on real traffic: with
// two threads and every flow entered into the EMC, pings are answered from
// it (pmd-stats-show's "emc hits"), the rules' counters still equal what the
// ports received, and a flow-table change takes effect on the next packet
// although the EMC is warm.

import { describe, expect, it } from 'vitest';
import { fresh } from './fresh.ts';
import { requireRoot, waitFor } from './topology.ts';
import type { SwdInstance } from '../e2e/harness.ts';

const skip = requireRoot();

/** Sum of one counter line of pmd-stats-show over the PMD threads (not the main thread). */
function pmdSum(swd: SwdInstance, label: string): number {
  let n = 0;
  let inPmd = false;
  for (const l of swd.ok(['pmd-stats-show'])) {
    if (!l.startsWith('  ')) inPmd = l.startsWith('pmd thread');
    else if (inPmd && l.startsWith(`  ${label}: `)) n += Number(l.slice(label.length + 4));
  }
  return n;
}

describe.skipIf(!!skip)(`flow cache with 2 PMD threads${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('EMC hits on real traffic, exact rule counters, and a flow-table change honoured at once', async () => {
    const { topo, swd } = fresh();
    const ns1 = topo.addNamespace('em1');
    const ns2 = topo.addNamespace('em2');
    const p1 = topo.plug(ns1, 'em1', '10.81.0.1/24');
    const p2 = topo.plug(ns2, 'em2', '10.81.0.2/24');
    // Only the test's pings on the link: IPv6's own packets (router
    // solicitations, MLD, DAD) would arrive between the two counter reads below.
    for (const ns of [ns1, ns2]) topo.execSync(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1'], { check: true });
    for (const h of [p1.host, p2.host]) topo.execSync(null, ['sysctl', '-qw', `net.ipv6.conf.${h}.disable_ipv6=1`], { check: true });
    await swd.start(['--no-default-bridge', '--pmd-threads', '2', '--emc-insert-inv-prob', '1']);
    swd.ok(['add-br', 'br0']);
    swd.ok(['add-port', 'br0', p1.host, 'type=system', 'ofport=1']);
    swd.ok(['add-port', 'br0', p2.host, 'type=system', 'ofport=2']);
    swd.ok(['add-flows', 'br0', '-'], ['in_port=1,actions=2', 'in_port=2,actions=1'].join('\n'));
    expect(await topo.ping(ns1, '10.81.0.2', 20)).toBe(20);
    expect(await waitFor(() => pmdSum(swd, 'emc hits') > 0)).toBe(true);
    // Every packet from port 1 went through the one rule for it, cache hits included.
    const rulePackets = () => Number(/n_packets=(\d+)/.exec(swd.ok(['dump-flows', 'br0', 'in_port=1']).find((l) => l.includes('in_port=1'))!)![1]);
    const rxPackets = () => Number(/rx pkts=(\d+)/.exec(swd.ok(['dump-ports', 'br0', '1'])[1]!)![1]);
    expect(await waitFor(() => rulePackets() === rxPackets(), 10_000, 200), `${rulePackets()} vs ${rxPackets()}; ${swd.ok(['pmd-stats-show']).filter((l) => /upcall|queue/.test(l)).join('; ')}`).toBe(true);

    // A drop in front: the very next echo request is dropped in whichever thread reads it.
    swd.ok(['add-flow', 'br0', 'priority=40000,in_port=1,icmp,actions=drop']);
    expect(await topo.ping(ns1, '10.81.0.2', 3, 500)).toBe(0);
    swd.ok(['del-flows', 'br0', '--strict', 'priority=40000,in_port=1,icmp']);
    expect(await topo.ping(ns1, '10.81.0.2', 3)).toBe(3);
    expect(swd.ok(['pmd-stats-show']).filter((l) => l.startsWith('pmd thread'))).toHaveLength(2);
  }, 60_000);
});
