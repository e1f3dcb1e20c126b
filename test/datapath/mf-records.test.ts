// The megaflow slot records (mf-records.ts) and the subtables that compare
// against them (subtable.ts, subtable-lookup.ts): a hit's counters stay
// exact whatever the subtable does to its cells (growing, shrinking,
// shifting cells back on removal), a reused slot answers for its new
// megaflow only, the lookup made for a mask answers as the generic one for
// any mask width, and the tables' memory starts on a cache line.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CACHE_LINE, HUGE_MIN_BYTES, lineAlignedFloat64, lineAlignedInt32 } from '../../src/datapath/cache-memory.ts';
import { output } from '../../src/datapath/dp-actions.ts';
import { MegaflowCache, recordOf, type Megaflow } from '../../src/datapath/megaflow.ts';
import { REC_F64, REC_F_BYTES, REC_F_PACKETS, REC_F_USED, REC_KEY_WORDS, REC_TCP_FLAGS, REC_WORDS, SlotRecords } from '../../src/datapath/mf-records.ts';
import { bufferAddress, nativeAvailable } from '../../src/datapath/native/native.ts';
import { SignatureMatchCache } from '../../src/datapath/smc.ts';
import { Subtable } from '../../src/datapath/subtable.ts';
import { compileBatchLookup } from '../../src/datapath/subtable-lookup.ts';
import { BATCH_MAX } from '../../src/packet/batch.ts';
import {
  FK_ETH_DST_LO, FK_ETH_SRC_LO, FK_ETH_TYPE, FK_IN_PORT, FK_NW_DST, FK_NW_PROTO, FK_NW_SRC, FK_NW_TTL, FK_RECIRC_ID, FK_TP_DST,
  FK_TP_SRC, FK_WORDS,
} from '../../src/packet/flow-key.ts';

function keyOf(n: number): Uint32Array {
  const k = new Uint32Array(FK_WORDS);
  k[FK_IN_PORT] = 1;
  k[FK_ETH_TYPE] = 0x0800;
  k[FK_NW_SRC] = (0x0a000000 + n) >>> 0;
  k[FK_NW_DST] = 0x0b000001;
  k[FK_NW_PROTO] = 17;
  k[FK_TP_SRC] = 1000 + (n & 0xfff);
  k[FK_TP_DST] = 53;
  return k;
}

const exact = (words: number[]): Uint32Array => {
  const m = new Uint32Array(FK_WORDS);
  for (const w of words) m[w] = 0xffffffff;
  return m;
};
const MASK = exact([FK_IN_PORT, FK_ETH_TYPE, FK_NW_SRC, FK_NW_DST, FK_NW_PROTO, FK_TP_SRC, FK_TP_DST]);

describe('megaflow slot records', () => {
  it('lay out key words, TCP flags and counters in one 64-byte record', () => {
    expect([REC_WORDS * 4, REC_KEY_WORDS <= REC_TCP_FLAGS, (REC_TCP_FLAGS + 1) * 4 <= REC_F_PACKETS * 8]).toEqual([CACHE_LINE, true, true]);
    expect([REC_F_PACKETS, REC_F_BYTES, REC_F_USED].every((f) => f < REC_F64)).toBe(true);
    const r = new SlotRecords(2);
    r.f64[REC_F64 + REC_F_BYTES] = 1500;
    r.words[REC_WORDS + REC_TCP_FLAGS] = 0x12;
    r.reserve(100);
    expect([r.capacity, r.f64[REC_F64 + REC_F_BYTES], r.words[REC_WORDS + REC_TCP_FLAGS], r.f64.buffer === r.words.buffer]).toEqual([128, 1500, 0x12, true]);
  });

  it('keep every megaflow counts exact while its subtable grows, shifts cells back on removal and shrinks', () => {
    const c = new MegaflowCache();
    const n = 3000;
    const mfs: Megaflow[] = [];
    const want = new Map<Megaflow, [number, number, number, number]>();
    const credit = (mf: Megaflow, i: number) => {
      mf.packets += i + 1;
      mf.bytes += (i + 1) * 64;
      mf.usedMs = 1000 + i;
      mf.tcpFlags |= i & 0xfff;
      want.set(mf, [mf.packets, mf.bytes, mf.usedMs, mf.tcpFlags]);
    };
    // Credited as they come in: each later insert may grow the table (every cell re-placed).
    for (let i = 0; i < n; i++) {
      const mf = c.insert(keyOf(i), 0, MASK, [output(2)], 0, null)!;
      mfs.push(mf);
      credit(mf, i);
    }
    // Two removals in three: cells shift back, then the table shrinks.
    for (let i = 0; i < n; i++) if (i % 3 !== 0) c.remove(mfs[i]);
    // New megaflows reuse the freed slots: their records start at zero, the others' stay.
    const fresh = Array.from({ length: 500 }, (_, i) => c.insert(keyOf(n + i), 0, MASK, [output(3)], 0, null)!);
    for (const mf of fresh) expect([mf.packets, mf.bytes, mf.usedMs, mf.tcpFlags]).toEqual([0, 0, 0, 0]);
    for (let i = 0; i < n; i += 3) {
      const mf = mfs[i];
      expect([mf.packets, mf.bytes, mf.usedMs, mf.tcpFlags]).toEqual(want.get(mf));
      expect(c.lookup(keyOf(i), 0)).toBe(mf);
    }
    // A removed megaflow takes its exact counts with it, whoever reuses its slot.
    for (let i = 1; i < n; i += 3) expect([mfs[i].home, mfs[i].packets, mfs[i].bytes]).toEqual([null, i + 1, (i + 1) * 64]);
    for (let i = 0; i < fresh.length; i++) expect(c.lookup(keyOf(n + i), 0)).toBe(fresh[i]);
    for (let i = 1; i < n; i += 3) expect(c.lookup(keyOf(i), 0)).toBe(null);
  });
});

// Masks of every width: narrow (all in the record), and wider than the
// record (the rest in cells of 4, 8, 16 or 32 words), with partial masks.
const WIDE_WORDS = [FK_RECIRC_ID, FK_IN_PORT, FK_ETH_SRC_LO, FK_ETH_DST_LO, FK_ETH_TYPE, FK_NW_SRC, FK_NW_DST, FK_NW_PROTO,
  FK_NW_TTL, FK_TP_SRC, FK_TP_DST, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 3, 4];

describe('the lookup made for a mask', () => {
  it('answers as the generic lookup and find(), for any mask width, through adds and removals', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: WIDE_WORDS.length }),
      fc.array(fc.integer({ min: 0, max: 7 }), { minLength: WIDE_WORDS.length, maxLength: WIDE_WORDS.length }),
      fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 400 })), { maxLength: 500 }),
      fc.array(fc.integer({ min: 0, max: 450 }), { minLength: 1, maxLength: BATCH_MAX }),
      fc.integer(),
      (width, partial, ops, probes, seed) => {
        const mask = new Uint32Array(FK_WORDS);
        // Some words partly masked (a prefix, a low byte), the others whole.
        const bits = [0xffffffff, 0xffffff00, 0xffff0000, 0x0000ffff, 0xff, 0xffffffff, 0x80000000, 0xffffffff];
        for (let i = 0; i < width; i++) mask[WIDE_WORDS[i]] = bits[partial[i]];
        const key = (n: number) => {
          const k = new Uint32Array(FK_WORDS);
          // Values spread over every masked word, some differing only outside the mask.
          WIDE_WORDS.forEach((w, i) => (k[w] = Math.imul(n + 1, 0x9e3779b1 + i * 2654435) >>> (i % 5)));
          k[FK_NW_SRC] = n;
          return k;
        };
        const records = new SlotRecords();
        records.reserve(402);
        const st = new Subtable(mask, seed & 0x3fffffff, records);
        for (const [add, n] of ops) {
          const k = key(n);
          const h = st.hash(k, 0);
          const cur = st.find(k, 0, h);
          if (add && cur === 0) {
            st.add(k, 0, h, n);
          } else if (!add && cur !== 0) {
            expect(st.remove(k, 0, h, cur - 1)).toBe(true);
          }
        }
        const keys = new Uint32Array(BATCH_MAX * FK_WORDS);
        const pkt = new Int32Array(BATCH_MAX);
        probes.forEach((n, i) => {
          keys.set(key(n), i * FK_WORDS);
          pkt[i] = probes.length - 1 - i;
        });
        const a = new Int32Array(BATCH_MAX), b = new Int32Array(BATCH_MAX);
        st.lookupBatch(keys, pkt, probes.length, a);
        st.lookupBatchGeneric(keys, pkt, probes.length, b);
        const one = Array.from(pkt.subarray(0, probes.length), (p) => st.find(keys, p * FK_WORDS, st.hash(keys, p * FK_WORDS)));
        expect(Array.from(a.subarray(0, probes.length))).toEqual(one);
        expect(Array.from(b.subarray(0, probes.length))).toEqual(one);
      },
    ), { numRuns: 150 });
  });
});

describe('the lookup made for a mask, on a hash collision', () => {
  it('compares every masked word: a cell of the same hash whose key differs in any one word is not a match', () => {
    for (const width of [3, REC_KEY_WORDS, REC_KEY_WORDS + 3, 20]) {
      const words = Int32Array.from(WIDE_WORDS.slice(0, width)).sort();
      const mask = new Uint32Array(FK_WORDS);
      words.forEach((w, i) => (mask[w] = i % 2 ? 0xffff00ff : 0xffffffff));
      const maskv = Int32Array.from(words, (w) => mask[w] | 0);
      const nRec = Math.min(width, REC_KEY_WORDS);
      const stride = 32;
      const seed = 12345;
      const f = compileBatchLookup(words, maskv, nRec, stride, seed)!;
      const st = new Subtable(mask, seed, new SlotRecords());
      const keys = new Uint32Array(FK_WORDS);
      words.forEach((w, i) => (keys[w] = 0x01020304 * (i + 1)));
      const h = st.hash(keys, 0);
      const capMask = 15;
      // The key's own cell, at its home: slot 4 (record 5), its masked words in the record and the cell.
      const cellsFor = (differ: number) => {
        const cells = new Int32Array(16 * stride);
        const rec = new Int32Array(8 * REC_WORDS);
        const c = (h & capMask) * stride;
        cells[c] = h;
        cells[c + 1] = 5;
        words.forEach((w, i) => {
          const v = (keys[w] & mask[w]) ^ (i === differ ? 0x80000000 : 0);
          if (i < nRec) rec[5 * REC_WORDS + i] = v;
          else cells[c + 2 + i - nRec] = v;
        });
        return { cells, rec };
      };
      const found = new Int32Array(1);
      const onward = { find: () => -1 };
      const run = (differ: number) => {
        const { cells, rec } = cellsFor(differ);
        f(keys, new Int32Array(1), 1, found, cells, capMask, rec, onward);
        return found[0];
      };
      expect(run(-1)).toBe(5);
      // No cell of the hash before an empty one: no megaflow, without a probe.
      const empty = new Int32Array(16 * stride);
      f(keys, new Int32Array(1), 1, found, empty, capMask, new Int32Array(8 * REC_WORDS), onward);
      expect(found[0]).toBe(0);
      // Differing in word i: not this cell's megaflow, so the one-packet probe decides.
      expect(Array.from(words, (_, i) => run(i))).toEqual(Array.from(words, () => -1));
    }
  });
});

describe('the signature-match cache, by record', () => {
  it('answers as lookup() by the megaflow object, for narrow and wide masks, through removal and slot reuse', () => {
    const wide = exact(WIDE_WORDS.slice(0, REC_KEY_WORDS + 4));
    for (const mask of [MASK, wide]) {
      const c = new MegaflowCache();
      const smc = new SignatureMatchCache(9);
      const mfs = Array.from({ length: 200 }, (_, i) => c.insert(keyOf(i), 0, mask, [output(2)], 0, null)!);
      // Every key under one signature bucket's worth of hashes: the SMC names the slot, the compare decides.
      mfs.forEach((mf, i) => smc.insert(i * 7919, mf));
      for (let i = 0; i < 200; i += 4) c.remove(mfs[i]);
      // Freed slots taken by other megaflows: the SMC's entries for them must not answer for the old keys.
      for (let i = 0; i < 20; i++) c.insert(keyOf(1000 + i), 0, mask, [output(3)], 0, null);
      for (let i = 0; i < 200; i++) {
        for (const k of [keyOf(i), keyOf(1000 + (i % 20))]) {
          const one = smc.lookup(k, 0, i * 7919, c.flows);
          const slot = smc.lookupSlot(k, 0, i * 7919, c);
          expect(slot === 0 ? null : c.flows[slot - 1]).toBe(one);
        }
      }
      expect(smc.lookupSlot(keyOf(5), 0, 5 * 7919, c)).toBe(mfs[5].index + 1);
      expect(smc.lookupSlot(keyOf(4), 0, 4 * 7919, c)).toBe(0);
    }
  });
});

describe('cache table memory', () => {
  it('starts on a cache line, and on a 2 MB page when large', () => {
    if (!nativeAvailable()) return; // no native layer: plain arrays, nothing to check
    for (const n of [16, 1000, 64 * 1024]) {
      const a = lineAlignedInt32(n);
      const f = lineAlignedFloat64(n);
      expect([Number((bufferAddress(a.buffer) + BigInt(a.byteOffset)) % 64n), Number((bufferAddress(f.buffer) + BigInt(f.byteOffset)) % 64n)]).toEqual([0, 0]);
      expect([a.length, a.every((x) => x === 0), f.length]).toEqual([n, true, n]);
    }
    const big = lineAlignedInt32(HUGE_MIN_BYTES / 4);
    expect(Number((bufferAddress(big.buffer) + BigInt(big.byteOffset)) % (2n << 20n))).toBe(0);
  });
});
