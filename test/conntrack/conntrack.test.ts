// The conntrack engine through ct(): ct_state and the ct_* fields it writes
// into the flow key, and the dump-conntrack lines it leaves behind (as OVS
// 3.1 printed them) for UDP, ICMP, related errors, IPv6, zones, limits,
// flushes, force and expiry.

import { describe, it, expect } from 'vitest';
import { ctExec, Harness, ipPacket } from './helpers.ts';
import { formatConn, formatCtStats } from '../../src/conntrack/format.ts';
import { FK_CT_ZONE, FK_CT_MARK, FK_CT_LABEL, FK_CT_NW_SRC, FK_CT_NW_DST, FK_CT_NW_PROTO, FK_CT_TP, FK_CT_IPV6_SRC } from '../../src/packet/flow-key.ts';

const A = '10.1.1.1';
const B = '10.1.1.2';
const udp = (sport: number, dport: number) => ({ proto: 17, sport, dport, payload: 10 });

describe('UDP, ICMP and related (lines captured from OVS 3.1)', () => {
  it('UDP first / multiple / bidir: +new until answered, then +est', () => {
    const h = new Harness();
    expect(h.send(A, B, udp(5000, 53))).toBe('+trk+new');
    expect((h.ct.dump()[0].expiryMs - h.now) / 1000).toBe(60);
    expect(h.send(A, B, udp(5000, 53))).toBe('+trk+new');
    expect(h.send(B, A, udp(53, 5000), { commit: false })).toBe('+trk+est+rpl');
    expect((h.ct.dump()[0].expiryMs - h.now) / 1000).toBe(30);
    expect(h.send(A, B, udp(5000, 53))).toBe('+trk+est');
    expect(h.dump(false)).toEqual(['udp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=5000,dport=53),reply=(src=10.1.1.2,dst=10.1.1.1,sport=53,dport=5000)']);
  });

  it('the ct_* tuple fields are the original direction, also for reply packets', () => {
    const h = new Harness();
    h.send(A, B, udp(5000, 53), { zone: 3, mark: { value: 7, mask: 0xff }, label: { value: Uint32Array.of(1, 0, 0, 2), mask: Uint32Array.of(~0, 0, 0, ~0) } });
    h.send(B, A, udp(53, 5000), { zone: 3, commit: false });
    const k = h.key();
    expect([k[FK_CT_ZONE], k[FK_CT_MARK], k[FK_CT_LABEL], k[FK_CT_LABEL + 3]]).toEqual([3, 7, 1, 2]);
    expect([k[FK_CT_NW_SRC], k[FK_CT_NW_DST], k[FK_CT_NW_PROTO], k[FK_CT_TP]]).toEqual([0x0a010101, 0x0a010102, 17, (5000 << 16) | 53]);
    expect(h.dump(false)).toEqual(['udp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=5000,dport=53),reply=(src=10.1.1.2,dst=10.1.1.1,sport=53,dport=5000),zone=3,mark=7,labels=0x1000000000000000000000002']);
  });

  it('an uncommitted new connection leaves nothing behind; mark/label need commit', () => {
    const h = new Harness();
    expect(h.send(A, B, udp(1, 2), { commit: false, mark: { value: 9, mask: ~0 } })).toBe('+trk+new');
    expect(h.key()[FK_CT_MARK]).toBe(0);
    expect(h.key()[FK_CT_NW_SRC]).toBe(0x0a010101);
    expect(h.ct.nconns()).toBe(0);
    expect(h.dump()).toEqual([]);
  });

  it('ICMP echo request/reply by id (OVS line)', () => {
    const h = new Harness();
    expect(h.send(A, B, { proto: 1, type: 8, id: 77 })).toBe('+trk+new');
    expect(h.send(A, B, { proto: 1, type: 8, id: 77 })).toBe('+trk+new');
    expect(h.send(B, A, { proto: 1, type: 0, id: 77 }, { commit: false })).toBe('+trk+est+rpl');
    expect(h.send(B, A, { proto: 1, type: 0, id: 78 }, { commit: false })).toBe('+trk+inv');
    expect(h.key()[FK_CT_TP]).toBe(0);
    h.send(A, B, { proto: 1, type: 8, id: 77 });
    expect(h.key()[FK_CT_TP]).toBe(8 << 16);
    expect(h.dump(false)).toEqual(['icmp,orig=(src=10.1.1.1,dst=10.1.1.2,id=77,type=8,code=0),reply=(src=10.1.1.2,dst=10.1.1.1,id=77,type=0,code=0)']);
  });

  it('ICMP port unreachable for a tracked UDP flow is +rel; for an unknown flow +inv', () => {
    const h = new Harness();
    h.send(A, B, udp(5000, 53));
    const inner = ipPacket(A, B, udp(5000, 53));
    expect(h.send(B, A, { proto: 1, type: 3, code: 3, inner }, { commit: false })).toBe('+trk+rel+rpl');
    expect(h.key()[FK_CT_TP]).toBe((5000 << 16) | 53);
    const other = ipPacket(A, B, udp(5001, 53));
    expect(h.send(B, A, { proto: 1, type: 3, code: 3, inner: other }, { commit: false })).toBe('+trk+inv');
    expect(h.ct.nconns()).toBe(1);
    expect(h.ct.counters().related).toBe(1);
  });

  it('IPv6: TCP, UDP, ICMPv6 echo, packet-too-big related, and other protocols (OVS lines)', () => {
    const h = new Harness();
    const X = 'fe80::1';
    const Y = '2001:db8::2';
    const lbl = { value: Uint32Array.of(0xff000000, 0, 0, 1), mask: Uint32Array.of(~0, ~0, ~0, ~0) };
    h.send(X, Y, { proto: 6, sport: 1, dport: 2, flags: 'S' }, { zone: 7, label: lbl });
    h.send(X, '2001:db8::1:0:0:2', udp(1, 2), { zone: 7, label: lbl });
    h.send(X, Y, { proto: 58, type: 128, id: 0 }, { zone: 7, label: lbl });
    h.send(X, Y, { proto: 132 }, { zone: 7, label: lbl });
    h.send(X, Y, { proto: 47 }, { zone: 7, label: lbl });
    expect(h.key()[FK_CT_IPV6_SRC]).toBe(0xfe800000);
    const inner = ipPacket(X, '2001:db8::1:0:0:2', udp(1, 2));
    expect(h.send('2001:db8::1:0:0:2', X, { proto: 58, type: 2, inner }, { zone: 7, commit: false })).toBe('+trk+rel+rpl');
    expect(h.dump(false, 7)).toEqual([
      '47,orig=(src=fe80::1,dst=2001:db8::2,sport=0,dport=0),reply=(src=2001:db8::2,dst=fe80::1,sport=0,dport=0),zone=7,labels=0xff000000000000000000000000000001',
      'icmpv6,orig=(src=fe80::1,dst=2001:db8::2,id=0,type=128,code=0),reply=(src=2001:db8::2,dst=fe80::1,id=0,type=129,code=0),zone=7,labels=0xff000000000000000000000000000001',
      'sctp,orig=(src=fe80::1,dst=2001:db8::2,sport=0,dport=0),reply=(src=2001:db8::2,dst=fe80::1,sport=0,dport=0),zone=7,labels=0xff000000000000000000000000000001',
      'tcp,orig=(src=fe80::1,dst=2001:db8::2,sport=1,dport=2),reply=(src=2001:db8::2,dst=fe80::1,sport=2,dport=1),zone=7,labels=0xff000000000000000000000000000001,protoinfo=(state=SYN_SENT)',
      'udp,orig=(src=fe80::1,dst=2001:db8::1:0:0:2,sport=1,dport=2),reply=(src=2001:db8::1:0:0:2,dst=fe80::1,sport=2,dport=1),zone=7,labels=0xff000000000000000000000000000001',
    ]);
    expect(formatCtStats(h.ct.dump(), true)).toBe('Connections Stats:\n    Total: 5\n  TCP: 1\n    Conn per TCP states:\n\t  [SYN_SENT]=1\n  UDP: 1\n  SCTP: 1\n  Other: 1\n');
  });

  // OVS's line, plus the per-direction counters OVS's userspace conntrack leaves out (issue 16: swd keeps them).
  it('-m -s form: id, status, timeout, mark (OVS line) and packets/bytes per direction', () => {
    const h = new Harness();
    h.send('10.1.1.3', B, { proto: 6, sport: 1, dport: 2, flags: 'S' }, { zone: 2, mark: { value: 0xffffffff, mask: ~0 } });
    const c = h.ct.dump()[0];
    expect(formatConn(c, { verbose: true, stats: true, nowMs: h.now + 1000 }).replace(/,id=\d+,/, ',id=0,')).toBe(
      'tcp,orig=(src=10.1.1.3,dst=10.1.1.2,sport=1,dport=2,packets=1,bytes=54),reply=(src=10.1.1.2,dst=10.1.1.3,sport=2,dport=1),id=0,zone=2,status=0,timeout=29,mark=4294967295,protoinfo=(state_orig=SYN_SENT,state_reply=CLOSED,flags_orig=0,flags_reply=0)');
  });

  it('unparseable packets are +trk+inv', () => {
    const h = new Harness();
    h.batch.clear();
    h.batch.push(new Uint8Array(60));
    h.batch.keys.fill(0);
    h.batch.keys[46] = 0x0806; // ARP
    h.ct.execute(h.batch, 0, h.batch.keys, 0, ctExec(), h.now);
    expect(h.batch.keys[2]).toBe(0x30);
  });
});

describe('zones, limits, flush, expiry', () => {
  it('the same 5-tuple in two zones is two connections', () => {
    const h = new Harness();
    h.send(A, B, udp(1, 2), { zone: 1 });
    h.send(A, B, udp(1, 2), { zone: 2 });
    expect(h.ct.nconns()).toBe(2);
    expect(h.send(B, A, udp(2, 1), { zone: 1, commit: false })).toBe('+trk+est+rpl');
    expect(h.send(B, A, udp(2, 1), { zone: 3, commit: false })).toBe('+trk+new');
    expect(h.dump().length).toBe(2);
    expect(h.ct.zoneCount(1)).toBe(1);
  });

  it('force on a reply-direction packet ends the old connection and commits a new one', () => {
    const h = new Harness();
    h.send(A, B, udp(1, 2));
    expect(h.send(B, A, udp(2, 1), { force: true })).toBe('+trk+new');
    expect(h.dump(false)).toEqual(['udp,orig=(src=10.1.1.2,dst=10.1.1.1,sport=2,dport=1),reply=(src=10.1.1.1,dst=10.1.1.2,sport=1,dport=2)']);
  });

  it('global and zone limits: not committed, +trk+new, counted', () => {
    const h = new Harness();
    h.ct.setMaxConns(3);
    h.ct.setLimits(0, [{ zone: 5, limit: 1 }]);
    expect(h.send(A, B, udp(1, 1), { zone: 5 })).toBe('+trk+new');
    expect(h.send(A, B, udp(1, 2), { zone: 5 })).toBe('+trk+new');
    expect(h.ct.nconns()).toBe(1);
    expect(h.ct.counters().zoneLimitDrops).toBe(1);
    h.send(A, B, udp(1, 3), { zone: 6 });
    h.send(A, B, udp(1, 4), { zone: 6 });
    expect(h.send(A, B, udp(1, 5), { zone: 6 })).toBe('+trk+new');
    expect(h.ct.nconns()).toBe(3);
    expect(h.ct.counters().limitDrops).toBe(1);
    expect(h.ct.getLimits([5, 6])).toEqual({ defaultLimit: 0, zones: [{ zone: 5, limit: 1, count: 1 }, { zone: 6, limit: 0, count: 2 }] });
    h.ct.delLimits([5]);
    h.ct.setMaxConns(10);
    expect(h.send(A, B, udp(1, 2), { zone: 5 })).toBe('+trk+new');
    expect(h.ct.nconns()).toBe(4);
  });

  it('flush: all, by zone, by orig tuple, by reply tuple', () => {
    const h = new Harness();
    for (let p = 1; p <= 4; p++) h.send(A, B, udp(p, 53), { zone: p % 2 });
    h.send(A, B, { proto: 6, sport: 9, dport: 80, flags: 'S' }, { zone: 0 });
    expect(h.ct.flush({ zone: 1 })).toBe(2);
    expect(h.ct.flush({ orig: { src: A, proto: 17, sport: 2 } })).toBe(1);
    expect(h.ct.flush({ reply: { src: B, dport: 9, proto: 6 } })).toBe(1);
    expect(h.dump(false)).toEqual(['udp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=4,dport=53),reply=(src=10.1.1.2,dst=10.1.1.1,sport=53,dport=4)']);
    expect(h.ct.flush()).toBe(1);
    expect(h.ct.nconns()).toBe(0);
  });

  it('expiry in bounded steps, and per-zone timeout policies', () => {
    const h = new Harness();
    h.ct.setTimeoutPolicy(9, { udp_first: 5 });
    expect(h.ct.getTimeoutPolicy(9).udp_first).toBe(5);
    expect(h.ct.getTimeoutPolicy(9).udp_multiple).toBe(30);
    for (let p = 1; p <= 100; p++) h.send(A, B, udp(p, 53), { zone: p <= 10 ? 9 : 0 });
    h.now += 5000;
    expect(h.dump().length).toBe(90); // expired ones are not dumped
    expect(h.send(A, B, udp(1, 53), { zone: 9, commit: false })).toBe('+trk+new'); // expired: not found
    let removed = 0;
    for (let i = 0; i < 20; i++) removed += h.ct.sweep(h.now, 7);
    expect(removed).toBe(9); // the 10th went when its packet found it expired
    expect(h.ct.nconns()).toBe(90);
    h.now += 60_000;
    let steps = 0;
    while (h.ct.nconns() > 0 && steps < 100) { h.ct.sweep(h.now, 16); steps++; }
    expect(h.ct.nconns()).toBe(0);
    expect(steps).toBeGreaterThanOrEqual(6);
    expect(h.ct.counters().expired).toBe(100);
  });
});
