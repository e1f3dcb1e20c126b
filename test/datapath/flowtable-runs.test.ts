// The flowtable's runs (src/datapath/flowtable.ts): packets of one batch
// that hit the same entry one after another are looked up once and counted
// in conntrack once, when the run ends. The same traffic in batches of 8 and
// one packet at a time, with offload on and off, must leave the same bytes
// on the wire, the same megaflow and connection counters and — offloaded,
// batched or not — the same connection records word for word (the TCP
// window bookkeeping included), a FIN in the middle of a batch still
// reaching conntrack.

import { describe, expect, it } from 'vitest';
import { REC_WORDS, R_BKT_ORIG, R_BKT_REPLY } from '../../src/conntrack/layout.ts';
import { output } from '../../src/datapath/dp-actions.ts';
import { FT_TCP, FT_UDP } from '../../src/datapath/flowtable.ts';
import { setIpv4HeaderChecksum, setL4Checksum } from '../../src/packet/checksum.ts';
import { ctA, ftRig, snat, type Rig } from './ft-rig.ts';

/** Out: ct(commit[,nat(src)]), output; back: ct([nat]), recirc, output. */
function rig(offload: boolean, nat: boolean): Rig {
  return ftRig(offload ? FT_TCP | FT_UDP : 0, [ctA({ commit: true, nat: nat ? snat : null }), output(2)], ctA({ commit: false, nat: nat ? { kind: null } : null }));
}

const CLIENT = [192, 168, 1, 10], SERVER = [10, 0, 0, 2], NATTED = [10, 0, 0, 1];
const MAC1 = [0x50, 0x54, 0, 0, 0, 1], MAC2 = [0x50, 0x54, 0, 0, 0, 2];
const SYN = 0x02, ACK = 0x10, FIN = 0x01, PSH = 0x08;

/** An Ethernet/IPv4 frame with a TCP (proto 6) or UDP (17) header and `payload` bytes. */
function frame(proto: number, src: number[], dst: number[], sport: number, dport: number, payload: number,
  tcp?: { seq: number; ack: number; flags: number; win: number }): Uint8Array {
  const l4 = proto === 6 ? 20 : 8;
  const b = new Uint8Array(14 + 20 + l4 + payload);
  const toServer = dst === SERVER;
  b.set(toServer ? MAC2 : MAC1, 0);
  b.set(toServer ? MAC1 : MAC2, 6);
  b[12] = 0x08;
  b[14] = 0x45;
  const ipLen = 20 + l4 + payload;
  b[16] = ipLen >> 8;
  b[17] = ipLen & 0xff;
  b[22] = 64;
  b[23] = proto;
  b.set(src, 26);
  b.set(dst, 30);
  b[34] = sport >> 8; b[35] = sport & 0xff; b[36] = dport >> 8; b[37] = dport & 0xff;
  if (tcp) {
    const v = new DataView(b.buffer);
    v.setUint32(38, tcp.seq >>> 0);
    v.setUint32(42, tcp.ack >>> 0);
    b[46] = 5 << 4;
    b[47] = tcp.flags;
    v.setUint16(48, tcp.win);
  } else {
    b[38] = (8 + payload) >> 8;
    b[39] = (8 + payload) & 0xff;
  }
  for (let i = 14 + 20 + l4; i < b.length; i++) b[i] = i & 0xff;
  setIpv4HeaderChecksum(b, 14);
  setL4Checksum(b, 14, 34, b.length, proto);
  return b;
}

/** One step of traffic: packets in on a port, at a time. */
interface Step { port: number; packets: Uint8Array[]; t: number }

/** A TCP connection: handshake, then `rounds` of 8 data segments out and 8 ACKs back, then data + FIN in one batch. */
function tcpTraffic(nat: boolean, rounds: number): Step[] {
  const back = nat ? NATTED : CLIENT;
  const out = (seq: number, ack: number, flags: number, payload: number) => frame(6, CLIENT, SERVER, 40000, 80, payload, { seq, ack, flags, win: 500 });
  const ret = (seq: number, ack: number, flags: number, win: number) => frame(6, SERVER, back, 80, 40000, 0, { seq, ack, flags, win });
  const steps: Step[] = [];
  let t = 1000;
  let cs = 1000, ss = 7000;
  steps.push({ port: 1, packets: [out(cs, 0, SYN, 0)], t: t++ });
  steps.push({ port: 2, packets: [ret(ss, cs + 1, SYN | ACK, 2000)], t: t++ });
  cs++; ss++;
  steps.push({ port: 1, packets: [out(cs, ss, ACK, 0)], t: t++ });
  for (let r = 0; r < rounds; r++) {
    const data: Uint8Array[] = [];
    for (let i = 0; i < 8; i++) {
      data.push(out(cs, ss, ACK | PSH, 100));
      cs += 100;
    }
    steps.push({ port: 1, packets: data, t: t++ });
    const acks: Uint8Array[] = [];
    // Acknowledgements of each segment, the window (more than the 800 bytes in flight) growing a little each time.
    for (let i = 1; i <= 8; i++) acks.push(ret(ss, cs - 800 + i * 100, ACK, 2000 + r * 8 + i));
    steps.push({ port: 2, packets: acks, t: t++ });
  }
  const last = [out(cs, ss, ACK | PSH, 100), out(cs + 100, ss, ACK | PSH, 100), out(cs + 200, ss, FIN | ACK, 0)];
  steps.push({ port: 1, packets: last, t: t++ });
  return steps;
}

/** A UDP flow: one packet each way, then `rounds` of 8 out and 8 back. */
function udpTraffic(nat: boolean, rounds: number): Step[] {
  const back = nat ? NATTED : CLIENT;
  const steps: Step[] = [];
  let t = 1000;
  const out = (n: number) => frame(17, CLIENT, SERVER, 1000, 53, n);
  const ret = (n: number) => frame(17, SERVER, back, 53, 1000, n);
  steps.push({ port: 1, packets: [out(10)], t: t++ }, { port: 2, packets: [ret(10)], t: t++ });
  for (let r = 0; r < rounds; r++) {
    steps.push({ port: 1, packets: Array.from({ length: 8 }, (_, i) => out(10 + i)), t: t++ });
    steps.push({ port: 2, packets: Array.from({ length: 8 }, (_, i) => ret(20 + i)), t: t++ });
  }
  return steps;
}

function play(r: Rig, steps: Step[], batched: boolean): void {
  for (const s of steps) {
    if (batched) r.dp.receive(s.port, s.packets, s.t);
    else for (const p of s.packets) r.dp.receive(s.port, [p], s.t);
  }
}

const counters = (r: Rig) => ({
  megaflows: r.dp.cache.entries().map((m) => [m.packets, m.bytes, m.tcpFlags]).sort(),
  conns: r.c.dump(undefined, 0).map((x) => [x.packetsOrig, x.bytesOrig, x.packetsReply, x.bytesReply]),
});

/** Every in-use connection record, word for word but the home buckets (each table hashes with its own seed). */
function records(r: Rig): number[][] {
  const t = r.c.table;
  const out: number[][] = [];
  for (let i = 0; i < t.highWater(); i++) {
    if (!t.isInUse(i)) continue;
    const w = Array.from(t.rec.subarray(i * REC_WORDS, (i + 1) * REC_WORDS));
    w[R_BKT_ORIG] = w[R_BKT_REPLY] = 0;
    out.push(w);
  }
  return out;
}

describe('flowtable runs', () => {
  for (const nat of [false, true]) {
    for (const [name, traffic] of [['TCP', tcpTraffic], ['UDP', udpTraffic]] as const) {
      it(`${name}${nat ? ' with SNAT' : ''}: batches of 8 and single packets, offload on and off, same wire and counters`, () => {
        const steps = traffic(nat, 6);
        const onBatched = rig(true, nat), onSingle = rig(true, nat), offBatched = rig(false, nat);
        play(onBatched, steps, true);
        play(onSingle, steps, false);
        play(offBatched, steps, true);
        const total = steps.reduce((a, s) => a + s.packets.length, 0);
        for (const r of [onBatched, onSingle, offBatched]) expect(r.p1.sent.length + r.p2.sent.length).toBe(total);
        // Most of the data went through the flowtable, in runs.
        expect(onBatched.dp.flowtable.stats.hits).toBeGreaterThan(total / 2);
        expect(onBatched.dp.flowtable.stats.hits).toBe(onSingle.dp.flowtable.stats.hits);
        for (const r of [onSingle, offBatched]) {
          expect(r.p1.sent).toEqual(onBatched.p1.sent);
          expect(r.p2.sent).toEqual(onBatched.p2.sent);
          expect(counters(r)).toEqual(counters(onBatched));
        }
        // Offloaded in runs or packet by packet: the same records, TCP bookkeeping and expiry included.
        expect(records(onBatched)).toEqual(records(onSingle));
        if (name === 'TCP') {
          // The FIN behind two offloaded segments in its batch took the full path: conntrack saw it, the entries went.
          expect(onBatched.dp.flowtable.stats.teardowns).toBe(1);
          expect(onBatched.dp.flowtable.size).toBe(0);
          expect(onBatched.c.dump(undefined, 0)[0].offload).toBe(false);
          expect(onBatched.c.dump(undefined, 0)[0].l4State).toBe(offBatched.c.dump(undefined, 0)[0].l4State);
        }
      });
    }
  }
});
