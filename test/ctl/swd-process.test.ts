// swd as a process (with the fake switch, through test/ctl/fixtures/fake-swd.ts):
// the start line, SIGTERM and SIGINT stop it gracefully (database flushed,
// socket and pidfile removed, status 0), a second start is refused with
// status 1, --detach returns once the socket answers and `swd stop` ends it.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { call } from '../../src/ctl/rpc-client.ts';
import { FAKE_SWD, ROOT } from './helpers.ts';

interface Proc {
  child: ChildProcess;
  stderr: () => string;
  exit: Promise<number | null>;
}

function swd(args: string[]): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', FAKE_SWD, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, stderr: () => err, exit };
}

/** Wait until the daemon says it is listening (or exits). */
async function listening(p: Proc): Promise<void> {
  await Promise.race([
    new Promise<void>((r) => {
      const check = () => (p.stderr().includes('swd listening on ') ? r() : setTimeout(check, 20));
      check();
    }),
    p.exit.then((code) => {
      throw new Error(`swd exited (${code}): ${p.stderr()}`);
    }),
  ]);
}

describe('swd process life cycle (fake switch)', () => {
  const dirs: string[] = [];
  const procs: Proc[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'swd-proc-'));
    dirs.push(d);
    return join(d, 'run');
  };
  afterEach(() => {
    for (const p of procs.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`stops gracefully on ${signal}`, async () => {
      const run = tmp();
      const p = swd(['start', '--rundir', run, '--log-level', 'silent']);
      procs.push(p);
      await listening(p);
      expect(p.stderr()).toBe(`swd listening on ${join(run, 'swd.sock')}\n`);
      await call(join(run, 'swd.sock'), 'add-br', { bridge: 'br7' });
      p.child.kill(signal);
      expect(await p.exit).toBe(0);
      expect(existsSync(join(run, 'swd.sock'))).toBe(false);
      expect(existsSync(join(run, 'swd.pid'))).toBe(false);
      expect(JSON.parse(readFileSync(join(run, 'swd.db.json'), 'utf8')).bridges.map((b: { name: string }) => b.name)).toEqual(['br0', 'br7']);
    });
  }

  it('refuses a second start on the same run directory, and starts over a crashed one', async () => {
    const run = tmp();
    const first = swd(['start', '--rundir', run, '--log-level', 'silent']);
    procs.push(first);
    await listening(first);
    const second = swd(['start', '--rundir', run, '--log-level', 'silent']);
    procs.push(second);
    expect(await second.exit).toBe(1);
    expect(second.stderr()).toBe(
      `swd: another swd (pid ${first.child.pid}) is already running on ${run} (socket ${join(run, 'swd.sock')}); stop it first with \`swd stop --rundir ${run}\`\n`,
    );
    first.child.kill('SIGKILL');
    await first.exit;
    // SIGKILL left its socket and pidfile behind.
    expect(existsSync(join(run, 'swd.sock'))).toBe(true);
    expect(existsSync(join(run, 'swd.pid'))).toBe(true);
    const third = swd(['start', '--rundir', run, '--log-level', 'silent']);
    procs.push(third);
    await listening(third);
    expect(readFileSync(join(run, 'swd.pid'), 'utf8')).toBe(`${third.child.pid}\n`);
    third.child.kill('SIGTERM');
    expect(await third.exit).toBe(0);
  });

  it('--detach returns once the socket answers; swd stop ends the daemon', async () => {
    const run = tmp();
    const p = swd(['start', '--detach', '--rundir', run, '--log-level', 'silent', '--no-default-bridge']);
    expect(await p.exit).toBe(0);
    const pid = Number(readFileSync(join(run, 'swd.pid'), 'utf8'));
    expect(p.stderr()).toBe(`swd listening on ${join(run, 'swd.sock')} (pid ${pid})\n`);
    expect(await call(join(run, 'swd.sock'), 'list-br', {})).toEqual({ bridges: [] });
    const stop = swd(['stop', '--rundir', run]);
    expect(await stop.exit).toBe(0);
    expect(stop.stderr()).toBe('swd stopped\n');
    expect(existsSync(join(run, 'swd.sock'))).toBe(false);
    expect(existsSync(join(run, 'swd.pid'))).toBe(false);
  });

  it('swd stop says so when nothing runs', async () => {
    const run = tmp();
    const stop = swd(['stop', '--rundir', run]);
    expect(await stop.exit).toBe(1);
    expect(stop.stderr()).toBe(`swd: swd is not running on ${run} (no answer on ${join(run, 'swd.sock')})\n`);
  });
});
