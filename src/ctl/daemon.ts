// The daemon's life cycle, as a library: take the run directory (pidfile
// lock, stale-file cleanup), load or create the configuration, build the
// switch, serve JSON-RPC on the socket, tick the switch about every 100 ms,
// and stop gracefully (close the socket, save the database, close the
// switch, remove socket and pidfile). `swd start` (swd-main.ts) wraps this
// with argument parsing, signals and --detach; tests call it in-process with
// a fake switch through `createSwitch`.
//
// Order on stop matters: no new requests (server closed) before the final
// save, so the saved database is the last configuration anyone was told
// about.

import type { Logger } from 'pino';
import type { SwitchConfig } from '../ofproto/api.ts';
import { loadDb, saveDb } from './db.ts';
import { DbSaver } from './db-saver.ts';
import { buildMethods, type DaemonSwitch, type MethodSpec, SWITCH_METHODS } from './methods.ts';
import { acquirePidfile, releasePidfile } from './pidfile.ts';
import { MetricsServer, type MetricsAddress } from './metrics.ts';
import type { OpenFlowListeners } from './of-listener.ts';
import type { Switch } from '../ofproto/switch.ts';
import type { FlowCacheOptions } from '../datapath/emc.ts';
import { RpcServer } from './rpc-server.ts';
import { EventStreamer } from './events.ts';
import { ensureRundir, type RunPaths, runPaths } from './rundir.ts';
import { VERSION } from './version.ts';
import { vlogMethods, type Vlog } from './vlog.ts';
import { openflowMethods } from './of-methods.ts';
import { flushAllSuppressed } from '../packet/log.ts';

export type DaemonLogger = Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;

export interface SwitchFactoryOptions {
  logger: DaemonLogger;
  /** Idle time before a datapath flow is removed (OVS other_config:max-idle). */
  maxIdleMs?: number;
  /** The datapath flow cache (swd start --emc-insert-inv-prob, --smc). */
  flowCache?: FlowCacheOptions;
  /** PMD threads for system and tap ports. */
  pmdThreads?: number;
  /** The conntrack save file (restored at start, written at stop). */
  ctSaveFile?: string;
  /** The logger of a named module (vlog), when the daemon has them. */
  logFor?: (module: string) => DaemonLogger;
}

export type SwitchFactory = (cfg: SwitchConfig, opts: SwitchFactoryOptions) => DaemonSwitch | Promise<DaemonSwitch>;

/** The real switch, loaded only when a daemon starts (swctl never pays for it). */
export const defaultSwitchFactory: SwitchFactory = async (cfg, opts) => {
  const { Switch } = await import('../ofproto/switch.ts');
  return Switch.fromConfig(cfg, { logger: opts.logger, maxIdleMs: opts.maxIdleMs, flowCache: opts.flowCache, pmdThreads: opts.pmdThreads, ctSaveFile: opts.ctSaveFile, logFor: opts.logFor });
};

export class DaemonStartError extends Error {
  readonly code = 'ESTART';
  constructor(message: string) {
    super(message);
    this.name = 'DaemonStartError';
  }
}

export interface DaemonOptions {
  rundir?: string;
  db?: string;
  pidfile?: string;
  /** Create br0 with dummy ports p1 (ofport 1) and p2 (ofport 2) when there is no database (default true). */
  defaultBridge?: boolean;
  logger: DaemonLogger;
  createSwitch?: SwitchFactory;
  /** PMD threads for system and tap ports (default 1; 0 keeps them on the main thread). */
  pmdThreads?: number;
  /** Period of sw.tick(); default 100 ms. */
  tickMs?: number;
  /** Extra methods (tests, later issues); they override the standard ones of the same name. */
  methods?: Record<string, MethodSpec>;
  env?: NodeJS.ProcessEnv;
  /** Passed to the switch factory: datapath flow idle time. */
  maxIdleMs?: number;
  /** Passed to the switch factory: the datapath flow cache. */
  flowCache?: FlowCacheOptions;
  /** Serve Prometheus metrics on this address (swd start --metrics). */
  metrics?: MetricsAddress;
  /** Log modules with run-time levels (swctl vlog-set / vlog-list); `logger` is then its daemon module. */
  vlog?: Vlog;
}

export interface Daemon {
  readonly paths: RunPaths;
  readonly sw: DaemonSwitch;
  /** Resolves once the daemon has stopped, however that came about (stop(), RPC `shutdown`). */
  readonly stopped: Promise<void>;
  /** Stop gracefully; idempotent. */
  stop(): Promise<void>;
  /** Where /metrics is served, when it is. */
  readonly metrics: MetricsAddress | null;
}

/** The conntrack save file beside the database: swd.db.json -> swd.db.conntrack. */
export function ctSavePath(db: string): string {
  return `${db.replace(/\.json$/, '')}.conntrack`;
}

/** The configuration of a fresh switch. */
export function defaultConfig(withBridge: boolean): SwitchConfig {
  if (!withBridge) return { version: 1, bridges: [] };
  return {
    version: 1,
    bridges: [
      {
        name: 'br0',
        ports: [
          { name: 'p1', type: 'dummy', ofport: 1, options: {} },
          { name: 'p2', type: 'dummy', ofport: 2, options: {} },
        ],
        flows: [],
      },
    ],
  };
}

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const log = opts.logger;
  const paths = runPaths(opts, opts.env);
  const createSwitch = opts.createSwitch ?? defaultSwitchFactory;
  ensureRundir(paths.rundir);
  await acquirePidfile(paths);

  let sw: DaemonSwitch | null = null;
  let server: RpcServer | null = null;
  let metrics: MetricsServer | null = null;
  let openflow: OpenFlowListeners | null = null;
  try {
    const saved = loadDb(paths.db);
    const cfg = saved ?? defaultConfig(opts.defaultBridge !== false);
    try {
      sw = await createSwitch(cfg, { logger: log, maxIdleMs: opts.maxIdleMs, flowCache: opts.flowCache, pmdThreads: opts.pmdThreads, ctSaveFile: ctSavePath(paths.db), logFor: opts.vlog ? (m) => opts.vlog!.module(m) : undefined });
    } catch (e) {
      if (saved) throw new DaemonStartError(`cannot restore the configuration in ${paths.db}: ${(e as Error).message}; fix or remove it`);
      throw e;
    }
    if (!saved) saveDb(paths.db, sw.config());
    const theSwitch = sw;

    let resolveStopped!: () => void;
    const stopped = new Promise<void>((r) => (resolveStopped = r));
    let stopping: Promise<void> | null = null;
    let tickFailures = 0;

    // The OpenFlow connection manager adds each bridge's controllers and fail mode.
    const config = () => (openflow ? openflow.saveInto(theSwitch.config()) : theSwitch.config());
    const save = () => saveDb(paths.db, config());
    // After a change (a command, an OpenFlow flow-mod): off the event loop (db-saver.ts).
    // Flow-only changes go to the database's journal when the switch tracks them (db-journal.ts).
    const withControllers = (c: SwitchConfig) => (openflow ? openflow.saveInto(c) : c);
    const js = theSwitch as Partial<Pick<Switch, 'configForSave' | 'configWithoutFlows' | 'takeFlowDeltas'>>;
    const journal = js.configForSave && js.configWithoutFlows && js.takeFlowDeltas
      ? { full: () => withControllers(js.configForSave!()), withoutFlows: () => withControllers(js.configWithoutFlows!()), deltas: () => js.takeFlowDeltas!() }
      : null;
    const saver = new DbSaver(paths.db, config, journal);
    const stop = () => {
      stopping ??= (async () => {
        clearInterval(timer);
        log.info('shutting down');
        events?.close();
        await server?.close(paths.socket);
        await metrics?.close();
        await openflow?.close();
        await saver.idle();
        await saver.close();
        try {
          save();
        } catch (e) {
          log.error({ err: e }, 'final database save failed');
        }
        try {
          theSwitch.close?.();
        } catch (e) {
          log.error({ err: e }, 'closing the switch failed');
        }
        // After close: the PMD threads are stopping, the table is (nearly) quiet.
        // A failed save (a full disk) is logged by the switch; the stop goes on.
        try {
          theSwitch.saveConntrack?.();
        } catch (e) {
          log.error({ err: e }, 'saving the connection table failed');
        }
        releasePidfile(paths.pidfile);
        log.info('stopped');
        resolveStopped();
      })();
      return stopping;
    };

    // OpenFlow: management sockets (<rundir>/<bridge>.mgmt) and the saved controllers, for a switch with bridges to program.
    // Before the RPC socket, so that every save includes the controllers.
    if ('bridges' in theSwitch && 'dp' in theSwitch) {
      const { OpenFlowListeners } = await import('./of-listener.ts');
      const ofLog = opts.vlog?.module('ofproto') ?? log;
      openflow = new OpenFlowListeners(theSwitch as unknown as Switch, paths.rundir, ofLog, () => {
        saver.save().catch((e: unknown) => log.error({ err: e }, 'database save after an OpenFlow change failed'));
      });
      if (saved) openflow.restore(saved);
      else openflow.sync();
    }

    const rpcLog = opts.vlog?.module('rpc') ?? log;
    const methods = buildMethods(
      { sw: theSwitch, save: () => saver.save(), shutdown: () => void stop(), version: VERSION },
      { ...SWITCH_METHODS, ...openflowMethods(() => openflow), ...(opts.vlog ? vlogMethods(opts.vlog) : {}), ...opts.methods },
    );
    const src = theSwitch.eventSource?.();
    const events = src ? new EventStreamer(src.conntrack, { now: src.now }) : null;
    if (events) methods.set('ct-events', events.handler());
    server = new RpcServer(methods, {
      onError: (err, method) => rpcLog.error({ err, method }, 'method failed'),
      onDrop: (reason) => rpcLog.warn({ reason }, 'dropped a control connection'),
    });
    try {
      await server.listen(paths.socket);
    } catch (e) {
      throw new DaemonStartError(`cannot listen on ${paths.socket}: ${(e as Error).message}`);
    }


    if (opts.metrics) {
      if (!theSwitch.stats) throw new DaemonStartError('this switch has no counters to serve as metrics');
      const stats = theSwitch.stats.bind(theSwitch);
      try {
        metrics = await MetricsServer.start(opts.metrics, stats, (err) => (opts.vlog?.module('metrics') ?? log).error({ err }, 'metrics scrape failed'));
      } catch (e) {
        throw new DaemonStartError(`cannot serve metrics on ${opts.metrics.host}:${opts.metrics.port}: ${(e as Error).message}`);
      }
      log.info({ metrics: `http://${metrics.address.host}:${metrics.address.port}/metrics` }, 'serving metrics');
    }

    const timer = setInterval(() => {
      try {
        const now = Date.now();
        theSwitch.tick?.(now);
        flushAllSuppressed(now);
        openflow?.sync();
        tickFailures = 0;
      } catch (e) {
        // Log the first failure of a run and then every 100th, not 10 a second.
        if (tickFailures++ % 100 === 0) log.error({ err: e, failures: tickFailures }, 'periodic work failed');
      }
    }, opts.tickMs ?? 100);

    log.info({ rundir: paths.rundir, socket: paths.socket, db: paths.db, restored: !!saved }, 'swd started');
    return { paths, sw: theSwitch, stopped, stop, metrics: metrics?.address ?? null };
  } catch (e) {
    await server?.close(paths.socket);
    await (metrics as MetricsServer | null)?.close();
    await (openflow as OpenFlowListeners | null)?.close();
    try {
      sw?.close?.();
    } catch {
      // best effort
    }
    releasePidfile(paths.pidfile);
    throw e;
  }
}
