// Datapath actions: what a megaflow does to its packets. Built once per
// upcall (slow path), executed per packet (fast path: a switch on `t`), and
// printed in `dpctl/dump-flows` syntax.

import { ipv4Str, ipv6Str, macStr } from '../packet/odp-format.ts';
import {
  FK_ETH_DST_HI, FK_ETH_DST_LO, FK_ETH_SRC_HI, FK_ETH_SRC_LO, FK_IPV6_DST, FK_IPV6_LABEL, FK_IPV6_SRC, FK_NW_DST,
  FK_NW_SRC, FK_NW_TOS, FK_NW_TTL, FK_TP_DST, FK_TP_SRC, FK_WORDS,
} from '../packet/flow-key.ts';
import type { NatSpec } from '../nat/range.ts';
import { compileNat } from '../nat/range.ts';
import type { CtExec } from '../conntrack/execute.ts';
import { algId } from '../conntrack/alg/helper.ts';

export const DPA_OUTPUT = 1;
export const DPA_RECIRC = 2;
export const DPA_CT = 3;
export const DPA_CT_CLEAR = 4;
export const DPA_SET = 5;
export const DPA_PUSH_VLAN = 6;
export const DPA_POP_VLAN = 7;
export const DPA_USERSPACE = 8;
export const DPA_SET_PKT_MARK = 9;
/** meter(N): the packet passes datapath meter N (meter.ts) or is dropped by one of its bands. */
export const DPA_METER = 10;
/** check_pkt_len(size=N,gt(...),le(...)): the actions of one branch, by the packet's length. */
export const DPA_CHECK_PKT_LEN = 11;

export type SetHeader = 'eth' | 'ipv4' | 'ipv6' | 'tcp' | 'udp' | 'sctp';

export interface DpCtAction {
  t: typeof DPA_CT;
  zone: number;
  commit: boolean;
  force: boolean;
  mark: { value: number; mask: number } | null;
  label: { value: bigint; mask: bigint } | null;
  nat: NatSpec | null;
  alg: string | null;
  /** The action compiled once, when the megaflow's actions are built, for conntrack's fast path. */
  exec: CtExec;
}

export type DpAction =
  | { t: typeof DPA_OUTPUT; port: number }
  | { t: typeof DPA_RECIRC; id: number }
  | DpCtAction
  | { t: typeof DPA_CT_CLEAR }
  | { t: typeof DPA_SET; header: SetHeader; words: Int32Array; values: Uint32Array }
  | { t: typeof DPA_PUSH_VLAN; tpid: number; tci: number }
  | { t: typeof DPA_POP_VLAN }
  | { t: typeof DPA_USERSPACE; reason: string; userdata?: number }
  | { t: typeof DPA_SET_PKT_MARK; mark: number }
  | { t: typeof DPA_METER; id: number }
  | DpCheckPktLen;

export interface DpCheckPktLen {
  t: typeof DPA_CHECK_PKT_LEN;
  /** Packets longer than this take `gt`, the others `le`. */
  size: number;
  gt: DpAction[];
  le: DpAction[];
}

// ---- constructors (used by translation)

export function output(port: number): DpAction {
  return { t: DPA_OUTPUT, port };
}

export function recirc(id: number): DpAction {
  return { t: DPA_RECIRC, id };
}

export function ct(a: Omit<DpCtAction, 't' | 'exec'>): DpAction {
  let labelWords: CtExec['label'] = null;
  if (a.label) {
    const value = new Uint32Array(4), mask = new Uint32Array(4);
    for (let i = 0; i < 4; i++) {
      const sh = BigInt(96 - 32 * i);
      value[i] = Number((a.label.value >> sh) & 0xffffffffn);
      mask[i] = Number((a.label.mask >> sh) & 0xffffffffn);
    }
    labelWords = { value, mask };
  }
  const exec: CtExec = {
    zone: a.zone, commit: a.commit, force: a.force, mark: a.mark, label: labelWords, nat: a.nat ? compileNat(a.nat) : null,
    alg: algId(a.alg),
  };
  return { t: DPA_CT, ...a, exec };
}

export function ctClear(): DpAction {
  return { t: DPA_CT_CLEAR };
}

export function set(header: SetHeader, words: number[], values: number[]): DpAction {
  return { t: DPA_SET, header, words: Int32Array.from(words), values: Uint32Array.from(values) };
}

export function pushVlan(tpid: number, tci: number): DpAction {
  return { t: DPA_PUSH_VLAN, tpid, tci };
}

export function popVlan(): DpAction {
  return { t: DPA_POP_VLAN };
}

/** A packet for userspace; `userdata` travels with it (ofproto's packet-in reason and table), never printed. */
export function userspace(reason: string, userdata?: number): DpAction {
  return userdata === undefined ? { t: DPA_USERSPACE, reason } : { t: DPA_USERSPACE, reason, userdata };
}

export function setPktMark(mark: number): DpAction {
  return { t: DPA_SET_PKT_MARK, mark };
}

export function meter(id: number): DpAction {
  return { t: DPA_METER, id };
}

export function checkPktLen(size: number, gt: DpAction[], le: DpAction[]): DpAction {
  return { t: DPA_CHECK_PKT_LEN, size, gt, le };
}

// ---- formatting

export function formatNat(n: NatSpec): string {
  if (n.kind === null) return 'nat';
  let range = '';
  if (n.addrMin) {
    const v6 = n.addrMin.includes(':');
    const a = (x: string) => (v6 && n.portMin !== undefined ? `[${x}]` : x);
    range = a(n.addrMin);
    if (n.addrMax && n.addrMax !== n.addrMin) range += `-${a(n.addrMax)}`;
    if (n.portMin !== undefined) {
      range += `:${n.portMin}`;
      if (n.portMax !== undefined && n.portMax !== n.portMin) range += `-${n.portMax}`;
    }
  }
  const parts = [range ? `${n.kind}=${range}` : n.kind];
  if (n.persistent) parts.push('persistent');
  if (n.hash) parts.push('hash');
  if (n.random) parts.push('random');
  return `nat(${parts.join(',')})`;
}

function formatCt(a: DpCtAction): string {
  const parts: string[] = [];
  if (a.force) parts.push('force_commit');
  else if (a.commit) parts.push('commit');
  if (a.zone) parts.push(`zone=${a.zone}`);
  if (a.mark) parts.push(`mark=0x${a.mark.value.toString(16)}/0x${a.mark.mask.toString(16)}`);
  // As OVS's format_u128(): the label's mask only when partial (the mark's always).
  if (a.label) {
    const full = a.label.mask === (1n << 128n) - 1n;
    parts.push(`label=0x${a.label.value.toString(16)}${full ? '' : `/0x${a.label.mask.toString(16)}`}`);
  }
  if (a.alg) parts.push(`helper=${a.alg}`);
  if (a.nat) parts.push(formatNat(a.nat));
  return parts.length ? `ct(${parts.join(',')})` : 'ct';
}

function formatSet(a: Extract<DpAction, { t: typeof DPA_SET }>): string {
  const v = new Map<number, number>();
  for (let i = 0; i < a.words.length; i++) v.set(a.words[i], a.values[i]);
  const f: string[] = [];
  switch (a.header) {
    case 'eth':
      if (v.has(FK_ETH_SRC_HI) || v.has(FK_ETH_SRC_LO)) f.push(`src=${macStr(v.get(FK_ETH_SRC_HI) ?? 0, v.get(FK_ETH_SRC_LO) ?? 0)}`);
      if (v.has(FK_ETH_DST_HI) || v.has(FK_ETH_DST_LO)) f.push(`dst=${macStr(v.get(FK_ETH_DST_HI) ?? 0, v.get(FK_ETH_DST_LO) ?? 0)}`);
      break;
    case 'ipv4':
      if (v.has(FK_NW_SRC)) f.push(`src=${ipv4Str(v.get(FK_NW_SRC)!)}`);
      if (v.has(FK_NW_DST)) f.push(`dst=${ipv4Str(v.get(FK_NW_DST)!)}`);
      if (v.has(FK_NW_TOS)) f.push(`tos=${hex8(v.get(FK_NW_TOS)!)}`);
      if (v.has(FK_NW_TTL)) f.push(`ttl=${v.get(FK_NW_TTL)}`);
      break;
    case 'ipv6': {
      const addr = (w: number) => ipv6Str([0, 1, 2, 3].map((i) => v.get(w + i) ?? 0));
      if ([0, 1, 2, 3].some((i) => v.has(FK_IPV6_SRC + i))) f.push(`src=${addr(FK_IPV6_SRC)}`);
      if ([0, 1, 2, 3].some((i) => v.has(FK_IPV6_DST + i))) f.push(`dst=${addr(FK_IPV6_DST)}`);
      if (v.has(FK_IPV6_LABEL)) f.push(`label=${hex8(v.get(FK_IPV6_LABEL)!)}`);
      if (v.has(FK_NW_TOS)) f.push(`tclass=${hex8(v.get(FK_NW_TOS)!)}`);
      if (v.has(FK_NW_TTL)) f.push(`hlimit=${v.get(FK_NW_TTL)}`);
      break;
    }
    default:
      if (v.has(FK_TP_SRC)) f.push(`src=${v.get(FK_TP_SRC)}`);
      if (v.has(FK_TP_DST)) f.push(`dst=${v.get(FK_TP_DST)}`);
  }
  return `set(${a.header}(${f.join(',')}))`;
}

function hex8(x: number): string {
  return `0x${x.toString(16)}`;
}

export function formatDpAction(a: DpAction, portName?: (n: number) => string): string {
  switch (a.t) {
    case DPA_OUTPUT: return portName ? portName(a.port) : String(a.port);
    case DPA_RECIRC: return `recirc(0x${a.id.toString(16)})`;
    case DPA_CT: return formatCt(a);
    case DPA_CT_CLEAR: return 'ct_clear';
    case DPA_SET: return formatSet(a);
    case DPA_PUSH_VLAN: return `push_vlan(vid=${a.tci & 0xfff},pcp=${(a.tci >> 13) & 7})`;
    case DPA_POP_VLAN: return 'pop_vlan';
    case DPA_USERSPACE: return `userspace(pid=0,${a.reason})`;
    case DPA_SET_PKT_MARK: return `set(skb_mark(0x${a.mark.toString(16)}))`;
    case DPA_METER: return `meter(${a.id})`;
    case DPA_CHECK_PKT_LEN: return `check_pkt_len(size=${a.size},gt(${formatDpActions(a.gt, portName)}),le(${formatDpActions(a.le, portName)}))`;
  }
}

export function formatDpActions(actions: DpAction[], portName?: (n: number) => string): string {
  if (actions.length === 0) return 'drop';
  return actions.map((a) => formatDpAction(a, portName)).join(',');
}

/** Same megaflow mask (revalidation). */
export function sameMask(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < FK_WORDS; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function sameActions(a: DpAction[], b: DpAction[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (JSON.stringify(a[i], bigintSafe) !== JSON.stringify(b[i], bigintSafe)) return false;
  }
  return true;
}

function bigintSafe(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint32Array || v instanceof Int32Array) return Array.from(v);
  return v;
}
