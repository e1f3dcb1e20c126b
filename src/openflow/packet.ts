// OFPT_PACKET_IN and OFPT_PACKET_OUT (OpenFlow 1.3 layouts). A packet-out's
// actions decode through the same action codec as a flow's, checked against
// a match holding only its in_port; a packet-in carries the packet's
// in_port (and cookie, table, reason) in an OXM match.

import type { OfAction } from '../ofproto/actions.ts';
import { emptyMatch, type Match } from '../ofproto/match.ts';
import { writeField } from '../ofproto/fields.ts';
import { Writer } from './buffer.ts';
import { OFPBRC_BAD_PORT, OFPET_BAD_REQUEST, OfError, badLen } from './errors.ts';
import { bodyReader, finishMsg, OFPT_PACKET_IN, OFPT_PACKET_OUT, startMsg } from './header.ts';
import { decodeActions, encodeActions } from './of-actions.ts';
import { decodeOxmMatch, encodeOxmMatch } from './oxm.ts';
import { portFromOf11, portToOf11 } from './ports.ts';
import { OFP_NO_BUFFER } from './flow-mod.ts';

export interface PacketOut {
  bufferId: number;
  inPort: number;
  actions: OfAction[];
  packet: Buffer;
}

export function decodePacketOut(msg: Buffer): PacketOut {
  const r = bodyReader(msg);
  const version = msg[0];
  const bufferId = r.u32();
  let inPort: number | null;
  let actionsLen: number;
  let match = emptyMatch();
  if (version >= 6) {
    // OpenFlow 1.5: the packet's metadata (in_port) is a match.
    actionsLen = r.u16();
    r.skip(2);
    match = decodeOxmMatch(r);
    inPort = match.mask[1] ? match.value[1] : 0xfffd; // FK_IN_PORT; OFPP_CONTROLLER when absent
  } else {
    inPort = portFromOf11(r.u32());
    actionsLen = r.u16();
    r.skip(6);
  }
  if (inPort === null) throw new OfError(OFPET_BAD_REQUEST, OFPBRC_BAD_PORT, 'packet_out in_port');
  if (actionsLen % 8) throw badLen('packet_out actions');
  writeField(match.value, 0, 'in_port', BigInt(inPort), 0xffffn);
  writeField(match.mask, 0, 'in_port', 0xffffn, 0xffffn);
  const actions = decodeActions(r.sub(actionsLen), { version, match });
  return { bufferId, inPort, actions, packet: r.bytes(r.left) };
}

export function encodePacketOut(version: number, xid: number, po: PacketOut): Buffer {
  const w = startMsg(version, OFPT_PACKET_OUT, xid);
  w.u32(po.bufferId).u32(portToOf11(po.inPort));
  const lenAt = w.len;
  w.u16(0).zeros(6);
  const start = w.len;
  encodeActions(w, po.actions, { version, match: null });
  w.put16(lenAt, w.len - start);
  w.bytes(po.packet);
  return finishMsg(w);
}

export const OFPR_NO_MATCH = 0;
export const OFPR_ACTION = 1;
export const OFPR_INVALID_TTL = 2;

export interface PacketIn {
  bufferId: number;
  totalLen: number;
  reason: number;
  tableId: number;
  cookie: bigint;
  /** The packet's metadata as a match (in_port, registers, ...). */
  match: Match;
  packet: Buffer;
}

export function encodePacketIn(version: number, xid: number, pi: PacketIn): Buffer {
  const w: Writer = startMsg(version, OFPT_PACKET_IN, xid);
  w.u32(pi.bufferId ?? OFP_NO_BUFFER).u16(pi.totalLen).u8(pi.reason).u8(pi.tableId).u64(pi.cookie);
  encodeOxmMatch(w, pi.match, version);
  w.zeros(2).bytes(pi.packet);
  return finishMsg(w);
}

export function decodePacketIn(msg: Buffer): PacketIn {
  const r = bodyReader(msg);
  const bufferId = r.u32(), totalLen = r.u16(), reason = r.u8(), tableId = r.u8(), cookie = r.u64();
  const match = decodeOxmMatch(r);
  r.skip(2);
  return { bufferId, totalLen, reason, tableId, cookie, match, packet: r.bytes(r.left) };
}
