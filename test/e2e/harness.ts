// End-to-end harness: a real swd in a child process on a temporary run
// directory, driven only through the real swctl command line.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const SWD = join(ROOT, 'bin/swd.js');
const SWCTL = join(ROOT, 'bin/swctl.js');

export interface CmdResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class SwdInstance {
  readonly dir: string;
  readonly rundir: string;
  private child: ChildProcess | null = null;
  stderr = '';

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'swd-e2e-'));
    this.rundir = join(this.dir, 'run');
  }

  get socket(): string {
    return join(this.rundir, 'swd.sock');
  }

  /** Start swd and wait until its socket answers. */
  async start(extra: string[] = []): Promise<void> {
    this.child = spawn(process.execPath, [SWD, 'start', '--rundir', this.rundir, '--log-level', 'warn', ...extra], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child.stderr!.on('data', (d) => {
      this.stderr += d.toString();
    });
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`swd exited early (${this.child.exitCode}): ${this.stderr}`);
      if (existsSync(this.socket)) {
        const r = this.ctl(['list-br']);
        if (r.code === 0) return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`swd did not come up: ${this.stderr}`);
  }

  /** Run swctl synchronously against this daemon. */
  ctl(args: string[], input?: string): CmdResult {
    const r = spawnSync(process.execPath, [SWCTL, '--socket', this.socket, ...args], {
      input,
      encoding: 'utf8',
      cwd: this.dir,
      timeout: 30_000,
    });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** Run swctl and fail loudly unless it succeeds; returns stdout lines. */
  ok(args: string[], input?: string): string[] {
    const r = this.ctl(args, input);
    if (r.code !== 0) throw new Error(`swctl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r.stdout.split('\n').filter((l) => l.length > 0);
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (c && c.exitCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (c.exitCode === null) c.kill('SIGKILL');
    }
    this.child = null;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function path(inst: SwdInstance, name: string): string {
  return join(inst.dir, name);
}
