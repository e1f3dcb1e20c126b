// The batch look-ahead (src/conntrack/prefetch.ts) in a table large enough
// to use it: a batch through the datapath's entry point (executeInBatch,
// endBatch) gets the same ct_state per packet as the same packets one at a
// time, with existing and new connections, a run of one connection, IPv6,
// ICMP, a dropped packet and a packet changed after the look-ahead read it.

import { describe, expect, it } from 'vitest';
import { Conntrack } from '../../src/conntrack/conntrack.ts';
import { PF_MIN_RECORDS } from '../../src/conntrack/prefetch.ts';
import { extractHeaders } from '../../src/packet/extract.ts';
import { FK_CT_STATE, FK_NW_SRC, FK_TP_SRC, FK_WORDS } from '../../src/packet/flow-key.ts';
import { PacketBatch } from '../../src/packet/batch.ts';
import { ctExec, ctStateText, ipPacket, type L4Spec } from './helpers.ts';

type Pkt = [src: string, dst: string, spec: L4Spec];

function frame(src: string, dst: string, s: L4Spec): Uint8Array {
  const ip = ipPacket(src, dst, s);
  const f = new Uint8Array(14 + ip.length);
  const v6 = src.includes(':');
  f[12] = v6 ? 0x86 : 0x08; f[13] = v6 ? 0xdd : 0x00;
  f.set(ip, 14);
  return f;
}

function batchOf(pkts: Pkt[]): PacketBatch {
  const b = new PacketBatch(256);
  for (const [src, dst, s] of pkts) {
    const i = b.push(frame(src, dst, s));
    extractHeaders(b.data[i], b.start[i], b.len[i], b.keys, i * FK_WORDS, b.l3, b.l4, i);
  }
  return b;
}

const addr = (n: number) => `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
const conn = (n: number): Pkt => [addr(n), '10.200.0.1', { proto: 17, sport: 1000 + (n % 7), dport: 53 }];
const reply = (n: number): Pkt => ['10.200.0.1', addr(n), { proto: 17, sport: 53, dport: 1000 + (n % 7) }];

/** Two tables with the same history: more records than PF_MIN_RECORDS, established (both ways seen). */
function tables(): Conntrack[] {
  const n = PF_MIN_RECORDS + 1000;
  return [1, 2].map(() => {
    const ct = Conntrack.create({ capacity: n + 1024, seed: 0x77 });
    for (const f of [conn, reply]) {
      for (let i = 0; i < n; i += 32) {
        const b = batchOf(Array.from({ length: Math.min(32, n - i) }, (_, j) => f(i + j)));
        for (let j = 0; j < b.count; j++) ct.execute(b, j, b.keys, j * FK_WORDS, ctExec(), 1000);
      }
    }
    expect(ct.nconns()).toBe(n);
    return ct;
  });
}

describe('conntrack batch look-ahead', () => {
  it('a mixed batch: each packet gets the state it gets one at a time', () => {
    const [batched, single] = tables();
    const pkts: Pkt[] = [
      conn(5), conn(9000), conn(17000), ['10.250.0.1', '10.200.0.1', { proto: 17, sport: 1, dport: 53 }],
      conn(77), conn(77), conn(77), conn(77), // a run
      reply(5),
      ['fd00::1', 'fd00::2', { proto: 6, sport: 5, dport: 6, flags: 'S', seq: 1 }],
      ['10.1.1.1', '10.1.1.2', { proto: 1, type: 8, id: 3 }],
      conn(12345), conn(3), conn(4), conn(16999), conn(100), conn(101), conn(102), conn(103), conn(104),
    ];
    const noCommit = ctExec({ commit: false });
    const commit = ctExec();
    const run = (ct: Conntrack, inBatch: boolean): string[] => {
      const b = batchOf(pkts);
      b.dropped[13] = 1; // a packet an earlier action dropped: not sent to ct(), nor looked ahead
      const out: string[] = [];
      for (let i = 0; i < b.count; i++) {
        if (i === 2) {
          // Packet 5 changed after the look-ahead read it (a set_field): now conn(78)'s tuple, an existing connection.
          b.keys[5 * FK_WORDS + FK_NW_SRC] = 0x0a00004e;
          b.keys[5 * FK_WORDS + FK_TP_SRC] = 1000 + (78 % 7);
        }
        if (b.dropped[i] !== 0) { out.push('dropped'); continue; }
        const a = i % 3 === 0 ? commit : noCommit;
        if (inBatch) ct.executeInBatch(b, i, b.keys, i * FK_WORDS, a, 2000);
        else ct.execute(b, i, b.keys, i * FK_WORDS, a, 2000);
        out.push(ctStateText(b.keys[i * FK_WORDS + FK_CT_STATE]));
      }
      if (inBatch) ct.endBatch();
      return out;
    };
    const want = run(single, false);
    expect(run(batched, true)).toEqual(want);
    expect(want.slice(0, 4)).toEqual(['+trk+est', '+trk+est', '+trk+est', '+trk+new']);
    expect(want.slice(4, 9)).toEqual(['+trk+est', '+trk+est', '+trk+est', '+trk+est', '+trk+est+rpl']);
    expect(want[13]).toBe('dropped');
    expect(batched.nconns()).toBe(single.nconns());
    expect(batched.dump(undefined, 2000).map((c) => [c.id, c.packetsOrig, c.packetsReply]).sort())
      .toEqual(single.dump(undefined, 2000).map((c) => [c.id, c.packetsOrig, c.packetsReply]).sort());
  });
});
