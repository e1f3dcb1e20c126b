// Packets for the conntrack benchmarks: real composed UDP packets with their
// flow keys and header offsets, as the datapath would hand them to ct().

import { PacketBatch, BATCH_MAX } from '../src/packet/batch.ts';
import { composePacket } from '../src/packet/compose.ts';
import { extractHeaders } from '../src/packet/extract.ts';
import { FK_WORDS } from '../src/packet/flow-key.ts';
import { parseOdpFlow } from '../src/packet/odp-parse.ts';
import { setIpv4HeaderChecksum, setL4Checksum } from '../src/packet/checksum.ts';

export const TEMPLATE = composePacket(
  parseOdpFlow('eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.255.0.1,proto=17,tos=0,ttl=64,frag=no),udp(src=1000,dst=53)').key,
);

/** Load connection number `n` (distinct source address and port) into slot i, which holds TEMPLATE. */
export function loadConn(b: PacketBatch, i: number, n: number): void {
  const d = b.data[i];
  const s = b.start[i];
  const src = (0x0a000000 | ((n >>> 10) & 0xffffff)) >>> 0;
  d[s + 26] = src >>> 24; d[s + 27] = (src >>> 16) & 255; d[s + 28] = (src >>> 8) & 255; d[s + 29] = src & 255;
  const sport = 1024 + (n & 1023);
  d[s + 34] = sport >> 8; d[s + 35] = sport & 255;
  // Right checksums: conntrack checks them (src/conntrack/csum.ts).
  setIpv4HeaderChecksum(d, s + 14);
  setL4Checksum(d, s + 14, s + 34, s + b.len[i], 17);
  extractHeaders(d, s, b.len[i], b.keys, i * FK_WORDS, b.l3, b.l4, i);
}

/** A full batch of 32 packets of connection `n`. */
export function batchOfOneConn(n: number): PacketBatch {
  const b = new PacketBatch(256);
  for (let i = 0; i < BATCH_MAX; i++) {
    b.push(TEMPLATE);
    loadConn(b, i, n);
  }
  return b;
}
