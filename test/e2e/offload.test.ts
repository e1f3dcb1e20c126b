// The flowtable through swctl (seed 004): seed 001's ACL on the default
// bridge's dummy ports, a TCP connection injected packet by packet. With
// offload on, the connection's later packets are forwarded from one entry
// per direction ([OFFLOAD] / status=OFFLOAD), and every counter — rules,
// megaflows, ports, conntrack per direction — ends up what the same
// packets give with offload off. A FIN tears the entries down; the setting
// is saved with the bridge.

import { afterEach, describe, expect, it } from 'vitest';
import { SwdInstance } from './harness.ts';
import { FLOWS_ACL } from '../netns/seed001-acl.ts';

const ETH1 = 'eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02)';
const ETH2 = 'eth(src=50:54:00:00:00:02,dst=50:54:00:00:00:01)';
const orig = (flags: string) =>
  `in_port(1),${ETH1},eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=6,tos=0,ttl=64,frag=no),tcp(src=34567,dst=80),tcp_flags(${flags})`;
const reply = (flags: string) =>
  `in_port(2),${ETH2},eth_type(0x0800),ipv4(src=10.1.1.2,dst=10.1.1.1,proto=6,tos=0,ttl=64,frag=no),tcp(src=80,dst=34567),tcp_flags(${flags})`;

const running: SwdInstance[] = [];
afterEach(async () => {
  while (running.length) await running.pop()!.dispose();
});

async function swdWithAcl(offload: boolean): Promise<SwdInstance> {
  const swd = new SwdInstance();
  running.push(swd);
  // Megaflows stay while the test compares (a slow machine must not see them expire between two steps).
  await swd.start(['--max-idle', '600000']);
  swd.ok(['add-flows', 'br0', '-'], FLOWS_ACL.join('\n'));
  // The injected segments carry no real sequence numbers.
  swd.ok(['ct-disable-tcp-seq-chk']);
  if (offload) swd.ok(['offload-set', 'br0', 'on', 'tcp']);
  return swd;
}

/** Handshake, then `n` data segments each way. */
function traffic(swd: SwdInstance, n: number): void {
  swd.ok(['inject', 'br0', 'p1', orig('syn')]);
  swd.ok(['inject', 'br0', 'p2', reply('syn|ack')]);
  swd.ok(['inject', 'br0', 'p1', orig('ack')]);
  for (let i = 0; i < n; i++) {
    swd.ok(['inject', 'br0', 'p1', orig('psh|ack')]);
    swd.ok(['inject', 'br0', 'p2', reply('ack')]);
  }
}

/** Every counter a user can read, without what depends on time. */
function counters(swd: SwdInstance): Record<string, string[]> {
  const noTime = (l: string) => l.replace(/duration=[\d.]+s, /, '').replace(/idle_age=\d+, /, '').replace(/used:[^,]+, /, '').replace(/,timeout=\d+/, '').replace(/,id=\d+/, '');
  return {
    rules: swd.ok(['dump-flows', 'br0']).map(noTime),
    megaflows: swd.ok(['dump-dp-flows']).map(noTime).sort(),
    ports: swd.ok(['dump-ports', 'br0']),
    conntrack: swd.ok(['dump-conntrack', '-s']).map(noTime),
  };
}

describe('offload of established connections (flowtable)', () => {
  it('an established connection is offloaded one entry per direction, shown as OFFLOAD; counters equal those with offload off; a FIN tears it down', async () => {
    const on = await swdWithAcl(true);
    expect(on.ok(['offload-show', 'br0'])).toEqual(['br0: offload on tcp timeout=30']);
    traffic(on, 5);
    const entries = on.ok(['dump-offloaded', 'br0']);
    expect(entries).toHaveLength(2);
    // One entry per direction; the first data segment of each made it, the other four were forwarded by it.
    expect(entries.filter((l) => l.startsWith('in_port(1),') && / packets:4, bytes:472, /.test(l) && l.endsWith('actions:p2'))).toHaveLength(1);
    expect(entries.filter((l) => l.startsWith('in_port(2),') && / packets:4, bytes:472, /.test(l) && l.endsWith('actions:p1'))).toHaveLength(1);
    const m = on.ok(['dump-conntrack', '-m']);
    expect(m).toHaveLength(1);
    expect(m[0]).toMatch(/^tcp,orig=\(src=10\.1\.1\.1,dst=10\.1\.1\.2,sport=34567,dport=80\),reply=\(src=10\.1\.1\.2,dst=10\.1\.1\.1,sport=80,dport=34567\),id=\d+,status=OFFLOAD,protoinfo=\(state_orig=ESTABLISHED,state_reply=ESTABLISHED,/);
    const linux = on.ok(['dump-conntrack', '--format=conntrack']);
    expect(linux.map((l) => l.replace(/^tcp      6 \d+ /, 'tcp      6 T '))).toEqual([
      'tcp      6 T ESTABLISHED src=10.1.1.1 dst=10.1.1.2 sport=34567 dport=80 src=10.1.1.2 dst=10.1.1.1 sport=80 dport=34567 [OFFLOAD] mark=0 use=1',
    ]);

    const off = await swdWithAcl(false);
    traffic(off, 5);
    expect(off.ok(['dump-offloaded'])).toEqual([]);
    expect(counters(on)).toEqual(counters(off));
    expect(counters(on).conntrack).toEqual([
      'tcp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=34567,dport=80,packets=7,bytes=762),reply=(src=10.1.1.2,dst=10.1.1.1,sport=80,dport=34567,packets=6,bytes=644),protoinfo=(state=ESTABLISHED)',
    ]);
    expect(off.ok(['dump-conntrack', '--format=conntrack'])[0]).toContain(' [ASSURED] mark=0 use=1');

    // FIN: both entries go, the FIN itself takes the full path (conntrack sees it).
    on.ok(['inject', 'br0', 'p1', orig('fin|ack')]);
    off.ok(['inject', 'br0', 'p1', orig('fin|ack')]);
    expect(on.ok(['dump-offloaded'])).toEqual([]);
    expect(on.ok(['dump-conntrack', '-m'])[0]).toContain(',status=0,');
    expect(counters(on)).toEqual(counters(off));
    expect(on.ok(['dump-conntrack'])[0]).not.toContain('protoinfo=(state=ESTABLISHED)');
  });

  it('offload-set is saved with the bridge, checked, and off by default; del-dp-flows and flow changes drop the entries', async () => {
    const swd = await swdWithAcl(false);
    expect(swd.ok(['offload-show', 'br0'])).toEqual(['br0: offload off']);
    const bad = swd.ctl(['offload-set', 'br0', 'maybe']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("expected on or off, got 'maybe'");
    expect(swd.ctl(['offload-set', 'br0', 'on', 'timeout=0']).code).not.toBe(0);
    swd.ok(['offload-set', 'br0', 'on', 'all', 'timeout=5']);
    expect(swd.ok(['offload-show', 'br0'])).toEqual(['br0: offload on all timeout=5']);
    traffic(swd, 2);
    expect(swd.ok(['dump-offloaded'])).toHaveLength(2);
    swd.ok(['del-dp-flows']);
    expect(swd.ok(['dump-offloaded'])).toEqual([]);
    // The first segment each way installs the megaflows again, the second makes the entry.
    for (let i = 0; i < 2; i++) {
      swd.ok(['inject', 'br0', 'p1', orig('psh|ack')]);
      swd.ok(['inject', 'br0', 'p2', reply('ack')]);
    }
    expect(swd.ok(['dump-offloaded'])).toHaveLength(2);
    swd.ok(['add-flow', 'br0', 'table=1,priority=5,in_port=3,ip,action=drop']);
    expect(swd.ok(['dump-offloaded'])).toEqual([]);
    // Saved with the bridge: a restart keeps it.
    await swd.stop();
    await swd.start();
    expect(swd.ok(['offload-show', 'br0'])).toEqual(['br0: offload on all timeout=5']);
  });
});
