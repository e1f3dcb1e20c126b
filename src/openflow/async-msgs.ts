// Asynchronous messages the switch sends unasked: FLOW_REMOVED (OpenFlow
// 1.3/1.4's ofp_flow_removed, 1.0+NXM's NXT_FLOW_REMOVED), PORT_STATUS in
// every version's port layout, and NXT_PACKET_IN2 (the property-based
// packet-in `ovs-ofctl monitor -P nxt_packet_in2` asks for). Layouts as OVS
// writes them (lib/ofp-monitor.c, lib/ofp-port.c, lib/ofp-packet.c).

import type { Match } from '../ofproto/match.ts';
import { Reader, Writer } from './buffer.ts';
import { blankSpec, decodeFlowRemoved as decodeOfpFlowRemoved, encodeFlowRemoved as encodeOfpFlowRemoved, type FlowRemoved } from './flow-mod.ts';
import { badLen, OFPBRC_BAD_LEN, OFPET_BAD_REQUEST, OfError } from './errors.ts';
import { bodyReader, finishMsg, OFP10_VERSION, OFPT_EXPERIMENTER, OFPT_FLOW_REMOVED, OFPT_PORT_STATUS, readHeader, startMsg } from './header.ts';
import { encodePortDesc, OXS_BYTE_COUNT, OXS_DURATION, OXS_IDLE_TIME, OXS_PACKET_COUNT, putOxsStats } from './multipart.ts';
import { decodeOxmMatch, encodeMatchFields, encodeOxmMatch, NX_EXPERIMENTER_ID } from './oxm.ts';
import type { PortDesc } from './switch-msgs.ts';

export { OFPRR_DELETE, OFPRR_GROUP_DELETE, OFPRR_HARD_TIMEOUT, OFPRR_IDLE_TIMEOUT, type FlowRemoved } from './flow-mod.ts';

const OFP15_VERSION = 6;
const OXS_CLASS = 0x8002;

export const NXT_FLOW_REMOVED = 14;
export const NXT_SET_PACKET_IN_FORMAT = 16;
export const NXT_PACKET_IN2 = 30;
export const NXPIF_STANDARD = 0;
export const NXPIF_NXT_PACKET_IN2 = 2;

// NXT_PACKET_IN2 property types.
const NXPINT_PACKET = 0, NXPINT_FULL_LEN = 1, NXPINT_TABLE_ID = 3, NXPINT_COOKIE = 4, NXPINT_REASON = 5, NXPINT_METADATA = 6, NXPINT_USERDATA = 7;

/** FLOW_REMOVED in the connection's version: ofp_flow_removed (1.3/1.4, 1.5's with OXS statistics) or NXT_FLOW_REMOVED (1.0 with NXM). */
export function encodeFlowRemoved(version: number, xid: number, fr: FlowRemoved): Buffer {
  const s = fr.spec;
  if (version === OFP10_VERSION) {
    const w = startMsg(version, OFPT_EXPERIMENTER, xid).u32(NX_EXPERIMENTER_ID).u32(NXT_FLOW_REMOVED);
    // NXT_FLOW_REMOVED numbers tables from 1 (0 = unknown).
    w.u64(s.cookie).u16(s.priority).u8(fr.reason).u8(s.table + 1).u32(fr.durationSec).u32(fr.durationNsec).u16(s.idleTimeout);
    const lenAt = w.len;
    w.u16(0).u64(fr.packetCount).u64(fr.byteCount);
    const start = w.len;
    encodeMatchFields(w, s.match, false, version);
    w.put16(lenAt, w.len - start);
    w.pad(8);
    return finishMsg(w);
  }
  if (version >= OFP15_VERSION) return encodeFlowRemoved15(version, xid, fr);
  return encodeOfpFlowRemoved(version, xid, fr);
}

/**
 * OpenFlow 1.5's ofp_flow_removed: table, reason, priority, timeouts and
 * cookie, the match, then the statistics as OXS fields (duration, packet and
 * byte counts; OVS sends no idle time, a decoded one is kept and re-encoded).
 */
function encodeFlowRemoved15(version: number, xid: number, fr: FlowRemoved & { idleAgeSec?: number }): Buffer {
  const s = fr.spec;
  const w = startMsg(version, OFPT_FLOW_REMOVED, xid).u8(s.table).u8(fr.reason).u16(s.priority).u16(s.idleTimeout).u16(s.hardTimeout).u64(s.cookie);
  encodeOxmMatch(w, s.match, version);
  const stats: [number, number, bigint][] = [[OXS_DURATION, 8, (BigInt(fr.durationSec) << 32n) | BigInt(fr.durationNsec)]];
  if (fr.idleAgeSec !== undefined) stats.push([OXS_IDLE_TIME, 8, BigInt(fr.idleAgeSec) << 32n]);
  stats.push([OXS_PACKET_COUNT, 8, fr.packetCount], [OXS_BYTE_COUNT, 8, fr.byteCount]);
  putOxsStats(w, stats);
  return finishMsg(w);
}

/** A FLOW_REMOVED of OpenFlow 1.1+ (1.5's layout by the header's version); `idleAgeSec` when 1.5's statistics had one. */
export function decodeFlowRemoved(msg: Buffer): FlowRemoved & { idleAgeSec?: number } {
  if (msg[0] < OFP15_VERSION) return decodeOfpFlowRemoved(msg);
  const r = bodyReader(msg);
  const table = r.u8(), reason = r.u8(), priority = r.u16(), idleTimeout = r.u16(), hardTimeout = r.u16(), cookie = r.u64();
  const spec = blankSpec(decodeOxmMatch(r));
  Object.assign(spec, { cookie, priority, table, idleTimeout, hardTimeout });
  const out: FlowRemoved & { idleAgeSec?: number } = { spec, reason, durationSec: 0, durationNsec: 0, packetCount: 0n, byteCount: 0n };
  // struct ofp_stats: reserved, length, then OXS fields (class 0x8002, no masks).
  if (r.left < 4) throw badLen('flow_removed statistics');
  r.skip(2);
  const len = r.u16();
  if (len < 4 || len - 4 > r.left) throw badLen('flow_removed statistics');
  const st = r.sub(len - 4);
  while (st.left) {
    if (st.left < 4) throw badLen('OXS field');
    const h = st.u32(), cls = h >>> 16, field = (h >>> 9) & 0x7f, n = h & 0xff;
    if (cls !== OXS_CLASS || h & 0x100 || n > st.left) throw new OfError(OFPET_BAD_REQUEST, OFPBRC_BAD_LEN, `OXS field 0x${h.toString(16)}`);
    const v = st.uint(n);
    if (field === OXS_DURATION) {
      out.durationSec = Number(v >> 32n);
      out.durationNsec = Number(v & 0xffffffffn);
    } else if (field === OXS_IDLE_TIME) out.idleAgeSec = Number(v >> 32n);
    else if (field === OXS_PACKET_COUNT) out.packetCount = v;
    else if (field === OXS_BYTE_COUNT) out.byteCount = v;
  }
  return out;
}


/** PORT_STATUS with the port in the version's layout (1.0's 48-byte phy_port, 1.3's ofp_port, 1.4+'s with properties). */
export function encodePortStatus(version: number, xid: number, reason: number, p: PortDesc): Buffer {
  const w = startMsg(version, OFPT_PORT_STATUS, xid).u8(reason).zeros(7);
  if (version === OFP10_VERSION) {
    w.u16(p.portNo).bytes(p.hwAddr.subarray(0, 6));
    const name = Buffer.alloc(16);
    name.write(p.name.slice(0, 15));
    w.bytes(name).u32(p.config).u32(p.state & 1).u32(p.curr).u32(p.advertised).u32(p.supported).u32(p.peer);
  } else w.bytes(encodePortDesc(p, version));
  return finishMsg(w);
}

export interface PacketIn2 {
  packet: Buffer;
  totalLen: number;
  tableId: number;
  cookie: bigint;
  reason: number;
  /** The packet's metadata (in_port, registers, ...) as a match. */
  metadata: Match;
  userdata?: Buffer;
}

function prop(w: Writer, type: number, body: (w: Writer) => void): void {
  const at = w.len;
  w.u16(type).u16(0);
  body(w);
  w.put16(at + 2, w.len - at);
  w.pad(8, at);
}

/** NXT_PACKET_IN2: a Nicira message of properties, in any version. */
export function encodePacketIn2(version: number, xid: number, pi: PacketIn2): Buffer {
  const w = startMsg(version, OFPT_EXPERIMENTER, xid).u32(NX_EXPERIMENTER_ID).u32(NXT_PACKET_IN2);
  prop(w, NXPINT_PACKET, (x) => x.bytes(pi.packet));
  if (pi.totalLen !== pi.packet.length) prop(w, NXPINT_FULL_LEN, (x) => x.u32(pi.totalLen));
  prop(w, NXPINT_TABLE_ID, (x) => x.u8(pi.tableId));
  prop(w, NXPINT_COOKIE, (x) => x.zeros(4).u64(pi.cookie));
  prop(w, NXPINT_REASON, (x) => x.u8(pi.reason));
  prop(w, NXPINT_METADATA, (x) => encodeMatchFields(x, pi.metadata, true, version === OFP10_VERSION ? 4 : version));
  if (pi.userdata?.length) prop(w, NXPINT_USERDATA, (x) => x.bytes(pi.userdata!));
  return finishMsg(w);
}

/** The properties of an NXT_PACKET_IN2 by type (for tests). */
export function decodePacketIn2Props(msg: Buffer): Map<number, Buffer> {
  const h = readHeader(msg);
  const r = new Reader(msg, 16, h.length, () => badLen('NXT_PACKET_IN2'));
  const out = new Map<number, Buffer>();
  while (r.left >= 4) {
    const type = r.u16(), len = r.u16();
    if (len < 4) throw badLen('NXT_PACKET_IN2 property');
    out.set(type, r.bytes(len - 4));
    r.skip(Math.min(r.left, ((len + 7) & ~7) - len));
  }
  return out;
}

export const OFPCRR_PRIMARY_REQUEST = 0, OFPCRR_CONFIG = 1, OFPCRR_EXPERIMENTER = 2;
const OFPT14_ROLE_STATUS = 30;
const ONF_EXPERIMENTER_ID = 0x4f4e4600, ONFT_ROLE_STATUS = 1911;

/**
 * ROLE_STATUS (a connection's role changed without it asking: another became
 * master): OpenFlow 1.4's OFPT_ROLE_STATUS, 1.3's ONF extension; none below 1.3.
 */
export function encodeRoleStatus(version: number, xid: number, role: number, reason: number, generationId: bigint): Buffer | null {
  if (version < 4) return null;
  const w = version >= 5 ? startMsg(version, OFPT14_ROLE_STATUS, xid) : startMsg(version, OFPT_EXPERIMENTER, xid).u32(ONF_EXPERIMENTER_ID).u32(ONFT_ROLE_STATUS);
  w.u32(role).u8(reason).zeros(3).u64(generationId);
  return finishMsg(w);
}
