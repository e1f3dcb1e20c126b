// PortMap: the datapath's ports by number, found the same through port()
// (the output path's array) as through get() after any adds and removals.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PORT_ARRAY_MAX, PortMap } from '../../src/datapath/port-map.ts';
import { DpPort } from '../../src/datapath/port.ts';
import { DummyBackend } from '../../src/datapath/ports/dummy.ts';

const port = (n: number) => new DpPort(n, `p${n}`, new DummyBackend(), {});

describe('PortMap', () => {
  it('port(n) is get(n) through set, replace, delete and clear, for small and large numbers', () => {
    const numbers = fc.constantFrom(0, 1, 2, 7, PORT_ARRAY_MAX - 1, PORT_ARRAY_MAX, 0xfffe, 65535);
    const op = fc.tuple(fc.constantFrom('set', 'delete', 'clear'), numbers);
    fc.assert(fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
      const m = new PortMap();
      for (const [what, n] of ops) {
        if (what === 'set') m.set(n, port(n));
        else if (what === 'delete') m.delete(n);
        else m.clear();
        for (const k of [0, 1, 2, 7, 3, PORT_ARRAY_MAX - 1, PORT_ARRAY_MAX, 0xfffe, 65535]) expect(m.port(k)).toBe(m.get(k));
      }
    }));
  });

  it('a port replaced under its number is the new one on both paths', () => {
    const m = new PortMap();
    const a = port(3), b = port(3);
    m.set(3, a).set(3, b);
    expect([m.port(3), m.get(3), m.size]).toEqual([b, b, 1]);
  });
});
