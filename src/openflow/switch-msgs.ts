// The small switch messages: ERROR, ECHO, FEATURES, GET/SET_CONFIG,
// BARRIER, ROLE, PORT_STATUS and the ofp_port description they and
// PORT_DESC carry (OpenFlow 1.3 layouts).

import { Reader, Writer } from './buffer.ts';
import {
  bodyReader, finishMsg, OFPT_BARRIER_REPLY, OFPT_ECHO_REPLY, OFPT_ERROR, OFPT_FEATURES_REPLY, OFPT_GET_CONFIG_REPLY,
  OFPT_PORT_STATUS, OFPT_ROLE_REPLY, readHeader, startMsg,
} from './header.ts';
import { portFromOf11, portToOf11 } from './ports.ts';

/** OFPT_ERROR carrying the message that caused it (whole, as OVS sends it, within the 64 kB limit). */
export function encodeError(version: number, xid: number, type: number, code: number, offending: Buffer, experimenter?: number): Buffer {
  const w = startMsg(version, OFPT_ERROR, xid);
  w.u16(type).u16(code);
  if (type === 0xffff) w.u32(experimenter ?? 0);
  w.bytes(offending.subarray(0, 0xffff - w.len));
  return finishMsg(w);
}

export function decodeError(msg: Buffer): { type: number; code: number; data: Buffer } {
  const r = bodyReader(msg);
  return { type: r.u16(), code: r.u16(), data: r.bytes(r.left) };
}

export function encodeEchoReply(request: Buffer): Buffer {
  const h = readHeader(request);
  const w = startMsg(h.version, OFPT_ECHO_REPLY, h.xid);
  w.bytes(request.subarray(8, h.length));
  return finishMsg(w);
}

export function encodeEmpty(version: number, type: number, xid: number): Buffer {
  return finishMsg(startMsg(version, type, xid));
}

export function encodeBarrierReply(version: number, xid: number): Buffer {
  return encodeEmpty(version, OFPT_BARRIER_REPLY, xid);
}

export const OFPC_FLOW_STATS = 1;
export const OFPC_TABLE_STATS = 2;
export const OFPC_PORT_STATS = 4;
export const OFPC_GROUP_STATS = 8;
export const OFPC_QUEUE_STATS = 64;

export interface Features {
  datapathId: bigint;
  nBuffers: number;
  nTables: number;
  capabilities: number;
}

export function encodeFeaturesReply(version: number, xid: number, f: Features): Buffer {
  const w = startMsg(version, OFPT_FEATURES_REPLY, xid);
  w.u64(f.datapathId).u32(f.nBuffers).u8(f.nTables).u8(0).zeros(2).u32(f.capabilities).u32(0);
  return finishMsg(w);
}

export function decodeFeaturesReply(msg: Buffer): Features {
  const r = bodyReader(msg);
  const datapathId = r.u64(), nBuffers = r.u32(), nTables = r.u8();
  r.skip(3);
  return { datapathId, nBuffers, nTables, capabilities: r.u32() };
}

export interface SwitchConfigMsg {
  flags: number;
  missSendLen: number;
}

export function encodeGetConfigReply(version: number, xid: number, c: SwitchConfigMsg): Buffer {
  return finishMsg(startMsg(version, OFPT_GET_CONFIG_REPLY, xid).u16(c.flags).u16(c.missSendLen));
}

export function decodeSetConfig(msg: Buffer): SwitchConfigMsg {
  const r = bodyReader(msg);
  return { flags: r.u16(), missSendLen: r.u16() };
}

export const OFPCR_ROLE_NOCHANGE = 0;
export const OFPCR_ROLE_EQUAL = 1;
export const OFPCR_ROLE_MASTER = 2;
export const OFPCR_ROLE_SLAVE = 3;

export function decodeRole(msg: Buffer): { role: number; generationId: bigint } {
  const r = bodyReader(msg);
  const role = r.u32();
  r.skip(4);
  return { role, generationId: r.u64() };
}

export function encodeRoleReply(version: number, xid: number, role: number, generationId: bigint): Buffer {
  return finishMsg(startMsg(version, OFPT_ROLE_REPLY, xid).u32(role).zeros(4).u64(generationId));
}

// ------------------------------------------------------------ ports

export const OFPPC_PORT_DOWN = 1;
export const OFPPS_LINK_DOWN = 1;
export const OFPPS_LIVE = 4;
export const OFPPF_10GB_FD = 1 << 6;
export const OFPPF_COPPER = 1 << 11;

export interface PortDesc {
  portNo: number; // swd's 16-bit number
  hwAddr: Buffer; // 6 bytes
  name: string;
  config: number;
  state: number;
  curr: number;
  advertised: number;
  supported: number;
  peer: number;
  currSpeed: number; // kbps
  maxSpeed: number;
}

export const OFP_PORT_LEN = 64;

export function encodePort(w: Writer, p: PortDesc): void {
  w.u32(portToOf11(p.portNo)).zeros(4);
  const mac = Buffer.alloc(6);
  p.hwAddr.copy(mac, 0, 0, 6);
  w.bytes(mac).zeros(2);
  const name = Buffer.alloc(16);
  name.write(p.name.slice(0, 15), 'utf8');
  w.bytes(name);
  w.u32(p.config).u32(p.state).u32(p.curr).u32(p.advertised).u32(p.supported).u32(p.peer).u32(p.currSpeed).u32(p.maxSpeed);
}

export function decodePort(r: Reader): PortDesc {
  const portNo = portFromOf11(r.u32()) ?? 0;
  r.skip(4);
  const hwAddr = r.bytes(6);
  r.skip(2);
  const nameBuf = r.bytes(16);
  const nul = nameBuf.indexOf(0);
  const name = nameBuf.subarray(0, nul < 0 ? 16 : nul).toString('utf8');
  return {
    portNo, hwAddr, name, config: r.u32(), state: r.u32(), curr: r.u32(), advertised: r.u32(), supported: r.u32(), peer: r.u32(),
    currSpeed: r.u32(), maxSpeed: r.u32(),
  };
}

export const OFPPR_ADD = 0;
export const OFPPR_DELETE = 1;
export const OFPPR_MODIFY = 2;

export function encodePortStatus(version: number, xid: number, reason: number, p: PortDesc): Buffer {
  const w = startMsg(version, OFPT_PORT_STATUS, xid);
  w.u8(reason).zeros(7);
  encodePort(w, p);
  return finishMsg(w);
}

export function decodePortStatus(msg: Buffer): { reason: number; port: PortDesc } {
  const r = bodyReader(msg);
  const reason = r.u8();
  r.skip(7);
  return { reason, port: decodePort(r) };
}
