// The daemon's life cycle in-process, with a fake switch: default
// configuration, owner-only socket, one daemon per run directory, stale
// leftovers cleaned up, a corrupt database refused and left alone,
// configuration saved after every change and restored on start.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultConfig, startDaemon, type Daemon } from '../../src/ctl/daemon.ts';
import { DbError } from '../../src/ctl/db.ts';
import { AlreadyRunningError } from '../../src/ctl/pidfile.ts';
import { call } from '../../src/ctl/rpc-client.ts';
import { FakeSwitch } from './fake-switch.ts';
import { leaveStaleSocket, silent } from './helpers.ts';

describe('daemon life cycle (in-process, fake switch)', () => {
  const dirs: string[] = [];
  const daemons: Daemon[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'swd-daemon-'));
    dirs.push(d);
    return join(d, 'run');
  };
  const start = async (rundir: string, extra: Partial<Parameters<typeof startDaemon>[0]> = {}) => {
    const d = await startDaemon({ rundir, logger: silent, createSwitch: (cfg) => FakeSwitch.fromConfig(cfg), ...extra });
    daemons.push(d);
    return d;
  };
  afterEach(async () => {
    for (const d of daemons.splice(0)) await d.stop();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('starts with br0, p1 and p2 when there is no database, and saves that', async () => {
    const run = tmp();
    const d = await start(run);
    expect(await call(d.paths.socket, 'list-br', {})).toEqual({ bridges: ['br0'] });
    expect(JSON.parse(readFileSync(join(run, 'swd.db.json'), 'utf8'))).toEqual(defaultConfig(true));
    expect(readFileSync(join(run, 'swd.pid'), 'utf8')).toBe(`${process.pid}\n`);
    expect(statSync(d.paths.socket).mode & 0o777).toBe(0o600);
    expect(statSync(run).mode & 0o777).toBe(0o700);
  });

  it('starts empty with defaultBridge false', async () => {
    const d = await start(tmp(), { defaultBridge: false });
    expect(await call(d.paths.socket, 'list-br', {})).toEqual({ bridges: [] });
  });

  it('refuses a second daemon on the same run directory', async () => {
    const run = tmp();
    await start(run);
    await expect(start(run)).rejects.toBeInstanceOf(AlreadyRunningError);
    await expect(start(run)).rejects.toThrow(
      `another swd (pid ${process.pid}) is already running on ${run} (socket ${join(run, 'swd.sock')}); stop it first with \`swd stop --rundir ${run}\``,
    );
    // The first one is unharmed.
    expect(existsSync(join(run, 'swd.pid'))).toBe(true);
    expect(await call(join(run, 'swd.sock'), 'list-br', {})).toEqual({ bridges: ['br0'] });
  });

  it('cleans up the socket and pidfile of a crashed daemon', async () => {
    const run = tmp();
    mkdirSync(run, { mode: 0o700 });
    const sock = join(run, 'swd.sock');
    await leaveStaleSocket(sock);
    writeFileSync(join(run, 'swd.pid'), '2147483646\n');
    expect(existsSync(sock)).toBe(true);
    const d = await start(run);
    expect(await call(sock, 'list-br', {})).toEqual({ bridges: ['br0'] });
    expect(readFileSync(join(run, 'swd.pid'), 'utf8')).toBe(`${process.pid}\n`);
    await d.stop();
  });

  it('refuses a corrupt database, names it, and leaves it alone', async () => {
    const run = tmp();
    mkdirSync(run, { mode: 0o700 });
    const db = join(run, 'swd.db.json');
    writeFileSync(db, '{"version":1,"bridges":[{"name":');
    await expect(start(run)).rejects.toBeInstanceOf(DbError);
    await expect(start(run)).rejects.toThrow(`database ${db} is corrupt`);
    expect(readFileSync(db, 'utf8')).toBe('{"version":1,"bridges":[{"name":');
    expect(existsSync(join(run, 'swd.pid'))).toBe(false);
    expect(existsSync(join(run, 'swd.sock'))).toBe(false);
  });

  it('refuses a database whose configuration the switch rejects', async () => {
    const run = tmp();
    mkdirSync(run, { mode: 0o700 });
    const db = join(run, 'swd.db.json');
    writeFileSync(db, JSON.stringify({ version: 1, bridges: [{ name: 'br0', ports: [], flows: ['priority=1'] }] }));
    await expect(start(run)).rejects.toThrow(`cannot restore the configuration in ${db}: db:1:1: missing actions; fix or remove it`);
  });

  it('saves every change, and a restart restores it', async () => {
    const run = tmp();
    const d = await start(run);
    await call(d.paths.socket, 'add-br', { bridge: 'br1' });
    await call(d.paths.socket, 'add-port', { bridge: 'br1', port: 'x', type: 'pcap', options: { rx_pcap: 'in.pcap' } });
    await call(d.paths.socket, 'add-flows', { bridge: 'br1', text: 'priority=5,actions=drop\n', file: 'f.txt' });
    const saved = JSON.parse(readFileSync(d.paths.db, 'utf8'));
    expect(saved.bridges[1]).toEqual({ name: 'br1', ports: [{ name: 'x', type: 'pcap', ofport: 1, options: { rx_pcap: 'in.pcap' } }], flows: ['priority=5,actions=drop'] });
    await d.stop();
    expect(existsSync(d.paths.socket)).toBe(false);
    expect(existsSync(d.paths.pidfile)).toBe(false);
    expect((d.sw as FakeSwitch).closed).toBe(true);

    const again = await start(run);
    expect(await call(again.paths.socket, 'dump-flows', { bridge: 'br1' })).toMatchObject({ lines: [' priority=5,actions=drop'] });
  });

  it('honours --db and --pidfile paths', async () => {
    const run = tmp();
    const base = join(run, '..');
    const d = await start(run, { db: join(base, 'conf.json'), pidfile: join(base, 'my.pid') });
    expect(readFileSync(join(base, 'my.pid'), 'utf8')).toBe(`${process.pid}\n`);
    expect(existsSync(join(base, 'conf.json'))).toBe(true);
    expect(existsSync(join(run, 'swd.pid'))).toBe(false);
    await d.stop();
    expect(existsSync(join(base, 'my.pid'))).toBe(false);
  });

  it('stops on the shutdown method after answering it', async () => {
    const d = await start(tmp());
    expect(await call(d.paths.socket, 'shutdown', {})).toEqual({ stopping: true });
    await d.stopped;
    expect(existsSync(d.paths.socket)).toBe(false);
  });

  it('ticks the switch periodically', async () => {
    const d = await start(tmp(), { tickMs: 5 });
    await new Promise((r) => setTimeout(r, 50));
    expect((d.sw as FakeSwitch).ticks).toBeGreaterThan(0);
  });
});
