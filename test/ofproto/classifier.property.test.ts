// The classifier against a naive linear scan, on random rule sets and keys,
// and the megaflow property: the wildcards it reports are enough.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Classifier } from '../../src/ofproto/classifier.ts';
import { FK_ETH_TYPE, FK_IN_PORT, FK_NW_DST, FK_NW_PROTO, FK_NW_SRC, FK_TP_DST, FK_WORDS } from '../../src/packet/flow-key.ts';
import { emptyMatch, matchesKey, setMatchWord, type Match } from '../../src/ofproto/match.ts';

// A small field space so that random rules and keys collide often.
const FIELDS: [number, number[]][] = [
  [FK_IN_PORT, [1, 2, 3]],
  [FK_ETH_TYPE, [0x0800, 0x86dd]],
  [FK_NW_PROTO, [6, 17]],
  [FK_NW_SRC, [0x0a000001, 0x0a000002, 0x0a000101]],
  [FK_NW_DST, [0x0b000001, 0x0b000002]],
  [FK_TP_DST, [53, 80]],
];
const NW_MASKS = [0xffffffff, 0xffffff00, 0xff000000];

const ruleArb = fc.record({
  fields: fc.array(fc.tuple(fc.nat(FIELDS.length - 1), fc.nat(2), fc.nat(2)), { maxLength: 4 }),
});
const keyArb = fc.array(fc.nat(2), { minLength: FIELDS.length, maxLength: FIELDS.length });

function buildMatch(fields: [number, number, number][]): Match {
  const m = emptyMatch();
  for (const [fi, vi, mi] of fields) {
    const [w, vals] = FIELDS[fi];
    const mask = w === FK_NW_SRC || w === FK_NW_DST ? NW_MASKS[mi] : 0xffffffff;
    setMatchWord(m, w, vals[vi % vals.length], mask);
  }
  return m;
}

function buildKey(choice: number[]): Uint32Array {
  const k = new Uint32Array(FK_WORDS);
  FIELDS.forEach(([w, vals], i) => (k[w] = vals[choice[i] % vals.length]));
  return k;
}

describe('classifier', () => {
  it('finds what a linear scan finds (highest priority, distinct priorities)', () => {
    fc.assert(
      fc.property(fc.array(ruleArb, { maxLength: 30 }), fc.array(keyArb, { minLength: 1, maxLength: 10 }), (rules, keys) => {
        const cls = new Classifier<number>();
        const all: { m: Match; prio: number; id: number }[] = [];
        rules.forEach((r, i) => {
          const m = buildMatch(r.fields);
          const prio = 1000 - i; // distinct priorities: no ties to argue about
          cls.insert(m, prio, i);
          all.push({ m, prio, id: i });
        });
        for (const kc of keys) {
          const key = buildKey(kc);
          const naive = all.filter((r) => matchesKey(r.m, key)).sort((a, b) => b.prio - a.prio)[0];
          const got = cls.lookup(key, 0, null);
          expect(got?.data ?? null).toBe(naive?.id ?? null);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('reports wildcards under which every agreeing key gets the same rule', () => {
    fc.assert(
      fc.property(fc.array(ruleArb, { maxLength: 30 }), keyArb, keyArb, (rules, k1, k2) => {
        const cls = new Classifier<number>();
        rules.forEach((r, i) => cls.insert(buildMatch(r.fields), 1000 - i, i));
        const a = buildKey(k1);
        const wc = new Uint32Array(FK_WORDS);
        const ra = cls.lookup(a, 0, wc);
        // b: a's bits under wc, k2's bits elsewhere.
        const other = buildKey(k2);
        const b = new Uint32Array(FK_WORDS);
        for (let i = 0; i < FK_WORDS; i++) b[i] = ((a[i] & wc[i]) | (other[i] & ~wc[i])) >>> 0;
        expect(cls.lookup(b, 0, null)?.data ?? null).toBe(ra?.data ?? null);
      }),
      { numRuns: 500 },
    );
  });

  it('replaces a rule with the same match and priority, finds and removes rules', () => {
    const cls = new Classifier<string>();
    const m = buildMatch([[0, 0, 0]]);
    cls.insert(m, 10, 'a');
    cls.insert(m, 10, 'b');
    expect(cls.count).toBe(1);
    expect(cls.find(m, 10)?.data).toBe('b');
    const key = buildKey([0, 0, 0, 0, 0, 0]);
    expect(cls.lookup(key, 0, null)?.data).toBe('b');
    cls.remove(cls.find(m, 10)!);
    expect(cls.count).toBe(0);
    expect(cls.lookup(key, 0, null)).toBeNull();
    expect(cls.subtableCount).toBe(0);
  });

  it('leaves later lookup stages wildcarded when an early stage already fails (staged lookup)', () => {
    const cls = new Classifier<string>();
    const m = emptyMatch();
    setMatchWord(m, FK_ETH_TYPE, 0x0800, 0xffff);
    setMatchWord(m, FK_NW_PROTO, 17, 0xff);
    setMatchWord(m, FK_TP_DST, 53, 0xffff);
    cls.insert(m, 100, 'udp53');
    const key = new Uint32Array(FK_WORDS);
    key[FK_ETH_TYPE] = 0x0800;
    key[FK_NW_PROTO] = 6;
    key[FK_TP_DST] = 53;
    const wc = new Uint32Array(FK_WORDS);
    expect(cls.lookup(key, 0, wc)).toBeNull();
    expect(wc[FK_NW_PROTO]).toBe(0xff);
    expect(wc[FK_TP_DST]).toBe(0);
  });
});
