// The database saver the daemon uses after a change (src/ctl/db-saver.ts):
// changes made while a save is on its way share the next save, every
// caller is answered once a save holding its change is on disk, and a
// failed save rejects every caller it covered with the database error.

import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DbError, loadDb } from '../../src/ctl/db.ts';
import { DbSaver } from '../../src/ctl/db-saver.ts';
import type { SwitchConfig } from '../../src/ofproto/api.ts';

const dir = mkdtempSync(join(tmpdir(), 'swd-saver-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cfg = (n: number): SwitchConfig => ({ version: 1, bridges: [{ name: `br${n}`, ports: [], flows: [] }] } as unknown as SwitchConfig);

describe('DbSaver', () => {
  it('ten changes in a row: two saves, every caller answered, the last change on disk', async () => {
    const path = join(dir, 'a.db.json');
    let change = 0;
    let snapshots = 0;
    const saver = new DbSaver(path, () => (snapshots++, cfg(change)));
    const answered: Promise<void>[] = [];
    for (let i = 1; i <= 10; i++) {
      change = i;
      answered.push(saver.save());
    }
    await Promise.all(answered);
    expect(snapshots).toBe(2); // the first change's save, then one for the nine made meanwhile
    expect(loadDb(path)!.bridges[0].name).toBe('br10');
    await saver.idle();
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('a failed save rejects the callers it covered with a DbError, and the next save is tried afresh', async () => {
    const path = join(dir, 'missing', 'b.db.json');
    const saver = new DbSaver(path, () => cfg(1));
    const a = saver.save();
    const b = saver.save();
    await expect(a).rejects.toBeInstanceOf(DbError);
    await expect(b).rejects.toThrow(/^cannot save database .*b\.db\.json: ENOENT/);
    await expect(saver.save()).rejects.toBeInstanceOf(DbError);
    await saver.idle();
  });
});
