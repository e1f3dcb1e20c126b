// `swctl ct-save` as the switch serves it (src/ofproto/ct-save.ts): the
// write runs off the event loop; saves asked for at once are written one
// after another and each answered; an async save that the daemon's stop
// (a synchronous save) overtakes never replaces the newer file.

import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Conntrack } from '../../src/conntrack/conntrack.ts';
import { restoreConntrackFile } from '../../src/conntrack/save-file.ts';
import { CtSave } from '../../src/ofproto/ct-save.ts';
import { Harness } from '../conntrack/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'swd-ctsave-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quiet = { info() {}, warn() {}, error() {} };

/** How many connections the file holds (restored into a fresh table). */
function saved(file: string): number {
  const r = restoreConntrackFile(Conntrack.create({ capacity: 1024 }), file, 1_000_000);
  if (r.status !== 'restored') throw new Error(`not restored: ${JSON.stringify(r)}`);
  return r.restored;
}

function udp(h: Harness, sport: number) {
  h.send('10.1.1.1', '10.1.1.2', { proto: 17, sport, dport: 53 });
}

describe('ct-save', () => {
  it('three saves asked for at once: each answered, written one after another, the file whole', async () => {
    const h = new Harness();
    const file = join(dir, 'a.conntrack');
    const s = new CtSave(file, h.ct, () => h.now, quiet);
    udp(h, 1000);
    const all = await Promise.all([s.saveCommand(), s.saveCommand(), s.saveCommand()]);
    expect(all.map((r) => r.lines[0].replace(/\(\d+ bytes\)/, '(N bytes)'))).toEqual(Array(3).fill(`saved 1 connections to ${file} (N bytes)`));
    expect(saved(file)).toBe(1);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('a stop that saves while ct-save is on its way: the newer file stays, ct-save answers with it', async () => {
    const h = new Harness();
    const file = join(dir, 'b.conntrack');
    const s = new CtSave(file, h.ct, () => h.now, quiet);
    udp(h, 1000);
    const pending = s.saveCommand();
    await new Promise((r) => setImmediate(r)); // its snapshot taken (1 connection), its write on the way
    udp(h, 1001);
    udp(h, 1002);
    expect(s.saveNow()).toMatchObject({ status: 'saved', conns: 3 }); // the stop's save, synchronous
    expect(await pending).toMatchObject({ status: 'saved', conns: 3 });
    expect(existsSync(file)).toBe(true);
    expect(saved(file)).toBe(3);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('a failed save fails the command with its errno and leaves no temporary file', async () => {
    const h = new Harness();
    const s = new CtSave(join(dir, 'missing', 'c.conntrack'), h.ct, () => h.now, quiet);
    await expect(s.saveCommand()).rejects.toMatchObject({ code: 'ENOENT' });
    expect(s.last).toMatchObject({ status: 'failed', code: 'ENOENT' });
  });
});
