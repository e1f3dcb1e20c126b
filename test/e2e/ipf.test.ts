// The ipf commands through swd and swctl: OVS's texts for every setting and
// for each refused argument (a clear error, non-zero exit, nothing
// changed), and fragments injected on a dummy port held, listed with -m and
// sent on whole once the datagram is complete — the original fragments,
// read back from tx_pcap.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPcap } from '../../src/packet/pcap.ts';
import { fragments } from '../conntrack/frag-packets.ts';
import { path, SwdInstance } from './harness.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('swctl ipf-*', () => {
  const swd = new SwdInstance();
  beforeAll(async () => {
    await swd.start();
    swd.ok(['del-port', 'br0', 'p2']);
    swd.ok(['add-port', 'br0', 'p2', 'type=dummy', 'ofport=2', `options:tx_pcap=${path(swd, 'p2.pcap')}`]);
    swd.ok(['add-flows', 'br0', '-'], 'table=0,ip,action=ct(commit,zone=3),2\n');
  });
  afterAll(() => swd.dispose());

  it("sets and reports as OVS's dpctl/ipf-* do", () => {
    expect(swd.ok(['ipf-set-disabled', 'v6'])).toEqual(['disabling fragmentation reassembly successful']);
    expect(swd.ok(['ipf-set-enabled', 'v6'])).toEqual(['enabling fragmentation reassembly successful']);
    expect(swd.ok(['ipf-set-min-frag', 'v6', '1300'])).toEqual(['setting minimum fragment size successful']);
    expect(swd.ok(['ipf-set-max-nfrags', '900'])).toEqual(['setting maximum fragments successful']);
    const st = swd.ok(['ipf-get-status']);
    expect(st.slice(0, 6)).toEqual([
      '        Fragmentation Module Status',
      '        ---------------------------',
      '        v4 enabled: 1',
      '        v6 enabled: 1',
      '        max num frags (v4/v6): 900',
      '        num frag: 0',
    ]);
    expect(st).toContain('        min v6 frag size: 1300');
    expect(st.length).toBe(20);
    swd.ok(['ipf-set-min-frag', 'v6', '1280']);
    swd.ok(['ipf-set-max-nfrags', '1000']);
  });

  it('refuses bad arguments with OVS\'s messages and changes nothing', () => {
    for (const [args, msg] of [
      [['ipf-set-enabled', 'v5'], "parameter missing: 'v4' for IPv4 or 'v6' for IPv6"],
      [['ipf-set-min-frag', 'v7', '1000'], 'parameter missing: v4 for IPv4 or v6 for IPv6'],
      [['ipf-set-min-frag', 'v4', 'abc'], 'parameter missing for minimum fragment size'],
      [['ipf-set-min-frag', 'v4', '100'], 'requested minimum fragment size too small; see documentation'],
      [['ipf-set-max-nfrags', '6000'], 'setting maximum fragments failed'],
      [['ipf-set-max-nfrags', '-1'], 'parameter missing for maximum fragments'],
    ] as const) {
      const r = swd.ctl([...args]);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr).toContain(msg);
    }
    const st = swd.ok(['ipf-get-status']);
    expect(st).toContain('        min v4 frag size: 1200');
    expect(st).toContain('        max num frags (v4/v6): 1000');
  });

  it('holds injected fragments (listed with -m) and sends the originals once whole', async () => {
    const fr = fragments({ src: '10.9.0.1', dst: '10.9.0.2', proto: 17, sport: 7, dport: 9, size: 3000, id: 77 }, [1400, 2800]);
    swd.ok(['inject', 'br0', 'p1', hex(fr[2])]);
    swd.ok(['inject', 'br0', 'p1', hex(fr[0])]);
    expect(swd.ok(['ipf-get-status', '-m']).slice(-1)).toEqual([
      '(src=10.9.0.1,dst=10.9.0.2,recirc_id=0,ip_id=77,dl_type=0x800,zone=3,nw_proto=17,num_fragments=2,state=first/last frag)',
    ]);
    swd.ok(['inject', 'br0', 'p1', hex(fr[1])]);
    expect(swd.ok(['ipf-get-status', '-m']).slice(-1)).toEqual(['        Fragment Lists:']);
    expect(swd.ok(['dump-conntrack'])).toEqual(['udp,orig=(src=10.9.0.1,dst=10.9.0.2,sport=7,dport=9),reply=(src=10.9.0.2,dst=10.9.0.1,sport=9,dport=7),zone=3']);
    const out = readPcap(path(swd, 'p2.pcap')).map((p) => hex(p.data));
    expect(out).toEqual(fr.map(hex));
  });
});
