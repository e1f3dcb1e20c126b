// The batch path's fast paths (src/conntrack/run-path.ts) in a table large
// enough for the batch look-ahead (prefetch.ts): a lookup that finds an
// existing connection (lookupHit), the next packets of the same connection
// (runHit) and a run whose record no longer changes (runSteady) write
// exactly the flow-key words, carried connection and connection state that
// the general path (execute(), one packet at a time) writes, whatever the
// ct_* words held before (fast-check).

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Conntrack } from '../../src/conntrack/conntrack.ts';
import { PF_MIN_RECORDS } from '../../src/conntrack/prefetch.ts';
import { extractHeaders } from '../../src/packet/extract.ts';
import { FK_CT_STATE, FK_CT_TP, FK_WORDS } from '../../src/packet/flow-key.ts';
import { PacketBatch } from '../../src/packet/batch.ts';
import { ctExec, ipPacket } from './helpers.ts';

const NCONNS = PF_MIN_RECORDS + 500;
const ACTIONS = [
  ctExec({}),
  ctExec({ commit: false }),
  ctExec({ mark: { value: 0x5a, mask: 0xff }, label: { value: Uint32Array.of(0, 0, 0, 7), mask: Uint32Array.of(0, 0, 0, 0xff) } }),
  ctExec({ force: true }),
];

/** Connection n's endpoints: a UDP client per n towards one server (as bench/ct-packets.ts). */
function endpoints(n: number): [string, string, number, number] {
  const src = `10.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  return [src, '10.255.0.1', 1024 + (n % 1000), 53];
}

function push(b: PacketBatch, n: number, reply: boolean, payload: number, proto = 17): number {
  const [c, s, cp, sp] = endpoints(n);
  const ip = reply
    ? ipPacket(s, c, { proto, sport: sp, dport: cp, payload, flags: 'A', seq: 1, ack: 1 })
    : ipPacket(c, s, { proto, sport: cp, dport: sp, payload, flags: 'A', seq: 1, ack: 1 });
  const f = new Uint8Array(14 + ip.length);
  f[12] = 0x08;
  f.set(ip, 14);
  const i = b.push(f);
  extractHeaders(b.data[i], b.start[i], b.len[i], b.keys, i * FK_WORDS, b.l3, b.l4, i);
  return i;
}

/** Two tables with the same connections: one for one packet at a time, one for batches. */
function tables(): [Conntrack, Conntrack] {
  const seed = 0x51ed;
  const one = Conntrack.create({ capacity: NCONNS + 4096, seed });
  const many = Conntrack.create({ capacity: NCONNS + 4096, seed });
  const b = new PacketBatch(256);
  for (let n = 0; n < NCONNS; n++) {
    b.clear();
    push(b, n, false, 0);
    b.csum.fill(3);
    one.execute(b, 0, b.keys, 0, ACTIONS[0], 1_000_000);
    b.ctConn[0] = 0;
    many.execute(b, 0, b.keys, 0, ACTIONS[0], 1_000_000);
  }
  return [one, many];
}

// A burst: connection (an existing one, or a new one past NCONNS), direction, TCP or UDP, how many
// packets of it in a row, with which ct(), junk in the ct_* words or not.
const burst = fc.record({
  conn: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 0, max: NCONNS - 1 }) }, { weight: 1, arbitrary: fc.integer({ min: NCONNS, max: NCONNS + 3000 }) }),
  reply: fc.boolean(),
  tcp: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  times: fc.integer({ min: 1, max: 8 }),
  act: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 4, arbitrary: fc.integer({ min: 0, max: ACTIONS.length - 1 }) }),
  junk: fc.boolean(),
  payload: fc.integer({ min: 0, max: 2 }),
});

describe('conntrack: the batch fast paths in a table past the caches', () => {
  it('write what the general path writes, packet by packet', () => {
    const [one, many] = tables();
    let now = 1_000_000;
    fc.assert(fc.property(fc.array(fc.array(burst, { minLength: 1, maxLength: 10 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 2000 }), (batches, dt) => {
      const ba = new PacketBatch(256);
      const bb = new PacketBatch(256);
      for (const bursts of batches) {
        now += dt;
        ba.clear();
        bb.clear();
        const acts: number[] = [];
        for (const p of bursts) {
          for (let t = 0; t < p.times && acts.length < 32; t++) {
            for (const b of [ba, bb]) {
              const i = push(b, p.conn, p.reply, p.payload, p.tcp ? 6 : 17);
              if (p.junk) b.keys.fill(0xdeadbeef, i * FK_WORDS + FK_CT_STATE, i * FK_WORDS + FK_CT_TP + 1);
            }
            acts.push(p.act);
          }
        }
        ba.csum.fill(3);
        bb.csum.fill(3);
        for (let i = 0; i < acts.length; i++) {
          const o = i * FK_WORDS;
          one.execute(ba, i, ba.keys, o, ACTIONS[acts[i]], now);
          many.executeInBatch(bb, i, bb.keys, o, ACTIONS[acts[i]], now);
          expect(Array.from(bb.keys.subarray(o, o + FK_WORDS))).toEqual(Array.from(ba.keys.subarray(o, o + FK_WORDS)));
          expect([bb.ctConn[i], bb.ctConnId[i], bb.ctConnMd[i], bb.dropped[i]]).toEqual([ba.ctConn[i], ba.ctConnId[i], ba.ctConnMd[i], ba.dropped[i]]);
        }
        many.endBatch();
        expect(many.counters()).toEqual(one.counters());
      }
    }), { numRuns: 40 });
    // Every connection alike: state, expiry, mark, label and counters.
    const byId = (x: { id: number }, y: { id: number }) => x.id - y.id;
    expect(many.dump(undefined, now).sort(byId)).toEqual(one.dump(undefined, now).sort(byId));
  });
});
