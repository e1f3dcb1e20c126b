// Internet checksums: the RFC 1071 sum, and RFC 1624 incremental updates
// that must equal a full recompute for any packet and any rewrite.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  csumAdd, csumFinish, csumFold, csumUpdate16, csumUpdate32, ipv4HeaderChecksum, l4Checksum, setIpv4HeaderChecksum, setL4Checksum, verifyL4Checksum,
} from '../../src/packet/checksum.ts';
import { rd16, rd32, wr16, wr32 } from '../../src/packet/bytes.ts';

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });

/** An Ethernet/IPv4 or IPv6 packet with a TCP or UDP header and random payload, checksums filled in. */
const packetArb = fc.record({
  v6: fc.boolean(),
  proto: fc.constantFrom(6, 17),
  addrs: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  l4: fc.uint8Array({ minLength: 20, maxLength: 120 }),
}).map(({ v6, proto, addrs, l4 }) => {
  const l3len = v6 ? 40 : 20;
  const d = new Uint8Array(14 + l3len + l4.length);
  wr16(d, 12, v6 ? 0x86dd : 0x0800);
  if (v6) {
    d[14] = 0x60;
    wr16(d, 18, l4.length);
    d[20] = proto;
    d[21] = 64;
    d.set(addrs, 22);
  } else {
    d[14] = 0x45;
    wr16(d, 16, 20 + l4.length);
    d[22] = 64;
    d[23] = proto;
    d.set(addrs.subarray(0, 8), 26);
    setIpv4HeaderChecksum(d, 14);
  }
  const l4o = 14 + l3len;
  d.set(l4, l4o);
  if (proto === 17) wr16(d, l4o + 4, l4.length);
  else d[l4o + 12] = 0x50 | (d[l4o + 12] & 0x0f);
  setL4Checksum(d, 14, l4o, d.length, proto);
  return { d, v6, proto, l4: l4o, csum: l4o + (proto === 6 ? 16 : 6) };
});

/** Apply the UDP rule to an incrementally updated checksum (0 is sent as 0xffff). */
const udpRule = (proto: number, c: number) => (proto === 17 && c === 0 ? 0xffff : c);

describe('full checksums', () => {
  it('computes the RFC 1071 example', () => {
    const d = Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    expect(csumFold(csumAdd(d, 0, d.length))).toBe(0xddf2);
    expect(csumFinish(csumAdd(d, 0, d.length))).toBe(0x220d);
  });

  it('pads an odd trailing byte with zero', () => {
    const d = Uint8Array.from([0x12, 0x34, 0x56]);
    expect(csumAdd(d, 0, 3)).toBe(0x1234 + 0x5600);
  });

  it('a packet with its checksum in place sums to 0xffff', () => {
    fc.assert(
      fc.property(packetArb, ({ d, v6, proto, l4 }) => {
        expect(verifyL4Checksum(d, 14, l4, d.length, proto)).toBe(true);
        if (!v6) expect(csumFold(csumAdd(d, 14, 34))).toBe(0xffff);
      }),
    );
  });
});

describe('incremental checksums (RFC 1624) equal a full recompute', () => {
  it('for any 16-bit word of the L4 header or payload', () => {
    fc.assert(
      fc.property(packetArb, fc.nat(), u16, ({ d, proto, l4, csum }, at, now) => {
        const words = (d.length - l4) >> 1;
        let o = l4 + 2 * (at % words);
        if (o === csum) o = l4; // the checksum field itself is not data
        const old = rd16(d, o);
        wr16(d, o, now);
        const inc = udpRule(proto, csumUpdate16(rd16(d, csum), old, now));
        expect(inc).toBe(l4Checksum(d, 14, l4, d.length, proto));
      }),
      { numRuns: 500 },
    );
  });

  it('for a 32-bit address in the pseudo-header (L4) and in the IPv4 header', () => {
    fc.assert(
      fc.property(packetArb, fc.nat(7), u32, ({ d, v6, proto, l4, csum }, which, now) => {
        const o = v6 ? 22 + 4 * which : 26 + 4 * (which & 1);
        const old = rd32(d, o);
        wr32(d, o, now);
        const inc = udpRule(proto, csumUpdate32(rd16(d, csum), old, now));
        expect(inc).toBe(l4Checksum(d, 14, l4, d.length, proto));
        if (!v6) {
          wr16(d, 24, csumUpdate32(rd16(d, 24), old, now));
          const ipInc = rd16(d, 24);
          expect(ipInc).toBe(ipv4HeaderChecksum(d, 14));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('for a chain of random rewrites', () => {
    fc.assert(
      fc.property(packetArb, fc.array(fc.tuple(fc.nat(), u16), { minLength: 1, maxLength: 10 }), ({ d, proto, l4, csum }, edits) => {
        const words = (d.length - l4) >> 1;
        for (const [at, now] of edits) {
          const o = l4 + 2 * (at % words);
          if (o === csum) continue;
          const old = rd16(d, o);
          wr16(d, o, now);
          wr16(d, csum, udpRule(proto, csumUpdate16(rd16(d, csum), old, now)));
        }
        expect(rd16(d, csum)).toBe(l4Checksum(d, 14, l4, d.length, proto));
      }),
      { numRuns: 300 },
    );
  });

  it('updating a word to its own value changes nothing', () => {
    fc.assert(fc.property(u16, u16, (c, w) => {
      if (c === 0xffff) return; // never produced by a full computation over non-zero data
      expect(csumUpdate16(c, w, w)).toBe(c);
    }));
  });
});

describe('UDP zero checksum rules', () => {
  /** A UDP/IPv4 (or IPv6) packet whose checksum computes to 0. */
  function zeroSumUdp(v6: boolean) {
    const l3len = v6 ? 40 : 20;
    const d = new Uint8Array(14 + l3len + 8 + 4);
    wr16(d, 12, v6 ? 0x86dd : 0x0800);
    if (v6) {
      d[14] = 0x60;
      wr16(d, 18, 12);
      d[20] = 17;
      d[21] = 64;
      d[37] = 1;
      d[53] = 2;
    } else {
      d[14] = 0x45;
      wr16(d, 16, 32);
      d[22] = 64;
      d[23] = 17;
      wr32(d, 26, 0x0a010101);
      wr32(d, 30, 0x0a010102);
    }
    const l4 = 14 + l3len;
    wr16(d, l4, 1000);
    wr16(d, l4 + 2, 53);
    wr16(d, l4 + 4, 12);
    // Make the data sum 0xffff: put the checksum of the rest into the payload.
    const c = l4Checksum(d, 14, l4, d.length, 17);
    wr16(d, l4 + 8, c);
    return { d, l4 };
  }

  it('sends a computed 0 as 0xffff (RFC 768), and it verifies', () => {
    for (const v6 of [false, true]) {
      const { d, l4 } = zeroSumUdp(v6);
      expect(csumFinish(csumAdd(d, l4, d.length) + (v6 ? 17 + 12 + csumAdd(d, 22, 54) : 17 + 12 + csumAdd(d, 26, 34)))).toBe(0);
      expect(l4Checksum(d, 14, l4, d.length, 17)).toBe(0xffff);
      setL4Checksum(d, 14, l4, d.length, 17);
      expect([rd16(d, l4 + 6), verifyL4Checksum(d, 14, l4, d.length, 17)]).toEqual([0xffff, true]);
    }
  });

  it('accepts a zero checksum over IPv4 (no checksum) but not over IPv6', () => {
    const { d: d4, l4: l44 } = zeroSumUdp(false);
    wr16(d4, l44 + 8, 0x1234);
    wr16(d4, l44 + 6, 0);
    expect(verifyL4Checksum(d4, 14, l44, d4.length, 17)).toBe(true);
    const { d: d6, l4: l46 } = zeroSumUdp(true);
    wr16(d6, l46 + 8, 0x1234);
    wr16(d6, l46 + 6, 0);
    expect(verifyL4Checksum(d6, 14, l46, d6.length, 17)).toBe(false);
  });

  it('does not apply the 0xffff rule to TCP', () => {
    const d = new Uint8Array(14 + 20 + 20);
    d[14] = 0x45;
    wr16(d, 16, 40);
    d[23] = 6;
    d[46] = 0x50;
    const c = l4Checksum(d, 14, 34, d.length, 6);
    wr16(d, 52, c); // urgent pointer carries the complement: the sum becomes 0xffff
    expect(l4Checksum(d, 14, 34, d.length, 6)).toBe(0);
  });
});
