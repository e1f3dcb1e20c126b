// The megaflow cache on its own: masked install and lookup, replacement,
// removal, the size limit and idle expiry.

import { describe, expect, it } from 'vitest';
import { output } from '../../src/datapath/dp-actions.ts';
import { MegaflowCache } from '../../src/datapath/megaflow.ts';
import { FK_IN_PORT, FK_NW_SRC, FK_TP_DST, FK_WORDS } from '../../src/packet/flow-key.ts';

function key(inPort: number, src: number, dport: number): Uint32Array {
  const k = new Uint32Array(FK_WORDS);
  k[FK_IN_PORT] = inPort;
  k[FK_NW_SRC] = src;
  k[FK_TP_DST] = dport;
  return k;
}
function mask(words: [number, number][]): Uint32Array {
  const m = new Uint32Array(FK_WORDS);
  for (const [w, v] of words) m[w] = v;
  return m;
}

describe('megaflow cache', () => {
  it('matches every key that agrees under the mask, and only those', () => {
    const c = new MegaflowCache();
    const m = mask([[FK_IN_PORT, 0xffffffff], [FK_NW_SRC, 0xff000000]]);
    const mf = c.insert(key(1, 0x0a010101, 53), 0, m, [output(2)], 100, 'owner')!;
    expect([Array.from(mf.key.subarray(FK_IN_PORT, FK_IN_PORT + 1)), mf.key[FK_NW_SRC], mf.key[FK_TP_DST], mf.origKey[FK_NW_SRC], mf.createdMs, mf.owner]).toEqual([[1], 0x0a000000, 0, 0x0a010101, 100, 'owner']);
    expect(c.lookup(key(1, 0x0aff0000, 80), 0)).toBe(mf);
    expect(c.lookup(key(2, 0x0a010101, 53), 0)).toBeNull();
    expect(c.lookup(key(1, 0x0b010101, 53), 0)).toBeNull();
    const many = new Uint32Array(FK_WORDS * 3);
    many.set(key(1, 0x0a000009, 1), FK_WORDS * 2);
    expect(c.lookup(many, FK_WORDS * 2)).toBe(mf);
    expect(mf.ufid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it('keeps entries of several masks and values apart; an identical install replaces the actions', () => {
    const c = new MegaflowCache();
    const m1 = mask([[FK_IN_PORT, 0xffffffff]]);
    const m2 = mask([[FK_TP_DST, 0xffff]]);
    const a = c.insert(key(1, 0, 0), 0, m1, [output(2)], 0, null)!;
    const b = c.insert(key(2, 0, 0), 0, m1, [output(3)], 0, null)!;
    const d = c.insert(key(9, 0, 53), 0, m2, [], 0, null)!;
    expect([c.size, c.maskCount]).toEqual([3, 2]);
    expect([c.lookup(key(1, 0, 7), 0), c.lookup(key(2, 0, 7), 0), c.lookup(key(3, 0, 53), 0)]).toEqual([a, b, d]);
    const again = c.insert(key(1, 5, 5), 0, m1, [output(4)], 0, 'new');
    expect([again, c.size, a.actions, a.owner]).toEqual([a, 3, [output(4)], 'new']);
    c.remove(a);
    c.remove(a);
    expect([a.dead, c.size, c.lookup(key(1, 0, 7), 0), c.lookup(key(2, 0, 7), 0)]).toEqual([true, 2, null, b]);
    c.remove(b);
    expect(c.maskCount).toBe(1);
    expect([c.clear(), c.size, c.maskCount, d.dead]).toEqual([1, 0, 0, true]);
  });

  it('finds entries after many lookups reorder the subtables', () => {
    const c = new MegaflowCache();
    const entries = [1, 2, 3, 4].map((p) => c.insert(key(p, 0, p), 0, mask([[FK_IN_PORT, 0xffffffff], [FK_TP_DST, 0xff << p]]), [output(p)], 0, null));
    for (let i = 0; i < 3000; i++) c.lookup(key(4, 0, 4), 0);
    expect(entries.map((e) => c.lookup(e!.origKey, 0))).toEqual(entries);
  });

  it('refuses inserts beyond its limit', () => {
    const c = new MegaflowCache(2);
    const m = mask([[FK_IN_PORT, 0xffffffff]]);
    c.insert(key(1, 0, 0), 0, m, [], 0, null);
    c.insert(key(2, 0, 0), 0, m, [], 0, null);
    expect([c.insert(key(3, 0, 0), 0, m, [], 0, null), c.refused, c.size]).toEqual([null, 1, 2]);
  });

  it('expires entries idle for longer than the idle time, counting from creation or last use', () => {
    const c = new MegaflowCache();
    const m = mask([[FK_IN_PORT, 0xffffffff]]);
    const a = c.insert(key(1, 0, 0), 0, m, [], 1000, null)!;
    const b = c.insert(key(2, 0, 0), 0, m, [], 1000, null)!;
    b.usedMs = 8000;
    expect(c.expire(11_000, 10_000)).toEqual([]);
    expect(c.expire(11_001, 10_000)).toEqual([a]);
    expect(c.expire(18_001, 10_000)).toEqual([b]);
    expect(c.size).toBe(0);
  });
});
