// Log modules with levels that change at run time, as OVS's vlog:
// `swctl vlog-set [MODULE:]LEVEL` (and OVS's MODULE:DEST:LEVEL form) and
// `swctl vlog-list` in ovs-appctl vlog/list's layout. Every module is a
// pino child logger ({"module": NAME} in each JSON line) with a level of
// its own; all of them write to the one destination swd was started with
// (stderr, or --log-file). This module also points this thread's log sink
// (src/packet/log.ts, what conntrack, the datapath and the PMD threads'
// forwarded messages use) at the module loggers.

import type { Logger } from 'pino';
import { setLogSink, type LogLevel } from '../packet/log.ts';
import { E_INVALID_PARAMS, RpcError } from './rpc-server.ts';
import type { MethodSpec } from './methods.ts';

/** The modules swd logs under; others appear when first used. */
export const VLOG_MODULES = ['conntrack', 'daemon', 'dpif', 'metrics', 'ofproto', 'rpc'];

/** OVS level names and pino's, both accepted; listed in OVS's words. */
const OVS_TO_PINO: Record<string, string> = { emer: 'fatal', err: 'error', warn: 'warn', info: 'info', dbg: 'debug', off: 'silent' };
const PINO_TO_OVS: Record<string, string> = { fatal: 'EMER', error: 'ERR', warn: 'WARN', info: 'INFO', debug: 'DBG', trace: 'TRACE', silent: 'OFF' };
const PINO_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const DESTS = ['any', 'console', 'file', 'syslog'];

export class VlogError extends Error {
  readonly code = 'EVLOG';
}

export class Vlog {
  private readonly modules = new Map<string, Logger>();

  /** `dest`: where the root logger writes ('console' = stderr, 'file' = --log-file). */
  constructor(
    readonly root: Logger,
    readonly dest: 'console' | 'file',
  ) {
    for (const m of VLOG_MODULES) this.module(m);
  }

  module(name: string): Logger {
    let l = this.modules.get(name);
    if (!l) {
      l = this.root.child({ module: name });
      l.level = this.root.level;
      this.modules.set(name, l);
    }
    return l;
  }

  /** Route this thread's src/packet/log.ts calls to the module loggers. */
  installSink(): void {
    setLogSink((module: string, level: LogLevel, fields: Record<string, unknown>, msg: string) => this.module(module)[level](fields, msg));
  }

  /** Apply one `[MODULE:][DEST:]LEVEL` spec (MODULE may be ANY). Returns the modules it changed. */
  set(spec: string): string[] {
    const parts = spec.split(':').map((p) => p.trim()).filter((p) => p !== '');
    if (parts.length === 0 || parts.length > 3) throw new VlogError(`bad vlog spec '${spec}' (expected [MODULE:][DEST:]LEVEL)`);
    let module = 'any';
    let dest = 'any';
    let level: string | undefined;
    for (const p of parts) {
      const w = p.toLowerCase();
      if (level === undefined && (w in OVS_TO_PINO || PINO_LEVELS.includes(w))) level = OVS_TO_PINO[w] ?? w;
      else if (DESTS.includes(w)) dest = w;
      else if (w === 'any' || this.modules.has(w)) module = w;
      else throw new VlogError(`unknown module, destination or level '${p}' (modules: ${[...this.modules.keys()].sort().join(', ')})`);
    }
    if (level === undefined) throw new VlogError(`no level in '${spec}' (levels: emer, err, warn, info, dbg, off)`);
    if (dest === 'syslog') throw new VlogError('swd does not log to syslog (destinations: console, file)');
    if (dest !== 'any' && dest !== this.dest) throw new VlogError(`swd logs to ${this.dest === 'file' ? 'a file (--log-file)' : 'the console (stderr)'}, not to ${dest}`);
    const names = module === 'any' ? [...this.modules.keys()] : [module];
    for (const n of names) this.module(n).level = level;
    return names.sort();
  }

  /** ovs-appctl vlog/list's table: a level for the destination in use, OFF for the others. */
  list(): { modules: Record<string, string>; lines: string[] } {
    const lines = ['                 console    syslog    file', '                 -------    ------    ------'];
    const modules: Record<string, string> = {};
    for (const name of [...this.modules.keys()].sort()) {
      const lvl = PINO_TO_OVS[this.module(name).level] ?? this.module(name).level.toUpperCase();
      modules[name] = lvl;
      const console = this.dest === 'console' ? lvl : 'OFF';
      const file = this.dest === 'file' ? lvl : 'OFF';
      lines.push(`${name.padEnd(16)}  ${console.padStart(4)}       ${'OFF'.padStart(4)}       ${file.padStart(4)}`);
    }
    return { modules, lines };
  }
}

/** The daemon's vlog-set / vlog-list methods. */
export function vlogMethods(vlog: Vlog): Record<string, MethodSpec> {
  return {
    'vlog-set': {
      call: (_sw, p) => {
        const specs = p.str('spec').split(/\s+/).filter((s) => s !== '');
        try {
          // As ovs-appctl vlog/set: nothing to print on success.
          return { changed: specs.flatMap((s) => vlog.set(s)), lines: [] };
        } catch (e) {
          if (e instanceof VlogError) throw new RpcError(E_INVALID_PARAMS, e.message);
          throw e;
        }
      },
    },
    'vlog-list': { call: () => vlog.list() },
  };
}
