// The daemon's JSON-RPC methods: thin wrappers that validate parameters and
// call the switch. Methods that change configuration persist it afterwards.
// docs/rpc.md documents each one.

import type { Switch } from '../ofproto/switch.ts';
import { E_INVALID_PARAMS, RpcError, type Handler } from './rpc-server.ts';

type P = Record<string, unknown>;

function str(p: P, name: string): string {
  const v = p[name];
  if (typeof v !== 'string' || v.length === 0) throw new RpcError(E_INVALID_PARAMS, `parameter '${name}' must be a non-empty string`);
  return v;
}

function optStr(p: P, name: string): string | undefined {
  const v = p[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new RpcError(E_INVALID_PARAMS, `parameter '${name}' must be a string`);
  return v;
}

function optInt(p: P, name: string): number | undefined {
  const v = p[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new RpcError(E_INVALID_PARAMS, `parameter '${name}' must be an integer`);
  return v;
}

function optBool(p: P, name: string): boolean {
  const v = p[name];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new RpcError(E_INVALID_PARAMS, `parameter '${name}' must be true or false`);
  return v;
}

function optRecord(p: P, name: string): Record<string, string> | undefined {
  const v = p[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v) || Object.values(v as object).some((x) => typeof x !== 'string')) {
    throw new RpcError(E_INVALID_PARAMS, `parameter '${name}' must be an object of strings`);
  }
  return v as Record<string, string>;
}

export interface MethodContext {
  sw: Switch;
  /** Persist the configuration (called after every successful change). */
  save: () => void;
  shutdown: () => void;
  version: string;
}

export function buildMethods(ctx: MethodContext): Map<string, Handler> {
  const { sw } = ctx;
  const m = new Map<string, Handler>();
  const mutating = (name: string, fn: Handler) =>
    m.set(name, async (p) => {
      const r = await fn(p);
      ctx.save();
      return r;
    });

  m.set('version', () => ({ version: ctx.version }));
  m.set('shutdown', () => {
    setImmediate(ctx.shutdown);
    return { stopping: true };
  });

  mutating('add-br', (p) => (sw.addBridge(str(p, 'bridge')), {}));
  mutating('del-br', (p) => (sw.delBridge(str(p, 'bridge')), {}));
  m.set('list-br', () => ({ bridges: sw.listBridges() }));
  mutating('add-port', (p) =>
    sw.addPort(str(p, 'bridge'), { name: str(p, 'port'), type: optStr(p, 'type'), ofport: optInt(p, 'ofport'), options: optRecord(p, 'options') }),
  );
  mutating('del-port', (p) => (sw.delPort(str(p, 'bridge'), str(p, 'port')), {}));
  m.set('show', (p) => sw.show(str(p, 'bridge')));
  m.set('dump-ports', (p) => sw.dumpPorts(str(p, 'bridge'), optStr(p, 'port')));

  mutating('add-flows', (p) => sw.addFlows(str(p, 'bridge'), optStr(p, 'text') ?? '', optStr(p, 'file') ?? '-'));
  mutating('mod-flows', (p) => sw.modFlows(str(p, 'bridge'), optStr(p, 'text') ?? '', optStr(p, 'file') ?? '-', optBool(p, 'strict')));
  mutating('del-flows', (p) => sw.delFlows(str(p, 'bridge'), optStr(p, 'match') ?? null, optBool(p, 'strict')));
  m.set('dump-flows', (p) => sw.dumpFlows(str(p, 'bridge'), optStr(p, 'match') ?? null, { noStats: optBool(p, 'noStats') }));

  m.set('inject', (p) => sw.inject(str(p, 'bridge'), str(p, 'port'), str(p, 'packet'), optInt(p, 'count') ?? 1));
  m.set('pcap-replay', (p) => sw.pcapReplay(str(p, 'bridge'), str(p, 'port')));
  m.set('trace', (p) => sw.trace(str(p, 'bridge'), str(p, 'flow')));

  m.set('dump-dp-flows', (p) => sw.dumpDpFlows({ verbose: optBool(p, 'verbose') }));
  m.set('del-dp-flows', () => sw.delDpFlows());
  m.set('fdb-show', (p) => sw.fdbShow(str(p, 'bridge')));

  // Connection tracking (dpctl/* equivalents).
  m.set('dump-conntrack', (p) => sw.dumpConntrack({ zone: optInt(p, 'zone'), verbose: optBool(p, 'verbose') }));
  m.set('flush-conntrack', (p) => sw.flushConntrack({ zone: optInt(p, 'zone'), tuple: optStr(p, 'tuple') }));
  m.set('ct-stats-show', (p) => sw.ctStatsShow({ zone: optInt(p, 'zone'), verbose: optBool(p, 'verbose') }));
  m.set('ct-set-maxconns', (p) => sw.ctSetMaxconns(optInt(p, 'maxconns') ?? -1));
  m.set('ct-get-maxconns', () => sw.ctGetMaxconns());
  m.set('ct-get-nconns', () => sw.ctGetNconns());
  m.set('ct-set-limits', (p) => sw.ctSetLimits(optStr(p, 'args') ?? ''));
  m.set('ct-get-limits', (p) => sw.ctGetLimits(optStr(p, 'args') ?? ''));
  m.set('ct-del-limits', (p) => sw.ctDelLimits(optStr(p, 'args') ?? ''));
  m.set('ct-set-tcp-seq-chk', (p) => sw.ctSetTcpSeqChk(optBool(p, 'enabled')));
  m.set('ct-get-tcp-seq-chk', () => sw.ctGetTcpSeqChk());
  m.set('ct-set-timeout-policy', (p) => sw.ctSetTimeoutPolicy(optStr(p, 'args') ?? ''));
  m.set('ct-get-timeout-policy', (p) => sw.ctGetTimeoutPolicy(optInt(p, 'zone') ?? 0));
  return m;
}
