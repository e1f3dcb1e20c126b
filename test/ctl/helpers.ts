// Helpers shared by the control-plane tests.

import { execFile, spawn } from 'node:child_process';
import { resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const SWCTL = resolve(ROOT, 'bin/swctl.js');
export const FAKE_SWD = resolve(ROOT, 'test/ctl/fixtures/fake-swd.ts');

/** A logger that says nothing. */
export const silent = { info() {}, warn() {}, error() {}, debug() {} } as never;

/** A socket file whose listener died without removing it: a SIGKILLed process's. */
export async function leaveStaleSocket(path: string): Promise<void> {
  const c = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise((r, j) => {
    c.stdout!.once('data', r);
    c.once('exit', () => j(new Error(`could not bind ${path}`)));
  });
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGKILL');
  await exited;
}


export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run swctl as a user would (asynchronously: an in-process daemon must keep answering). */
export function swctl(args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Ran> {
  return new Promise((done) => {
    const c = execFile(process.execPath, [SWCTL, ...args], { encoding: 'utf8', env: opts.env ?? process.env, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      done({ code, stdout, stderr });
    });
    if (opts.input !== undefined) c.stdin!.end(opts.input);
    else c.stdin!.end();
  });
}
