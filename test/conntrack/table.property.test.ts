// The connection table against a simple model (fast-check): random
// commits, replies, flushes, sweeps and clock ticks leave the same
// connections, with the same expiry, as a Map would.

import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Harness } from './helpers.ts';

// Random commit / reply / flush / sweep sequences against a Map model of
// (zone, sport) -> expiry, for UDP (first/multiple: 60 s, bidir: 30 s).
describe('table vs a Map model', () => {
  it('agrees on which connections exist', () => {
    const op = fc.record({
      kind: fc.constantFrom('commit', 'reply', 'flush', 'sweep', 'tick'),
      zone: fc.integer({ min: 0, max: 2 }),
      port: fc.integer({ min: 1, max: 12 }),
      dt: fc.integer({ min: 0, max: 40_000 }),
    });
    fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const h = new Harness();
      h.ct.setMaxConns(20);
      const model = new Map<string, number>();
      const live = () => [...model].filter(([, e]) => e > h.now).map(([k]) => k).sort();
      for (const o of ops) {
        const key = `${o.zone}/${o.port}`;
        const exists = (model.get(key) ?? -1) > h.now;
        if (o.kind === 'commit') {
          h.send('1.1.1.1', '2.2.2.2', { proto: 17, sport: o.port, dport: 9 }, { zone: o.zone });
          if (exists) model.set(key, h.now + (model.get(key + 'b') === 1 ? 30_000 : 60_000));
          else if (live().length < 20) { model.set(key, h.now + 60_000); model.delete(key + 'b'); }
        } else if (o.kind === 'reply') {
          const st = h.send('2.2.2.2', '1.1.1.1', { proto: 17, sport: 9, dport: o.port }, { zone: o.zone, commit: false });
          expect(st).toBe(exists ? '+trk+est+rpl' : '+trk+new');
          if (exists) { model.set(key, h.now + 30_000); model.set(key + 'b', 1); }
        } else if (o.kind === 'flush') {
          h.ct.flush({ zone: o.zone, orig: { sport: o.port } });
          model.delete(key);
        } else if (o.kind === 'sweep') {
          h.ct.sweep(h.now, 5);
        } else h.now += o.dt;
        for (const k of [...model.keys()]) if (!k.endsWith('b') && model.get(k)! <= h.now) { model.delete(k); model.delete(k + 'b'); }
        const got = h.ct.dump(undefined, h.now).map((c) => `${c.zone}/${c.orig.sport}`).sort();
        expect(got).toEqual(live().filter((k) => !k.endsWith('b')));
      }
    }), { numRuns: 150 });
  });
});
