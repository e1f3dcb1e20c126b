// Meters over the wire: the real ovs-ofctl (OpenFlow 1.3, 1.5) adds,
// modifies, dumps and deletes meters on swd's br0.mgmt, and what it sets is
// what swctl's meter commands show, line for line, and the other way round
// (both go through MeterCommands.applyMeterMod). A metered flow added by
// wire meters the packets swctl injects, and meter-stats agree. The error
// lines are what the same commands printed against OVS 3.1.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SwdInstance } from './harness.ts';

function missingOfctl(): string | undefined {
  const r = spawnSync('ovs-ofctl', ['--version'], { encoding: 'utf8' });
  if (r.status === 0) return undefined;
  const reason = 'needs ovs-ofctl (Debian package openvswitch-common)';
  if (process.env.CI === 'true') throw new Error(`${reason}: CI installs it and must not skip`);
  return reason;
}

const skip = missingOfctl();
const UDP = 'in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1000,dst=53)';
const noDuration = (lines: string[]) => lines.map((l) => l.replace(/duration:[\d.]+s/, 'duration:X'));

describe.skipIf(skip !== undefined)(`meters by ovs-ofctl on swd's br0.mgmt${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const swd = new SwdInstance();
  const mgmt = () => `unix:${join(swd.rundir, 'br0.mgmt')}`;
  const ofctl = (args: string[], version = 'OpenFlow13') => {
    const r = spawnSync('ovs-ofctl', ['-O', version, args[0], mgmt(), ...args.slice(1)], { encoding: 'utf8', timeout: 20_000 });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  const ofOk = (args: string[], version?: string) => {
    const r = ofctl(args, version);
    if (r.code !== 0) throw new Error(`ovs-ofctl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r.stdout.split('\n').filter((l) => l.length > 0);
  };
  const ofError = (args: string[]) => ofctl(args).stderr.split('\n')[0];

  beforeAll(async () => {
    await swd.start();
  });
  afterAll(async () => {
    await swd.dispose();
  });

  it('meters added by wire are the meters swctl dumps, and meters added by swctl dump the same by wire', () => {
    ofOk(['add-meter', 'meter=1 pktps burst stats bands=type=drop rate=1 burst_size=2']);
    ofOk(['add-meter', 'meter=2 kbps bands=type=drop rate=1000 type=drop rate=2000']);
    swd.ok(['add-meter', 'br0', 'meter=3 kbps stats bands=type=drop rate=64']);
    const want = [
      'OFPST_METER_CONFIG reply (OF1.3) (xid=0x2):',
      'meter=1 pktps burst stats bands=',
      'type=drop rate=1 burst_size=2',
      '',
      'meter=2 kbps bands=',
      'type=drop rate=1000',
      'type=drop rate=2000',
      '',
      'meter=3 kbps stats bands=',
      'type=drop rate=64',
    ];
    const all = (s: string) => s.split('\n').filter((l, i, a) => l.length > 0 || i < a.length - 1);
    expect(all(ofctl(['dump-meters']).stdout)).toEqual(want);
    expect(all(swd.ctl(['dump-meters', 'br0']).stdout)).toEqual(want);
    expect(ofOk(['dump-meters', 'meter=3'])).toEqual(swd.ok(['dump-meters', 'br0', 'meter=3']));
    // OpenFlow 1.5 (its METER_DESC) carries the same meters.
    expect(ofOk(['dump-meters', 'meter=2'], 'OpenFlow15')).toEqual(['OFPST_METER_CONFIG reply (OF1.5) (xid=0x2):', 'meter=2 kbps bands=', 'type=drop rate=1000', 'type=drop rate=2000']);
  });

  it('mod-meter by wire changes what swctl shows, and by swctl what the wire shows', () => {
    ofOk(['mod-meter', 'meter=2 pktps bands=type=drop rate=5']);
    expect(swd.ok(['dump-meters', 'br0', 'meter=2'])).toEqual(['OFPST_METER_CONFIG reply (OF1.3) (xid=0x2):', 'meter=2 pktps bands=', 'type=drop rate=5']);
    swd.ok(['mod-meter', 'br0', 'meter=2 kbps burst bands=type=drop rate=100 burst_size=10']);
    expect(ofOk(['dump-meters', 'meter=2'])).toEqual(['OFPST_METER_CONFIG reply (OF1.3) (xid=0x2):', 'meter=2 kbps burst bands=', 'type=drop rate=100 burst_size=10']);
  });

  it('refusals are OVS\'s errors, by wire and by swctl, and change nothing', () => {
    const before = swd.ok(['dump-meters', 'br0']);
    expect(ofError(['add-meter', 'meter=1 pktps bands=type=drop rate=1'])).toBe('OFPT_ERROR (OF1.3) (xid=0x2): OFPMMFC_METER_EXISTS');
    expect(ofError(['mod-meter', 'meter=9 pktps bands=type=drop rate=1'])).toBe('OFPT_ERROR (OF1.3) (xid=0x2): OFPMMFC_UNKNOWN_METER');
    expect(ofError(['add-meter', 'meter=9 pktps bands=type=dscp_remark rate=1 prec_level=1'])).toBe('OFPT_ERROR (OF1.3) (xid=0x2): OFPMMFC_BAD_BAND');
    expect(ofError(['add-meter', `meter=9 pktps bands=${'type=drop rate=1 '.repeat(9)}`])).toBe('OFPT_ERROR (OF1.3) (xid=0x2): OFPMMFC_OUT_OF_BANDS');
    // A dump's error is printed as its reply (stdout, exit status 0), as against OVS.
    expect(ofOk(['meter-stats', 'meter=9'])).toEqual(['OFPT_ERROR (OF1.3) (xid=0x2): OFPMMFC_UNKNOWN_METER', 'OFPST_METER request (OF1.3) (xid=0x2): meter=9']);
    expect(ofError(['add-flow', 'in_port=2,actions=meter:9,output:1'])).toBe('OFPT_ERROR (OF1.3) (xid=0x6): OFPMMFC_INVALID_METER');
    expect(swd.ctl(['add-meter', 'br0', 'meter=9 pktps bands=type=dscp_remark rate=1 prec_level=1']).stderr).toMatch(/OFPMMFC_BAD_BAND/);
    expect(swd.ctl(['add-meter', 'br0', 'meter=1 pktps bands=type=drop rate=1']).stderr).toMatch(/OFPMMFC_METER_EXISTS/);
    // swd meters no packet-ins or upcalls: the virtual meters are refused (OVS accepts meter=controller).
    expect(ofError(['add-meter', 'meter=controller pktps bands=type=drop rate=1'])).toBe('OFPT_ERROR (OF1.3) (xid=0x2): OFPMMFC_INVALID_METER');
    // Meters are OpenFlow 1.3+: ovs-ofctl refuses to send one over 1.0, as it does to OVS.
    expect(ofctl(['add-meter', 'meter=9 pktps bands=type=drop rate=1'], 'OpenFlow10').stderr).toMatch(/none of the usable flow formats/);
    expect(swd.ok(['dump-meters', 'br0'])).toEqual(before);
  });

  it('a metered flow added by wire meters injected packets; meter-stats by wire and by swctl agree', () => {
    ofOk(['add-flow', 'in_port=1,actions=meter:1,output:2']);
    expect(swd.ok(['dump-flows', 'br0', '--no-stats'])).toEqual([' in_port=1 actions=meter:1,output:2']);
    expect(ofOk(['dump-flows', '--no-stats'], 'OpenFlow15')).toEqual([' in_port=1 actions=meter:1,output:2']);
    swd.ok(['inject', 'br0', 'p1', UDP, '--count', '5']);
    const stats = noDuration(ofOk(['meter-stats', 'meter=1']));
    expect(stats).toEqual([
      'OFPST_METER reply (OF1.3) (xid=0x2):',
      'meter:1 flow_count:1 packet_in_count:5 byte_in_count:530 duration:X bands:',
      '0: packet_count:3 byte_count:318',
    ]);
    expect(noDuration(swd.ok(['meter-stats', 'br0', 'meter=1']))).toEqual(stats);
    expect(ofOk(['meter-features'])).toEqual(swd.ok(['meter-features', 'br0']));
  });

  it('meters added by wire are saved and come back after a restart', async () => {
    const before = swd.ok(['dump-meters', 'br0']);
    // The save after a wire change is coalesced; swd also saves on stop.
    await swd.stop();
    await swd.start();
    expect(swd.ok(['dump-meters', 'br0'])).toEqual(before);
    expect(ofOk(['dump-meters'])).toEqual(before);
  });

  it('del-meters by wire deletes the meter and the flows that use it', () => {
    ofOk(['del-meters', 'meter=1']);
    expect(swd.ok(['dump-flows', 'br0', '--no-stats'])).toEqual([]);
    expect(swd.ok(['dump-meters', 'br0', 'meter=3'])).toEqual(ofOk(['dump-meters', 'meter=3']));
    // Deleting a meter that does not exist is no error (OVS).
    ofOk(['del-meters', 'meter=77']);
    ofOk(['del-meters']);
    expect(swd.ok(['dump-meters', 'br0'])).toEqual(['OFPST_METER_CONFIG reply (OF1.3) (xid=0x2):']);
  });
});
