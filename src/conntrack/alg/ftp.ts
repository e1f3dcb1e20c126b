// The FTP helper (RFC 959, RFC 2428): reads the control connection for the
// commands and replies that announce a data connection, creates the
// expectation for it, and under NAT rewrites the address inside them.
//   client -> server: PORT h1,h2,h3,h4,p1,p2      EPRT |1|a.b.c.d|port|  EPRT |2|v6|port|
//   server -> client: 227 ... (h1,h2,h3,h4,p1,p2)  229 ... (|||port|)
// The address in a message must be its sender's (or already the translated
// one); any other (the "FTP bounce", a third party) creates nothing. A
// message that starts like one of these but does not parse is +inv.
//
// Bounds: every read is checked against `end` (the IP payload's end) and
// the line's end; a message is only taken whole, with its line terminator
// inside the segment. Scratch is per module (one per thread), nothing is
// allocated except the text of a rewritten IPv6 address.

import { K_SRC, K_DST } from '../../packet/tuple.ts';
import { ipv6FromText } from '../../packet/addr.ts';
import { ipv6ToString } from '../conn.ts';
import { R_KEY_ORIG, R_KEY_REPLY } from '../layout.ts';
import { ALG_FTP, ALG_INVALID, ALG_PASS, type AlgHelper, type AlgHost, type AlgPkt } from './helper.ts';

// What parseFtp() found.
export const FTP_NONE = 0; // not a message of interest
export const FTP_PORT = 1;
export const FTP_EPRT = 2;
export const FTP_PASV = 3; // 227
export const FTP_EPSV = 4; // 229
export const FTP_BAD = -1; // looks like one but does not parse

/** Result of parseFtp(), reused. addr is 4 words (IPv4 in word 0); hasAddr false for 229. */
export interface FtpMsg {
  kind: number;
  v6: boolean;
  hasAddr: boolean;
  addr: Int32Array;
  port: number;
  /** The address text is payload bytes [addrStart, addrEnd). */
  addrStart: number;
  addrEnd: number;
}

export function newFtpMsg(): FtpMsg {
  return { kind: FTP_NONE, v6: false, hasAddr: false, addr: new Int32Array(4), port: 0, addrStart: 0, addrEnd: 0 };
}

const CR = 13, LF = 10, SP = 32, COMMA = 44, DOT = 46, LPAREN = 40, RPAREN = 41;
const num = new Int32Array(1); // parsed number of readNum()

function isDigit(c: number): boolean { return c >= 48 && c <= 57; }

/** Decimal of 1..maxDigits digits at i (< lim) into num[0]; next index or -1. */
function readNum(d: Uint8Array, i: number, lim: number, maxDigits: number): number {
  let v = 0;
  let n = 0;
  while (i < lim && isDigit(d[i])) {
    if (++n > maxDigits) return -1;
    v = v * 10 + (d[i] - 48);
    i++;
  }
  if (n === 0) return -1;
  num[0] = v;
  return i;
}

/** Case-insensitive match of an ASCII word at i. */
function startsWith(d: Uint8Array, i: number, lim: number, w: string): boolean {
  if (i + w.length > lim) return false;
  for (let j = 0; j < w.length; j++) {
    const c = d[i + j];
    const lc = c >= 65 && c <= 90 ? c | 0x20 : c;
    if (lc !== w.charCodeAt(j)) return false;
  }
  return true;
}

/** h1,h2,h3,h4,p1,p2 at i: address into m, port, addrEnd; next index or -1. */
function readTuple6(d: Uint8Array, i: number, lim: number, m: FtpMsg): number {
  let a = 0;
  m.addrStart = i;
  for (let k = 0; k < 6; k++) {
    if (k > 0) {
      if (i >= lim || d[i] !== COMMA) return -1;
      if (k === 4) m.addrEnd = i;
      i++;
    }
    i = readNum(d, i, lim, 3);
    if (i < 0 || num[0] > 255) return -1;
    if (k < 4) a = (a << 8) | num[0];
    else m.port = (m.port << 8) | num[0];
  }
  m.addr[0] = a;
  m.addr[1] = m.addr[2] = m.addr[3] = 0;
  return i;
}

/** The rest of the line at i must be spaces then CR or LF. */
function atLineEnd(d: Uint8Array, i: number, lim: number): boolean {
  while (i < lim && d[i] === SP) i++;
  return i < lim && (d[i] === CR || d[i] === LF);
}

function readDottedQuad(d: Uint8Array, i: number, lim: number, m: FtpMsg): boolean {
  let a = 0;
  for (let k = 0; k < 4; k++) {
    if (k > 0) {
      if (i >= lim || d[i] !== DOT) return false;
      i++;
    }
    i = readNum(d, i, lim, 3);
    if (i < 0 || num[0] > 255) return false;
    a = (a << 8) | num[0];
  }
  if (i !== lim) return false;
  m.addr[0] = a;
  m.addr[1] = m.addr[2] = m.addr[3] = 0;
  return true;
}

function readV6(d: Uint8Array, i: number, lim: number, m: FtpMsg): boolean {
  if (lim - i < 2 || lim - i > 45) return false;
  let s = '';
  for (let j = i; j < lim; j++) {
    const c = d[j];
    if (!(isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70) || c === 58 || c === DOT)) return false;
    s += String.fromCharCode(c);
  }
  const w = ipv6FromText(s);
  if (w === null) return false;
  for (let k = 0; k < 4; k++) m.addr[k] = w[k] | 0;
  return true;
}

function setPort(m: FtpMsg, p: number): boolean {
  if (p < 1 || p > 65535) return false;
  m.port = p;
  return true;
}

/**
 * Parse the control message at payload [p, end) of a connection of family
 * `v6`; `reply` says it comes from the server. Returns FTP_* (m filled for
 * a message of interest).
 */
export function parseFtp(d: Uint8Array, p: number, end: number, reply: boolean, v6: boolean, m: FtpMsg): number {
  m.kind = FTP_NONE;
  m.port = 0;
  m.hasAddr = true;
  m.v6 = false;
  if (end > d.length) end = d.length;
  if (p < 0 || p >= end) return FTP_NONE;
  let kind = FTP_NONE;
  if (!reply) {
    if (startsWith(d, p, end, 'port ')) kind = FTP_PORT;
    else if (startsWith(d, p, end, 'eprt ')) kind = FTP_EPRT;
  } else {
    if (startsWith(d, p, end, '227 ')) kind = FTP_PASV;
    else if (startsWith(d, p, end, '229 ')) kind = FTP_EPSV;
  }
  if (kind === FTP_NONE) return FTP_NONE;
  // The whole line must be in this segment.
  let lim = p;
  while (lim < end && d[lim] !== LF) lim++;
  if (lim >= end) return FTP_BAD;
  let i = p + (kind === FTP_PASV || kind === FTP_EPSV ? 4 : 5);
  if (kind === FTP_PORT) {
    while (i < lim && d[i] === SP) i++;
    i = readTuple6(d, i, lim, m);
    if (i < 0 || !atLineEnd(d, i, lim + 1) || v6 || !setPort(m, m.port)) return FTP_BAD;
  } else if (kind === FTP_PASV) {
    let j = i;
    while (j < lim && d[j] !== LPAREN) j++;
    if (j < lim) i = j + 1;
    else while (i < lim && !isDigit(d[i])) i++;
    i = readTuple6(d, i, lim, m);
    if (i < 0 || v6 || !setPort(m, m.port)) return FTP_BAD;
  } else if (kind === FTP_EPRT) {
    while (i < lim && d[i] === SP) i++;
    if (i + 3 > lim) return FTP_BAD;
    const delim = d[i];
    if (delim < 33 || delim > 126 || isDigit(delim)) return FTP_BAD;
    const af = d[i + 1];
    if ((af !== 49 && af !== 50) || d[i + 2] !== delim) return FTP_BAD;
    m.v6 = af === 50;
    if (m.v6 !== v6) return FTP_BAD;
    const a0 = i + 3;
    let a1 = a0;
    while (a1 < lim && d[a1] !== delim) a1++;
    if (a1 >= lim) return FTP_BAD;
    if (!(m.v6 ? readV6(d, a0, a1, m) : readDottedQuad(d, a0, a1, m))) return FTP_BAD;
    m.addrStart = a0;
    m.addrEnd = a1;
    i = readNum(d, a1 + 1, lim, 5);
    if (i < 0 || !setPort(m, num[0]) || i >= lim || d[i] !== delim || !atLineEnd(d, i + 1, lim + 1)) return FTP_BAD;
  } else {
    // 229 text (|||port|): the address is the control connection's.
    while (i < lim && d[i] !== LPAREN) i++;
    if (i + 4 >= lim) return FTP_BAD;
    const delim = d[i + 1];
    if (delim < 33 || delim > 126 || isDigit(delim) || d[i + 2] !== delim || d[i + 3] !== delim) return FTP_BAD;
    i = readNum(d, i + 4, lim, 5);
    if (i < 0 || !setPort(m, num[0]) || i + 1 >= lim || d[i] !== delim || d[i + 1] !== RPAREN) return FTP_BAD;
    m.hasAddr = false;
    m.v6 = v6;
  }
  m.kind = kind;
  return kind;
}

// ---- rewrite

const text = new Uint8Array(64); // replacement address text

function writeDec(v: number, o: number): number {
  if (v >= 100) text[o++] = 48 + ((v / 100) | 0);
  if (v >= 10) text[o++] = 48 + (((v / 10) | 0) % 10);
  text[o++] = 48 + (v % 10);
  return o;
}

/** Address words at a (4 words, v4 in the first) as the message's text; returns its length. */
export function addrText(kind: number, v6: boolean, a: ArrayLike<number>, ao: number): number {
  if (v6) {
    const s = ipv6ToString(a, ao);
    for (let i = 0; i < s.length; i++) text[i] = s.charCodeAt(i);
    return s.length;
  }
  const w = a[ao] >>> 0;
  const sep = kind === FTP_EPRT ? DOT : COMMA;
  let o = 0;
  for (let k = 0; k < 4; k++) {
    if (k > 0) text[o++] = sep;
    o = writeDec((w >>> (24 - 8 * k)) & 0xff, o);
  }
  return o;
}

/** Replace payload bytes [a0, a1) by text[0, n): moves the rest of the
 *  payload, updates p.end and p.delta. False when the buffer has no room. */
export function splice(p: AlgPkt, a0: number, a1: number, n: number): boolean {
  const delta = n - (a1 - a0);
  if (delta > p.room) return false;
  p.data.copyWithin(a0 + n, a1, p.end);
  p.data.set(text.subarray(0, n), a0);
  p.end += delta;
  p.room -= delta;
  p.delta += delta;
  return true;
}

function sameAddr(m: Int32Array, rec: Int32Array, o: number, v6: boolean): boolean {
  if (m[0] !== rec[o]) return false;
  return !v6 || (m[1] === rec[o + 1] && m[2] === rec[o + 2] && m[3] === rec[o + 3]);
}

const msg = newFtpMsg();

export const ftpHelper: AlgHelper = {
  id: ALG_FTP,
  name: 'ftp',
  inspect(p: AlgPkt, host: AlgHost): number {
    const kind = parseFtp(p.data, p.payload, p.end, p.reply, p.v6 !== 0, msg);
    if (kind === FTP_NONE) return ALG_PASS;
    if (kind === FTP_BAD) return ALG_INVALID;
    const rec = host.rec;
    const ok = host.base + R_KEY_ORIG;
    const rk = host.base + R_KEY_REPLY;
    // The sender's own address, and what the receiver must see instead.
    const sender = p.reply ? rk + K_SRC : ok + K_SRC;
    const target = p.reply ? ok + K_DST : rk + K_DST;
    if (msg.hasAddr) {
      const v6 = p.v6 !== 0;
      const own = sameAddr(msg.addr, rec, sender, v6);
      if (!own && !sameAddr(msg.addr, rec, target, v6)) return ALG_PASS; // third party: not followed
      if (own && p.nat && !sameAddr(msg.addr, rec, target, v6)) {
        const n = addrText(kind, v6, rec, target);
        if (!splice(p, msg.addrStart, msg.addrEnd, n)) return ALG_INVALID;
      }
    }
    if (!p.reply) {
      // PORT/EPRT: the server connects back to the client.
      host.expect(rec, rk + K_SRC, rec, rk + K_DST, msg.port, rec, ok + K_DST, rec, ok + K_SRC, msg.port, false);
    } else {
      // 227/229: the client connects to the server.
      host.expect(rec, ok + K_SRC, rec, ok + K_DST, msg.port, rec, rk + K_DST, rec, rk + K_SRC, msg.port, false);
    }
    return ALG_PASS;
  },
};
