// Conntrack with NAT: commit selects the translated tuple and links the
// un-NAT (reply) key; both directions are rewritten with +snat/+dnat; NAT
// arguments on an existing connection change nothing; exhaustion drops the
// packet and leaves nothing behind; flush removes both keys. Expected lines
// follow what OVS 3.1 printed for the same packets (NAT choices aside).

import { describe, expect, it } from 'vitest';
import { Harness } from './helpers.ts';
import { compileNat } from '../../src/nat/range.ts';
import { FK_NW_DST, FK_NW_SRC, FK_TP_DST, FK_TP_SRC } from '../../src/packet/flow-key.ts';

const snat = compileNat({ kind: 'src', addrMin: '10.1.1.240', addrMax: '10.1.1.255' });
const bare = compileNat({ kind: null });

describe('conntrack NAT', () => {
  it('seed 000: SNAT on commit, replies found by the un-NAT key and rewritten back', () => {
    const h = new Harness(undefined);
    expect(h.send('10.1.1.1', '10.1.1.2', { proto: 17, sport: 1000, dport: 53 }, { zone: 1, nat: snat })).toBe('+trk+new+snat');
    const a = h.key()[FK_NW_SRC] >>> 0;
    expect(a >= 0x0a0101f0 && a <= 0x0a0101ff).toBe(true);
    const as = `10.1.1.${a & 0xff}`;
    expect(h.dump()).toEqual([`udp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=1000,dport=53),reply=(src=10.1.1.2,dst=${as},sport=53,dport=1000),zone=1`]);
    // The reply, through ct(zone=1,nat): un-NATed to the client.
    expect(h.send('10.1.1.2', as, { proto: 17, sport: 53, dport: 1000 }, { zone: 1, commit: false, nat: bare })).toBe('+trk+est+rpl+dnat');
    expect(h.key()[FK_NW_DST] >>> 0).toBe(0x0a010101);
    const d = h.batch.bytes(0);
    expect(Array.from(d.subarray(14 + 16, 14 + 20))).toEqual([10, 1, 1, 1]);
    // Without a nat clause the packet is tracked but not rewritten.
    expect(h.send('10.1.1.2', as, { proto: 17, sport: 53, dport: 1000 }, { zone: 1, commit: false })).toBe('+trk+est+rpl');
    expect(h.key()[FK_NW_DST] >>> 0).toBe(a);
    // NAT arguments on an existing connection change nothing.
    const other = compileNat({ kind: 'src', addrMin: '192.168.0.1' });
    expect(h.send('10.1.1.1', '10.1.1.2', { proto: 17, sport: 1000, dport: 53 }, { zone: 1, nat: other })).toBe('+trk+est+snat');
    expect(h.key()[FK_NW_SRC] >>> 0).toBe(a);
    expect(h.ct.counters().natConns).toBe(1);
    expect(h.ct.flush()).toBe(1);
    expect(h.send('10.1.1.2', as, { proto: 17, sport: 53, dport: 1000 }, { zone: 1, commit: false, nat: bare })).toBe('+trk+new');
    expect(h.ct.nconns()).toBe(0);
  });

  it('a 2-port range takes two connections; the third is dropped and counted, nothing half-created', () => {
    const h = new Harness();
    const r = compileNat({ kind: 'src', addrMin: '10.1.1.240', portMin: 1000, portMax: 1001 });
    const ports: number[] = [];
    for (const s of ['10.1.1.1', '10.1.1.3']) {
      expect(h.send(s, '10.1.1.2', { proto: 17, sport: 5000, dport: 53 }, { zone: 2, nat: r })).toBe('+trk+new+snat');
      ports.push(h.key()[62]);
    }
    expect(ports.sort()).toEqual([1000, 1001]);
    h.send('10.1.1.4', '10.1.1.2', { proto: 17, sport: 5000, dport: 53 }, { zone: 2, nat: r });
    expect(h.batch.dropped[0]).toBe(1);
    expect(h.ct.natExhausted(2)).toBe(1);
    expect(h.ct.counters().natExhausted).toBe(1);
    expect(h.ct.nconns()).toBe(2);
    expect(h.ct.zoneCount(2)).toBe(2);
    expect(h.dump().length).toBe(2);
  });

  it('DNAT to a range with a port: orig packets to the server, replies back from the virtual address', () => {
    const h = new Harness();
    const r = compileNat({ kind: 'dst', addrMin: '10.0.0.10', addrMax: '10.0.0.12', portMin: 8080 });
    const used = new Set<string>();
    for (let p = 40000; p < 40030; p++) {
      expect(h.send('10.1.1.1', '10.0.0.1', { proto: 6, sport: p, dport: 80, flags: 'S' }, { nat: r })).toBe('+trk+new+dnat');
      expect(h.key()[FK_TP_DST]).toBe(8080);
      const srv = h.key()[FK_NW_DST] >>> 0;
      used.add(`10.0.0.${srv & 0xff}`);
      expect(h.send(`10.0.0.${srv & 0xff}`, '10.1.1.1', { proto: 6, sport: 8080, dport: p, flags: 'SA' }, { commit: false, nat: bare }))
        .toBe('+trk+est+rpl+snat');
      expect(h.key()[FK_NW_SRC] >>> 0).toBe(0x0a000001);
      expect(h.key()[62]).toBe(80);
    }
    expect([...used].sort()).toEqual(['10.0.0.10', '10.0.0.11', '10.0.0.12']);
  });

  it('DNAT that must move the client port too: rewritten both ways, marked +dnat only (as OVS 3.1)', () => {
    const h = new Harness();
    const r = compileNat({ kind: 'dst', addrMin: '10.1.1.100' });
    expect(h.send('10.1.1.1', '10.1.1.50', { proto: 6, sport: 2000, dport: 80, flags: 'S' }, { nat: r })).toBe('+trk+new+dnat');
    expect(h.key()[FK_TP_SRC]).toBe(2000);
    expect(h.send('10.1.1.1', '10.1.1.51', { proto: 6, sport: 2000, dport: 80, flags: 'S' }, { nat: r })).toBe('+trk+new+dnat');
    expect(h.key()[FK_TP_SRC]).toBe(2001);
    expect(h.send('10.1.1.100', '10.1.1.1', { proto: 6, sport: 80, dport: 2001, flags: 'SA' }, { commit: false, nat: bare }))
      .toBe('+trk+est+rpl+snat');
    expect(h.key()[FK_NW_SRC] >>> 0).toBe(0x0a010133);
    expect(h.key()[FK_TP_DST]).toBe(2000);
  });

  it('IPv6 SNAT prints the reply tuple as OVS does', () => {
    const h = new Harness();
    const r = compileNat({ kind: 'src', addrMin: 'fd00::240' });
    expect(h.send('fd00::1', 'fd00::2', { proto: 17, sport: 1000, dport: 53 }, { zone: 1, nat: r })).toBe('+trk+new+snat');
    expect(h.dump()).toEqual(['udp,orig=(src=fd00::1,dst=fd00::2,sport=1000,dport=53),reply=(src=fd00::2,dst=fd00::240,sport=53,dport=1000),zone=1']);
    expect(h.send('fd00::2', 'fd00::240', { proto: 17, sport: 53, dport: 1000 }, { zone: 1, commit: false, nat: bare })).toBe('+trk+est+rpl+dnat');
  });

  it('many NATed connections over many shards: both keys linked, all removed by flush', () => {
    const h = new Harness();
    for (let i = 0; i < 500; i++) {
      h.send(`10.2.${i >> 8}.${i & 0xff}`, '10.1.1.2', { proto: 6, sport: 1024 + i, dport: 80, flags: 'S' }, { nat: snat });
      expect(h.batch.dropped[0]).toBe(0);
    }
    expect(h.ct.nconns()).toBe(500);
    expect(h.ct.flush()).toBe(500);
    expect(h.ct.nconns()).toBe(0);
    expect(h.dump()).toEqual([]);
  });
});
