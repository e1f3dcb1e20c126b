// The table's slab and index ask for huge pages through the adviser the
// native layer registers (conntrack/memory.ts): large buffers only, never
// with hugePages: false, and the advice changes nothing a lookup sees.

import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { ConnTable } from '../../src/conntrack/table.ts';
import { HUGE_MIN_BYTES, setMemoryAdviser } from '../../src/conntrack/memory.ts';
import { adviseHugePages } from '../../src/datapath/native/native.ts';

const advised: number[] = [];
function spy(buf: SharedArrayBuffer): boolean {
  advised.push(buf.byteLength);
  return true;
}

describe('huge pages for the table', () => {
  afterEach(() => {
    advised.length = 0;
    setMemoryAdviser(adviseHugePages); // as native.ts left it
  });

  it('a table of 100,000 advises its 25.6 MB slab; its 1 MB index and a small table are left alone', () => {
    setMemoryAdviser(spy);
    ConnTable.create({ capacity: 100_000, hugePages: true });
    expect(advised).toEqual([100_000 * 256]);
    advised.length = 0;
    ConnTable.create({ capacity: 1024, hugePages: true });
    expect(advised).toEqual([]);
  });

  it('hugePages: false asks for nothing; a table of 1M advises slab and index', () => {
    setMemoryAdviser(spy);
    ConnTable.create({ capacity: 1_000_000, hugePages: false });
    expect(advised).toEqual([]);
    ConnTable.create({ capacity: 1_000_000, hugePages: true });
    expect(advised).toEqual([256_000_000, 4 << 22]);
  });

  it('the native adviser takes a large shared buffer where the kernel offers transparent huge pages; the buffer works as before', () => {
    const thp = readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8');
    const buf = new SharedArrayBuffer(HUGE_MIN_BYTES * 2);
    expect(adviseHugePages(buf)).toBe(!thp.includes('[never]'));
    const w = new Int32Array(buf);
    w[w.length - 1] = 7;
    expect([w[0], w[w.length - 1]]).toEqual([0, 7]);
  });
});
