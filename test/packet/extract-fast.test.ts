// extractCommon (extract-fast.ts): the one-pass parse of the usual IPv4
// UDP/TCP packet either declines or writes exactly what extractHeaders
// writes — for the packets it is for, for those it must leave alone, and
// for any bytes at all in their headers.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PacketBatch } from '../../src/packet/batch.ts';
import { composePacket } from '../../src/packet/compose.ts';
import { extractCommon } from '../../src/packet/extract-fast.ts';
import { extractBatchZeroed, extractHeaders, FK_HEADER_FIRST, ParseStats } from '../../src/packet/extract.ts';
import { FK_WORDS } from '../../src/packet/flow-key.ts';
import { parseOdpFlow } from '../../src/packet/odp-parse.ts';

const ETH = 'eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02)';
const packet = (t: string) => composePacket(parseOdpFlow(`${ETH},${t}`).key);
const UDP = packet('eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0x10,ttl=64,frag=no),udp(src=1000,dst=53)');
const TCP = packet('eth_type(0x0800),ipv4(src=10.1.1.1,dst=172.16.0.9,proto=6,tos=4,ttl=9,frag=no),tcp(src=34567,dst=80),tcp_flags(syn|ack)');

/** The two parses of `bytes` at HEADROOM of a slot: [fast took it, fast's words + offsets, extractHeaders' words + offsets]. */
function both(bytes: Uint8Array): [boolean, number[], number[]] {
  const b = new PacketBatch(2048);
  b.push(bytes);
  const kf = new Uint32Array(FK_WORDS), kg = new Uint32Array(FK_WORDS);
  const l3 = new Int32Array(1).fill(-7), l4 = new Int32Array(1).fill(-7);
  const took = extractCommon(b.views[0], b.start[0], b.len[0], kf, 0, l3, l4, 0);
  const fast = [...kf.subarray(FK_HEADER_FIRST), l3[0], l4[0]];
  extractHeaders(b.data[0], b.start[0], b.len[0], kg, 0, l3, l4, 0);
  return [took, fast, [...kg.subarray(FK_HEADER_FIRST), l3[0], l4[0]]];
}

describe('extractCommon', () => {
  it('parses an IPv4 UDP and an IPv4 TCP packet as extractHeaders does', () => {
    for (const p of [UDP, TCP]) {
      const [took, fast, full] = both(p);
      expect(took).toBe(true);
      expect(fast).toEqual(full);
    }
  });

  it('leaves VLAN, IPv6, ARP, ICMP, IP options, fragments and short headers to extractHeaders', () => {
    const withOptions = Uint8Array.from(UDP);
    withOptions[14] = 0x46;
    const fragment = Uint8Array.from(UDP);
    fragment[20] = 0x20; // MF
    const cases = [
      packet('eth_type(0x8100),vlan(vid=5,pcp=0),encap(eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1,dst=2))'),
      packet('eth_type(0x86dd),ipv6(src=fc00::1,dst=fc00::2,label=0,proto=17,tclass=0,hlimit=64,frag=no),udp(src=7,dst=8)'),
      packet('eth_type(0x0806),arp(sip=10.1.1.1,tip=10.1.1.2,op=1,sha=50:54:00:00:00:01,tha=00:00:00:00:00:00)'),
      packet('eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)'),
      withOptions, fragment, UDP.subarray(0, 41), TCP.subarray(0, 53),
    ];
    for (const p of cases) expect(both(p)[0]).toBe(false);
  });

  it('agrees with extractHeaders whenever it takes a packet, whatever the header bytes and length', () => {
    const header = fc.record({
      base: fc.constantFrom(UDP, TCP),
      edits: fc.array(fc.tuple(fc.integer({ min: 12, max: 60 }), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      cut: fc.integer({ min: 0, max: 30 }),
    });
    fc.assert(fc.property(header, ({ base, edits, cut }) => {
      const p = Uint8Array.from(base);
      for (const [o, v] of edits) if (o < p.length) p[o] = v;
      const [took, fast, full] = both(p.subarray(0, Math.max(0, p.length - cut)));
      if (took) expect(fast).toEqual(full);
    }), { numRuns: 2000 });
  });

  it('counts the packets it parses in ParseStats as parsed whole', () => {
    const b = new PacketBatch(2048);
    b.push(UDP);
    b.push(TCP.subarray(0, 40));
    const st = new ParseStats();
    extractBatchZeroed(b, st);
    expect({ packets: st.packets, malformed: st.malformed, badIpv4: st.badIpv4 }).toEqual({ packets: 2, malformed: 1, badIpv4: 1 });
  });
});
