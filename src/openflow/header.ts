// The OpenFlow header and message framing: version, type, length, xid.
// Versions swd speaks and what HELLO's version bitmap says about them.

import { Reader, Writer } from './buffer.ts';
import { badLen, OFPBRC_BAD_LEN, OFPET_BAD_REQUEST, OfError } from './errors.ts';

export const OFP10_VERSION = 0x01;
export const OFP13_VERSION = 0x04;
export const OFP14_VERSION = 0x05;
export const OFP15_VERSION = 0x06;
/** The versions swd negotiates. */
export const SUPPORTED_VERSIONS = [OFP10_VERSION, OFP13_VERSION, OFP14_VERSION, OFP15_VERSION];

export const OFPT_HELLO = 0;
export const OFPT_ERROR = 1;
export const OFPT_ECHO_REQUEST = 2;
export const OFPT_ECHO_REPLY = 3;
export const OFPT_EXPERIMENTER = 4;
export const OFPT_FEATURES_REQUEST = 5;
export const OFPT_FEATURES_REPLY = 6;
export const OFPT_GET_CONFIG_REQUEST = 7;
export const OFPT_GET_CONFIG_REPLY = 8;
export const OFPT_SET_CONFIG = 9;
export const OFPT_PACKET_IN = 10;
export const OFPT_FLOW_REMOVED = 11;
export const OFPT_PORT_STATUS = 12;
export const OFPT_PACKET_OUT = 13;
export const OFPT_FLOW_MOD = 14;
export const OFPT_GROUP_MOD = 15;
export const OFPT_PORT_MOD = 16;
export const OFPT_TABLE_MOD = 17;
export const OFPT_MULTIPART_REQUEST = 18;
export const OFPT_MULTIPART_REPLY = 19;
export const OFPT_BARRIER_REQUEST = 20;
export const OFPT_BARRIER_REPLY = 21;
export const OFPT_ROLE_REQUEST = 24;
export const OFPT_ROLE_REPLY = 25;
export const OFPT_GET_ASYNC_REQUEST = 26;
export const OFPT_GET_ASYNC_REPLY = 27;
export const OFPT_SET_ASYNC = 28;
export const OFPT_METER_MOD = 29;

export const OFP_HEADER_LEN = 8;
/** Largest message swd accepts (OpenFlow's length field is 16 bits). */
export const OFP_MAX_MSG_LEN = 0xffff;

export interface OfHeader {
  version: number;
  type: number;
  length: number;
  xid: number;
}

export function readHeader(buf: Buffer, at = 0): OfHeader {
  if (buf.length - at < OFP_HEADER_LEN) throw badLen('OpenFlow header');
  return { version: buf[at], type: buf[at + 1], length: buf.readUInt16BE(at + 2), xid: buf.readUInt32BE(at + 4) };
}

/** A reader over a whole message's body (after the header); running out is OFPBRC_BAD_LEN. */
export function bodyReader(msg: Buffer): Reader {
  const h = readHeader(msg);
  if (h.length !== msg.length || h.length < OFP_HEADER_LEN) throw badLen('OpenFlow message');
  return new Reader(msg, OFP_HEADER_LEN, msg.length, () => new OfError(OFPET_BAD_REQUEST, OFPBRC_BAD_LEN, 'message truncated'));
}

/** Start a message; `finish` fills its length. */
export function startMsg(version: number, type: number, xid: number): Writer {
  return new Writer().u8(version).u8(type).u16(0).u32(xid);
}

export function finishMsg(w: Writer): Buffer {
  w.put16(2, w.len);
  return w.done();
}

/** The highest version both sides speak, from a HELLO's version and its bitmap element (if any). */
export function negotiateVersion(hello: Buffer, ours: number[] = SUPPORTED_VERSIONS): number | null {
  const h = readHeader(hello);
  let theirs: number[] | null = null;
  let at = OFP_HEADER_LEN;
  const end = Math.min(h.length, hello.length);
  while (at + 4 <= end) {
    const type = hello.readUInt16BE(at), len = hello.readUInt16BE(at + 2);
    if (len < 4 || at + len > end) break;
    if (type === 1) {
      theirs = [];
      for (let i = 4; i + 4 <= len; i += 4) {
        const word = hello.readUInt32BE(at + i);
        for (let b = 0; b < 32; b++) if (word & (1 << b)) theirs.push((i - 4) * 8 + b);
      }
    }
    at += (len + 7) & ~7;
  }
  const best = Math.max(...ours.filter((v) => (theirs ? theirs.includes(v) : v <= h.version)), -1);
  return best < 0 ? null : best;
}

export function encodeHello(version: number, xid: number, versions: number[] = SUPPORTED_VERSIONS): Buffer {
  const w = startMsg(version, OFPT_HELLO, xid);
  if (version >= OFP13_VERSION) {
    let bitmap = 0;
    for (const v of versions) bitmap |= 1 << v;
    w.u16(1).u16(8).u32(bitmap >>> 0);
  }
  return finishMsg(w);
}
