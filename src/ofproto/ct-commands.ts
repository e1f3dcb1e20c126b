// The dpctl/* conntrack commands as the switch serves them: argument parsing
// in OVS's syntax and results with OVS-format text lines.

import type { Conntrack } from '../conntrack/conntrack.ts';
import type { TupleFilter } from '../conntrack/conn.ts';
import { formatConn, formatCtStats, formatExp } from '../conntrack/format.ts';
import { formatConntrackL } from '../conntrack/format-linux.ts';
import { TIMEOUT_ATTRS, type TimeoutAttr } from '../conntrack/timeouts.ts';
import { SwitchError } from './api.ts';

function int(s: string, what: string, max: number): number {
  if (!/^\d+$/.test(s) || Number(s) > max) throw new SwitchError('EINVAL', `invalid ${what} '${s}'`);
  return Number(s);
}

/**
 * flush-conntrack's tuple argument as OVS takes it: the original tuple
 * (`ct_nw_src=..,ct_nw_dst=..,ct_nw_proto=6,ct_tp_src=..,ct_tp_dst=..`) and,
 * optionally after a space, the reply tuple in the same syntax.
 */
export function parseFlushTuple(text: string): { orig?: TupleFilter; reply?: TupleFilter } {
  const parts = text.trim().split(/\s+/).filter(Boolean);
  if (parts.length > 2) throw new SwitchError('EINVAL', 'flush-conntrack takes at most an original and a reply tuple');
  const [orig, reply] = parts.map(parseOneTuple);
  return { orig, reply };
}

function parseOneTuple(t: string): TupleFilter {
  const f: TupleFilter = {};
  for (const kv of t.split(',')) {
    if (!kv) continue;
    const eq = kv.indexOf('=');
    if (eq < 0) throw new SwitchError('EINVAL', `bad tuple field '${kv}' (expected name=value)`);
    const k = kv.slice(0, eq);
    const v = kv.slice(eq + 1);
    switch (k) {
      case 'ct_nw_src': case 'ct_ipv6_src': f.src = v; break;
      case 'ct_nw_dst': case 'ct_ipv6_dst': f.dst = v; break;
      case 'ct_nw_proto': f.proto = int(v, 'ct_nw_proto', 255); break;
      case 'ct_tp_src': f.sport = int(v, 'ct_tp_src', 65535); break;
      case 'ct_tp_dst': f.dport = int(v, 'ct_tp_dst', 65535); break;
      case 'icmp_id': f.icmpId = int(v, 'icmp_id', 65535); break;
      case 'icmp_type': f.icmpType = int(v, 'icmp_type', 255); break;
      case 'icmp_code': f.icmpCode = int(v, 'icmp_code', 255); break;
      default: throw new SwitchError('EINVAL', `unknown tuple field '${k}' (expected ct_nw_src, ct_nw_dst, ct_ipv6_src, ct_ipv6_dst, ct_nw_proto, ct_tp_src, ct_tp_dst, icmp_id, icmp_type, icmp_code)`);
    }
  }
  return f;
}

/** "zone=1,limit=10" / "default=5" pairs for ct-set-limits; "zone=1,2" for get/del. */
function parseZoneList(args: string): number[] {
  const zones: number[] = [];
  for (const a of args.split(/\s+/).filter(Boolean)) {
    const m = /^zone=([\d,]+)$/.exec(a);
    if (!m) throw new SwitchError('EINVAL', `bad argument '${a}' (expected zone=N[,N...])`);
    for (const z of m[1].split(',').filter(Boolean)) zones.push(int(z, 'zone', 65535));
  }
  return zones;
}

export class CtCommands {
  constructor(
    private readonly ct: Conntrack,
    private readonly now: () => number,
  ) {}

  dump(opts: { zone?: number; verbose?: boolean; stats?: boolean; format?: string }) {
    const now = this.now();
    const conns = this.ct.dump(opts.zone, now);
    if (opts.format !== undefined && opts.format !== 'conntrack') throw new SwitchError('EINVAL', `unknown format '${opts.format}' (expected conntrack)`);
    const lines = opts.format === 'conntrack'
      ? conns.map((c) => formatConntrackL(c, now))
      : conns.map((c) => formatConn(c, { verbose: !!opts.verbose, stats: !!opts.stats, nowMs: now }));
    return { connections: lines.length, lines };
  }

  /** dpctl/dump-conntrack-exp: the ALG expectations not matched yet. */
  dumpExp(opts: { zone?: number }) {
    const lines = this.ct.dumpExpectations(opts.zone, this.now()).map(formatExp);
    return { expectations: lines.length, lines };
  }

  flush(opts: { zone?: number; tuple?: string }) {
    const filter = { zone: opts.zone, ...(opts.tuple ? parseFlushTuple(opts.tuple) : {}) };
    const flushed = this.ct.flush(filter);
    // OVS fails a flush by tuple that finds no connection (ENOENT); a flush
    // of a zone or of everything succeeds even when there was nothing to do.
    if (opts.tuple && flushed === 0) throw new SwitchError('ENOENT', 'failed to flush conntrack (No such file or directory)');
    return { flushed, lines: [] as string[] };
  }

  stats(opts: { zone?: number; verbose?: boolean }) {
    const conns = this.ct.dump(opts.zone, this.now());
    const text = formatCtStats(conns, !!opts.verbose);
    const lines = text.split('\n').filter((l) => l.length > 0);
    // swd adds NAT figures to the verbose form (OVS's ct-stats-show has none).
    const c = this.ct.counters();
    const natExhausted = opts.zone === undefined ? c.natExhausted : this.ct.natExhausted(opts.zone);
    if (opts.verbose) {
      lines.push(`  NAT: ${c.natConns}`);
      lines.push(`  NAT exhaustion drops: ${natExhausted}`);
      // and the ALG helpers' figures (swd's own as well).
      lines.push(`  ALG expectations: created ${c.expCreated}, matched ${c.expMatched}, expired ${c.expExpired}`);
      lines.push(`  ALG malformed control messages: ${c.algMalformed}`);
      lines.push(`  Invalid for a bad checksum: ${c.badChecksum}`);
    }
    return {
      total: conns.length, natConnections: c.natConns, natExhaustionDrops: natExhausted, expCreated: c.expCreated,
      expMatched: c.expMatched, expExpired: c.expExpired, algMalformed: c.algMalformed, badChecksum: c.badChecksum, lines,
    };
  }

  setMaxconns(n: number) {
    if (!Number.isInteger(n) || n < 0) throw new SwitchError('EINVAL', `invalid maxconns ${n}`);
    this.ct.setMaxConns(n);
    return { maxconns: n, lines: ['setting maxconns successful'] };
  }

  getMaxconns() {
    const n = this.ct.getMaxConns();
    return { maxconns: n, lines: [String(n)] };
  }

  getNconns() {
    const n = this.ct.nconns();
    return { nconns: n, lines: [String(n)] };
  }

  setLimits(args: string) {
    let def: number | undefined;
    const zones: { zone: number; limit: number }[] = [];
    for (const a of args.split(/\s+/).filter(Boolean)) {
      let m: RegExpExecArray | null;
      if ((m = /^default=(\d+)$/.exec(a))) def = int(m[1], 'default limit', 0xffffffff);
      else if ((m = /^zone=(\d+),limit=(\d+)$/.exec(a))) zones.push({ zone: int(m[1], 'zone', 65535), limit: int(m[2], 'limit', 0xffffffff) });
      else throw new SwitchError('EINVAL', `bad argument '${a}' (expected default=N or zone=N,limit=M)`);
    }
    if (def === undefined && zones.length === 0) throw new SwitchError('EINVAL', 'ct-set-limits needs default=N or zone=N,limit=M');
    this.ct.setLimits(def, zones);
    return { lines: [] as string[] };
  }

  getLimits(args: string) {
    const zones = parseZoneList(args);
    const r = this.ct.getLimits(zones.length ? zones : undefined);
    const lines = [`default limit=${r.defaultLimit}`, ...r.zones.map((z) => `zone=${z.zone},limit=${z.limit},count=${z.count}`)];
    return { ...r, lines };
  }

  delLimits(args: string) {
    const zones = parseZoneList(args);
    if (zones.length === 0) throw new SwitchError('EINVAL', 'ct-del-limits needs zone=N[,N...]');
    this.ct.delLimits(zones);
    return { lines: [] as string[] };
  }

  setTcpSeqChk(on: boolean) {
    this.ct.setTcpSeqCheck(on);
    return { enabled: on, lines: [`TCP sequence checking ${on ? 'enabled' : 'disabled'}`] };
  }

  getTcpSeqChk() {
    const on = this.ct.getTcpSeqCheck();
    return { enabled: on, lines: [`TCP sequence checking: ${on ? 'enabled' : 'disabled'}`] };
  }

  setTimeoutPolicy(args: string) {
    let zone: number | null = null;
    const attrs: Partial<Record<TimeoutAttr, number>> = {};
    for (const a of args.split(/[\s,]+/).filter(Boolean)) {
      const eq = a.indexOf('=');
      if (eq < 0) throw new SwitchError('EINVAL', `bad argument '${a}' (expected name=value)`);
      const k = a.slice(0, eq), v = a.slice(eq + 1);
      if (k === 'zone') zone = int(v, 'zone', 65535);
      else if ((TIMEOUT_ATTRS as readonly string[]).includes(k)) attrs[k as TimeoutAttr] = int(v, k, 0xffffffff);
      else throw new SwitchError('EINVAL', `unknown timeout '${k}' (expected one of ${TIMEOUT_ATTRS.join(', ')})`);
    }
    if (zone === null) throw new SwitchError('EINVAL', 'ct-set-timeout-policy needs zone=N');
    this.ct.setTimeoutPolicy(zone, attrs);
    return this.getTimeoutPolicy(zone);
  }

  getTimeoutPolicy(zone: number) {
    const p = this.ct.getTimeoutPolicy(zone);
    return { zone, policy: p, lines: [`zone=${zone}`, ...TIMEOUT_ATTRS.map((a) => `  ${a}=${p[a]}`)] };
  }
}
