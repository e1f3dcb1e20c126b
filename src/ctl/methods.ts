// The daemon's JSON-RPC methods: one table row per method, naming the
// SwitchApi call it makes, validating its parameters, and saying whether it
// changes the configuration (then the daemon persists `sw.config()` after
// it succeeds). docs/rpc.md documents each one; to add a method, add a row
// here and a line there.

import { SwitchError, type GroupApi, type SwitchApi } from '../ofproto/api.ts';
import type { MeterApi } from '../ofproto/meter-commands.ts';
import type { SwitchStats } from '../ofproto/switch-stats.ts';
import type { FlowCommands } from '../ofproto/flow-commands.ts';
import type { Conntrack } from '../conntrack/conntrack.ts';
import { E_INVALID_PARAMS, RpcError, type Handler } from './rpc-server.ts';

/** Reads and checks one request's params; every failure is a -32602. */
export class Params {
  constructor(private readonly p: Record<string, unknown>) {}

  private bad(name: string, what: string): never {
    throw new RpcError(E_INVALID_PARAMS, `parameter '${name}' must be ${what}`);
  }

  str(name: string): string {
    const v = this.p[name];
    if (typeof v !== 'string' || v.length === 0) this.bad(name, 'a non-empty string');
    return v;
  }

  optStr(name: string): string | undefined {
    const v = this.p[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') this.bad(name, 'a string');
    return v;
  }

  optInt(name: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const v = this.p[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.bad(name, `an integer from ${min} to ${max}`);
    return v;
  }

  int(name: string, min?: number, max?: number): number {
    const v = this.optInt(name, min, max);
    if (v === undefined) this.bad(name, 'an integer');
    return v;
  }

  bool(name: string): boolean {
    const v = this.p[name];
    if (v === undefined || v === null) return false;
    if (typeof v !== 'boolean') this.bad(name, 'true or false');
    return v;
  }

  strList(name: string): string[] {
    const v = this.p[name];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) this.bad(name, 'an array of strings');
    return v as string[];
  }

  optRecord(name: string): Record<string, string> | undefined {
    const v = this.p[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v) || Object.values(v as object).some((x) => typeof x !== 'string')) {
      this.bad(name, 'an object of strings');
    }
    return v as Record<string, string>;
  }
}

/** Conntrack commands (dpctl/*); a switch without them answers ENOTSUP. */
export interface ConntrackApi {
  dumpConntrack(o: { zone?: number; verbose?: boolean; stats?: boolean; format?: string }): unknown;
  flushConntrack(o: { zone?: number; tuple?: string }): unknown;
  ctStatsShow(o: { zone?: number; verbose?: boolean }): unknown;
  dumpConntrackExp(o: { zone?: number }): unknown;
  ctSetMaxconns(n: number): unknown;
  ctGetMaxconns(): unknown;
  ctGetNconns(): unknown;
  ctSetLimits(args: string): unknown;
  ctGetLimits(args: string): unknown;
  ctDelLimits(args: string): unknown;
  ctSetTcpSeqChk(on: boolean): unknown;
  ctGetTcpSeqChk(): unknown;
  ctSetTimeoutPolicy(args: string): unknown;
  ctGetTimeoutPolicy(zone: number): unknown;
  ipfSetEnabled(family: string, on: boolean): unknown;
  ipfSetMinFrag(family: string, size: string): unknown;
  ipfSetMaxNfrags(n: string): unknown;
  ipfGetStatus(verbose: boolean): unknown;
}

/** Conntrack across a restart: save now, and how the last restore and save went. */
export interface CtSaveApi {
  saveConntrack(): unknown;
  ctSaveNow(): unknown;
  ctSaveShow(): unknown;
}

/** Flowtable commands (offload of established connections). */
export interface OffloadApi {
  offloadSet(bridge: string, args: string[]): unknown;
  offloadShow(bridge: string): unknown;
  dumpOffloaded(bridge: string | null): unknown;
}

function off<K extends keyof OffloadApi>(sw: DaemonSwitch, name: K): NonNullable<DaemonSwitch[K]> {
  const fn = sw[name];
  if (typeof fn !== 'function') throw new SwitchError('ENOTSUP', 'offload is not available in this switch');
  return (fn as (...a: unknown[]) => unknown).bind(sw) as NonNullable<DaemonSwitch[K]>;
}

/** PMD thread commands (dpif-netdev/pmd-*). */
export interface PmdApi {
  pmdStatsShow(): unknown;
  pmdSetThreads(n: number): unknown;
}

/** Whole-table flow commands (ovs-ofctl replace-flows, diff-flows). */
export interface FlowFileApi {
  replaceFlows(bridge: string, text: string, file: string): unknown;
  diffFlows(bridge: string, text: string, file: string, opts: { names?: boolean }): unknown;
}

/** What the daemon drives: the SwitchApi, maybe conntrack, groups and PMD threads, and the periodic hooks. */
/** ct-events (src/ctl/events.ts): where the daemon reads connection events. */
export interface EventSourceApi {
  eventSource(): { conntrack: Conntrack; now: () => number };
}

/** The whole-file flow commands that parse a big file in slices (ofproto/flow-slices.ts). */
export interface SlicedFlowApi {
  flows: Pick<FlowCommands, 'addFlowsSliced' | 'replaceFlowsSliced' | 'diffFlowsSliced'>;
}

export type DaemonSwitch = SwitchApi & Partial<SlicedFlowApi> & Partial<ConntrackApi> & Partial<GroupApi> & Partial<MeterApi> & Partial<PmdApi> & Partial<FlowFileApi> & Partial<EventSourceApi> & Partial<CtSaveApi> & Partial<OffloadApi> & { tick?(nowMs: number): void; close?(): void; stats?(): SwitchStats };

export interface MethodSpec {
  /** Persist the configuration after success. */
  mutating?: boolean;
  call(sw: DaemonSwitch, p: Params): unknown;
}

const MAX_PORT = 0xfeff; // OFPP_MAX
const ZONE = [0, 0xffff] as const;

function flowFile<K extends keyof FlowFileApi>(sw: DaemonSwitch, name: K): NonNullable<DaemonSwitch[K]> {
  const fn = sw[name];
  if (typeof fn !== 'function') throw new SwitchError('ENOTSUP', 'replace-flows and diff-flows are not available in this switch');
  return (fn as (...a: unknown[]) => unknown).bind(sw) as NonNullable<DaemonSwitch[K]>;
}

function ct<K extends keyof ConntrackApi>(sw: DaemonSwitch, name: K): NonNullable<DaemonSwitch[K]> {
  const fn = sw[name];
  if (typeof fn !== 'function') throw new SwitchError('ENOTSUP', 'connection tracking is not available in this switch');
  return (fn as (...a: unknown[]) => unknown).bind(sw) as NonNullable<DaemonSwitch[K]>;
}

function grp<K extends keyof GroupApi>(sw: DaemonSwitch, name: K): NonNullable<DaemonSwitch[K]> {
  const fn = sw[name];
  if (typeof fn !== 'function') throw new SwitchError('ENOTSUP', 'OpenFlow groups are not available in this switch');
  return (fn as (...a: unknown[]) => unknown).bind(sw) as NonNullable<DaemonSwitch[K]>;
}

function mtr<K extends keyof MeterApi>(sw: DaemonSwitch, name: K): NonNullable<DaemonSwitch[K]> {
  const fn = sw[name];
  if (typeof fn !== 'function') throw new SwitchError('ENOTSUP', 'OpenFlow meters are not available in this switch');
  return (fn as (...a: unknown[]) => unknown).bind(sw) as NonNullable<DaemonSwitch[K]>;
}

/** A group id parameter: a number, or absent for every group. */
const GROUP_ID = [0, 0xffffffff] as const;

function pmd<K extends keyof PmdApi>(sw: DaemonSwitch, name: K): NonNullable<DaemonSwitch[K]> {
  const fn = sw[name];
  if (typeof fn !== 'function') throw new SwitchError('ENOTSUP', 'this switch has no PMD threads');
  return (fn as (...a: unknown[]) => unknown).bind(sw) as NonNullable<DaemonSwitch[K]>;
}

/** Every method that calls the switch, by RPC name. */
export const SWITCH_METHODS: Record<string, MethodSpec> = {
  // bridges and ports
  'add-br': { mutating: true, call: (sw, p) => (sw.addBridge(p.str('bridge')), {}) },
  'del-br': { mutating: true, call: (sw, p) => (sw.delBridge(p.str('bridge')), {}) },
  'list-br': { call: (sw) => ({ bridges: sw.listBridges() }) },
  'add-port': {
    mutating: true,
    call: (sw, p) =>
      sw.addPort(p.str('bridge'), { name: p.str('port'), type: p.optStr('type'), ofport: p.optInt('ofport', 1, MAX_PORT), options: p.optRecord('options') }),
  },
  'del-port': { mutating: true, call: (sw, p) => (sw.delPort(p.str('bridge'), p.str('port')), {}) },
  show: { call: (sw, p) => sw.show(p.str('bridge')) },
  'dump-ports': { call: (sw, p) => sw.dumpPorts(p.str('bridge'), p.optStr('port')) },

  // flows
  'add-flows': {
    mutating: true,
    call: (sw, p) => {
      const a = [p.str('bridge'), p.optStr('text') ?? '', p.optStr('file') ?? '-'] as const;
      return sw.flows ? sw.flows.addFlowsSliced(...a) : sw.addFlows(...a);
    },
  },
  'mod-flows': {
    mutating: true,
    call: (sw, p) => sw.modFlows(p.str('bridge'), p.optStr('text') ?? '', p.optStr('file') ?? '-', p.bool('strict')),
  },
  'del-flows': { mutating: true, call: (sw, p) => sw.delFlows(p.str('bridge'), p.optStr('match') || null, p.bool('strict')) },
  'dump-flows': { call: (sw, p) => sw.dumpFlows(p.str('bridge'), p.optStr('match') || null, { noStats: p.bool('noStats'), names: p.bool('names') }) },
  'replace-flows': {
    mutating: true,
    call: (sw, p) => {
      const a = [p.str('bridge'), p.optStr('text') ?? '', p.optStr('file') ?? '-'] as const;
      return sw.flows ? sw.flows.replaceFlowsSliced(...a) : flowFile(sw, 'replaceFlows')(...a);
    },
  },
  'diff-flows': {
    call: (sw, p) => {
      const a = [p.str('bridge'), p.optStr('text') ?? '', p.optStr('file') ?? '-', { names: p.bool('names') }] as const;
      return sw.flows ? sw.flows.diffFlowsSliced(...a) : flowFile(sw, 'diffFlows')(...a);
    },
  },

  // groups (parameters are checked before asking whether the switch has groups)
  'add-groups': {
    mutating: true,
    call: (sw, p) => {
      const a = [p.str('bridge'), p.optStr('text') ?? '', p.optStr('file') ?? '-'] as const;
      return grp(sw, 'addGroups')(...a);
    },
  },
  'mod-groups': {
    mutating: true,
    call: (sw, p) => {
      const a = [p.str('bridge'), p.optStr('text') ?? '', p.optStr('file') ?? '-', p.bool('mayCreate')] as const;
      return grp(sw, 'modGroups')(...a);
    },
  },
  'del-groups': {
    mutating: true,
    call: (sw, p) => {
      const a = [p.str('bridge'), p.optStr('match') || null] as const;
      return grp(sw, 'delGroups')(...a);
    },
  },
  'dump-groups': {
    call: (sw, p) => {
      const a = [p.str('bridge'), p.optInt('groupId', ...GROUP_ID) ?? null] as const;
      return grp(sw, 'dumpGroups')(...a);
    },
  },
  'dump-group-stats': {
    call: (sw, p) => {
      const a = [p.str('bridge'), p.optInt('groupId', ...GROUP_ID) ?? null] as const;
      return grp(sw, 'dumpGroupStats')(...a);
    },
  },

  // meters (ovs-ofctl -O OpenFlow13 add-meter, mod-meter, del-meters, dump-meters, meter-stats, meter-features)
  'add-meter': { mutating: true, call: (sw, p) => mtr(sw, 'addMeter')(p.str('bridge'), p.str('meter')) },
  'mod-meter': { mutating: true, call: (sw, p) => mtr(sw, 'modMeter')(p.str('bridge'), p.str('meter')) },
  'del-meters': { mutating: true, call: (sw, p) => mtr(sw, 'delMeters')(p.str('bridge'), p.optStr('meter') || null) },
  'dump-meters': { call: (sw, p) => mtr(sw, 'dumpMeters')(p.str('bridge'), p.optStr('meter') || null) },
  'meter-stats': { call: (sw, p) => mtr(sw, 'meterStats')(p.str('bridge'), p.optStr('meter') || null) },
  'meter-features': { call: (sw, p) => mtr(sw, 'meterFeatures')(p.str('bridge')) },

  // packets
  inject: { call: (sw, p) => sw.inject(p.str('bridge'), p.str('port'), p.str('packet'), p.optInt('count', 1, 1_000_000) ?? 1) },
  'pcap-replay': { call: (sw, p) => sw.pcapReplay(p.str('bridge'), p.str('port')) },
  trace: { call: (sw, p) => sw.trace(p.str('bridge'), p.str('flow')) },

  // datapath
  'dump-dp-flows': { call: (sw, p) => sw.dumpDpFlows({ verbose: p.bool('verbose') }) },
  'del-dp-flows': { call: (sw) => sw.delDpFlows() },
  'fdb-show': { call: (sw, p) => sw.fdbShow(p.str('bridge')) },

  // PMD threads
  'pmd-stats-show': { call: (sw) => pmd(sw, 'pmdStatsShow')() },
  'pmd-set-threads': { call: (sw, p) => pmd(sw, 'pmdSetThreads')(p.int('threads', 1, 64)) },

  // connection tracking (dpctl/* equivalents)
  'dump-conntrack': {
    call: (sw, p) => ct(sw, 'dumpConntrack')({ zone: p.optInt('zone', ...ZONE), verbose: p.bool('verbose'), stats: p.bool('stats'), format: p.optStr('format') }),
  },
  // flowtable (offload)
  'offload-set': { mutating: true, call: (sw, p) => off(sw, 'offloadSet')(p.str('bridge'), p.strList('args')) },
  'offload-show': { call: (sw, p) => off(sw, 'offloadShow')(p.str('bridge')) },
  'dump-offloaded': { call: (sw, p) => off(sw, 'dumpOffloaded')(p.optStr('bridge') ?? null) },
  'flush-conntrack': { call: (sw, p) => ct(sw, 'flushConntrack')({ zone: p.optInt('zone', ...ZONE), tuple: p.optStr('tuple') }) },
  'ct-stats-show': { call: (sw, p) => ct(sw, 'ctStatsShow')({ zone: p.optInt('zone', ...ZONE), verbose: p.bool('verbose') }) },
  'dump-conntrack-exp': { call: (sw, p) => ct(sw, 'dumpConntrackExp')({ zone: p.optInt('zone', ...ZONE) }) },
  'ct-set-maxconns': { call: (sw, p) => ct(sw, 'ctSetMaxconns')(p.int('maxconns', 0, 0xffffffff)) },
  'ct-get-maxconns': { call: (sw) => ct(sw, 'ctGetMaxconns')() },
  'ct-get-nconns': { call: (sw) => ct(sw, 'ctGetNconns')() },
  'ct-set-limits': { call: (sw, p) => ct(sw, 'ctSetLimits')(p.optStr('args') ?? '') },
  'ct-get-limits': { call: (sw, p) => ct(sw, 'ctGetLimits')(p.optStr('args') ?? '') },
  'ct-del-limits': { call: (sw, p) => ct(sw, 'ctDelLimits')(p.optStr('args') ?? '') },
  'ct-set-tcp-seq-chk': { call: (sw, p) => ct(sw, 'ctSetTcpSeqChk')(p.bool('enabled')) },
  'ct-get-tcp-seq-chk': { call: (sw) => ct(sw, 'ctGetTcpSeqChk')() },
  'ct-set-timeout-policy': { call: (sw, p) => ct(sw, 'ctSetTimeoutPolicy')(p.optStr('args') ?? '') },
  'ct-get-timeout-policy': { call: (sw, p) => ct(sw, 'ctGetTimeoutPolicy')(p.optInt('zone', ...ZONE) ?? 0) },

  // conntrack across a restart (issue 18 part 2)
  'ct-save': { call: (sw) => ctSave(sw, 'ctSaveNow')() },
  'ct-save-show': { call: (sw) => ctSave(sw, 'ctSaveShow')() },
  // fragment reassembly (dpctl/ipf-* equivalents)
  'ipf-set-enabled': { call: (sw, p) => ct(sw, 'ipfSetEnabled')(p.str('family'), p.bool('enabled')) },
  'ipf-set-min-frag': { call: (sw, p) => ct(sw, 'ipfSetMinFrag')(p.str('family'), p.str('size')) },
  'ipf-set-max-nfrags': { call: (sw, p) => ct(sw, 'ipfSetMaxNfrags')(p.str('nfrags')) },
  'ipf-get-status': { call: (sw, p) => ct(sw, 'ipfGetStatus')(p.bool('verbose')) },
};

function ctSave<K extends keyof CtSaveApi>(sw: DaemonSwitch, name: K): NonNullable<DaemonSwitch[K]> {
  const fn = sw[name];
  if (typeof fn !== 'function') throw new SwitchError('ENOTSUP', 'saving the connection table is not available in this switch');
  return (fn as (...a: unknown[]) => unknown).bind(sw) as NonNullable<DaemonSwitch[K]>;
}

export interface MethodContext {
  sw: DaemonSwitch;
  /** Persist the configuration; throws or rejects (e.g. DbError) when it cannot. */
  save: () => void | Promise<void>;
  /** Stop the daemon (called after the answer to `shutdown` is on its way). */
  shutdown: () => void;
  version: string;
}

/**
 * One bridge's requests run one after another, in the order they arrived,
 * whichever connection they came on: a big add-flows that is parsed in
 * slices (ofproto/flow-slices.ts) lets other requests run meanwhile, but is
 * neither overtaken by nor interleaved with another request on its bridge.
 * Requests on other bridges, and those without one, do not wait.
 */
export class BridgeQueues {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(bridge: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(bridge);
    const p = prev === undefined ? fn() : prev.then(fn);
    const tail = p.then(noop, noop);
    this.tails.set(bridge, tail);
    void tail.then(() => {
      if (this.tails.get(bridge) === tail) this.tails.delete(bridge);
    });
    return p;
  }

  /** Bridges with a request running or waiting (for tests). */
  get busy(): number {
    return this.tails.size;
  }
}

const noop = () => {};

/** The full method table: SWITCH_METHODS plus the daemon's own (`version`, `shutdown`). */
export function buildMethods(ctx: MethodContext, table: Record<string, MethodSpec> = SWITCH_METHODS): Map<string, Handler> {
  const m = new Map<string, Handler>();
  const queues = new BridgeQueues();
  m.set('version', () => ({ version: ctx.version, lines: [`swd ${ctx.version}`] }));
  m.set('shutdown', () => {
    setImmediate(ctx.shutdown);
    return { stopping: true };
  });
  for (const [name, spec] of Object.entries(table)) {
    const call = async (raw: Record<string, unknown>) => spec.call(ctx.sw, new Params(raw));
    m.set(name, async (raw) => {
      // The bridge's queue holds the change only, not its save: the next
      // request on the bridge may go on while this one's save is on its
      // way (that save, or a later one, holds both; see db-saver.ts).
      const result = await (typeof raw.bridge === 'string' ? queues.run(raw.bridge, () => call(raw)) : call(raw));
      if (spec.mutating) {
        try {
          await ctx.save();
        } catch (e) {
          throw new SwitchError('EDB', `${name} was applied but not saved: ${(e as Error).message}`);
        }
      }
      return result;
    });
  }
  return m;
}
