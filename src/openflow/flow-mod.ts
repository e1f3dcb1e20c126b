// OFPT_FLOW_MOD and OFPT_FLOW_REMOVED (OpenFlow 1.3 layout) <-> FlowSpec,
// the object the flow-text parser builds: a FLOW_MOD decodes to a command
// and the same FlowSpec `ovs-ofctl add-flow`'s text would give swctl, so a
// bridge applies both identically. OFPTT_ALL (255) in a delete or modify
// means every table (tableGiven false); an add must name a table.

import { OFPP_NONE, type OfAction } from '../ofproto/actions.ts';
import { OFP_DEFAULT_PRIORITY, type FlowSpec } from '../ofproto/flow-spec.ts';
import type { Match } from '../ofproto/match.ts';
import type { Reader, Writer } from './buffer.ts';
import { OFPET_FLOW_MOD_FAILED, OFPFMFC_BAD_COMMAND, OFPFMFC_BAD_FLAGS, OFPFMFC_BAD_TABLE_ID, OfError, OFPET_BAD_REQUEST, OFPBRC_BAD_PORT, OFPBRC_BAD_LEN } from './errors.ts';
import { bodyReader, finishMsg, OFPT_FLOW_MOD, OFPT_FLOW_REMOVED, startMsg } from './header.ts';
import { decodeInstructions, encodeInstructions } from './instructions.ts';
import { decodeOxmMatch, encodeOxmMatch } from './oxm.ts';
import { OFPG_ANY, OFPP_ANY32, portFromOf11, portToOf11 } from './ports.ts';

export const OFPFC_ADD = 0;
export const OFPFC_MODIFY = 1;
export const OFPFC_MODIFY_STRICT = 2;
export const OFPFC_DELETE = 3;
export const OFPFC_DELETE_STRICT = 4;
export const OFPTT_ALL = 0xff;
export const OFP_NO_BUFFER = 0xffffffff;

export type FlowModCommand = 'add' | 'modify' | 'modify_strict' | 'delete' | 'delete_strict';
const COMMANDS: FlowModCommand[] = ['add', 'modify', 'modify_strict', 'delete', 'delete_strict'];

export const FLOW_MOD_FLAGS: [string, number][] = [
  ['send_flow_rem', 1], ['check_overlap', 2], ['reset_counts', 4], ['no_packet_counts', 8], ['no_byte_counts', 16],
];

export function flagsToWire(flags: string[]): number {
  let v = 0;
  for (const [name, bit] of FLOW_MOD_FLAGS) if (flags.includes(name)) v |= bit;
  return v;
}

export function flagsFromWire(v: number): string[] {
  return FLOW_MOD_FLAGS.filter(([, bit]) => v & bit).map(([name]) => name);
}

export interface FlowMod {
  command: FlowModCommand;
  spec: FlowSpec;
  bufferId: number;
}

/** The fields a FLOW_MOD / flow stats request / FLOW_REMOVED share, read into a FlowSpec. */
export function blankSpec(match: Match): FlowSpec {
  return {
    table: 0, priority: OFP_DEFAULT_PRIORITY, cookie: 0n, cookieMask: null, idleTimeout: 0, hardTimeout: 0, importance: 0,
    flags: [], match, actions: [], outPort: null, outGroup: null, tableGiven: true,
  };
}

/** Read an out_port filter (OFPP_ANY = none). */
export function outPortFromWire(p: number): number | null {
  if (p === OFPP_ANY32) return null;
  const v = portFromOf11(p);
  if (v === null) throw new OfError(OFPET_BAD_REQUEST, OFPBRC_BAD_PORT, `out_port ${p}`);
  return v;
}

export function decodeFlowMod(msg: Buffer): FlowMod {
  // The match and instructions are 8-byte units: OVS refuses any other length as OFPBRC_BAD_LEN.
  if (msg.length % 8) throw new OfError(OFPET_BAD_REQUEST, OFPBRC_BAD_LEN, `flow_mod of ${msg.length} bytes (not a multiple of 8)`);
  const r = bodyReader(msg);
  const version = msg[0];
  const cookie = r.u64(), cookieMask = r.u64();
  const tableId = r.u8(), cmd = r.u8();
  const idleTimeout = r.u16(), hardTimeout = r.u16(), priority = r.u16();
  const bufferId = r.u32(), outPort = r.u32(), outGroup = r.u32();
  const flags = r.u16();
  const importance = r.u16(); // OpenFlow 1.4+; padding in 1.3
  if (cmd >= COMMANDS.length) throw new OfError(OFPET_FLOW_MOD_FAILED, OFPFMFC_BAD_COMMAND, `flow_mod command ${cmd}`);
  const command = COMMANDS[cmd];
  if (flags & ~0x1f) throw new OfError(OFPET_FLOW_MOD_FAILED, OFPFMFC_BAD_FLAGS, `flow_mod flags 0x${flags.toString(16)}`);
  if (command === 'add' && tableId === OFPTT_ALL) throw new OfError(OFPET_FLOW_MOD_FAILED, OFPFMFC_BAD_TABLE_ID, 'add to table 255 (OFPTT_ALL)');
  const match = decodeOxmMatch(r);
  const isDel = command === 'delete' || command === 'delete_strict';
  const actions: OfAction[] = decodeInstructions(r, { version, match }, tableId === OFPTT_ALL ? null : tableId);
  const spec = blankSpec(match);
  spec.table = tableId === OFPTT_ALL ? 0 : tableId;
  spec.tableGiven = tableId !== OFPTT_ALL;
  spec.priority = priority;
  spec.idleTimeout = idleTimeout;
  spec.hardTimeout = hardTimeout;
  spec.importance = version >= 5 ? importance : 0;
  spec.flags = flagsFromWire(flags);
  spec.actions = isDel ? [] : actions;
  if (command === 'add') spec.cookie = cookie;
  else {
    spec.cookie = cookie & cookieMask;
    spec.cookieMask = cookieMask === 0n ? null : cookieMask;
  }
  if (isDel) {
    spec.outPort = outPortFromWire(outPort);
    spec.outGroup = outGroup === OFPG_ANY ? null : outGroup;
  }
  return { command, spec, bufferId };
}

export function encodeFlowMod(version: number, xid: number, fm: FlowMod): Buffer {
  const s = fm.spec;
  const w = startMsg(version, OFPT_FLOW_MOD, xid);
  const isAdd = fm.command === 'add';
  w.u64(s.cookie).u64(isAdd ? 0n : (s.cookieMask ?? 0n));
  w.u8(s.tableGiven || isAdd ? s.table : OFPTT_ALL).u8(COMMANDS.indexOf(fm.command));
  w.u16(s.idleTimeout).u16(s.hardTimeout).u16(s.priority).u32(fm.bufferId);
  w.u32(s.outPort === null || s.outPort === OFPP_NONE ? OFPP_ANY32 : portToOf11(s.outPort));
  w.u32(s.outGroup ?? OFPG_ANY);
  w.u16(flagsToWire(s.flags)).u16(version >= 5 ? s.importance : 0);
  encodeOxmMatch(w, s.match, version);
  encodeInstructions(w, s.actions, { version, match: s.match });
  return finishMsg(w);
}

// ------------------------------------------------------------ flow removed

export const OFPRR_IDLE_TIMEOUT = 0;
export const OFPRR_HARD_TIMEOUT = 1;
export const OFPRR_DELETE = 2;
export const OFPRR_GROUP_DELETE = 3;

export interface FlowRemoved {
  spec: FlowSpec;
  reason: number;
  durationSec: number;
  durationNsec: number;
  packetCount: bigint;
  byteCount: bigint;
}

export function encodeFlowRemoved(version: number, xid: number, fr: FlowRemoved): Buffer {
  const w = startMsg(version, OFPT_FLOW_REMOVED, xid);
  w.u64(fr.spec.cookie).u16(fr.spec.priority).u8(fr.reason).u8(fr.spec.table);
  w.u32(fr.durationSec).u32(fr.durationNsec).u16(fr.spec.idleTimeout).u16(fr.spec.hardTimeout);
  w.u64(fr.packetCount).u64(fr.byteCount);
  encodeOxmMatch(w, fr.spec.match, version);
  return finishMsg(w);
}

export function decodeFlowRemoved(msg: Buffer): FlowRemoved {
  const r = bodyReader(msg);
  const cookie = r.u64(), priority = r.u16(), reason = r.u8(), table = r.u8();
  const durationSec = r.u32(), durationNsec = r.u32(), idle = r.u16(), hard = r.u16();
  const packetCount = r.u64(), byteCount = r.u64();
  const spec = blankSpec(decodeOxmMatch(r));
  Object.assign(spec, { cookie, priority, table, idleTimeout: idle, hardTimeout: hard });
  return { spec, reason, durationSec, durationNsec, packetCount, byteCount };
}

/** Flow stats entries and FLOW_MOD share the match + instructions tail. */
export function encodeMatchAndInstructions(w: Writer, s: FlowSpec, version: number): void {
  encodeOxmMatch(w, s.match, version);
  encodeInstructions(w, s.actions, { version, match: s.match });
}

export function decodeMatchAndInstructions(r: Reader, version: number, table: number): { match: Match; actions: OfAction[] } {
  const match = decodeOxmMatch(r);
  return { match, actions: decodeInstructions(r, { version, match }, table) };
}
