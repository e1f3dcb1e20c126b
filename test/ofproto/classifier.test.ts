// The tuple-space classifier: random insert/remove/lookup sequences against a
// linear scan, the megaflow (wildcard) property after those sequences, and
// the basic operations one by one.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Classifier } from '../../src/ofproto/classifier.ts';
import { emptyMatch, matchesKey, setMatchWord, type Match } from '../../src/ofproto/match.ts';
import {
  FK_ETH_SRC_LO, FK_ETH_TYPE, FK_IN_PORT, FK_METADATA_LO, FK_NW_DST, FK_NW_PROTO, FK_NW_SRC, FK_REG0, FK_TCP_FLAGS,
  FK_TP_DST, FK_TP_SRC, FK_WORDS,
} from '../../src/packet/flow-key.ts';

// Words from every lookup stage (metadata, L2, L3, L4), each with a few values
// and masks, so random rules overlap and random keys hit them.
const SPACE: { w: number; values: number[]; masks: number[] }[] = [
  { w: FK_IN_PORT, values: [1, 2], masks: [0xffffffff] },
  { w: FK_REG0, values: [0, 5, 0x80000005], masks: [0xffffffff, 0xff, 0x80000000] },
  { w: FK_METADATA_LO, values: [0, 1], masks: [0xffffffff] },
  { w: FK_ETH_SRC_LO, values: [0x01, 0x0101], masks: [0xffffffff, 0xff] },
  { w: FK_ETH_TYPE, values: [0x0800, 0x86dd], masks: [0xffff] },
  { w: FK_NW_PROTO, values: [6, 17], masks: [0xff] },
  { w: FK_NW_SRC, values: [0x0a000001, 0x0a000101, 0xc0a80001], masks: [0xffffffff, 0xffffff00, 0xff000000, 0x80000000] },
  { w: FK_NW_DST, values: [0x0a000002, 0x0b000002], masks: [0xffffffff, 0xff000000] },
  { w: FK_TP_SRC, values: [1000, 1001], masks: [0xffff, 0xfffe] },
  { w: FK_TP_DST, values: [53, 80, 443], masks: [0xffff, 0xff00] },
  { w: FK_TCP_FLAGS, values: [0x002, 0x012], masks: [0x002, 0xfff] },
];

const fieldArb = fc.tuple(fc.nat(SPACE.length - 1), fc.nat(3), fc.nat(3));
const matchArb = fc.array(fieldArb, { maxLength: 5 });
const keyArb = fc.array(fc.nat(3), { minLength: SPACE.length, maxLength: SPACE.length });

function buildMatch(fields: [number, number, number][]): Match {
  const m = emptyMatch();
  for (const [fi, vi, mi] of fields) {
    const f = SPACE[fi];
    setMatchWord(m, f.w, f.values[vi % f.values.length], f.masks[mi % f.masks.length]);
  }
  return m;
}

function buildKey(choice: number[]): Uint32Array {
  const k = new Uint32Array(FK_WORDS);
  SPACE.forEach((f, i) => (k[f.w] = f.values[choice[i] % f.values.length]));
  return k;
}

type Op = { t: 'insert'; fields: [number, number, number][] } | { t: 'remove'; which: number } | { t: 'lookup'; key: number[] };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: matchArb.map((fields) => ({ t: 'insert' as const, fields })) },
  { weight: 1, arbitrary: fc.nat().map((which) => ({ t: 'remove' as const, which })) },
  { weight: 3, arbitrary: keyArb.map((key) => ({ t: 'lookup' as const, key })) },
);

interface ModelRule {
  m: Match;
  prio: number;
  id: number;
}

/** Run ops on a classifier and a plain list, checking every lookup against a linear scan. */
function runOps(ops: Op[]): { cls: Classifier<number>; model: ModelRule[] } {
  const cls = new Classifier<number>();
  let model: ModelRule[] = [];
  ops.forEach((op, i) => {
    if (op.t === 'insert') {
      const m = buildMatch(op.fields);
      const prio = (i * 7919) % 65536; // distinct for i < 65536: no ties to argue about
      cls.insert(m, prio, i);
      model.push({ m, prio, id: i });
    } else if (op.t === 'remove') {
      if (model.length === 0) return;
      const r = model[op.which % model.length];
      expect(cls.remove(cls.find(r.m, r.prio)!)).toBe(true);
      model = model.filter((x) => x !== r);
    } else {
      const key = buildKey(op.key);
      let best: ModelRule | null = null;
      for (const r of model) if (matchesKey(r.m, key) && (best === null || r.prio > best.prio)) best = r;
      expect(cls.lookup(key, 0, null)?.data ?? null).toBe(best?.id ?? null);
    }
  });
  expect(cls.count).toBe(model.length);
  return { cls, model };
}

describe('classifier vs a linear scan', () => {
  it('finds the highest-priority matching rule through inserts and removals', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => void runOps(ops)), { numRuns: 300 });
  });

  it('reports wildcards under which any agreeing key gets the same rule', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), keyArb, fc.array(keyArb, { minLength: 1, maxLength: 5 }), (ops, k1, others) => {
        const { cls } = runOps(ops);
        const a = buildKey(k1);
        const wc = new Uint32Array(FK_WORDS);
        const ra = cls.lookup(a, 0, wc);
        for (const k2 of others) {
          const other = buildKey(k2);
          const b = new Uint32Array(FK_WORDS);
          for (let i = 0; i < FK_WORDS; i++) b[i] = ((a[i] & wc[i]) | (other[i] & ~wc[i])) >>> 0;
          expect(cls.lookup(b, 0, null)?.data ?? null).toBe(ra?.data ?? null);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('looks up keys at a word offset', () => {
    fc.assert(
      fc.property(fc.array(matchArb, { maxLength: 20 }), keyArb, fc.nat(3), (rules, kc, slot) => {
        const cls = new Classifier<number>();
        rules.forEach((f, i) => cls.insert(buildMatch(f), 100 + i, i));
        const key = buildKey(kc);
        const many = new Uint32Array(FK_WORDS * 4).fill(0xdeadbeef);
        many.set(key, slot * FK_WORDS);
        expect(cls.lookup(many, slot * FK_WORDS, null)?.data ?? null).toBe(cls.lookup(key, 0, null)?.data ?? null);
      }),
    );
  });
});

describe('classifier operations', () => {
  const udp53 = () => buildMatch([[4, 0, 0], [5, 1, 0], [9, 0, 0]]); // ip, udp, tp_dst=53
  const net10 = () => buildMatch([[4, 0, 0], [6, 0, 2]]); // ip, nw_src=10.0.0.0/8
  const key = buildKey([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]); // 10.0.0.1 -> udp 53

  it('inserts, finds by match and priority, and lists rules', () => {
    const cls = new Classifier<string>();
    const a = cls.insert(udp53(), 200, 'udp53');
    const b = cls.insert(net10(), 100, 'net10');
    const c = cls.insert(net10(), 300, 'net10-high');
    expect([cls.count, cls.subtableCount]).toEqual([3, 2]);
    expect([cls.find(udp53(), 200), cls.find(net10(), 100), cls.find(net10(), 300)]).toEqual([a, b, c]);
    expect(cls.find(udp53(), 100)).toBeNull();
    expect(cls.find(buildMatch([[9, 1, 0]]), 200)).toBeNull();
    expect([...cls.rules()].map((r) => `${r.priority} ${r.data}`).sort()).toEqual(['100 net10', '200 udp53', '300 net10-high']);
    expect(cls.lookup(key, 0, null)?.data).toBe('net10-high');
  });

  it('replaces a rule with the same match and priority', () => {
    const cls = new Classifier<string>();
    const old = cls.insert(udp53(), 200, 'first');
    cls.insert(udp53(), 200, 'second');
    expect([cls.count, cls.find(udp53(), 200)?.data, cls.lookup(key, 0, null)?.data]).toEqual([1, 'second', 'second']);
    expect(cls.remove(old)).toBe(false);
  });

  it('removes rules, falls back to lower priorities and drops empty subtables', () => {
    const cls = new Classifier<string>();
    const hi = cls.insert(udp53(), 200, 'udp53');
    const lo = cls.insert(net10(), 100, 'net10');
    expect(cls.remove(hi)).toBe(true);
    expect(cls.remove(hi)).toBe(false);
    expect([cls.lookup(key, 0, null)?.data, cls.count, cls.subtableCount]).toEqual(['net10', 1, 1]);
    cls.remove(lo);
    expect([cls.lookup(key, 0, null), cls.count, cls.subtableCount, [...cls.rules()].length]).toEqual([null, 0, 0, 0]);
  });

  it('recomputes a subtable\'s highest priority when its top rule goes', () => {
    const cls = new Classifier<string>();
    const top = cls.insert(net10(), 500, 'net10-500');
    cls.insert(buildMatch([[4, 0, 0], [6, 2, 2]]), 50, 'net192-50'); // same mask as net10
    cls.insert(udp53(), 200, 'udp53');
    cls.remove(top);
    // The net10 subtable now tops out at 50: udp53 (200) must win for a 192.168/16 UDP-53 key too.
    const k192 = buildKey([0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0]);
    expect([cls.lookup(key, 0, null)?.data, cls.lookup(k192, 0, null)?.data]).toEqual(['udp53', 'udp53']);
  });

  it('a catch-all rule matches everything and wildcards everything', () => {
    const cls = new Classifier<string>();
    cls.insert(emptyMatch(), 0, 'any');
    const wc = new Uint32Array(FK_WORDS);
    expect(cls.lookup(key, 0, wc)?.data).toBe('any');
    expect(Array.from(wc).every((w) => w === 0)).toBe(true);
  });

  it('unwildcards only what it looked at: a higher-priority hit stops the search', () => {
    const cls = new Classifier<string>();
    cls.insert(buildMatch([[0, 0, 0]]), 1000, 'in_port=1');
    cls.insert(udp53(), 10, 'udp53');
    const wc = new Uint32Array(FK_WORDS);
    expect(cls.lookup(key, 0, wc)?.data).toBe('in_port=1');
    expect([wc[FK_IN_PORT], wc[FK_ETH_TYPE], wc[FK_NW_PROTO], wc[FK_TP_DST]]).toEqual([0xffffffff, 0, 0, 0]);
  });
});
