// `swd`: the daemon's command line. `swd start` runs the switch in the
// foreground (or --detach), serving JSON-RPC on <rundir>/swd.sock (mode
// 0600) with a pidfile beside it; `swd stop` asks a running daemon to stop.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import pino from 'pino';
import { Switch } from '../ofproto/switch.ts';
import { DbError, loadDb, saveDb } from './db.ts';
import { buildMethods } from './methods.ts';
import { call } from './rpc-client.ts';
import { RpcServer } from './rpc-server.ts';
import { DB_NAME, PIDFILE_NAME, resolveRundir, SOCKET_NAME } from './rundir.ts';
import { VERSION } from './version.ts';

interface StartOptions {
  rundir?: string;
  db?: string;
  logLevel: string;
  detach?: boolean;
  pidfile?: string;
  defaultBridge: boolean;
}

/** True when something answers on the socket. */
function socketAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function fail(msg: string): never {
  process.stderr.write(`swd: ${msg}\n`);
  process.exit(1);
}

async function start(opts: StartOptions): Promise<void> {
  const rundir = resolveRundir(opts.rundir);
  const sockPath = join(rundir, SOCKET_NAME);
  const pidPath = opts.pidfile ?? join(rundir, PIDFILE_NAME);
  const dbPath = opts.db ?? join(rundir, DB_NAME);
  try {
    mkdirSync(rundir, { recursive: true, mode: 0o700 });
  } catch (e) {
    fail(`cannot create run directory ${rundir}: ${(e as Error).message}`);
  }

  if (existsSync(sockPath)) {
    if (await socketAlive(sockPath)) {
      const pid = existsSync(pidPath) ? readFileSync(pidPath, 'utf8').trim() : '?';
      fail(`another swd (pid ${pid}) is already running on ${rundir}; stop it first with \`swd stop\``);
    }
    // A crashed daemon left its socket behind.
    unlinkSync(sockPath);
  }

  if (opts.detach) {
    const args = process.argv.slice(1).filter((a) => a !== '--detach');
    const child = spawn(process.execPath, [...process.execArgv, ...args], { detached: true, stdio: 'ignore' });
    child.unref();
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (existsSync(sockPath) && (await socketAlive(sockPath))) {
        process.stderr.write(`swd listening on ${sockPath} (pid ${child.pid})\n`);
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    fail('the detached daemon did not come up within 20 s');
  }

  const log = pino({ level: opts.logLevel, base: { pid: process.pid } }, pino.destination(2));
  let cfg;
  try {
    cfg = loadDb(dbPath);
  } catch (e) {
    if (e instanceof DbError) fail(e.message);
    throw e;
  }
  const sw = Switch.fromConfig(cfg, { logger: log, defaultBridge: opts.defaultBridge });
  const save = () => {
    try {
      saveDb(dbPath, sw.config());
    } catch (e) {
      log.error({ err: e }, `cannot save the database ${dbPath}`);
    }
  };
  if (!cfg) save();

  let stopping = false;
  // eslint-disable-next-line prefer-const
  let server: RpcServer;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    log.info('shutting down');
    await server.close(sockPath);
    save();
    sw.close();
    try {
      if (existsSync(pidPath) && readFileSync(pidPath, 'utf8').trim() === String(process.pid)) unlinkSync(pidPath);
    } catch {
      // gone already
    }
    process.exit(0);
  };
  const methods = buildMethods({ sw, save, shutdown: () => void shutdown(), version: VERSION });
  server = new RpcServer(methods, { onError: (err, method) => log.error({ err, method }, 'method failed') });
  try {
    await server.listen(sockPath);
  } catch (e) {
    fail(`cannot listen on ${sockPath}: ${(e as Error).message}`);
  }
  writeFileSync(pidPath, `${process.pid}\n`);
  const timer = setInterval(() => {
    try {
      sw.tick(Date.now());
    } catch (e) {
      log.error({ err: e }, 'periodic work failed');
    }
  }, 100);
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
  process.on('uncaughtException', (e) => log.error({ err: e }, 'uncaught exception'));
  process.on('unhandledRejection', (e) => log.error({ err: e }, 'unhandled rejection'));
  log.info({ rundir, db: dbPath }, 'swd started');
  process.stderr.write(`swd listening on ${sockPath}\n`);
}

async function stop(opts: { rundir?: string }): Promise<void> {
  const rundir = resolveRundir(opts.rundir);
  const sockPath = join(rundir, SOCKET_NAME);
  try {
    await call(sockPath, 'shutdown', {}, 5000);
  } catch (e) {
    fail((e as Error).message);
  }
  const deadline = Date.now() + 10_000;
  while (existsSync(sockPath) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  process.stderr.write('swd stopped\n');
}

export async function main(argv = process.argv): Promise<void> {
  const program = new Command('swd').description('swd: a userspace software switch with OpenFlow tables and connection tracking').version(VERSION);
  program
    .command('start')
    .description('run the switch daemon')
    .option('--rundir <dir>', 'run directory (socket, pidfile, default database)')
    .option('--db <file>', 'configuration database file (default: <rundir>/swd.db.json)')
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'))
    .option('--detach', 'run in the background; return once the socket is up')
    .option('--pidfile <file>', 'pidfile (default: <rundir>/swd.pid)')
    .option('--no-default-bridge', 'do not create br0 with p1 and p2 when there is no database yet')
    .action((o: StartOptions) => start(o));
  program
    .command('stop')
    .description('stop a running daemon')
    .option('--rundir <dir>', 'run directory of the daemon to stop')
    .action((o) => stop(o));
  await program.parseAsync(argv);
}
