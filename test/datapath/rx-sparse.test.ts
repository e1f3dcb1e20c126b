// Sparse flows first on a receive ring (src/datapath/ports/rx-sparse.ts):
// a lone packet behind a backlog is read ahead of it, no packet is lost or
// read twice, and the packets of each flow come out in the order the kernel
// wrote them — checked on a model ring (a kernel that fills frames in ring
// order and drops when the next frame is not free, as TPACKET_V2 does) with
// the reader system.ts runs, under random arrivals.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { frameFlowHash, SparseScan } from '../../src/datapath/ports/rx-sparse.ts';
import { composePacket } from '../../src/packet/compose.ts';
import { parseOdpFlow } from '../../src/packet/odp-parse.ts';

/** A model ring: each frame free (null) or holding [flow, seq, early-allowed]. */
class ModelRing {
  readonly frames: ({ flow: number; seq: number; copy: boolean } | null)[];
  head = 0;
  reader = 0;
  dropped = 0;
  readonly sp: SparseScan;
  readonly ready = (f: number) => this.frames[f] !== null;
  readonly hash = (f: number) => {
    const x = this.frames[f]!;
    const h = x.flow * 7919;
    return x.copy ? ~h : h;
  };
  constructor(n: number) {
    this.frames = new Array(n).fill(null);
    this.sp = new SparseScan(n);
  }
  write(flow: number, seq: number, copy = false): void {
    if (this.frames[this.head] !== null) {
      this.dropped++;
      return;
    }
    this.frames[this.head] = { flow, seq, copy };
    this.head = (this.head + 1) % this.frames.length;
  }
  /**
   * system.ts's receive(): when there is a backlog, its lone packets first,
   * in a batch of their own (`alone`, the default) or ahead of the next
   * frames in ring order (SWD_RX_EARLY_ALONE=0); otherwise in ring order.
   */
  receive(max: number, alone = true): { flow: number; seq: number }[] {
    const out: { flow: number; seq: number }[] = [];
    const n = this.frames.length;
    const sp = this.sp;
    if (sp.backlog > 0 || this.ready((this.reader + max) % n)) {
      sp.scan(this.reader, n, this.ready, this.hash);
      for (let k = 0; (alone || k < 4) && out.length < max; k++) {
        const e = sp.takeEarly(this.reader, alone ? 0 : max - out.length);
        if (e < 0) break;
        out.push(this.frames[e]!); // stays the user's
      }
      if (out.length > 0 && alone) return out;
    }
    while (out.length < max && this.frames[this.reader] !== null) {
      const f = this.reader;
      const early = sp.read(f);
      if (!early) out.push(this.frames[f]!);
      this.frames[f] = null;
      this.reader = (f + 1) % n;
    }
    return out;
  }
}

describe('sparse flows first on a receive ring', () => {
  it('reads a lone packet behind a backlog of one bulk flow before the backlog', () => {
    const r = new ModelRing(256);
    for (let i = 0; i < 200; i++) r.write(1, i);
    r.write(2, 0); // the ping
    for (let i = 200; i < 220; i++) r.write(1, i);
    // In a batch of its own: it is sent once it is processed, not after 31 of the backlog's frames.
    expect(r.receive(32)).toEqual([{ flow: 2, seq: 0, copy: false }]);
    // It is not read a second time when the reader reaches its frame.
    const rest: { flow: number; seq: number }[] = [];
    for (let b = r.receive(32); b.length > 0; b = r.receive(32)) rest.push(...b);
    expect(rest.map((x) => x.flow)).not.toContain(2);
    expect(rest.map((x) => x.seq)).toEqual([...Array(220).keys()]);
    expect(r.sp.taken).toBe(1);
  });

  it('with SWD_RX_EARLY_ALONE=0 puts the lone packet first in a batch of the backlog', () => {
    const r = new ModelRing(256);
    for (let i = 0; i < 200; i++) r.write(1, i);
    r.write(2, 0);
    const first = r.receive(32, false);
    expect(first[0]).toEqual({ flow: 2, seq: 0, copy: false });
    expect(first.slice(1).map((x) => x.seq)).toEqual([...Array(31).keys()]);
  });

  it('makes full batches of many lone flows behind a backlog, each flow in order', () => {
    const r = new ModelRing(256);
    for (let i = 0; i < 100; i++) r.write(1, i);
    for (let f = 2; f < 50; f++) r.write(f, 0); // 48 new connections' first packets
    const batches: string[][] = [];
    for (let b = r.receive(32); b.length > 0; b = r.receive(32)) batches.push(b.map((x) => `${x.flow}.${x.seq}`));
    // The candidates the scan kept (CAND_MAX) go first, 32 to a batch; the rest in ring order.
    expect(batches[0]).toHaveLength(32);
    expect(batches[0]).toEqual([...Array(32).keys()].map((i) => `${i + 2}.0`));
    expect(batches.flat()).toHaveLength(148);
    expect(new Set(batches.flat()).size).toBe(148);
    expect(batches.flat().filter((x) => x.startsWith('1.'))).toEqual([...Array(100).keys()].map((i) => `1.${i}`));
  });

  it('leaves a packet in place when an older packet of its flow still waits, or when it is on the socket queue', () => {
    const r = new ModelRing(256);
    r.write(2, 0);
    for (let i = 0; i < 100; i++) r.write(1, i);
    r.write(2, 1); // flow 2's second packet: its first is still in the ring
    r.write(3, 0, true); // a lone packet whose bytes wait on the socket queue
    const all: { flow: number; seq: number }[] = [];
    for (let b = r.receive(32); b.length > 0; b = r.receive(32)) all.push(...b);
    expect(all.map((x) => `${x.flow}.${x.seq}`)).toEqual(['2.0', ...[...Array(100).keys()].map((i) => `1.${i}`), '2.1', '3.0']);
    expect(r.sp.taken).toBe(0);
  });

  it('loses nothing, reads nothing twice and keeps each flow in order, whatever the arrivals', () => {
    let taken = 0;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 5 }), fc.boolean(), fc.integer({ min: 1, max: 32 })), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 16, max: 128 }),
        fc.boolean(),
        (steps, size, alone) => {
          const r = new ModelRing(size);
          const seq = new Map<number, number>();
          const got: { flow: number; seq: number }[] = [];
          let written = 0;
          for (const [burst, flows, copy, max] of steps) {
            for (let i = 0; i < burst; i++) {
              // Mostly flow 0 (the bulk), now and then another one.
              const flow = i % 17 === 0 ? 1 + (i % (flows + 1)) : 0;
              const s = seq.get(flow) ?? 0;
              const before = r.dropped;
              r.write(flow, s, copy && i % 5 === 0);
              if (r.dropped === before) {
                seq.set(flow, s + 1);
                written++;
              }
            }
            got.push(...r.receive(max, alone));
          }
          for (let b = r.receive(32); b.length > 0; b = r.receive(32)) got.push(...b);
          expect(got.length).toBe(written);
          const next = new Map<number, number>();
          for (const x of got) {
            expect(x.seq).toBe(next.get(x.flow) ?? 0);
            next.set(x.flow, x.seq + 1);
          }
          taken += r.sp.taken;
        },
      ),
      { numRuns: 300 },
    );
    expect(taken).toBeGreaterThan(0); // the runs did take packets early
  });

  it('hashes a flow the same for all its packets and apart from another flow', () => {
    const pkt = (src: string, sport: number, frag = 'no') =>
      composePacket(parseOdpFlow(`eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=${src},dst=10.1.1.2,proto=6,tos=0,ttl=64,frag=${frag}),tcp(src=${sport},dst=80)`).key);
    const h = (p: Uint8Array) => frameFlowHash(p, new DataView(p.buffer, p.byteOffset, p.byteLength), 0, p.length);
    expect(h(pkt('10.1.1.1', 1000))).toBe(h(pkt('10.1.1.1', 1000)));
    expect(h(pkt('10.1.1.1', 1000))).not.toBe(h(pkt('10.1.1.1', 1001)));
    expect(h(pkt('10.1.1.1', 1000))).not.toBe(h(pkt('10.1.1.3', 1000)));
    expect(h(pkt('10.1.1.1', 1000))).toBeGreaterThanOrEqual(0);
    // A later fragment carries no ports: it shares its datagram's bucket only through the addresses.
    expect(h(pkt('10.1.1.1', 1000, 'later'))).toBe(h(pkt('10.1.1.1', 2000, 'later')));
  });
});
