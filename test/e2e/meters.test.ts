// Meters end to end: swctl add-meter/dump-meters/meter-stats/del-meters on
// a running swd, packets injected through meter:1 (what leaves is counted
// on the port, what the band dropped in meter-stats), refusals with OVS's
// error names, and the meters restored with their flows after a restart.

import { afterEach, describe, expect, it } from 'vitest';
import { SwdInstance } from './harness.ts';

const UDP = 'in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1000,dst=53)';

describe('meters through swctl', () => {
  let swd: SwdInstance;
  afterEach(() => swd.dispose());

  it('rate-limits, counts, refuses as OVS, and survives a restart', async () => {
    swd = new SwdInstance();
    await swd.start();
    // The words of the meter may be given apart, as a shell splits them.
    swd.ok(['add-meter', 'br0', 'meter=1', 'pktps', 'burst', 'stats', 'bands=type=drop', 'rate=1', 'burst_size=4']);
    swd.ok(['add-flow', 'br0', 'in_port=1,actions=meter:1,output:2']);
    swd.ok(['inject', 'br0', 'p1', UDP, '--count', '10']);
    const tx = swd.ok(['dump-ports', 'br0', 'p2']).join('\n');
    expect(tx).toMatch(/tx pkts=4\b/);
    const stats = swd.ok(['meter-stats', 'br0']);
    expect(stats[0]).toBe('OFPST_METER reply (OF1.3) (xid=0x2):');
    expect(stats[1]).toMatch(/^meter:1 flow_count:1 packet_in_count:10 byte_in_count:1060 duration:[0-9.]+s bands:$/);
    expect(stats[2]).toBe('0: packet_count:6 byte_count:636');
    expect(swd.ok(['dump-dp-flows']).some((l) => l.endsWith('actions:meter(0),2'))).toBe(true);

    const bad = swd.ctl(['add-flow', 'br0', 'in_port=2,actions=meter:2,output:1']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('OFPMMFC_INVALID_METER');
    const again = swd.ctl(['add-meter', 'br0', 'meter=1 pktps bands=type=drop rate=1']);
    expect(again.stderr).toContain('OFPMMFC_METER_EXISTS');
    const syntax = swd.ctl(['add-meter', 'br0', 'meter=3 pktps bands=type=drop']);
    expect(syntax.stderr.trim()).toBe("swctl: (command line):1:21: band must have 'rate'");

    await swd.stop();
    await swd.start();
    expect(swd.ok(['dump-meters', 'br0'])).toEqual(['OFPST_METER_CONFIG reply (OF1.3) (xid=0x2):', 'meter=1 pktps burst stats bands=', 'type=drop rate=1 burst_size=4']);
    expect(swd.ok(['dump-flows', 'br0', '--no-stats'])).toEqual([' in_port=1 actions=meter:1,output:2']);
    swd.ok(['del-meters', 'br0']);
    expect(swd.ok(['dump-flows', 'br0', '--no-stats'])).toEqual([]);
    expect(swd.ok(['dump-meters', 'br0'])).toEqual(['OFPST_METER_CONFIG reply (OF1.3) (xid=0x2):']);
  }, 60_000);
});
