// The database's journal (src/ctl/db-journal.ts, db-saver.ts,
// ofproto/saved-flows.ts): after a full save, flow changes are appended as
// one line per save; loading replays them, stops at a torn last line (that
// save did not happen), never reads a journal the database does not name,
// and a database of the older single-file format loads as before.

import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { loadDb, saveDb } from '../../src/ctl/db.ts';
import { journalPath } from '../../src/ctl/db-journal.ts';
import { DbSaver } from '../../src/ctl/db-saver.ts';
import { Switch } from '../../src/ofproto/switch.ts';

const dir = mkdtempSync(join(tmpdir(), 'swd-journal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const switches: Switch[] = [];
const savers: DbSaver[] = [];
afterEach(async () => {
  for (const s of switches.splice(0)) s.close();
  for (const s of savers.splice(0)) await s.close();
});

let n = 0;
function setup(journalMinBytes?: number): { sw: Switch; saver: DbSaver; path: string } {
  const sw = Switch.fromConfig(null, { defaultBridge: true });
  switches.push(sw);
  const path = join(dir, `db${n++}.json`);
  const saver = new DbSaver(path, () => sw.config(), {
    full: () => sw.configForSave(),
    withoutFlows: () => sw.configWithoutFlows(),
    deltas: () => sw.takeFlowDeltas(),
  }, journalMinBytes);
  savers.push(saver);
  return { sw, saver, path };
}

const sorted = (a: string[]) => [...a].sort();
const savedFlows = (path: string) => sorted(loadDb(path)!.bridges.find((b) => b.name === 'br0')!.flows);
const liveFlows = (sw: Switch) => sorted(sw.config().bridges.find((b) => b.name === 'br0')!.flows);
const journalOf = (path: string) => {
  const id = JSON.parse(readFileSync(path, 'utf8')).journal as string | undefined;
  return id ? journalPath(path, id) : null;
};
/** A journal's lines (it is created by its first line). */
const lines = (f: string | null) => (f && existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter((l) => l) : []);

describe('database journal', () => {
  it('a full save first, then one journal line per save; loading replays adds, modifies and deletes', async () => {
    const { sw, saver, path } = setup();
    sw.addFlows('br0', 'priority=1,actions=drop', 'f');
    await saver.save();
    const journal = journalOf(path);
    expect(journal).not.toBeNull();
    expect(lines(journal)).toEqual([]);
    expect(savedFlows(path)).toEqual(['priority=1 actions=drop']);

    sw.addFlows('br0', 'priority=2,ip,actions=output:1\npriority=3,tcp,actions=output:2', 'f');
    await saver.save();
    sw.modFlows('br0', 'ip actions=output:2', 'f', false);
    await saver.save();
    sw.delFlows('br0', 'priority=3,tcp', true);
    await saver.save();
    expect(journalOf(path)).toBe(journal); // still the same journal: only flows changed
    expect(lines(journal)).toHaveLength(3);
    expect(savedFlows(path)).toEqual(liveFlows(sw));
    expect(savedFlows(path)).toEqual(['priority=1 actions=drop', 'priority=2,ip actions=output:2']);
  });

  it('a change to anything but flows rewrites the database and drops the old journal', async () => {
    const { sw, saver, path } = setup();
    sw.addFlows('br0', 'priority=1,actions=drop', 'f');
    await saver.save();
    sw.addFlows('br0', 'priority=2,actions=drop', 'f');
    await saver.save();
    const first = journalOf(path)!;
    expect(lines(first)).toHaveLength(1);
    sw.addPort('br0', { name: 'p9', type: 'dummy' });
    await saver.save();
    const db = JSON.parse(readFileSync(path, 'utf8'));
    expect(db.bridges[0].ports.map((p: { name: string }) => p.name)).toContain('p9');
    expect(sorted(db.bridges[0].flows)).toEqual(['priority=1 actions=drop', 'priority=2 actions=drop']);
    expect(journalOf(path)).not.toBe(first);
    expect(readdirSync(dir).filter((f) => f.startsWith(`${path.split('/').pop()}.`))).toEqual([]);
  });

  it('a torn last line, cut at every length, loads as the state before that save', async () => {
    const { sw, saver, path } = setup();
    sw.addFlows('br0', 'priority=1,actions=drop', 'f');
    await saver.save();
    sw.addFlows('br0', 'priority=2,ip,nw_src=10.0.0.1,actions=drop', 'f');
    await saver.save();
    const before = savedFlows(path);
    sw.addFlows('br0', 'priority=3,tcp,tp_dst=80,actions=output:2\npriority=4,udp,actions=output:1', 'f');
    sw.delFlows('br0', 'priority=1', true);
    await saver.save();
    const after = savedFlows(path);
    expect(after).not.toEqual(before);
    const journal = journalOf(path)!;
    const whole = readFileSync(journal);
    const lastStart = whole.subarray(0, whole.length - 1).lastIndexOf(0x0a) + 1;
    for (let cut = lastStart; cut < whole.length; cut++) {
      writeFileSync(journal, whole.subarray(0, cut));
      expect(savedFlows(path)).toEqual(before);
    }
    writeFileSync(journal, whole);
    expect(savedFlows(path)).toEqual(after);
    // Garbage after a torn line is never read either.
    truncateSync(journal, lastStart + 5);
    appendFileSync(journal, '\n{"flows":{"br0":{"del":[],"add":["priority=9 actions=drop"]}}}\n');
    expect(savedFlows(path)).toEqual(before);
  });

  it('a journal the database does not name is stale and never read; a database of the older format loads as it is', async () => {
    const { sw, saver, path } = setup();
    sw.addFlows('br0', 'priority=1,actions=drop', 'f');
    await saver.save();
    const id = JSON.parse(readFileSync(path, 'utf8')).journal as string;
    // A journal with another id (a crash between a full save's rename and the removal of the old journal).
    writeFileSync(journalPath(path, 'zzz-stale'), '{"flows":{"br0":{"del":["priority=1 actions=drop"],"add":[]}}}\n');
    expect(savedFlows(path)).toEqual(['priority=1 actions=drop']);
    // The older format: no journal id, flows as a plain list.
    const old = join(dir, 'old.db.json');
    saveDb(old, sw.config());
    expect(JSON.parse(readFileSync(old, 'utf8')).journal).toBeUndefined();
    writeFileSync(journalPath(old, id), '{"flows":{"br0":{"del":[],"add":["priority=7 actions=drop"]}}}\n');
    expect(savedFlows(old)).toEqual(['priority=1 actions=drop']);
    // A restart restores database and journal together.
    sw.addFlows('br0', 'priority=2,actions=drop', 'f');
    await saver.save();
    const again = Switch.fromConfig(loadDb(path), {});
    switches.push(again);
    expect(liveFlows(again)).toEqual(liveFlows(sw));
  });

  it('the database is rewritten when the journal outgrows it, so the journal stays bounded', async () => {
    const { sw, saver, path } = setup(64 << 10);
    sw.addFlows('br0', 'priority=1,actions=drop', 'f');
    await saver.save();
    const first = journalOf(path);
    let rewrites = 0;
    let last = first;
    for (let k = 0; k < 30; k++) {
      const text = Array.from({ length: 200 }, (_, i) => `priority=${10 + (i % 100)},tcp,nw_dst=10.${k}.${i >> 8}.${i & 255},tp_dst=80,actions=ct(commit,zone=${i % 16}),output:2`).join('\n');
      sw.addFlows('br0', text, 'f');
      await saver.save();
      const j = journalOf(path);
      if (j !== last) rewrites++;
      last = j;
      const j2 = journalOf(path)!;
      expect(existsSync(j2) ? readFileSync(j2).length : 0).toBeLessThanOrEqual(Math.max(64 << 10, readFileSync(path).length) + 40_000);
    }
    // The journal's limit grows with the database: rewrites get rarer (about every doubling).
    expect(rewrites).toBeGreaterThanOrEqual(2);
    expect(rewrites).toBeLessThanOrEqual(8);
    expect(savedFlows(path)).toEqual(liveFlows(sw));
  });

  it('a save that fails makes the next one a full save holding every change', async () => {
    const { sw, saver, path } = setup();
    sw.addFlows('br0', 'priority=1,actions=drop', 'f');
    await saver.save();
    const journal = journalOf(path)!;
    // The journal cannot be written: a directory where the file would be.
    mkdirSync(journal);
    sw.addFlows('br0', 'priority=2,actions=drop', 'f');
    await expect(saver.save()).rejects.toThrow(/^cannot save database .*: EISDIR/);
    rmSync(journal, { recursive: true, force: true });
    expect(savedFlows(path)).toEqual(['priority=1 actions=drop']);
    sw.addFlows('br0', 'priority=3,actions=drop', 'f');
    await saver.save();
    expect(journalOf(path)).not.toBe(journal);
    expect(savedFlows(path)).toEqual(['priority=1 actions=drop', 'priority=2 actions=drop', 'priority=3 actions=drop']);
  });

  it('random flow changes and saves: what loads is always what runs', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.oneof(
        fc.record({ op: fc.constant('add' as const), p: fc.integer({ min: 1, max: 6 }), port: fc.integer({ min: 1, max: 3 }), tcp: fc.boolean() }),
        fc.record({ op: fc.constant('mod' as const), p: fc.integer({ min: 1, max: 6 }), port: fc.integer({ min: 1, max: 3 }), tcp: fc.boolean() }),
        fc.record({ op: fc.constant('del' as const), p: fc.integer({ min: 1, max: 6 }), port: fc.constant(0), tcp: fc.boolean() }),
        fc.record({ op: fc.constant('replace' as const), p: fc.integer({ min: 1, max: 6 }), port: fc.integer({ min: 1, max: 3 }), tcp: fc.boolean() }),
        fc.record({ op: fc.constant('save' as const), p: fc.constant(0), port: fc.constant(0), tcp: fc.constant(false) }),
      ), { maxLength: 40 }),
      async (ops) => {
        const { sw, saver, path } = setup();
        await saver.save();
        for (const o of ops) {
          const m = `priority=${o.p},${o.tcp ? 'tcp' : 'ip'}`;
          if (o.op === 'add') sw.addFlows('br0', `${m},actions=output:${o.port}`, 'f');
          else if (o.op === 'mod') sw.modFlows('br0', `${m},actions=output:${o.port}`, 'f', true);
          else if (o.op === 'del') sw.delFlows('br0', m, true);
          else if (o.op === 'replace') sw.replaceFlows('br0', `${m},actions=output:${o.port}\npriority=9,arp,actions=drop`, 'f');
          else {
            await saver.save();
            expect(savedFlows(path)).toEqual(liveFlows(sw));
          }
        }
        await saver.save();
        expect(savedFlows(path)).toEqual(liveFlows(sw));
      },
    ), { numRuns: 40 });
  });
});
