// The daemon's life cycle: --detach, --pidfile, --db, stale sockets, a
// corrupt database, --no-default-bridge.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const swd = (...args: string[]) => spawnSync(process.execPath, ['bin/swd.js', ...args], { encoding: 'utf8', timeout: 30_000 });
const swctl = (...args: string[]) => spawnSync(process.execPath, ['bin/swctl.js', ...args], { encoding: 'utf8', timeout: 30_000 });

describe('swd life cycle', () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'swd-life-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) {
      swd('stop', '--rundir', join(d, 'run'));
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('--detach returns once the socket answers; --pidfile and --db are honoured; swd stop ends it', () => {
    const d = tmp();
    const run = join(d, 'run');
    const r = swd('start', '--detach', '--rundir', run, '--pidfile', join(d, 'my.pid'), '--db', join(d, 'conf.json'), '--log-level', 'warn');
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^swd listening on .*run\/swd\.sock \(pid \d+\)\n$/);
    const pid = Number(readFileSync(join(d, 'my.pid'), 'utf8'));
    expect(process.kill(pid, 0)).toBe(true);
    expect(swctl('--rundir', run, 'list-br').stdout).toBe('br0\n');
    expect(JSON.parse(readFileSync(join(d, 'conf.json'), 'utf8')).bridges[0].name).toBe('br0');
    expect(swd('stop', '--rundir', run).status).toBe(0);
    expect(existsSync(join(run, 'swd.sock'))).toBe(false);
  });

  it('cleans up a socket left by a crashed daemon', () => {
    const d = tmp();
    const run = join(d, 'run');
    mkdirSync(run);
    // A socket file nobody listens on: bind, then close without unlinking.
    const sock = join(run, 'swd.sock');
    const srv = createServer();
    srv.listen(sock);
    writeFileSync(join(run, 'swd.pid'), '999999\n');
    return new Promise<void>((resolve) => {
      srv.on('listening', () => {
        // Simulate a crash: keep the file, stop listening.
        (srv as unknown as { _handle: { close: () => void } })._handle.close();
        const r = swd('start', '--detach', '--rundir', run, '--no-default-bridge', '--log-level', 'warn');
        expect(r.status).toBe(0);
        expect(swctl('--rundir', run, 'list-br').stdout).toBe('');
        resolve();
      });
    });
  });

  it('refuses to start on a corrupt database and leaves it alone', () => {
    const d = tmp();
    const run = join(d, 'run');
    mkdirSync(run);
    writeFileSync(join(run, 'swd.db.json'), '{"version":1,');
    const r = swd('start', '--rundir', run, '--log-level', 'warn');
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(/^swd: database .*swd\.db\.json is corrupt \(.*\); fix or remove it, swd will not overwrite it$/);
    expect(readFileSync(join(run, 'swd.db.json'), 'utf8')).toBe('{"version":1,');
  });

  it('says how to start swd when it is not running', () => {
    const d = tmp();
    const r = swctl('--rundir', join(d, 'run'), 'list-br');
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(
      `swctl: cannot connect to swd at ${join(d, 'run', 'swd.sock')}: is swd running? (start it with \`npm start\` or \`swd start\`)`,
    );
  });
});
