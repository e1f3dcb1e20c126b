// A batch through the datapath's entry point (executeInBatch/endBatch: the
// shard lock kept from one packet to the next, a run of packets of one
// connection skipping the key build and the lookup, one expiry write per
// clock) gives exactly what one packet at a time through execute() gives:
// the same ct_* words and rewritten headers per packet, the same carried
// connection, the same connections with the same states, counters and
// expiry, the same counters (fast-check).

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Conntrack } from '../../src/conntrack/conntrack.ts';
import type { CtExec } from '../../src/conntrack/execute.ts';
import { compileNat } from '../../src/nat/range.ts';
import { PacketBatch } from '../../src/packet/batch.ts';
import {
  ETH_TYPE_IP, ETH_TYPE_IPV6, FK_CT_IPV6_DST, FK_CT_IPV6_SRC, FK_CT_LABEL, FK_CT_MARK, FK_CT_NW_DST, FK_CT_NW_PROTO,
  FK_CT_NW_SRC, FK_CT_STATE, FK_CT_TP, FK_CT_ZONE, FK_ETH_TYPE, FK_IPV6_DST, FK_IPV6_SRC, FK_NW_DST, FK_NW_PROTO,
  FK_NW_SRC, FK_TP_DST, FK_TP_SRC, FK_WORDS,
} from '../../src/packet/flow-key.ts';
import { ipv4FromText, ipv6FromText } from '../../src/packet/addr.ts';
import { ctExec, ipPacket, type L4Spec } from './helpers.ts';

// The connections packets belong to: [client, server, proto, client port, server port].
const CONNS: [string, string, number, number, number][] = [
  ['10.0.0.1', '10.0.0.2', 17, 1000, 53],
  ['10.0.0.1', '10.0.0.2', 6, 2000, 80],
  ['fd00::1', 'fd00::2', 17, 3000, 53],
  ['fd00::1', 'fd00::2', 6, 4000, 443],
  ['10.0.0.3', '10.0.0.2', 1, 77, 0], // ICMP echo, id 77
  ['10.0.0.4', '10.0.0.2', 47, 0, 0], // GRE: "other"
];

// Compiled ct() actions, one object each as a megaflow holds them.
const ACTIONS: CtExec[] = [
  ctExec({}),
  ctExec({ commit: false }),
  ctExec({ zone: 1, mark: { value: 0x2a, mask: 0xff } }),
  ctExec({ zone: 2, nat: compileNat({ kind: 'src', addrMin: '10.9.9.9' }) }),
  ctExec({ zone: 2, commit: false, nat: compileNat({ kind: 'src', addrMin: '10.9.9.9' }) }),
  ctExec({ force: true }),
];

const TCP_KINDS = ['S', 'SA', 'A', 'PA', 'FA', 'R'] as const;

interface Pkt { conn: number; reply: boolean; tcp: number; len: number; acts: number[] }

/** Per connection and direction: the next sequence number to send, so that most TCP segments are in the window. */
class SeqBook {
  private readonly next = new Map<string, number>();
  seq(conn: number, reply: boolean): number {
    return this.next.get(`${conn}/${reply}`) ?? (reply ? 5000 : 1000);
  }
  sent(conn: number, reply: boolean, n: number): void {
    this.next.set(`${conn}/${reply}`, this.seq(conn, reply) + n);
  }
}

function specOf(p: Pkt, book: SeqBook): { src: string; dst: string; l4: L4Spec } {
  const [c, s, proto, cp, sp] = CONNS[p.conn];
  const src = p.reply ? s : c;
  const dst = p.reply ? c : s;
  if (proto === 6) {
    const flags = TCP_KINDS[p.tcp];
    const seq = book.seq(p.conn, p.reply);
    const ack = book.seq(p.conn, !p.reply);
    const syn = flags.includes('S');
    const fin = flags.includes('F');
    book.sent(p.conn, p.reply, p.len + (syn ? 1 : 0) + (fin ? 1 : 0));
    return { src, dst, l4: { proto, sport: p.reply ? sp : cp, dport: p.reply ? cp : sp, flags, seq, ack: flags === 'S' ? 0 : ack, payload: p.len } };
  }
  if (proto === 1) return { src, dst, l4: { proto, type: p.reply ? 0 : 8, code: 0, id: cp } };
  return { src, dst, l4: { proto, sport: p.reply ? sp : cp, dport: p.reply ? cp : sp, payload: p.len } };
}

/** Put packet `spec` into the next slot of `b`, with the flow-key words extract would set. */
function pushPacket(b: PacketBatch, src: string, dst: string, s: L4Spec): number {
  const ip = ipPacket(src, dst, s);
  const v6 = src.includes(':');
  const frame = new Uint8Array(14 + ip.length);
  frame[12] = v6 ? 0x86 : 0x08;
  frame[13] = v6 ? 0xdd : 0x00;
  frame.set(ip, 14);
  const i = b.push(frame);
  b.l3[i] = b.start[i] + 14;
  b.l4[i] = b.l3[i] + (v6 ? 40 : 20);
  const k = b.keys;
  const o = i * FK_WORDS;
  k.fill(0, o, o + FK_WORDS);
  k[o + FK_ETH_TYPE] = v6 ? ETH_TYPE_IPV6 : ETH_TYPE_IP;
  if (v6) {
    ipv6FromText(src)!.forEach((w, j) => (k[o + FK_IPV6_SRC + j] = w));
    ipv6FromText(dst)!.forEach((w, j) => (k[o + FK_IPV6_DST + j] = w));
  } else {
    k[o + FK_NW_SRC] = ipv4FromText(src)!;
    k[o + FK_NW_DST] = ipv4FromText(dst)!;
  }
  k[o + FK_NW_PROTO] = s.proto;
  if (s.proto === 1) {
    k[o + FK_TP_SRC] = s.type ?? 8;
    k[o + FK_TP_DST] = s.code ?? 0;
  } else {
    k[o + FK_TP_SRC] = s.sport ?? 0;
    k[o + FK_TP_DST] = s.dport ?? 0;
  }
  return i;
}

const pkt = fc.record({
  conn: fc.integer({ min: 0, max: CONNS.length - 1 }),
  reply: fc.boolean(),
  tcp: fc.integer({ min: 0, max: TCP_KINDS.length - 1 }),
  len: fc.integer({ min: 0, max: 3 }),
  // One or two ct() per packet (the second as after a recirculation); mostly the plain commit.
  acts: fc.array(fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 4, arbitrary: fc.integer({ min: 0, max: ACTIONS.length - 1 }) }), { minLength: 1, maxLength: 2 }),
});
// Runs: a packet repeated, as a burst of one connection in a batch; `open`: a TCP
// handshake first (so that data and FIN segments of an established connection follow).
const burst = fc.record({ p: pkt, times: fc.integer({ min: 1, max: 12 }), open: fc.boolean() });
const batchArb = fc.record({ bursts: fc.array(burst, { minLength: 1, maxLength: 6 }), dt: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 40_000 })) });

describe('conntrack: a batch at a time gives what one packet at a time gives', () => {
  it('same ct_* words, headers, carried connections, connections and counters', () => {
    fc.assert(fc.property(fc.array(batchArb, { minLength: 1, maxLength: 8 }), fc.boolean(), (batches, freshCsum) => {
      const seed = 0x1234567;
      const one = Conntrack.create({ capacity: 256, seed });
      const many = Conntrack.create({ capacity: 256, seed });
      // Zone 1's timeouts differ per class, so that a class change within a run moves the expiry.
      for (const ct of [one, many]) ct.setTimeoutPolicy(1, { udp_first: 10, udp_single: 20, udp_multiple: 25, tcp_syn_sent: 5, tcp_established: 50, tcp_fin_wait: 15 });
      const ba = new PacketBatch(2048);
      const bb = new PacketBatch(2048);
      const booka = new SeqBook();
      const bookb = new SeqBook();
      let now = 1_000_000;
      for (const batch of batches) {
        now += batch.dt;
        ba.clear();
        bb.clear();
        const plan: Pkt[] = [];
        for (const { p, times, open } of batch.bursts) {
          if (open && CONNS[p.conn][2] === 6) {
            for (const [tcp, reply] of [[0, false], [1, true], [2, false]] as const) plan.push({ ...p, tcp, reply, len: 0 });
          }
          for (let n = 0; n < times; n++) plan.push(p);
        }
        plan.length = Math.min(plan.length, 32);
        for (const p of plan) {
          const sa = specOf(p, booka);
          const sb = specOf(p, bookb);
          pushPacket(ba, sa.src, sa.dst, sa.l4);
          pushPacket(bb, sb.src, sb.dst, sb.l4);
        }
        // Packets a port validated (their checksums known) or not.
        if (!freshCsum) { ba.csum.fill(3); bb.csum.fill(3); }
        for (let i = 0; i < plan.length; i++) {
          for (const ai of plan[i].acts) {
            const o = i * FK_WORDS;
            if (ba.dropped[i] === 0) one.execute(ba, i, ba.keys, o, ACTIONS[ai], now);
            if (bb.dropped[i] === 0) many.executeInBatch(bb, i, bb.keys, o, ACTIONS[ai], now);
            expect(Array.from(bb.keys.subarray(o, o + FK_WORDS))).toEqual(Array.from(ba.keys.subarray(o, o + FK_WORDS)));
            expect([bb.ctConn[i], bb.ctConnId[i], bb.ctConnMd[i], bb.dropped[i]]).toEqual([ba.ctConn[i], ba.ctConnId[i], ba.ctConnMd[i], ba.dropped[i]]);
            expect(bb.keys[o + FK_CT_STATE]).toBe(ba.keys[o + FK_CT_STATE]);
            expect(bb.keys[o + FK_CT_TP]).toBe(ba.keys[o + FK_CT_TP]);
          }
          expect(Buffer.from(bb.bytes(i)).toString('hex')).toBe(Buffer.from(ba.bytes(i)).toString('hex'));
        }
        many.endBatch();
        const byId = (x: { id: number }, y: { id: number }) => x.id - y.id;
        expect(many.dump(undefined, now).sort(byId)).toEqual(one.dump(undefined, now).sort(byId));
        expect(many.counters()).toEqual(one.counters());
        // The sweep, between batches as the datapath runs it.
        one.sweep(now, 64);
        many.sweep(now, 64);
      }
    }), { numRuns: 150 });
  });
});

describe('conntrack: the ct_* words of a run packet', () => {
  it('are all written, whatever the key held before and whichever connection came before', () => {
    const one = Conntrack.create({ capacity: 64 });
    const many = Conntrack.create({ capacity: 64 });
    const ba = new PacketBatch(2048);
    const bb = new PacketBatch(2048);
    // UDP v4, v4 (a run), v6, v4, v6, v6 (a run), v4, then v4 four times (a run that turns steady,
    // run-path.ts runSteady()): every packet's key with junk in every ct_* word first.
    const order = [0, 0, 2, 0, 2, 2, 0, 0, 0, 0, 0];
    const book = new SeqBook();
    for (const b of [ba, bb]) {
      b.clear();
      for (const c of order) {
        const s = specOf({ conn: c, reply: false, tcp: 0, len: 0, acts: [0] }, book);
        const i = pushPacket(b, s.src, s.dst, s.l4);
        b.keys.fill(0xdeadbeef, i * FK_WORDS + FK_CT_STATE, i * FK_WORDS + FK_CT_IPV6_DST + 4);
      }
      b.csum.fill(3);
    }
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < order.length; i++) {
        const o = i * FK_WORDS;
        if (pass === 1) {
          ba.keys.fill(0xdeadbeef, o + FK_CT_STATE, o + FK_CT_IPV6_DST + 4);
          bb.keys.fill(0xdeadbeef, o + FK_CT_STATE, o + FK_CT_IPV6_DST + 4);
          ba.ctConn[i] = 0;
          bb.ctConn[i] = 0;
        }
        one.execute(ba, i, ba.keys, o, ACTIONS[0], 1_000_000);
        many.executeInBatch(bb, i, bb.keys, o, ACTIONS[0], 1_000_000);
        expect(Array.from(bb.keys.subarray(o, o + FK_WORDS))).toEqual(Array.from(ba.keys.subarray(o, o + FK_WORDS)));
        const v6 = order[i] === 2;
        // The other family's ct tuple words are zero.
        const zero = v6 ? [FK_CT_NW_SRC, FK_CT_NW_DST] : [0, 1, 2, 3].flatMap((j) => [FK_CT_IPV6_SRC + j, FK_CT_IPV6_DST + j]);
        for (const w of zero) expect(bb.keys[o + w]).toBe(0);
        expect(bb.keys[o + FK_CT_NW_PROTO]).toBe(17);
        // No junk left in the words every ct() writes (mark and label zero: none set).
        for (const w of [FK_CT_ZONE, FK_CT_MARK, FK_CT_LABEL, FK_CT_LABEL + 1, FK_CT_LABEL + 2, FK_CT_LABEL + 3]) expect(bb.keys[o + w]).toBe(0);
        expect(bb.keys[o + FK_CT_STATE] & 0x20).toBe(0x20);
      }
      many.endBatch();
    }
  });
});
