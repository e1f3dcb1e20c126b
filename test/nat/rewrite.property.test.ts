// NAT packet rewrite: for random IPv4/IPv6 TCP, UDP and ICMP echo packets
// with correct checksums and random target tuples, every checksum still
// verifies after the rewrite, and rewriting back restores the original
// bytes. ICMP errors (inner header) likewise; a zero UDP checksum stays zero.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { rewriteToTuple, rewriteIcmpError } from '../../src/nat/rewrite.ts';
import { ipv4HeaderChecksum, setIpv4HeaderChecksum, setL4Checksum, verifyL4Checksum } from '../../src/packet/checksum.ts';
import { rd16 } from '../../src/packet/bytes.ts';

const K_META = 0, K_SRC = 1, K_DST = 5, K_PORTS = 9;

interface Tuple { src: number[]; dst: number[]; sport: number; dport: number }

function build(v6: boolean, proto: number, t: Tuple, payload: number[], zeroUdp: boolean): { d: Uint8Array; l4: number } {
  const l4len = (proto === 6 ? 20 : 8) + payload.length;
  const l3len = v6 ? 40 : 20;
  const d = new Uint8Array(l3len + l4len);
  if (v6) {
    d[0] = 0x60; d[4] = l4len >> 8; d[5] = l4len & 0xff; d[6] = proto; d[7] = 64;
    for (let i = 0; i < 4; i++) for (let b = 0; b < 4; b++) {
      d[8 + i * 4 + b] = (t.src[i] >>> (24 - 8 * b)) & 0xff;
      d[24 + i * 4 + b] = (t.dst[i] >>> (24 - 8 * b)) & 0xff;
    }
  } else {
    d[0] = 0x45; d[2] = (20 + l4len) >> 8; d[3] = (20 + l4len) & 0xff; d[8] = 64; d[9] = proto;
    for (let b = 0; b < 4; b++) { d[12 + b] = (t.src[0] >>> (24 - 8 * b)) & 0xff; d[16 + b] = (t.dst[0] >>> (24 - 8 * b)) & 0xff; }
    setIpv4HeaderChecksum(d, 0);
  }
  const l4 = l3len;
  if (proto === 1 || proto === 58) {
    d[l4] = proto === 1 ? 8 : 128; d[l4 + 4] = t.sport >> 8; d[l4 + 5] = t.sport & 0xff;
  } else {
    d[l4] = t.sport >> 8; d[l4 + 1] = t.sport & 0xff; d[l4 + 2] = t.dport >> 8; d[l4 + 3] = t.dport & 0xff;
    if (proto === 17) { d[l4 + 4] = l4len >> 8; d[l4 + 5] = l4len & 0xff; }
    if (proto === 6) d[l4 + 12] = 0x50;
  }
  d.set(payload, l4 + (proto === 6 ? 20 : 8));
  if (!(proto === 17 && zeroUdp)) setL4Checksum(d, 0, l4, d.length, proto);
  return { d, l4 };
}

function key(v6: boolean, proto: number, t: Tuple): Int32Array {
  const k = new Int32Array(10);
  k[K_META] = (proto << 16) | ((v6 ? 1 : 0) << 24);
  for (let i = 0; i < 4; i++) { k[K_SRC + i] = v6 || i === 0 ? t.src[i] | 0 : 0; k[K_DST + i] = v6 || i === 0 ? t.dst[i] | 0 : 0; }
  k[K_PORTS] = ((t.sport << 16) | (proto === 1 || proto === 58 ? 0 : t.dport)) | 0;
  return k;
}

const word = fc.integer({ min: 0, max: 0xffffffff });
const tuple = fc.record({
  src: fc.array(word, { minLength: 4, maxLength: 4 }),
  dst: fc.array(word, { minLength: 4, maxLength: 4 }),
  sport: fc.integer({ min: 0, max: 0xffff }),
  dport: fc.integer({ min: 0, max: 0xffff }),
});

function checksOk(d: Uint8Array, v6: boolean, l4: number, proto: number): boolean {
  if (!v6 && ipv4HeaderChecksum(d, 0) !== rd16(d, 10)) return false;
  return verifyL4Checksum(d, 0, l4, d.length, proto);
}

describe('NAT rewrite', () => {
  it('keeps every checksum right and NAT then un-NAT restores the bytes', () => {
    fc.assert(fc.property(
      fc.boolean(), fc.constantFrom(6, 17, 1), tuple, tuple, fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 41 }),
      fc.boolean(),
      (v6, p, a, b, payload, zeroUdp) => {
        const proto = p === 1 && v6 ? 58 : p;
        const { d, l4 } = build(v6, proto, a, payload, zeroUdp && !v6);
        const before = d.slice();
        rewriteToTuple(d, 0, l4, d.length, v6 ? 1 : 0, proto, key(v6, proto, b), 0);
        const want = build(v6, proto, b, payload, zeroUdp && !v6).d;
        expect(d).toEqual(want); // incremental update = computed from scratch
        expect(checksOk(d, v6, l4, proto)).toBe(true);
        if (proto === 17 && zeroUdp && !v6) expect(rd16(d, l4 + 6)).toBe(0);
        rewriteToTuple(d, 0, l4, d.length, v6 ? 1 : 0, proto, key(v6, proto, a), 0);
        expect(d).toEqual(before);
      },
    ), { numRuns: 500 });
  });

  it('rewrites an ICMP error about a NATed UDP flow (outer and quoted header) and back', () => {
    fc.assert(fc.property(fc.boolean(), tuple, tuple, (v6, a, b) => {
      // Quoted packet: a UDP packet a.src:a.sport -> a.dst:a.dport (as sent).
      const inner = build(v6, 17, a, [1, 2, 3, 4], false).d;
      const quote = inner.subarray(0, (v6 ? 40 : 20) + 8);
      const l3len = v6 ? 40 : 20;
      const d = new Uint8Array(l3len + 8 + quote.length);
      const proto = v6 ? 58 : 1;
      // Outer: from the quoted packet's destination back to its source.
      const outer = build(v6, proto, { src: a.dst, dst: a.src, sport: 0, dport: 0 }, [], false).d;
      d.set(outer.subarray(0, l3len));
      if (v6) { d[4] = (8 + quote.length) >> 8; d[5] = (8 + quote.length) & 0xff; } else {
        d[2] = d.length >> 8; d[3] = d.length & 0xff; setIpv4HeaderChecksum(d, 0);
      }
      d[l3len] = v6 ? 1 : 3; d[l3len + 1] = 3;
      d.set(quote, l3len + 8);
      setL4Checksum(d, 0, l3len, d.length, proto);
      const before = d.slice();
      // The error travels the reverse way of the quoted packet: cur = reverse(a), target = reverse(b).
      const rev = (t: Tuple): Tuple => ({ src: t.dst, dst: t.src, sport: t.dport, dport: t.sport });
      const cur = key(v6, 17, rev(a));
      const tgt = key(v6, 17, rev(b));
      rewriteIcmpError(d, 0, l3len, d.length, v6 ? 1 : 0, cur, 0, tgt, 0);
      expect(checksOk(d, v6, l3len, proto)).toBe(true);
      // The quoted packet now reads as b, with a right IPv4 header checksum.
      const q = l3len + 8;
      if (!v6) expect(ipv4HeaderChecksum(d, q)).toBe(rd16(d, q + 10));
      expect(rd16(d, q + (v6 ? 40 : 20))).toBe(b.sport);
      expect(rd16(d, q + (v6 ? 42 : 22))).toBe(b.dport);
      rewriteIcmpError(d, 0, l3len, d.length, v6 ? 1 : 0, tgt, 0, cur, 0);
      expect(d).toEqual(before);
    }), { numRuns: 300 });
  });
});
