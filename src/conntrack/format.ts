// Text of `ovs-appctl dpctl/dump-conntrack [-m] [-s]` and
// `dpctl/ct-stats-show [-m]` lines, as OVS 3.1's userspace datapath prints
// them (fixtures captured from a real OVS in test/conntrack/fixtures).

import { tupleOf, type ConnInfo, type ConnTuple } from './conn.ts';
import type { ExpInfo } from './alg/expect.ts';
import { ALG_NAMES } from './alg/helper.ts';
import { TCP_STATE_NAMES, TCPS_FIN_WAIT_2, TCPS_TIME_WAIT, TCPS_SYN_RECV, TCPS_ESTABLISHED, WS_FLAG, WS_UNKNOWN } from './tcp.ts';

const PROTO_NAMES: Record<number, string> = {
  1: 'icmp', 2: 'igmp', 6: 'tcp', 17: 'udp', 33: 'dccp', 58: 'icmpv6', 132: 'sctp', 136: 'udplite',
};

export function protoName(p: number): string {
  return PROTO_NAMES[p] ?? String(p);
}

function tupleText(t: ConnTuple, proto: number): string {
  if (proto === 1 || proto === 58) {
    return `src=${t.src},dst=${t.dst},id=${t.icmpId},type=${t.icmpType},code=${t.icmpCode}`;
  }
  return `src=${t.src},dst=${t.dst},sport=${t.sport},dport=${t.dport}`;
}

export function labelText(l: readonly number[]): string {
  const big = (BigInt(l[0]) << 96n) | (BigInt(l[1]) << 64n) | (BigInt(l[2]) << 32n) | BigInt(l[3]);
  return `0x${big.toString(16)}`;
}

/** The one-word TCP state shown without -m: the later of the two peer
 *  states, with FIN_WAIT_2 shown as TIME_WAIT and SYN_RECV as ESTABLISHED
 *  (closer to what the kernel's single state would say). */
export function tcpCoalescedState(orig: number, reply: number): number {
  const s = orig > reply ? orig : reply;
  if (s === TCPS_FIN_WAIT_2) return TCPS_TIME_WAIT;
  if (s === TCPS_SYN_RECV) return TCPS_ESTABLISHED;
  return s;
}

function tcpFlagsText(ws: number): string {
  const names: string[] = [];
  if ((ws & WS_FLAG) !== 0) names.push('WINDOW_SCALE');
  if ((ws & WS_UNKNOWN) !== 0) names.push('BE_LIBERAL');
  return names.length === 0 ? '0' : names.join('|');
}

export interface FormatOptions {
  /** -m: id, status and per-direction TCP details. */
  verbose?: boolean;
  /** -s: the remaining timeout in seconds, relative to nowMs. */
  stats?: boolean;
  nowMs?: number;
}

/** One dump-conntrack line. */
export function formatConn(c: ConnInfo, verbose: boolean | FormatOptions = false): string {
  const o: FormatOptions = typeof verbose === 'boolean' ? { verbose } : verbose;
  // -s: per-direction counters inside each tuple, as dpctl/dump-conntrack --statistics (only when not zero).
  const cnt = (p: number, b: number) => (o.stats && (p || b) ? `,packets=${p},bytes=${b}` : '');
  let s = `${protoName(c.proto)},orig=(${tupleText(c.orig, c.proto)}${cnt(c.packetsOrig, c.bytesOrig)}),` +
    `reply=(${tupleText(c.reply, c.proto)}${cnt(c.packetsReply, c.bytesReply)})`;
  if (o.verbose) s += `,id=${c.id}`;
  if (c.zone !== 0) s += `,zone=${c.zone}`;
  // OFFLOAD is swd's (Linux's IPS_OFFLOAD; OVS's userspace conntrack prints status=0).
  if (o.verbose) s += c.offload ? ',status=OFFLOAD' : ',status=0';
  if (o.stats) {
    const left = Math.max(0, Math.floor((c.expiryMs - (o.nowMs ?? 0)) / 1000));
    s += `,timeout=${left}`;
  }
  if (c.mark !== 0) s += `,mark=${c.mark}`;
  if (c.label.some((w) => w !== 0)) s += `,labels=${labelText(c.label)}`;
  if (c.tcp !== null) {
    const t = c.tcp;
    if (o.verbose) {
      s += `,protoinfo=(state_orig=${TCP_STATE_NAMES[t.stateOrig]},state_reply=${TCP_STATE_NAMES[t.stateReply]}`;
      const wo = t.wscaleOrig & 0x0f;
      const wr = t.wscaleReply & 0x0f;
      if (wo !== 0 || wr !== 0) s += `,wscale_orig=${wo},wscale_reply=${wr}`;
      s += `,flags_orig=${tcpFlagsText(t.wscaleOrig)},flags_reply=${tcpFlagsText(t.wscaleReply)})`;
    } else {
      s += `,protoinfo=(state=${TCP_STATE_NAMES[tcpCoalescedState(t.stateOrig, t.stateReply)]})`;
    }
  }
  if (c.helper !== 0) s += `,helper=${ALG_NAMES[c.helper] ?? c.helper}`;
  if (o.verbose && c.parent) s += `,parent=(${tupleText(c.parent, c.proto)})`;
  return s;
}

/** One `dpctl/dump-conntrack-exp` line: the expected tuple (source port 0,
 *  any), zone, the mark and labels it will inherit, and the parent's tuple. */
export function formatExp(e: ExpInfo): string {
  let s = `${protoName(e.proto)},orig=(${tupleText(tupleOf(e.key, 0, e.proto, e.v6), e.proto)})`;
  if (e.zone !== 0) s += `,zone=${e.zone}`;
  if (e.mark !== 0) s += `,mark=${e.mark}`;
  if (e.label.some((w) => w !== 0)) s += `,labels=${labelText(e.label)}`;
  return `${s},parent=(${tupleText(tupleOf(e.parentKey, 0, e.proto, e.v6), e.proto)})`;
}

// Protocols ct-stats-show names. Verified against OVS 3.1: TCP, UDP, SCTP,
// ICMP and "Other" (e.g. GRE); ICMPv6 connections count in Total only. The
// relative order of the rarer ones (UDPLITE, DCCP, IGMP) is unverified.
const STATS_PROTOS: [number, string][] = [
  [6, 'TCP'], [17, 'UDP'], [132, 'SCTP'], [1, 'ICMP'], [136, 'UDPLITE'], [33, 'DCCP'], [2, 'IGMP'],
];

/** `dpctl/ct-stats-show [-m]` text (newline-terminated lines). */
export function formatCtStats(conns: Iterable<ConnInfo>, verbose = false): string {
  let total = 0;
  const perProto = new Map<number, number>();
  const tcpStates = new Array<number>(TCP_STATE_NAMES.length).fill(0);
  for (const c of conns) {
    total++;
    perProto.set(c.proto, (perProto.get(c.proto) ?? 0) + 1);
    if (c.tcp !== null) tcpStates[tcpCoalescedState(c.tcp.stateOrig, c.tcp.stateReply)]++;
  }
  let s = `Connections Stats:\n    Total: ${total}\n`;
  let named = 0;
  for (const [p, name] of STATS_PROTOS) {
    const n = perProto.get(p) ?? 0;
    if (n === 0) continue;
    named += n;
    s += `  ${name}: ${n}\n`;
    if (p === 6 && verbose) {
      s += '    Conn per TCP states:\n';
      for (let i = 0; i < tcpStates.length; i++) {
        if (tcpStates[i] !== 0) s += `\t  [${TCP_STATE_NAMES[i]}]=${tcpStates[i]}\n`;
      }
    }
  }
  let other = 0;
  for (const [p, n] of perProto) if (!STATS_PROTOS.some(([q]) => q === p) && p !== 58) other += n;
  if (other !== 0) s += `  Other: ${other}\n`;
  return s;
}
