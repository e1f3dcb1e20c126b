// The table consistency walker (src/conntrack/check.ts) passes a busy
// table and catches each kind of damage it is meant to catch.

import { describe, expect, it } from 'vitest';
import { Harness } from './helpers.ts';
import { checkTable } from '../../src/conntrack/check.ts';
import { H_NCONNS, R_NEXT_ORIG, R_KEY_REPLY, REC_WORDS } from '../../src/conntrack/layout.ts';
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

  it('reports a wrong count, a key missing from the index, and a chain loop', () => {
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
    const node = u.bkt[b] - 1;
    u.rec[(node >>> 1) * REC_WORDS + ((node & 1) === 0 ? R_NEXT_ORIG : R_NEXT_ORIG + 1)] = node + 1; // points at itself
    expect(checkTable(u).problems).toContain(`bucket ${b}: chain does not end (a loop)`);
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
