// extractBatchZeroed: the datapath's receive parse, one fill for the whole
// batch — the same header words as extractBatch, and every metadata word 0.

import { describe, expect, it } from 'vitest';
import { PacketBatch } from '../../src/packet/batch.ts';
import { composePacket } from '../../src/packet/compose.ts';
import { extractBatch, extractBatchZeroed, FK_HEADER_FIRST, ParseStats } from '../../src/packet/extract.ts';
import { FK_WORDS } from '../../src/packet/flow-key.ts';
import { parseOdpFlow } from '../../src/packet/odp-parse.ts';

const ETH = 'eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02)';
const PACKETS = [
  `${ETH},eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1000,dst=53)`,
  `${ETH},eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=6,tos=4,ttl=9,frag=no),tcp(src=34567,dst=80),tcp_flags(syn)`,
  `${ETH},eth_type(0x86dd),ipv6(src=fc00::1,dst=fc00::2,label=5,proto=17,tclass=0,hlimit=64,frag=no),udp(src=7,dst=8)`,
  `${ETH},eth_type(0x0806),arp(sip=10.1.1.1,tip=10.1.1.2,op=1,sha=50:54:00:00:00:01,tha=00:00:00:00:00:00)`,
].map((t) => composePacket(parseOdpFlow(t).key));

describe('extractBatchZeroed', () => {
  it('writes the header words extractBatch writes and zeroes the metadata, over a batch left dirty by the last one', () => {
    const a = new PacketBatch(2048), b = new PacketBatch(2048);
    for (const p of PACKETS) {
      a.push(p);
      b.push(p);
    }
    a.keys.fill(0xdeadbeef);
    b.keys.fill(0xdeadbeef);
    const sa = new ParseStats(), sb = new ParseStats();
    extractBatch(a, sa);
    extractBatchZeroed(b, sb);
    for (let i = 0; i < PACKETS.length; i++) {
      const k = i * FK_WORDS;
      expect(Array.from(b.keys.subarray(k + FK_HEADER_FIRST, k + FK_WORDS))).toEqual(Array.from(a.keys.subarray(k + FK_HEADER_FIRST, k + FK_WORDS)));
      expect(Array.from(b.keys.subarray(k, k + FK_HEADER_FIRST))).toEqual(new Array(FK_HEADER_FIRST).fill(0));
    }
    expect([Array.from(b.l3.subarray(0, 4)), Array.from(b.l4.subarray(0, 4)), { ...sb }]).toEqual([Array.from(a.l3.subarray(0, 4)), Array.from(a.l4.subarray(0, 4)), { ...sa }]);
  });
});
