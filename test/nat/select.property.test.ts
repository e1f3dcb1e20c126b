// Tuple selection: the chosen reply tuple is in the range, not taken, and
// exhaustion is reported when every candidate is taken.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compileNat } from '../../src/nat/range.ts';
import { selectTuple, type TupleProbe } from '../../src/nat/select.ts';

const keyStr = (k: Int32Array) => Array.from(k).join(',');

function origKey(src: number, dst: number, sport: number, dport: number, proto = 17): Int32Array {
  return Int32Array.of(1 | (proto << 16), src, 0, 0, 0, dst, 0, 0, 0, ((sport << 16) | dport) | 0);
}

function rev(k: Int32Array): Int32Array {
  const p = k[9] >>> 0;
  return Int32Array.of(k[0], k[5], k[6], k[7], k[8], k[1], k[2], k[3], k[4], (((p & 0xffff) << 16) | (p >>> 16)) | 0);
}

class SetProbe implements TupleProbe {
  constructor(readonly set: Set<string>) {}
  taken(k: Int32Array): boolean { return this.set.has(keyStr(k)); }
}

describe('NAT tuple selection', () => {
  it('SNAT picks an address and port in range, unique among taken tuples', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 1, max: 60 }),
      fc.integer({ min: 1, max: 0xffff }), fc.boolean(), (na, np, nconns, sport, random) => {
        const range = compileNat({ kind: 'src', addrMin: '10.1.1.240', addrMax: `10.1.1.${240 + na}`, portMin: 1000, portMax: 1000 + np, random });
        const taken = new Set<string>();
        const probe = new SetProbe(taken);
        const cap = (na + 1) * (np + 1);
        for (let i = 0; i < nconns; i++) {
          const k = origKey(0x0a010101 + i, 0x0a010102, sport, 53);
          const out = rev(k);
          const ok = selectTuple(range, k, 0, out, 0, 1234, probe);
          if (i >= cap) { expect(ok).toBe(false); continue; }
          expect(ok).toBe(true);
          const a = out[5] >>> 0;
          expect(a).toBeGreaterThanOrEqual(0x0a0101f0);
          expect(a).toBeLessThanOrEqual(0x0a0101f0 + na);
          expect(out[9] & 0xffff).toBeGreaterThanOrEqual(1000);
          expect(out[9] & 0xffff).toBeLessThanOrEqual(1000 + np);
          expect(out[1]).toBe(k[5]); // server side untouched
          expect(taken.has(keyStr(out))).toBe(false);
          taken.add(keyStr(out));
        }
      }), { numRuns: 200 });
  });

  it('SNAT without a port range keeps the port when free, then walks up from it (as OVS 3.1)', () => {
    const range = compileNat({ kind: 'src', addrMin: '10.1.1.240' });
    const taken = new Set<string>();
    const ports: number[] = [];
    for (let i = 0; i < 4; i++) {
      const k = origKey(0x0a010101 + i, 0x0a010102, 5000, 80, 6);
      const out = rev(k);
      expect(selectTuple(range, k, 0, out, 0, 99, new SetProbe(taken))).toBe(true);
      taken.add(keyStr(out));
      ports.push(out[9] & 0xffff);
    }
    expect(ports).toEqual([5000, 5001, 5002, 5003]);
  });

  it('DNAT spreads over every address; persistent maps one client to one address', () => {
    const range = compileNat({ kind: 'dst', addrMin: '10.0.0.10', addrMax: '10.0.0.12', portMin: 8080 });
    const seen = new Set<number>();
    for (let p = 40000; p < 40064; p++) {
      const k = origKey(0x0a010101, 0x0a000001, p, 80, 6);
      const out = rev(k);
      expect(selectTuple(range, k, 0, out, 0, 7, new SetProbe(new Set()))).toBe(true);
      expect(out[9] >>> 16).toBe(8080);
      seen.add(out[1] >>> 0);
    }
    expect([...seen].sort()).toEqual([0x0a00000a, 0x0a00000b, 0x0a00000c]);
    const pr = compileNat({ kind: 'src', addrMin: '10.1.1.240', addrMax: '10.1.1.255', persistent: true });
    const addrs = new Set<number>();
    for (let p = 40000; p < 40032; p++) {
      const k = origKey(0x0a010101, 0x0a000001 + p, p, 80, 6);
      const out = rev(k);
      selectTuple(pr, k, 0, out, 0, 7, new SetProbe(new Set()));
      addrs.add(out[5]);
    }
    expect(addrs.size).toBe(1);
  });

  it('ICMP only changes the address (the echo id stays, as OVS 3.1)', () => {
    const range = compileNat({ kind: 'src', addrMin: '10.1.1.240' });
    const k = Int32Array.of(1 | (1 << 16), 0x0a010101, 0, 0, 0, 0x0a010102, 0, 0, 0, (7 << 16) | (8 << 8));
    const out = rev(k);
    out[9] = (7 << 16) | (0 << 8);
    const taken = new Set<string>();
    expect(selectTuple(range, k, 0, out, 0, 1, new SetProbe(taken))).toBe(true);
    taken.add(keyStr(out));
    const k2 = k.slice(); k2[1] = 0x0a010103;
    const out2 = rev(k2); out2[9] = out[9];
    expect(selectTuple(range, k2, 0, out2, 0, 1, new SetProbe(taken))).toBe(false);
  });
});
