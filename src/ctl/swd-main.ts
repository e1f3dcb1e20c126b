// `swd`: the daemon's command line. `swd start` runs the switch in the
// foreground (or in the background with --detach), serving JSON-RPC on
// <rundir>/swd.sock (mode 0600) with a pidfile beside it; SIGINT/SIGTERM
// stop it gracefully; `swd stop` asks a running daemon to stop. The daemon
// itself is daemon.ts; this file is arguments, signals and process exit.

import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { DaemonStartError, startDaemon, type SwitchFactory } from './daemon.ts';
import { parseMetricsAddress, type MetricsAddress } from './metrics.ts';
import { DbError, loadDb } from './db.ts';
import { AlreadyRunningError, checkNotRunning, pidAlive, readPid, socketAlive } from './pidfile.ts';
import { call } from './rpc-client.ts';
import { ensureRundir, LOG_NAME, RundirError, runPaths } from './rundir.ts';
import { VERSION } from './version.ts';
import { Vlog } from './vlog.ts';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

interface StartOptions {
  rundir?: string;
  db?: string;
  logLevel: string;
  detach?: boolean;
  pidfile?: string;
  defaultBridge: boolean;
  maxIdle?: number;
  emcInsertInvProb?: number;
  smc?: boolean;
  pmdThreads: number;
  metrics?: MetricsAddress;
  logFile?: string;
}

export interface SwdMainDeps {
  /** Build the switch (default: the real one from src/ofproto/switch.ts). */
  createSwitch?: SwitchFactory;
}

class Exit extends Error {
  constructor(readonly status: number) {
    super(`exit ${status}`);
  }
}

function fail(msg: string): never {
  process.stderr.write(`swd: ${msg}\n`);
  throw new Exit(1);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Errors whose message is meant for the user as it is. */
function isUserError(e: unknown): e is Error {
  return e instanceof AlreadyRunningError || e instanceof DbError || e instanceof DaemonStartError || e instanceof RundirError;
}

function parseMetrics(v: string): MetricsAddress {
  try {
    return parseMetricsAddress(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

function parseInvProb(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 0xffffffff) throw new InvalidArgumentError('must be a whole number from 0 (EMC off) to 4294967295');
  return n;
}

function parseMaxIdle(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 500 || n > 86_400_000) throw new InvalidArgumentError('must be a whole number of milliseconds from 500 to 86400000');
  return n;
}

async function start(o: StartOptions, deps: SwdMainDeps): Promise<void> {
  const paths = runPaths(o);
  if (o.detach) return detach(o, paths);

  const { default: pino } = await import('pino');
  let dest;
  try {
    dest = o.logFile ? pino.destination({ dest: o.logFile, sync: true, append: true, mkdir: true }) : pino.destination({ fd: 2, sync: true });
  } catch (e) {
    fail(`cannot open the log file ${o.logFile}: ${(e as Error).message}`);
  }
  const root = pino({ level: o.logLevel, base: { pid: process.pid } }, dest);
  const vlog = new Vlog(root, o.logFile ? 'file' : 'console');
  vlog.installSink();
  const logger = vlog.module('daemon');
  let daemon;
  try {
    daemon = await startDaemon({ ...o, maxIdleMs: o.maxIdle, flowCache: { emcInsertInvProb: o.emcInsertInvProb, smc: o.smc }, logger, vlog, createSwitch: deps.createSwitch });
  } catch (e) {
    if (isUserError(e)) fail(e.message);
    throw e;
  }
  process.stderr.write(`swd listening on ${daemon.paths.socket}\n`);
  if (daemon.metrics) process.stderr.write(`swd metrics on http://${daemon.metrics.host.includes(':') ? `[${daemon.metrics.host}]` : daemon.metrics.host}:${daemon.metrics.port}/metrics\n`);

  let signals = 0;
  const onSignal = (sig: string) => {
    if (++signals > 1) {
      logger.warn({ signal: sig }, 'second signal while stopping: exiting now');
      process.exit(1);
    }
    logger.info({ signal: sig }, 'signal received');
    void daemon.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', () => logger.info('SIGHUP ignored'));
  // The daemon must outlive a bug in one request or timer: log and go on.
  process.on('uncaughtException', (err) => logger.error({ err }, 'uncaught exception'));
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));

  await daemon.stopped;
  process.exit(0);
}

/**
 * --detach: check what can be checked here (so errors reach the terminal),
 * start the same command without --detach in a new session with its output
 * going to <rundir>/swd.log, and return once its socket answers.
 */
async function detach(o: StartOptions, paths: ReturnType<typeof runPaths>): Promise<void> {
  try {
    ensureRundir(paths.rundir);
    await checkNotRunning(paths);
    loadDb(paths.db);
  } catch (e) {
    if (isUserError(e)) fail(e.message);
    throw e;
  }
  const logPath = join(paths.rundir, LOG_NAME);
  const logFd = openSync(logPath, 'a', 0o600);
  const args = process.argv.slice(1).filter((a) => a !== '--detach');
  const child = spawn(process.execPath, [...process.execArgv, ...args], { detached: true, stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  let exited: number | null = null;
  child.once('exit', (code, sig) => (exited = code ?? (sig ? 128 : 1)));
  child.unref();
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (exited !== null) {
      const tail = readFileSync(logPath, 'utf8').trimEnd().split('\n').filter((l) => l.startsWith('swd: ')).slice(-1)[0];
      fail(tail ? tail.slice('swd: '.length) : `the daemon exited with status ${exited} during start; see ${logPath}`);
    }
    if (readPid(paths.pidfile) === child.pid && (await socketAlive(paths.socket))) {
      process.stderr.write(`swd listening on ${paths.socket} (pid ${child.pid})\n`);
      return;
    }
    await sleep(50);
  }
  fail(`the detached daemon (pid ${child.pid}) did not come up within 20 s; see ${logPath}`);
}

/** Stop the daemon of the run directory; with `quietIfNone`, a daemon that is not running is not an error (restart). */
async function stop(o: { rundir?: string; pidfile?: string }, quietIfNone = false): Promise<void> {
  const paths = runPaths(o);
  const pid = readPid(paths.pidfile);
  if (existsSync(paths.socket) && (await socketAlive(paths.socket))) {
    try {
      await call(paths.socket, 'shutdown', {}, 5000);
    } catch (e) {
      if (!pid) fail((e as Error).message);
    }
  } else if (pid && pidAlive(pid)) {
    process.kill(pid, 'SIGTERM');
  } else if (quietIfNone) {
    return;
  } else {
    fail(`swd is not running on ${paths.rundir} (no answer on ${paths.socket})`);
  }
  // Saving a large connection table takes a few seconds (1M: see bench/ct-save.bench.ts).
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    // The daemon removes its pidfile last. (Not pid liveness: a daemon that
    // is our caller's child stays a zombie until reaped.)
    const gone = !existsSync(paths.socket) && (!pid || readPid(paths.pidfile) !== pid);
    if (gone) {
      process.stderr.write('swd stopped\n');
      return;
    }
    await sleep(50);
  }
  fail(`swd${pid ? ` (pid ${pid})` : ''} did not stop within 60 s`);
}

function parsePmdThreads(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 64) throw new InvalidArgumentError('must be an integer from 0 to 64');
  return n;
}

export async function main(argv = process.argv, deps: SwdMainDeps = {}): Promise<void> {
  const program = new Command('swd')
    .description('swd: a userspace software switch with OpenFlow tables and connection tracking')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ outputError: (s, write) => write(s.replace(/^error: /, 'swd: ')) });
  const startOptions = (cmd: Command) =>
    cmd
      .option('--rundir <dir>', 'run directory (socket, pidfile, default database)')
      .option('--db <file>', 'configuration database file (default: <rundir>/swd.db.json)')
      .addOption(new Option('--log-level <level>', 'log level').choices(LEVELS).default('info'))
      .option('--detach', 'run in the background (logs to <rundir>/swd.log); return once the socket is up')
      .option('--pidfile <file>', 'pidfile (default: <rundir>/swd.pid)')
      .option('--no-default-bridge', 'do not create br0 with p1 and p2 when there is no database yet')
      .option('--max-idle <ms>', 'idle time before a datapath flow is removed, as OVS other_config:max-idle (default 10000)', parseMaxIdle)
      .option('--emc-insert-inv-prob <n>', 'insert a flow into the exact-match cache with probability 1/N (0: no EMC), as OVS other_config:emc-insert-inv-prob (default 100)', parseInvProb)
      .option('--smc', 'add the signature-match cache (1M entries) in front of the megaflow classifier, as OVS other_config:smc-enable=true')
      .option('--pmd-threads <n>', 'datapath threads polling system and tap ports (0: on the main thread)', parsePmdThreads, 1)
      .option('--metrics <[addr:]port>', 'serve Prometheus metrics on http://ADDR:PORT/metrics (ADDR default 127.0.0.1)', parseMetrics)
      .option('--log-file <path>', 'write the JSON log lines to PATH (appended) instead of stderr');
  startOptions(program.command('start').description('run the switch daemon')).action((o: StartOptions) => start(o, deps));
  startOptions(
    program
      .command('restart')
      .description('stop the daemon of the run directory (saving its connection table) and start it again with these options'),
  ).action(async (o: StartOptions) => {
    await stop(o, true);
    await start(o, deps);
  });
  program
    .command('stop')
    .description('stop a running daemon')
    .option('--rundir <dir>', 'run directory of the daemon to stop')
    .option('--pidfile <file>', 'its pidfile, if not in the run directory')
    .action((o) => stop(o));
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
    if (e instanceof Exit) process.exit(e.status);
    process.stderr.write(`swd: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  }
}
