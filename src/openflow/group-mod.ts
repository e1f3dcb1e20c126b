// OFPT_GROUP_MOD and the group multipart bodies (GROUP_DESC, GROUP stats,
// GROUP_FEATURES) of OpenFlow 1.3 <-> the GroupSpec the group-text parser
// builds. OpenFlow 1.3 buckets carry no id: they are numbered in order, as
// OVS numbers them.

import type { Bucket, GroupSpec, GroupType } from '../ofproto/group.ts';
import { Reader, Writer } from './buffer.ts';
import { OfError } from './errors.ts';
import { bodyReader, finishMsg, OFPT_GROUP_MOD, startMsg } from './header.ts';
import { decodeActions, encodeActions } from './of-actions.ts';
import { OFPG_ANY, OFPP_ANY32, portFromOf11, portToOf11 } from './ports.ts';

export const OFPET_GROUP_MOD_FAILED = 6;
export const OFPGMFC_GROUP_EXISTS = 0;
export const OFPGMFC_INVALID_GROUP = 1;
export const OFPGMFC_WATCH_UNSUPPORTED = 6;
export const OFPGMFC_UNKNOWN_GROUP = 8;
export const OFPGMFC_BAD_TYPE = 10;
export const OFPGMFC_BAD_COMMAND = 11;
export const OFPGMFC_BAD_BUCKET = 12;

export const GROUP_TYPES: GroupType[] = ['all', 'select', 'indirect', 'ff'];
export type GroupModCommand = 'add' | 'modify' | 'delete';
const COMMANDS: GroupModCommand[] = ['add', 'modify', 'delete'];

export const groupError = (code: number, msg: string) => new OfError(OFPET_GROUP_MOD_FAILED, code, msg);

export interface GroupMod {
  command: GroupModCommand;
  spec: GroupSpec;
}

function encodeBuckets(w: Writer, buckets: Bucket[], version: number): void {
  for (const b of buckets) {
    const at = w.len;
    w.u16(0).u16(b.weight).u32(b.watchPort === null ? OFPP_ANY32 : portToOf11(b.watchPort)).u32(b.watchGroup ?? OFPG_ANY).zeros(4);
    encodeActions(w, b.actions, { version, match: null });
    w.put16(at, w.len - at);
  }
}

function decodeBuckets(r: Reader, version: number, type: GroupType): Bucket[] {
  const out: Bucket[] = [];
  while (r.left > 0) {
    const len = r.u16();
    if (len < 16 || len % 8 || len - 2 > r.left) throw groupError(OFPGMFC_BAD_BUCKET, `bucket length ${len}`);
    const b = r.sub(len - 2, () => groupError(OFPGMFC_BAD_BUCKET, 'bucket truncated'));
    const weight = b.u16(), watchPort = b.u32(), watchGroup = b.u32();
    b.skip(4);
    if (type !== 'select' && weight) throw groupError(2, 'only select groups have bucket weights');
    const wp = watchPort === OFPP_ANY32 ? null : portFromOf11(watchPort);
    if (watchPort !== OFPP_ANY32 && wp === null) throw groupError(13, `watch_port ${watchPort}`);
    out.push({ bucketId: out.length, weight, watchPort: wp, watchGroup: watchGroup === OFPG_ANY ? null : watchGroup, actions: decodeActions(b, { version, match: null }) });
  }
  return out;
}

export function decodeGroupMod(msg: Buffer): GroupMod {
  const r = bodyReader(msg);
  const cmd = r.u16(), type = r.u8();
  r.skip(1);
  const groupId = r.u32();
  if (cmd >= COMMANDS.length) throw groupError(OFPGMFC_BAD_COMMAND, `group_mod command ${cmd}`);
  const command = COMMANDS[cmd];
  if (command !== 'delete' && type >= GROUP_TYPES.length) throw groupError(OFPGMFC_BAD_TYPE, `group type ${type}`);
  const gtype = GROUP_TYPES[type] ?? 'all';
  const spec: GroupSpec = { groupId, type: gtype, selectionMethod: '', selectionMethodParam: 0n, fields: [], buckets: command === 'delete' ? [] : decodeBuckets(r, msg[0], gtype) };
  return { command, spec };
}

export function encodeGroupMod(version: number, xid: number, gm: GroupMod): Buffer {
  const w = startMsg(version, OFPT_GROUP_MOD, xid);
  w.u16(COMMANDS.indexOf(gm.command)).u8(GROUP_TYPES.indexOf(gm.spec.type)).u8(0).u32(gm.spec.groupId);
  if (gm.command !== 'delete') encodeBuckets(w, gm.spec.buckets, version);
  return finishMsg(w);
}

/** One ofp_group_desc entry. */
export function encodeGroupDesc(version: number, g: GroupSpec): Buffer {
  const w = new Writer();
  w.u16(0).u8(GROUP_TYPES.indexOf(g.type)).u8(0).u32(g.groupId);
  encodeBuckets(w, g.buckets, version);
  w.put16(0, w.len);
  return w.done();
}

export function decodeGroupDescs(r: Reader, version: number): GroupSpec[] {
  const out: GroupSpec[] = [];
  while (r.left > 0) {
    const len = r.u16();
    const e = r.sub(len - 2);
    const type = GROUP_TYPES[e.u8()] ?? 'all';
    e.skip(1);
    const groupId = e.u32();
    out.push({ groupId, type, selectionMethod: '', selectionMethodParam: 0n, fields: [], buckets: decodeBuckets(e, version, type) });
  }
  return out;
}

export interface GroupStats {
  groupId: number;
  refCount: number;
  packetCount: bigint;
  byteCount: bigint;
  durationSec: number;
  durationNsec: number;
  buckets: { packetCount: bigint; byteCount: bigint }[];
}

export function encodeGroupStats(s: GroupStats): Buffer {
  const w = new Writer();
  w.u16(40 + 16 * s.buckets.length).zeros(2).u32(s.groupId).u32(s.refCount).zeros(4).u64(s.packetCount).u64(s.byteCount).u32(s.durationSec).u32(s.durationNsec);
  for (const b of s.buckets) w.u64(b.packetCount).u64(b.byteCount);
  return w.done();
}

/** GROUP stats request: the group (OFPG_ALL for every one). */
export function decodeGroupStatsRequest(r: Reader): number {
  const id = r.u32();
  r.skip(4);
  return id;
}

/** GROUP_FEATURES: every type, weights and liveness, chaining; actions swd carries in buckets. */
export function encodeGroupFeatures(): Buffer {
  const w = new Writer();
  w.u32(0xf).u32(0x1 | 0x2 | 0x4);
  for (let i = 0; i < 4; i++) w.u32(0xffffff00);
  // output, push/pop vlan, group, set_nw_ttl, dec_nw_ttl, set_field (OFPAT bits).
  const actions = (1 << 0) | (1 << 17) | (1 << 18) | (1 << 22) | (1 << 23) | (1 << 24) | (1 << 25);
  for (let i = 0; i < 4; i++) w.u32(actions >>> 0);
  return w.done();
}
