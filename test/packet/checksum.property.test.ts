// Checksums: incremental updates (RFC 1624) agree with a full recompute.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  csumUpdate16, csumUpdate32, ipv4HeaderChecksum, setIpv4HeaderChecksum, setL4Checksum, verifyL4Checksum,
} from '../../src/packet/checksum.ts';
import { rd16, rd32, wr16, wr32 } from '../../src/packet/bytes.ts';
import { composePacket } from '../../src/packet/compose.ts';
import { parseOdpFlow } from '../../src/packet/odp-parse.ts';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u16 = fc.integer({ min: 0, max: 0xffff });

function udpPacket(src: number, dst: number, sport: number, dport: number, proto: 6 | 17): Uint8Array {
  const ip = (v: number) => `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  const l4 = proto === 6 ? `tcp(src=${sport},dst=${dport})` : `udp(src=${sport},dst=${dport})`;
  return composePacket(parseOdpFlow(`eth(src=00:00:00:00:00:01,dst=00:00:00:00:00:02),eth_type(0x0800),ipv4(src=${ip(src)},dst=${ip(dst)},proto=${proto},tos=0,ttl=64,frag=no),${l4}`).key);
}

describe('checksums', () => {
  it('composed packets carry valid IPv4 and L4 checksums', () => {
    fc.assert(
      fc.property(u32, u32, u16, u16, fc.constantFrom(6 as const, 17 as const), (s, d, sp, dp, proto) => {
        const p = udpPacket(s, d, sp, dp, proto);
        expect(ipv4HeaderChecksum(p, 14)).toBe(rd16(p, 24));
        expect(verifyL4Checksum(p, 14, 34, p.length, proto)).toBe(true);
      }),
    );
  });

  it('an incremental address update equals a full recompute (IPv4 header and pseudo-header)', () => {
    fc.assert(
      fc.property(u32, u32, u16, u16, fc.constantFrom(6 as const, 17 as const), u32, (s, d, sp, dp, proto, ns) => {
        const p = udpPacket(s, d, sp, dp, proto);
        const csumOfs = proto === 6 ? 34 + 16 : 34 + 6;
        const old = rd32(p, 26);
        wr32(p, 26, ns);
        wr16(p, 24, csumUpdate32(rd16(p, 24), old, ns));
        const l4c = rd16(p, csumOfs);
        let upd = csumUpdate32(l4c, old, ns);
        if (proto === 17 && upd === 0) upd = 0xffff;
        wr16(p, csumOfs, upd);
        const full = new Uint8Array(p);
        setIpv4HeaderChecksum(full, 14);
        setL4Checksum(full, 14, 34, full.length, proto);
        expect(rd16(p, 24)).toBe(rd16(full, 24));
        // One's complement has two zeros (0x0000/0xffff); both verify.
        expect(verifyL4Checksum(p, 14, 34, p.length, proto)).toBe(true);
      }),
    );
  });

  it('an incremental port update equals a full recompute', () => {
    fc.assert(
      fc.property(u32, u32, u16, u16, u16, (s, d, sp, dp, np) => {
        const p = udpPacket(s, d, sp, dp, 6);
        const old = rd16(p, 34);
        wr16(p, 34, np);
        wr16(p, 50, csumUpdate16(rd16(p, 50), old, np));
        expect(verifyL4Checksum(p, 14, 34, p.length, 6)).toBe(true);
      }),
    );
  });

  it('treats a zero UDP checksum over IPv4 as no checksum', () => {
    const p = udpPacket(1, 2, 3, 4, 17);
    wr16(p, 40, 0);
    expect(verifyL4Checksum(p, 14, 34, p.length, 17)).toBe(true);
  });
});
