// Conntrack checks the checksums of the packets it tracks, as OVS's userspace
// conntrack does (lib/conntrack.c): a wrong IPv4 header, TCP, UDP, ICMP or
// ICMPv6 checksum makes the packet +inv, creates nothing, is counted and
// logged (rate-limited); a zero UDP checksum over IPv4 means "none"; a
// checksum the port already knows good (PacketBatch.csum, e.g. completed by a
// system port from a partial one) is not summed again.

import { afterEach, describe, expect, it } from 'vitest';
import { CSUM_L3_GOOD, CSUM_L4_GOOD } from '../../src/packet/batch.ts';
import { FK_CT_STATE } from '../../src/packet/flow-key.ts';
import { setLogSink } from '../../src/packet/log.ts';
import { checkChecksums, CSUM_BAD_IP, CSUM_BAD_L4, CSUM_MALFORMED, CSUM_OK, sum16 } from '../../src/conntrack/csum.ts';
import { ctExec, ctStateText, Harness, loadPacket, type L4Spec } from './helpers.ts';

const A = '10.1.1.1';
const B = '10.1.1.2';
const A6 = 'fd00::1';
const B6 = 'fd00::2';
const L3 = 14 + 64; // HEADROOM + Ethernet: where loadPacket puts the IP header

/** Send a packet after `spoil` changed its bytes (d, l3 = offset of the IP header, l4). */
function sendSpoiled(h: Harness, src: string, dst: string, s: L4Spec, spoil: (d: Uint8Array, l3: number, l4: number) => void,
  o: { commit?: boolean } = {}): string {
  loadPacket(h.batch, src, dst, s);
  spoil(h.batch.data[0], h.batch.l3[0], h.batch.l4[0]);
  h.ct.execute(h.batch, 0, h.batch.keys, 0, ctExec(o), h.now);
  return ctStateText(h.batch.keys[FK_CT_STATE]);
}

const flip = (at: (l3: number, l4: number) => number) => (d: Uint8Array, l3: number, l4: number) => { d[at(l3, l4)] ^= 0x01; };

afterEach(() => setLogSink(() => {}));

describe('checksums of tracked packets', () => {
  it('a wrong IPv4 header checksum is +inv, creates nothing and is counted', () => {
    const h = new Harness();
    expect(sendSpoiled(h, A, B, { proto: 17, sport: 5000, dport: 53, payload: 4 }, flip((l3) => l3 + 11))).toBe('+trk+inv');
    expect(h.ct.nconns()).toBe(0);
    expect(h.ct.counters().badChecksum).toBe(1);
    expect(h.ct.counters().invalid).toBe(1);
    // The same packet with its checksum intact is tracked.
    expect(h.send(A, B, { proto: 17, sport: 5000, dport: 53, payload: 4 })).toBe('+trk+new');
    expect(h.dump()).toEqual(['udp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=5000,dport=53),reply=(src=10.1.1.2,dst=10.1.1.1,sport=53,dport=5000)']);
  });

  it('a wrong TCP checksum is +inv for a new and for an established connection; the state does not move', () => {
    const h = new Harness();
    expect(sendSpoiled(h, A, B, { proto: 6, sport: 1234, dport: 80, flags: 'S', seq: 100 }, flip((_l3, l4) => l4 + 17))).toBe('+trk+inv');
    expect(h.ct.nconns()).toBe(0);
    expect(h.send(A, B, { proto: 6, sport: 1234, dport: 80, flags: 'S', seq: 100 })).toBe('+trk+new');
    expect(h.send(B, A, { proto: 6, sport: 80, dport: 1234, flags: 'SA', seq: 500, ack: 101 }, { commit: false })).toBe('+trk+est+rpl');
    // A spoiled payload byte of an ACK: invalid, and the connection stays SYN_RECV-side as it was.
    const before = h.dump(true);
    expect(sendSpoiled(h, A, B, { proto: 6, sport: 1234, dport: 80, flags: 'A', seq: 101, ack: 501, payload: 30 },
      flip((_l3, l4) => l4 + 25))).toBe('+trk+inv');
    expect(h.dump(true)).toEqual(before);
    expect(h.send(A, B, { proto: 6, sport: 1234, dport: 80, flags: 'A', seq: 101, ack: 501, payload: 30 })).toBe('+trk+est');
    expect(h.ct.counters().badChecksum).toBe(2);
  });

  it('UDP: a wrong checksum is +inv; zero over IPv4 means none; zero over IPv6 is wrong', () => {
    const h = new Harness();
    const u = { proto: 17, sport: 7, dport: 9, payload: 12 };
    expect(sendSpoiled(h, A, B, u, flip((_l3, l4) => l4 + 10))).toBe('+trk+inv');
    expect(sendSpoiled(h, A, B, u, (d, _l3, l4) => { d[l4 + 6] = 0; d[l4 + 7] = 0; })).toBe('+trk+new');
    expect(sendSpoiled(h, A6, B6, u, (d, _l3, l4) => { d[l4 + 6] = 0; d[l4 + 7] = 0; })).toBe('+trk+inv');
    expect(h.send(A6, B6, u)).toBe('+trk+new');
    expect(h.ct.counters().badChecksum).toBe(2);
  });

  it('ICMP and ICMPv6: a wrong checksum is +inv, also for an error about a tracked connection', () => {
    const h = new Harness();
    expect(sendSpoiled(h, A, B, { proto: 1, type: 8, id: 5 }, flip((_l3, l4) => l4 + 2))).toBe('+trk+inv');
    expect(sendSpoiled(h, A6, B6, { proto: 58, type: 128, id: 5 }, flip((_l3, l4) => l4 + 5))).toBe('+trk+inv');
    expect(h.send(A6, B6, { proto: 58, type: 128, id: 5 })).toBe('+trk+new');
    // Port unreachable about a tracked UDP flow: +rel when right, +inv when its checksum is wrong.
    h.send(A, B, { proto: 17, sport: 5000, dport: 53, payload: 4 });
    const inner = new Uint8Array(h.batch.data[0].subarray(L3, L3 + 28));
    const err = { proto: 1, type: 3, code: 3, inner };
    expect(sendSpoiled(h, B, A, err, flip((_l3, l4) => l4 + 9), { commit: false })).toBe('+trk+inv');
    expect(h.send(B, A, err, { commit: false })).toBe('+trk+rel+rpl');
    expect(h.ct.counters().badChecksum).toBe(3);
  });

  it('malformed lengths are +inv without counting a bad checksum', () => {
    const h = new Harness();
    // A UDP length beyond the IP payload.
    expect(sendSpoiled(h, A, B, { proto: 17, sport: 7, dport: 9, payload: 4 }, (d, _l3, l4) => { d[l4 + 4] = 0; d[l4 + 5] = 200; })).toBe('+trk+inv');
    expect(h.ct.counters()).toMatchObject({ badChecksum: 0, invalid: 1 });
  });

  it('a checksum the port marked good is not summed again; one found good is remembered', () => {
    const h = new Harness();
    const u = { proto: 17, sport: 7, dport: 9, payload: 12 };
    loadPacket(h.batch, A, B, u);
    h.batch.data[0][h.batch.l4[0] + 10] ^= 1;
    h.batch.csum[0] = CSUM_L4_GOOD; // e.g. the kernel validated it (VIRTIO_NET_HDR_F_DATA_VALID)
    h.ct.execute(h.batch, 0, h.batch.keys, 0, ctExec(), h.now);
    expect(ctStateText(h.batch.keys[FK_CT_STATE])).toBe('+trk+new');
    expect(h.batch.csum[0]).toBe(CSUM_L3_GOOD | CSUM_L4_GOOD);
    expect(h.ct.counters().badChecksum).toBe(0);
  });

  it('logs a rate-limited warning per bad packet', () => {
    const lines: string[] = [];
    setLogSink((module, level, _f, msg) => lines.push(`${module} ${level} ${msg}`));
    const h = new Harness();
    for (let i = 0; i < 3; i++) sendSpoiled(h, A, B, { proto: 6, sport: 1, dport: 2, flags: 'S' }, flip((_l3, l4) => l4 + 16));
    sendSpoiled(h, A, B, { proto: 6, sport: 1, dport: 2, flags: 'S' }, flip((l3) => l3 + 10));
    expect(lines).toEqual([
      'conntrack warn zone 0: bad TCP checksum, packet marked invalid',
      'conntrack warn zone 0: bad TCP checksum, packet marked invalid',
      'conntrack warn zone 0: bad TCP checksum, packet marked invalid',
      'conntrack warn zone 0: bad IPv4 header checksum, packet marked invalid',
    ]);
  });
});

describe('checkChecksums and sum16', () => {
  it('sum16 equals the plain 16-bit word sum for every length and start', () => {
    const d = new Uint8Array(97).map((_, i) => (i * 37 + 11) & 0xff);
    for (let s = 0; s < 5; s++) {
      for (let e = s; e <= d.length; e++) {
        let ref = 0;
        for (let i = s; i < e; i += 2) ref += (d[i] << 8) | (i + 1 < e ? d[i + 1] : 0);
        expect(sum16(d, s, e)).toBe(ref);
      }
    }
  });

  it('tells which checksum is wrong', () => {
    const h = new Harness();
    loadPacket(h.batch, A, B, { proto: 6, sport: 1, dport: 2, flags: 'S' });
    const b = h.batch;
    const d = b.data[0];
    const check = () => { b.csum[0] = 0; return checkChecksums(b, 0, d, b.l3[0], b.l4[0], b.start[0] + b.len[0], 6, 0); };
    expect(check()).toBe(CSUM_OK);
    d[b.l4[0] + 16] ^= 0x80;
    expect(check()).toBe(CSUM_BAD_L4);
    d[b.l3[0] + 10] ^= 0x80;
    expect(check()).toBe(CSUM_BAD_IP);
    d[b.l3[0] + 10] ^= 0x80;
    d[b.l4[0] + 16] ^= 0x80;
    d[b.l4[0] + 12] = 0x40; // data offset 16 bytes: too short a TCP header
    expect(check()).toBe(CSUM_MALFORMED);
  });
});
