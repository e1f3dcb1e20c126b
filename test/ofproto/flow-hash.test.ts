// OVS's flow hashes (src/ofproto/flow-hash.ts): lookup3 as Bob Jenkins
// published it, and the symmetric field sets hashing both directions alike.

import { describe, expect, it } from 'vitest';
import { jhashBytes, multipathLink, ovsFlowHash, type Reads } from '../../src/ofproto/flow-hash.ts';
import { parseOdpFlow } from '../../src/packet/odp-parse.ts';
import { FK_TP_DST, FK_TP_SRC } from '../../src/packet/flow-key.ts';

const key = (text: string) => parseOdpFlow(text).key;
const tcp = (src: string, dst: string, sport: number, dport: number, smac = '50:54:00:00:00:01', dmac = '50:54:00:00:00:02') =>
  key(`eth(src=${smac},dst=${dmac}),eth_type(0x0800),ipv4(src=${src},dst=${dst},proto=6,tos=0,ttl=64,frag=no),tcp(src=${sport},dst=${dport})`);

describe('OVS flow hashes', () => {
  it("jhash_bytes is lookup3's (the reference's test vectors)", () => {
    const s = new TextEncoder().encode('Four score and seven years ago');
    expect(jhashBytes(s, 0).toString(16)).toBe('17770551');
    expect(jhashBytes(s, 1).toString(16)).toBe('cd628161');
    expect(jhashBytes(new Uint8Array(0), 0).toString(16)).toBe('deadbeef');
  });

  it('symmetric field sets hash both directions alike; symmetric_l4 reads TCP ports, not UDP ones', () => {
    for (const f of ['symmetric_l4', 'symmetric_l3l4', 'symmetric_l3l4+udp', 'symmetric_l3']) {
      const a = ovsFlowHash(tcp('10.0.0.1', '10.0.0.2', 1000, 80), f, 7, []);
      const b = ovsFlowHash(tcp('10.0.0.2', '10.0.0.1', 80, 1000, '50:54:00:00:00:02', '50:54:00:00:00:01'), f, 7, []);
      expect(a, f).toBe(b);
    }
    const reads: Reads = [];
    ovsFlowHash(tcp('10.0.0.1', '10.0.0.2', 1000, 80), 'symmetric_l4', 0, reads);
    expect(reads.some(([w]) => w === FK_TP_SRC) && reads.some(([w]) => w === FK_TP_DST)).toBe(true);
    const udp = key('eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1,dst=2)');
    const udp2 = key('eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=3,dst=4)');
    const r2: Reads = [];
    expect(ovsFlowHash(udp, 'symmetric_l4', 0, r2)).toBe(ovsFlowHash(udp2, 'symmetric_l4', 0, []));
    expect(r2.some(([w]) => w === FK_TP_SRC)).toBe(false);
  });

  it('multipath links stay in range for every algorithm', () => {
    for (const alg of ['modulo_n', 'hash_threshold', 'hrw', 'iter_hash']) {
      for (let h = 0; h < 2000; h++) {
        const x = (Math.imul(h, 0x9e3779b1) >>> 0);
        const l = multipathLink(alg, x, 3, 0);
        expect(l >= 0 && l < 3, `${alg} ${x}`).toBe(true);
      }
    }
    expect(multipathLink('hash_threshold', 0xffffffff, 2, 0)).toBe(1);
    expect(multipathLink('hash_threshold', 0x7fffffff, 2, 0)).toBe(0);
  });
});
