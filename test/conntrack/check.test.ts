// The table consistency walker (src/conntrack/check.ts) passes a busy
// table and catches each kind of damage it is meant to catch.

import { describe, expect, it } from 'vitest';
import { Harness } from './helpers.ts';
import { checkTable } from '../../src/conntrack/check.ts';
import fc from 'fast-check';
import { H_NCONNS, K_PORTS, R_KEY_ORIG, R_KEY_REPLY, REC_WORDS } from '../../src/conntrack/layout.ts';
import { Conntrack } from '../../src/conntrack/conntrack.ts';
import { removeIf } from '../../src/conntrack/expiry.ts';
import { compileNat } from '../../src/nat/range.ts';

function busy(): Harness {
  const h = new Harness();
  const nat = compileNat({ kind: 'src', addrMin: '10.9.0.1', addrMax: '10.9.0.2' });
  for (let i = 0; i < 300; i++) h.send('10.1.1.1', '10.1.1.2', { proto: 17, sport: 1000 + i, dport: 53 }, { zone: i % 3, nat: i % 2 ? nat : null });
  h.ct.flush({ zone: 2 });
  return h;
}

describe('conntrack table walker', () => {
  it('passes a table with NATed and plain connections after a flush', () => {
    const c = checkTable(busy().ct.table);
    expect(c.problems).toEqual([]);
    expect(c.live).toBe(200);
    expect(c.free).toBe(100);
  });

  it('reports a wrong count, a key missing from the index, a node filed twice and a hole in a probe path', () => {
    let h = busy();
    Atomics.add(h.ct.table.hdr, H_NCONNS, 1);
    expect(checkTable(h.ct.table).problems).toEqual(['nconns is 201, 200 records are live']);

    h = busy();
    const t = h.ct.table;
    let r = 0;
    while (!t.isInUse(r)) r++;
    t.rec[r * REC_WORDS + R_KEY_REPLY + 1] ^= 1; // the reply key changed behind the index's back
    expect(checkTable(t).problems.some((p) => p.startsWith(`record ${r} key 1: hashes to bucket`))).toBe(true);

    h = busy();
    const u = h.ct.table;
    let b = 0;
    while (u.bkt[b] === 0) b++;
    const node = u.slotNode(u.bkt[b]);
    let e = b + 1;
    while (u.bkt[e] !== 0) e++;
    u.bkt[e] = u.bkt[b]; // the same node in a second slot
    expect(checkTable(u).problems).toContain(`slot ${e}: node ${node} filed twice`);

    // A slot emptied behind the table's back: the key after it (if its path crossed it) and the key itself go missing.
    h = busy();
    const x = h.ct.table;
    let f = 0;
    while (x.bkt[f] === 0) f++;
    const gone = x.slotNode(x.bkt[f]);
    x.bkt[f] = 0;
    expect(checkTable(x).problems).toContain(`record ${gone >>> 1}: its ${(gone & 1) === 0 ? 'orig' : 'reply'} key is not in the index`);
  });

  it('removal shifts the slots after a hole back: every remaining key stays findable (property)', () => {
    // A tiny table, 1 shard of 128 slots, filled and emptied in random order: probe paths cross and wrap.
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 24 }), { minLength: 1, maxLength: 200 }), (ops) => {
      const h = new Harness(Conntrack.create({ capacity: 32, shards: 1, seed: 7 }));
      const live = new Set<number>();
      for (const p of ops) {
        if (live.has(p) && p % 3 === 0) {
          const t = h.ct.table;
          let r = 0;
          while (!(t.isInUse(r) && t.rec[r * REC_WORDS + R_KEY_ORIG + K_PORTS] >>> 16 === 2000 + p)) r++;
          expect(removeIf(t, r, () => true)).toBe(true);
          live.delete(p);
        } else if (h.send('10.0.0.1', '10.0.0.2', { proto: 17, sport: 2000 + p, dport: 53 }) === '+trk+new') live.add(p);
      }
      const c = checkTable(h.ct.table);
      expect(c.problems).toEqual([]);
      expect(c.live).toBe(live.size);
    }), { numRuns: 200 });
  });

  it('a connection of an address and port with themselves: one key both ways, found as orig', () => {
    const h = new Harness();
    expect(h.send('10.1.1.5', '10.1.1.5', { proto: 17, sport: 53, dport: 53 })).toBe('+trk+new');
    // Its reverse tuple is itself: the next packet is in the orig direction, as OVS's lookup has it.
    expect(h.send('10.1.1.5', '10.1.1.5', { proto: 17, sport: 53, dport: 53 })).not.toContain('+rpl');
    expect(h.dump()).toHaveLength(1);
    const c = checkTable(h.ct.table);
    expect(c.problems).toEqual([]);
    expect(c.live).toBe(1);
  });
});
