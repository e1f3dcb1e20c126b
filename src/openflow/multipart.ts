// OFPT_MULTIPART_REQUEST / _REPLY (OpenFlow 1.3): DESC, FLOW, AGGREGATE,
// TABLE, PORT_STATS and PORT_DESC. A reply longer than one message is split
// into several with OFPMPF_REPLY_MORE on all but the last, as OVS does.

import type { FlowSpec } from '../ofproto/flow-spec.ts';
import { Writer } from './buffer.ts';
import type { Reader } from './buffer.ts';
import { OFPBRC_BAD_MULTIPART, OFPBRC_BAD_TABLE_ID, OFPET_BAD_REQUEST, OfError } from './errors.ts';
import { blankSpec, encodeMatchAndInstructions, flagsToWire, outPortFromWire, OFPTT_ALL, decodeMatchAndInstructions, flagsFromWire } from './flow-mod.ts';
import { bodyReader, finishMsg, OFPT_MULTIPART_REPLY, OFPT_MULTIPART_REQUEST, startMsg } from './header.ts';
import { decodeOxmMatch, encodeOxmMatch } from './oxm.ts';
import { encodeInstructions } from './instructions.ts';
import { OFPG_ANY, OFPP_ANY32, portFromOf11, portToOf11 } from './ports.ts';
import { decodePort, encodePort, OFP_PORT_LEN, type PortDesc } from './switch-msgs.ts';

export const OFPMP_DESC = 0;
export const OFPMP_FLOW = 1;
export const OFPMP_AGGREGATE = 2;
export const OFPMP_TABLE = 3;
export const OFPMP_PORT_STATS = 4;
export const OFPMP_QUEUE = 5;
export const OFPMP_GROUP = 6;
export const OFPMP_GROUP_DESC = 7;
export const OFPMP_GROUP_FEATURES = 8;
export const OFPMP_METER = 9;
export const OFPMP_METER_CONFIG = 10;
export const OFPMP_METER_FEATURES = 11;
export const OFPMP_TABLE_FEATURES = 12;
export const OFPMP_PORT_DESC = 13;
export const OFPMPF_REPLY_MORE = 1;

/** Room for entries in one reply message (header 16 bytes). */
const MAX_REPLY = 0xffff - 16;

export interface MultipartRequest {
  type: number;
  flags: number;
  body: Reader;
}

export function decodeMultipartRequest(msg: Buffer): MultipartRequest {
  const r = bodyReader(msg);
  const type = r.u16(), flags = r.u16();
  r.skip(4);
  return { type, flags, body: r };
}

export function encodeMultipartRequest(version: number, xid: number, type: number, body: Buffer = Buffer.alloc(0)): Buffer {
  return finishMsg(startMsg(version, OFPT_MULTIPART_REQUEST, xid).u16(type).u16(0).zeros(4).bytes(body));
}

/** Reply messages for a list of encoded entries, split at the 64 kB message limit. */
export function multipartReplies(version: number, xid: number, type: number, entries: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  let batch: Buffer[] = [];
  let size = 0;
  const flush = (more: boolean) => {
    const w = startMsg(version, OFPT_MULTIPART_REPLY, xid).u16(type).u16(more ? OFPMPF_REPLY_MORE : 0).zeros(4);
    for (const e of batch) w.bytes(e);
    out.push(finishMsg(w));
    batch = [];
    size = 0;
  };
  for (const e of entries) {
    if (size + e.length > MAX_REPLY && batch.length) flush(true);
    batch.push(e);
    size += e.length;
  }
  flush(false);
  return out;
}

/** Decode a reply's type, flags and entries body (for clients and tests). */
export function decodeMultipartReply(msg: Buffer): { type: number; flags: number; body: Reader } {
  const r = bodyReader(msg);
  const type = r.u16(), flags = r.u16();
  r.skip(4);
  return { type, flags, body: r };
}

// ------------------------------------------------------------ DESC

export interface Desc {
  mfr: string;
  hw: string;
  sw: string;
  serial: string;
  dp: string;
}

function fixedStr(w: Writer, s: string, n: number): void {
  const b = Buffer.alloc(n);
  b.write(s.slice(0, n - 1), 'utf8');
  w.bytes(b);
}

export function encodeDesc(d: Desc): Buffer {
  const w = new Writer();
  fixedStr(w, d.mfr, 256);
  fixedStr(w, d.hw, 256);
  fixedStr(w, d.sw, 256);
  fixedStr(w, d.serial, 32);
  fixedStr(w, d.dp, 256);
  return w.done();
}

// ------------------------------------------------------------ FLOW / AGGREGATE

/** A flow stats or aggregate request as the FlowSpec filter dump-flows uses. */
export function decodeFlowStatsRequest(r: Reader): FlowSpec {
  const table = r.u8();
  r.skip(3);
  const outPort = r.u32(), outGroup = r.u32();
  r.skip(4);
  const cookie = r.u64(), cookieMask = r.u64();
  const spec = blankSpec(decodeOxmMatch(r));
  if (table !== OFPTT_ALL && table > 254) throw new OfError(OFPET_BAD_REQUEST, OFPBRC_BAD_TABLE_ID, `table ${table}`);
  spec.table = table === OFPTT_ALL ? 0 : table;
  spec.tableGiven = table !== OFPTT_ALL;
  spec.outPort = outPortFromWire(outPort);
  spec.outGroup = outGroup === OFPG_ANY ? null : outGroup;
  spec.cookie = cookie & cookieMask;
  spec.cookieMask = cookieMask === 0n ? null : cookieMask;
  return spec;
}

export function encodeFlowStatsRequest(version: number, filter: FlowSpec): Buffer {
  const w = new Writer();
  w.u8(filter.tableGiven ? filter.table : OFPTT_ALL).zeros(3);
  w.u32(filter.outPort === null ? OFPP_ANY32 : portToOf11(filter.outPort)).u32(filter.outGroup ?? OFPG_ANY).zeros(4);
  w.u64(filter.cookie).u64(filter.cookieMask ?? 0n);
  encodeOxmMatch(w, filter.match, version);
  return w.done();
}

export interface FlowStatsEntry {
  spec: FlowSpec;
  durationSec: number;
  durationNsec: number;
  packetCount: bigint;
  byteCount: bigint;
}

export function encodeFlowStats(version: number, e: FlowStatsEntry): Buffer {
  const w = new Writer();
  const s = e.spec;
  w.u16(0).u8(s.table).u8(0).u32(e.durationSec).u32(e.durationNsec);
  w.u16(s.priority).u16(s.idleTimeout).u16(s.hardTimeout).u16(flagsToWire(s.flags)).u16(version >= 5 ? s.importance : 0).zeros(2);
  w.u64(s.cookie).u64(e.packetCount).u64(e.byteCount);
  encodeMatchAndInstructions(w, s, version);
  w.put16(0, w.len);
  return w.done();
}

export function decodeFlowStats(version: number, r: Reader): FlowStatsEntry[] {
  const out: FlowStatsEntry[] = [];
  while (r.left > 0) {
    const len = r.u16();
    const e = r.sub(len - 2);
    const table = e.u8();
    e.skip(1);
    const durationSec = e.u32(), durationNsec = e.u32();
    const priority = e.u16(), idleTimeout = e.u16(), hardTimeout = e.u16(), flags = e.u16();
    const importance = e.u16();
    e.skip(2);
    const cookie = e.u64(), packetCount = e.u64(), byteCount = e.u64();
    const { match, actions } = decodeMatchAndInstructions(e, version, table);
    const spec = blankSpec(match);
    Object.assign(spec, { table, priority, idleTimeout, hardTimeout, flags: flagsFromWire(flags), cookie, actions, importance: version >= 5 ? importance : 0 });
    out.push({ spec, durationSec, durationNsec, packetCount, byteCount });
  }
  return out;
}

export function encodeAggregate(packets: bigint, bytes: bigint, flows: number): Buffer {
  return new Writer().u64(packets).u64(bytes).u32(flows).zeros(4).done();
}

// ------------------------------------------------------------ TABLE

export interface TableStats {
  tableId: number;
  activeCount: number;
  lookupCount: bigint;
  matchedCount: bigint;
}

export function encodeTableStats(t: TableStats): Buffer {
  return new Writer().u8(t.tableId).zeros(3).u32(t.activeCount).u64(t.lookupCount).u64(t.matchedCount).done();
}

/**
 * A TABLE_FEATURES entry without properties: the table's id, name and size
 * (what ovs-ofctl asks for before a flow mod, to learn table names).
 */
export function encodeTableFeatures(tableId: number, name: string, maxEntries: number, nTables: number): Buffer {
  const w = new Writer();
  w.u16(0).u8(tableId).zeros(5);
  fixedStr(w, name, 32);
  w.u64(0xffffffffffffffffn).u64(0xffffffffffffffffn).u32(0).u32(maxEntries);
  const prop = (type: number, body: (w: Writer) => void) => {
    const at = w.len;
    w.u16(type).u16(0);
    body(w);
    w.put16(at + 2, w.len - at);
    w.pad(8, at);
  };
  // The properties ovs-ofctl requires (instructions, next tables, actions, match, wildcards, set-fields).
  prop(0, (x) => { for (const t of [1, 2, 4, 5]) x.u16(t).u16(4); });
  prop(2, (x) => { for (let t = tableId + 1; t < nTables; t++) x.u8(t); });
  for (const t of [4, 6, 8, 10, 12, 14]) prop(t, () => {});
  w.put16(0, w.len);
  return w.done();
}

// ------------------------------------------------------------ PORT_STATS / PORT_DESC

export function decodePortStatsRequest(r: Reader): number | null {
  const p = r.u32();
  if (p === OFPP_ANY32) return null;
  const v = portFromOf11(p);
  if (v === null) throw new OfError(OFPET_BAD_REQUEST, OFPBRC_BAD_MULTIPART, `port ${p}`);
  return v;
}

export interface PortStatsEntry {
  portNo: number;
  rxPackets: bigint;
  txPackets: bigint;
  rxBytes: bigint;
  txBytes: bigint;
  rxDropped: bigint;
  txDropped: bigint;
  rxErrors: bigint;
  txErrors: bigint;
  durationSec: number;
  durationNsec: number;
}

/** Counters a port does not keep are all-ones (OpenFlow's "unavailable"). */
const NA = 0xffffffffffffffffn;

export function encodePortStats(p: PortStatsEntry, version = 4): Buffer {
  const w = new Writer();
  const counters = [p.rxPackets, p.txPackets, p.rxBytes, p.txBytes, p.rxDropped, p.txDropped, p.rxErrors, p.txErrors];
  if (version >= 5) {
    // OpenFlow 1.4+: length, port, duration, counters, then the Ethernet property (frame/over/crc errors, collisions).
    w.u16(0).zeros(2).u32(portToOf11(p.portNo)).u32(p.durationSec).u32(p.durationNsec);
    for (const v of counters) w.u64(v);
    w.u16(0).u16(40).zeros(4).u64(0n).u64(0n).u64(0n).u64(0n);
    w.put16(0, w.len);
    return w.done();
  }
  w.u32(portToOf11(p.portNo)).zeros(4);
  for (const v of counters) w.u64(v);
  w.u64(0n).u64(0n).u64(0n).u64(0n); // rx_frame_err, rx_over_err, rx_crc_err, collisions
  w.u32(p.durationSec).u32(p.durationNsec);
  return w.done();
}

export function encodePortDesc(p: PortDesc, version = 4): Buffer {
  const w = new Writer();
  if (version >= 5) {
    // OpenFlow 1.4+ ofp_port: the link features moved into an Ethernet property.
    w.u32(portToOf11(p.portNo)).u16(0).zeros(2);
    const mac = Buffer.alloc(6);
    p.hwAddr.copy(mac, 0, 0, 6);
    w.bytes(mac).zeros(2);
    const name = Buffer.alloc(16);
    name.write(p.name.slice(0, 15), 'utf8');
    w.bytes(name).u32(p.config).u32(p.state);
    w.u16(0).u16(32).zeros(4).u32(p.curr).u32(p.advertised).u32(p.supported).u32(p.peer).u32(p.currSpeed).u32(p.maxSpeed);
    w.put16(4, w.len);
    return w.done();
  }
  encodePort(w, p);
  return w.done();
}

// OpenFlow 1.5 statistics fields (OXS, class 0x8002).
export const OXS_DURATION = 0, OXS_IDLE_TIME = 1, OXS_FLOW_COUNT = 3, OXS_PACKET_COUNT = 4, OXS_BYTE_COUNT = 5;

/** struct ofp_stats: reserved, length, OXS fields, padding to 8. */
export function putOxsStats(w: Writer, fields: [number, number, bigint][]): void {
  const at = w.len;
  w.u16(0).u16(0);
  for (const [field, bytes, v] of fields) w.u32(((0x8002 << 16) | (field << 9) | bytes) >>> 0).uint(v, bytes);
  w.put16(at + 2, w.len - at);
  w.pad(8, at);
}

/** OpenFlow 1.5 aggregate reply: flow, packet and byte counts as OXS. */
export function encodeAggregate15(packets: bigint, bytes: bigint, flows: number): Buffer {
  const w = new Writer();
  putOxsStats(w, [[OXS_FLOW_COUNT, 4, BigInt(flows)], [OXS_PACKET_COUNT, 8, packets], [OXS_BYTE_COUNT, 8, bytes]]);
  return w.done();
}

/** OpenFlow 1.5 flow stats: the match, then the statistics as OXS fields, then the instructions. */
export function encodeFlowStats15(e: FlowStatsEntry, idleSec: number): Buffer {
  const w = new Writer();
  const s = e.spec;
  w.u16(0).zeros(2).u8(s.table).u8(0).u16(s.priority).u16(s.idleTimeout).u16(s.hardTimeout).u16(flagsToWire(s.flags)).u16(s.importance).u64(s.cookie);
  encodeOxmMatch(w, s.match, 6);
  putOxsStats(w, [[OXS_DURATION, 8, (BigInt(e.durationSec) << 32n) | BigInt(e.durationNsec)], [OXS_IDLE_TIME, 8, BigInt(idleSec) << 32n], [OXS_PACKET_COUNT, 8, e.packetCount], [OXS_BYTE_COUNT, 8, e.byteCount]]);
  encodeInstructions(w, s.actions, { version: 6, match: s.match });
  w.put16(0, w.len);
  return w.done();
}

export function decodePortDescs(r: Reader): PortDesc[] {
  const out: PortDesc[] = [];
  while (r.left >= OFP_PORT_LEN) out.push(decodePort(r));
  return out;
}

export { NA as STAT_UNAVAILABLE };
