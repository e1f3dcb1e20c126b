// One classifier subtable (subtable.ts) against a model, the megaflow
// cache's batch lookup against its one-packet lookup (the same answers for
// any mix of adds, removals, growing and shrinking, masks and keys), and the
// counters the cache keeps by slot.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { output } from '../../src/datapath/dp-actions.ts';
import { MegaflowCache, recordOf } from '../../src/datapath/megaflow.ts';
import { REC_F64, REC_F_PACKETS, SlotRecords } from '../../src/datapath/mf-records.ts';
import { Subtable } from '../../src/datapath/subtable.ts';
import { BATCH_MAX } from '../../src/packet/batch.ts';
import { FK_IN_PORT, FK_NW_DST, FK_NW_SRC, FK_TP_DST, FK_TP_SRC, FK_WORDS } from '../../src/packet/flow-key.ts';

function keyOf(src: number, dst: number, sport: number, dport = 53): Uint32Array {
  const k = new Uint32Array(FK_WORDS);
  k[FK_IN_PORT] = 1;
  k[FK_NW_SRC] = src;
  k[FK_NW_DST] = dst;
  k[FK_TP_SRC] = sport;
  k[FK_TP_DST] = dport;
  return k;
}

function maskOf(words: [number, number][]): Uint32Array {
  const m = new Uint32Array(FK_WORDS);
  for (const [w, v] of words) m[w] = v;
  return m;
}

/** Slot records with room for `slots` slots (the cache reserves them before it adds). */
function records(slots: number): SlotRecords {
  const r = new SlotRecords();
  r.reserve(slots + 1);
  return r;
}

const MASK = maskOf([[FK_IN_PORT, 0xffffffff], [FK_NW_SRC, 0xffffffff], [FK_NW_DST, 0xffffff00], [FK_TP_SRC, 0xffff]]);
const masked = (k: Uint32Array) => [FK_IN_PORT, FK_NW_SRC, FK_NW_DST, FK_TP_SRC].map((w) => k[w] & MASK[w]).join(',');

describe('classifier subtable', () => {
  it('finds what was added under its mask, and nothing once removed, through growing and shrinking', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 3 })), { maxLength: 600 }),
      fc.integer(),
      (ops, seed) => {
        const st = new Subtable(MASK, seed & 0x3fffffff, records(400));
        const model = new Map<string, number>();
        let nextSlot = 0;
        for (const [add, n, low] of ops) {
          // Keys differing only in nw_dst's last byte share a masked key.
          const k = keyOf(0x0a000000 + n, 0x0b000000 + low, 1000 + (n % 7));
          const mk = masked(k);
          const h = st.hash(k, 0);
          if (add && !model.has(mk)) {
            expect(st.find(k, 0, h)).toBe(0);
            st.add(k, 0, h, nextSlot);
            model.set(mk, nextSlot++);
          } else if (!add && model.has(mk)) {
            expect(st.remove(k, 0, h, model.get(mk)!)).toBe(true);
            model.delete(mk);
          }
        }
        expect(st.count).toBe(model.size);
        // Every key of the range: present ones answer their slot, others 0.
        for (let n = 0; n <= 300; n++) {
          const k = keyOf(0x0a000000 + n, 0x0b0000ff, 1000 + (n % 7));
          const want = model.get(masked(k));
          expect(st.find(k, 0, st.hash(k, 0))).toBe(want === undefined ? 0 : want + 1);
        }
      },
    ), { numRuns: 60 });
  });

  it('a batch lookup answers as one lookup per packet', () => {
    const st = new Subtable(MASK, 7, records(5001));
    for (let n = 0; n < 5000; n += 2) {
      const k = keyOf(n, 0x0b000000, 1000);
      st.add(k, 0, st.hash(k, 0), n);
    }
    const keys = new Uint32Array(BATCH_MAX * FK_WORDS);
    const pkt = new Int32Array(BATCH_MAX);
    const found = new Int32Array(BATCH_MAX);
    for (let i = 0; i < BATCH_MAX; i++) {
      keys.set(keyOf(i * 75, 0x0b000000 + i, 1000), i * FK_WORDS);
      pkt[i] = BATCH_MAX - 1 - i;
    }
    st.lookupBatch(keys, pkt, BATCH_MAX, found);
    const want = Array.from(pkt, (p) => ((p * 75) % 2 === 0 ? p * 75 + 1 : 0));
    expect(Array.from(found)).toEqual(want);
    expect(want.filter((s) => s !== 0).length).toBe(16);
  });
});

describe('megaflow cache: batch lookup', () => {
  it('finds the same megaflows as lookup(), over several masks, whatever the ranking', () => {
    const masks = [
      maskOf([[FK_IN_PORT, 0xffffffff], [FK_NW_SRC, 0xffffffff], [FK_TP_SRC, 0xffff]]),
      maskOf([[FK_IN_PORT, 0xffffffff], [FK_NW_SRC, 0xffff0000]]),
      maskOf([[FK_IN_PORT, 0xffffffff], [FK_TP_DST, 0xffff]]),
    ];
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 0x3ffff })), { minLength: 1, maxLength: 200 }),
      fc.array(fc.integer({ min: 0, max: 0x3ffff }), { minLength: 1, maxLength: BATCH_MAX }), (adds, probes) => {
        const c = new MegaflowCache();
        for (const [m, v] of adds) c.insert(keyOf(0x0a000000 + v, 0, v & 0xffff, v & 7), 0, masks[m], [output(m + 2)], 0, null);
        const keys = new Uint32Array(BATCH_MAX * FK_WORDS);
        const pkt = new Int32Array(BATCH_MAX);
        probes.forEach((v, i) => {
          keys.set(keyOf(0x0a000000 + v, 0, v & 0xffff, v & 7), i * FK_WORDS);
          pkt[i] = i;
        });
        const one = probes.map((_, i) => c.lookup(keys, i * FK_WORDS));
        const slots = new Int32Array(BATCH_MAX);
        const before = c.hitProbes;
        c.lookupBatch(keys, pkt, probes.length, slots);
        expect(Array.from(slots.subarray(0, probes.length), (s) => (s === 0 ? null : c.flows[s - 1]))).toEqual(one);
        expect(c.hitProbes - before).toBeGreaterThanOrEqual(one.filter((m) => m !== null).length);
      }), { numRuns: 100 });
  });

  it('removal leaves the other megaflows of the subtable found (cells shifted back)', () => {
    const c = new MegaflowCache();
    const m = maskOf([[FK_IN_PORT, 0xffffffff], [FK_NW_SRC, 0xffffffff]]);
    const mfs = Array.from({ length: 2000 }, (_, i) => c.insert(keyOf(i, 0, 0), 0, m, [output(2)], 0, null)!);
    for (let i = 0; i < 2000; i += 3) c.remove(mfs[i]);
    const got = mfs.map((mf, i) => c.lookup(keyOf(i, 9, 9), 0) === mf);
    expect(got).toEqual(mfs.map((_, i) => i % 3 !== 0));
    for (let i = 0; i < 2000; i++) if (i % 3 !== 0) c.remove(mfs[i]);
    expect([c.size, c.maskCount, c.lookup(keyOf(1, 0, 0), 0)]).toEqual([0, 0, null]);
  });
});

describe('megaflow counters by slot', () => {
  it('keep their values through removal and clear, and a reused slot starts at zero', () => {
    const c = new MegaflowCache();
    const m = maskOf([[FK_IN_PORT, 0xffffffff], [FK_NW_SRC, 0xffffffff]]);
    const a = c.insert(keyOf(1, 0, 0), 0, m, [output(2)], 0, null)!;
    const b = c.insert(keyOf(2, 0, 0), 0, m, [output(3)], 0, null)!;
    a.packets += 3;
    a.bytes += 300;
    a.usedMs = 5000;
    a.tcpFlags |= 0x12;
    b.packets = 7;
    // What the hit path writes by slot is what the megaflow reads.
    const packetsOf = (slot: number) => c.records.f64[recordOf(slot) * REC_F64 + REC_F_PACKETS];
    expect([a.home, c.actionsBySlot[a.index], packetsOf(a.index), packetsOf(b.index)]).toEqual([c, [output(2)], 3, 7]);
    const slot = a.index;
    c.remove(a);
    expect([a.home, a.dead, a.packets, a.bytes, a.usedMs, a.tcpFlags]).toEqual([null, true, 3, 300, 5000, 0x12]);
    const d = c.insert(keyOf(3, 0, 0), 0, m, [output(4)], 0, null)!;
    expect([d.index, d.packets, d.bytes, d.usedMs, c.actionsBySlot[slot]]).toEqual([slot, 0, 0, 0, [output(4)]]);
    // New actions (revalidation) reach the slot's copy.
    d.actions = [output(5)];
    expect(c.actionsBySlot[slot]).toEqual([output(5)]);
    c.clear();
    expect([b.packets, b.home, d.dead]).toEqual([7, null, true]);
  });

  it('survive the records growing', () => {
    const c = new MegaflowCache();
    const m = maskOf([[FK_IN_PORT, 0xffffffff], [FK_NW_SRC, 0xffffffff]]);
    const first = c.insert(keyOf(0, 0, 0), 0, m, [], 0, null)!;
    first.packets = 41;
    for (let i = 1; i < 1000; i++) c.insert(keyOf(i, 0, 0), 0, m, [], 0, null);
    expect([first.packets, c.records.capacity >= 1001]).toEqual([41, true]);
  });
});
