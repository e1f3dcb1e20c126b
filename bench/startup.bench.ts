// Start-up: how long a whole swctl command takes (process start to exit,
// talking to a running swd) next to a bare `node -e 0` measured in the same
// rounds, with swd and swctl compiled (dist/, as npm ci leaves them) and run
// from the TypeScript sources (SWD_FROM_SOURCES=1: what runs while dist/ is
// stale); swd's own start (spawn to its socket listening); and OVS's
// `ovs-appctl dpctl/ct-get-nconns` / `ovs-ofctl show br0` against a private
// ovs-vswitchd (test/conformance/ovs-ref.sh, dummy datapath) when Debian's
// openvswitch-switch is installed. Every round runs every case once, in
// turn, so a noisy machine disturbs them alike. Reported: p50 per case, with
// p90 and the ratio to `node -e 0` in the note. Goal: swctl compiled within
// 1.5× of `node -e 0`.
//
//   npm run bench -- startup          STARTUP_RUNS=N rounds (default 20)
//
// dist/ is built first (scripts/build.js) when it is not fresh.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isFresh } from '../bin/launch.js';
import type { BenchRow } from './run.ts';

const ROOT = resolve(import.meta.dirname, '..');
const RUNS = Number(process.env.STARTUP_RUNS ?? 20);
const SWD = join(ROOT, 'bin/swd.js');
const SWCTL = join(ROOT, 'bin/swctl.js');
const OVS_REF = join(ROOT, 'test/conformance/ovs-ref.sh');
const VSWITCHD = '/usr/lib/openvswitch-switch/ovs-vswitchd';

const { SWD_FROM_SOURCES: _ignored, ...BASE_ENV } = process.env;
const COMPILED_ENV = BASE_ENV;
const SOURCES_ENV = { ...BASE_ENV, SWD_FROM_SOURCES: '1' };

interface Case {
  name: string;
  /** One timed run, in ms. */
  run(): Promise<number>;
}

/** A process run to its end; throws unless it exits 0. */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): () => Promise<number> {
  return async () => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: status ${r.status}: ${r.stderr}`);
    return ms;
  };
}

/** swd started on a fresh run directory: the time until it says it listens; then it is stopped. */
function swdStart(env: NodeJS.ProcessEnv): () => Promise<number> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'swd-startup-'));
    const t0 = process.hrtime.bigint();
    const c = spawn(process.execPath, [SWD, 'start', '--rundir', dir, '--log-level', 'warn'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    const ms = await new Promise<number>((ok, fail) => {
      c.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.includes('swd listening on ')) ok(Number(process.hrtime.bigint() - t0) / 1e6);
      });
      c.once('exit', (code) => fail(new Error(`swd exited (${code}) before listening: ${err}`)));
    });
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
    return ms;
  };
}

/** A swd to talk to (compiled), on a run directory of its own, with the default bridge br0. */
async function runningSwd(): Promise<{ socket: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'swd-startup-'));
  const c = spawn(process.execPath, [SWD, 'start', '--rundir', dir, '--log-level', 'warn'], { env: COMPILED_ENV, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  await new Promise<void>((ok, fail) => {
    c.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('swd listening on ')) ok();
    });
    c.once('exit', (code) => fail(new Error(`swd exited (${code}): ${err}`)));
  });
  return {
    socket: join(dir, 'swd.sock'),
    async stop() {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A private OVS with br0 (ports p1, p2), or the reason there is none. */
function startOvs(): { env: NodeJS.ProcessEnv; stop(): void } | string {
  if (!existsSync(VSWITCHD)) return `no ${VSWITCHD} (Debian's openvswitch-switch)`;
  const dir = mkdtempSync(join(tmpdir(), 'swd-startup-ovs-'));
  const env = { ...process.env, OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir, OVS_SYSCONFDIR: dir };
  const stop = () => {
    spawnSync('bash', [OVS_REF, 'stop', dir], { env, stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  };
  const r = spawnSync('bash', [OVS_REF, 'start', dir, '2'], { env, encoding: 'utf8' });
  if (r.status !== 0) {
    stop();
    return `the OVS sandbox did not start: ${(r.stderr || r.stdout).trim().split('\n').pop()}`;
  }
  return { env, stop };
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

export async function rows(): Promise<BenchRow[]> {
  const notes: string[] = [];
  if (!isFresh(ROOT)) {
    const b = spawnSync(process.execPath, [join(ROOT, 'scripts/build.js')], { stdio: 'inherit' });
    if (b.status !== 0 || !isFresh(ROOT)) throw new Error('dist/ could not be built (scripts/build.js)');
    notes.push('dist/ built first');
  }
  const swd = await runningSwd();
  const ovs = startOvs();
  try {
    const ctl = (env: NodeJS.ProcessEnv, ...args: string[]) => timed(process.execPath, [SWCTL, '--socket', swd.socket, ...args], env);
    const cases: Case[] = [
      { name: 'node -e 0', run: timed(process.execPath, ['-e', '0'], BASE_ENV) },
      { name: 'swctl ct-get-nconns (compiled)', run: ctl(COMPILED_ENV, 'ct-get-nconns') },
      { name: 'swctl show br0 (compiled)', run: ctl(COMPILED_ENV, 'show', 'br0') },
      { name: 'swctl ct-get-nconns (from sources)', run: ctl(SOURCES_ENV, 'ct-get-nconns') },
      { name: 'swctl show br0 (from sources)', run: ctl(SOURCES_ENV, 'show', 'br0') },
      { name: 'swd start to listening (compiled)', run: swdStart(COMPILED_ENV) },
      { name: 'swd start to listening (from sources)', run: swdStart(SOURCES_ENV) },
    ];
    if (typeof ovs === 'string') notes.push(`OVS cases left out: ${ovs}`);
    else {
      cases.push({ name: 'ovs-appctl dpctl/ct-get-nconns', run: timed('ovs-appctl', ['dpctl/ct-get-nconns'], ovs.env) });
      cases.push({ name: 'ovs-ofctl show br0', run: timed('ovs-ofctl', ['show', 'br0'], ovs.env) });
    }
    // One untimed round first: file caches warm, every path compiled once.
    for (const c of cases) await c.run();
    const times = cases.map(() => [] as number[]);
    for (let i = 0; i < RUNS; i++) for (let j = 0; j < cases.length; j++) times[j].push(await cases[j].run());
    for (const t of times) t.sort((a, b) => a - b);
    const node50 = pct(times[0], 0.5);
    const node90 = pct(times[0], 0.9);
    return cases.map((c, j) => {
      const p50 = pct(times[j], 0.5);
      const p90 = pct(times[j], 0.9);
      const more = j === 0 ? [`${RUNS} rounds`, ...notes] : [`${(p50 / node50).toFixed(2)}× / ${(p90 / node90).toFixed(2)}× node -e 0 (p50 / p90)`];
      return { bench: 'start-up', case: `${c.name} p50`, value: p50, unit: 'ms', note: [`p90 ${p90.toFixed(1)} ms`, ...more].join('; ') };
    });
  } finally {
    await swd.stop();
    if (typeof ovs !== 'string') ovs.stop();
  }
}
