// A real controller programs swd: ovs-testcontroller (Debian's
// openvswitch-testcontroller) connects to br0.mgmt as the only source of
// flows. It installs its table-miss flow, learns MACs from the packet-ins
// that flow sends up (reason no_match), floods with packet-outs, and
// installs per-direction flows, which swctl dump-flows then shows.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SwdInstance } from './harness.ts';
import { until } from '../netns/topology.ts';

function missing(): string | undefined {
  const r = spawnSync('ovs-testcontroller', ['--version'], { encoding: 'utf8' });
  if (r.status === 0) return undefined;
  const reason = 'needs ovs-testcontroller (Debian package openvswitch-testcontroller)';
  if (process.env.CI === 'true') throw new Error(`${reason}: CI installs it and must not skip`);
  return reason;
}

const skip = missing();
const A = '000000000001', B = '000000000002';
const icmp = (dst: string, src: string, ip: string) => `${dst}${src}0800${ip}`;
const REQ = icmp(B, A, '4500001c000100004001f98cc0a80001c0a800020800f7ff00000000');
const REPLY = icmp(A, B, '4500001c000100004001f97cc0a80002c0a800010000ffff00000000');

describe.skipIf(skip !== undefined)(`ovs-testcontroller programs swd over br0.mgmt${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const swd = new SwdInstance();
  let ctl: ChildProcess | null = null;
  const flows = () => swd.ok(['dump-flows', 'br0', '--no-stats']);

  beforeAll(async () => {
    await swd.start();
    ctl = spawn('ovs-testcontroller', ['-O', 'OpenFlow13', `unix:${join(swd.rundir, 'br0.mgmt')}`], {
      stdio: 'ignore',
      env: { ...process.env, OVS_RUNDIR: swd.dir },
    });
  });
  afterAll(async () => {
    ctl?.kill('SIGTERM');
    await swd.dispose();
  });

  it('installs its table-miss flow, learns from packet-ins and installs the flows swctl shows', async () => {
    await until('the table-miss flow', () => flows().includes(' priority=0 actions=CONTROLLER:128'), 10_000);
    swd.ok(['inject', 'br0', 'p1', REQ]);
    // Unknown destination: the controller floods the packet with a packet-out.
    await until('the flooded request on p2', () => swd.ok(['dump-ports', 'br0', 'p2'])[2]?.includes('tx pkts=1,') ?? false, 10_000);
    swd.ok(['inject', 'br0', 'p2', REPLY]);
    await until('the learned flow for the reply', () => flows().length === 2, 10_000);
    swd.ok(['inject', 'br0', 'p1', REQ]);
    await until('the learned flow for the request', () => flows().length === 3, 10_000);
    expect(flows()).toEqual([
      ' idle_timeout=60, priority=1,icmp,in_port=2,vlan_tci=0x0000/0x1fff,dl_src=00:00:00:00:00:02,dl_dst=00:00:00:00:00:01,nw_src=192.168.0.2,nw_dst=192.168.0.1,nw_tos=0,icmp_type=0,icmp_code=0 actions=output:1',
      ' idle_timeout=60, priority=1,icmp,in_port=1,vlan_tci=0x0000/0x1fff,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:00:02,nw_src=192.168.0.1,nw_dst=192.168.0.2,nw_tos=0,icmp_type=8,icmp_code=0 actions=output:2',
      ' priority=0 actions=CONTROLLER:128',
    ]);
    // The reply went to p1 (a packet-out to the learned port) and the second request to p2.
    expect(swd.ok(['dump-ports', 'br0', 'p1'])[2]).toBe('           tx pkts=1, bytes=42, drop=0, errs=0, coll=0');
    expect(swd.ok(['dump-ports', 'br0', 'p2'])[2]).toBe('           tx pkts=2, bytes=84, drop=0, errs=0, coll=0');
  });
});
