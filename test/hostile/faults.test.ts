// Faults: `kill -9` of swd while add-flows is being applied and saved (to
// the database's journal, db-journal.ts) leaves a database that is the old
// or the new configuration, never a torn one, and swd starts from it (SWD_KILLS times; 200 in the soak run); a
// full disk while the database is written is reported to the command, the
// running state keeps the change, the file on disk stays the old one, and
// the next save after space comes back writes everything.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDb } from '../../src/ctl/db.ts';
import { Rng } from './packets.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const SWD = join(ROOT, 'bin/swd.js');
const SWCTL = join(ROOT, 'bin/swctl.js');
const KILLS = Number(process.env.SWD_KILLS ?? 3);
const isRoot = process.getuid?.() === 0;
if (!isRoot && process.env.CI === 'true') throw new Error('the full-disk test needs root (a tmpfs): CI must not skip it');

const ctl = (rundir: string, args: string[]) => spawnSync(process.execPath, [SWCTL, '--rundir', rundir, ...args], { encoding: 'utf8', timeout: 30_000 });

async function startSwd(rundir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [SWD, 'start', '--rundir', rundir, '--log-level', 'error'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`swd exited: ${err}`);
    if (existsSync(join(rundir, 'swd.sock')) && ctl(rundir, ['list-br']).status === 0) return child;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`swd did not come up: ${err}`);
}

const flowsOf = (db: string) => loadDb(db)!.bridges.find((b) => b.name === 'br0')!.flows;
const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

describe('faults', () => {
  it(`kill -9 during add-flows, ${KILLS} times: the database is the old or the new one, and swd starts from it`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'swd-kill-'));
    dirs.push(dir);
    const rundir = join(dir, 'run');
    const db = join(rundir, 'swd.db.json');
    const r = new Rng(Number(process.env.SWD_FUZZ_SEED ?? 99));
    let applied = 0; // flows the database is known to hold
    let outcomes = { old: 0, new: 0 };
    for (let k = 0; k < KILLS; k++) {
      const swd = await startSwd(rundir);
      expect(flowsOf(db)).toHaveLength(applied);
      // The run's first change rewrites the whole database; the add-flows killed below then goes to its journal.
      const t0 = Date.now();
      expect(ctl(rundir, ['add-flow', 'br0', `cookie=${k + 1},priority=2000,ip,nw_dst=10.${k}.0.1,actions=drop`]).status).toBe(0);
      const oneCommandMs = Date.now() - t0; // swctl's start, the request and its save, on this machine now
      expect(flowsOf(db)).toHaveLength(++applied);
      const file = join(dir, `flows-${k}.txt`);
      writeFileSync(file, Array.from({ length: 300 }, (_, i) => `cookie=${k + 1},priority=${i + 1},ip,nw_src=10.${k}.${i >> 8}.${i & 255},actions=drop`).join('\n'));
      const add = spawn(process.execPath, [SWCTL, '--rundir', rundir, 'add-flows', 'br0', file], { stdio: 'ignore' });
      // A kill anywhere from before the request arrives to after its save.
      await new Promise((res) => setTimeout(res, Math.round(oneCommandMs * (0.5 + r.int(1000) / 1000))));
      swd.kill('SIGKILL');
      await new Promise((res) => swd.once('exit', res));
      await new Promise((res) => (add.exitCode !== null ? res(null) : add.once('exit', res)));
      const n = flowsOf(db).length; // loadDb throws on a torn file
      expect([applied, applied + 300]).toContain(n);
      if (n === applied) outcomes.old++;
      else outcomes.new++;
      applied = n;
      rmSync(join(rundir, 'swd.pid'), { force: true });
    }
    const swd = await startSwd(rundir);
    const dumped = ctl(rundir, ['dump-flows', 'br0', '--no-stats']).stdout.split('\n').filter((l) => l.includes('actions='));
    expect(dumped).toHaveLength(applied);
    swd.kill('SIGKILL');
    expect(outcomes.old + outcomes.new).toBe(KILLS);
    // Leftover temporary files are the killed writers' own (named by pid); none is ever read as the database.
    expect(readdirSync(rundir).filter((f) => f === 'swd.db.json')).toHaveLength(1);
  }, 60_000 + KILLS * 20_000); // 200 kills took 36 min on a loaded 2-core machine (about 11 s each)

  it.skipIf(!isRoot)(`a full disk while saving the database: reported, running state kept, saved once space is back${isRoot ? '' : ' (skipped: needs root for a tmpfs)'}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'swd-full-'));
    dirs.push(dir);
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', mnt]).status).toBe(0);
    let swd: ChildProcess | null = null;
    try {
      const rundir = join(mnt, 'run');
      swd = await startSwd(rundir);
      expect(ctl(rundir, ['add-flow', 'br0', 'priority=1,actions=drop']).status).toBe(0);
      // Fill the file system.
      spawnSync('dd', ['if=/dev/zero', `of=${join(mnt, 'filler')}`, 'bs=4k'], { encoding: 'utf8' });
      const file = join(dir, 'flows.txt');
      writeFileSync(file, Array.from({ length: 2000 }, (_, i) => `priority=${i + 10},ip,nw_src=10.1.${i >> 8}.${i & 255},actions=drop`).join('\n'));
      const res = ctl(rundir, ['add-flows', 'br0', file]);
      expect(res.status).toBe(1);
      expect(res.stderr).toMatch(/^swctl: add-flows was applied but not saved: .*ENOSPC/);
      // Running state kept; the file still holds the old configuration, and no temporary file is left behind.
      const dump = () => ctl(rundir, ['dump-flows', 'br0', '--no-stats']).stdout.split('\n').filter((l) => l.includes('actions=')).length;
      expect(dump()).toBe(2001);
      expect(flowsOf(join(rundir, 'swd.db.json'))).toHaveLength(1);
      expect(readdirSync(rundir).filter((f) => f.includes('.tmp-'))).toEqual([]);
      expect(ctl(rundir, ['ct-get-nconns']).status).toBe(0);
      // Space back: the next change saves everything.
      rmSync(join(mnt, 'filler'));
      expect(ctl(rundir, ['add-flow', 'br0', 'priority=5,actions=drop']).status).toBe(0);
      expect(flowsOf(join(rundir, 'swd.db.json'))).toHaveLength(2002);
      expect(JSON.parse(readFileSync(join(rundir, 'swd.db.json'), 'utf8')).version).toBe(1);
    } finally {
      if (swd) { swd.kill('SIGKILL'); await new Promise((r) => swd!.once('exit', r)); }
      spawnSync('umount', ['-l', mnt]);
    }
  }, 120_000);
});
