// NXT_CT_FLUSH_ZONE (a zone) and NXT_CT_FLUSH (an IP protocol, optional
// original/reply tuples and a zone, as nested properties), the conntrack
// flushes `ovs-ofctl ct-flush-zone` and `ovs-ofctl ct-flush` send.
// Addresses come as 16 bytes, IPv4 mapped into IPv6 (::ffff:a.b.c.d).

import type { TupleFilter } from '../conntrack/conn.ts';
import { ipv4Str, ipv6Str } from '../packet/odp-format.ts';
import { Reader, type Writer } from './buffer.ts';
import { expError, NX_VENDOR, NXBRC_MUST_BE_ZERO, OfError } from './errors.ts';

export const NXT_CT_FLUSH_ZONE = 29;
export const NXT_CT_FLUSH = 32;

const NXT_CT_ORIG_TUPLE = 0, NXT_CT_REPLY_TUPLE = 1, NXT_CT_ZONE_ID = 2;
const TUPLE_SRC = 0, TUPLE_DST = 1, TUPLE_SRC_PORT = 2, TUPLE_DST_PORT = 3, TUPLE_ICMP_ID = 4, TUPLE_ICMP_TYPE = 5, TUPLE_ICMP_CODE = 6;

/**
 * OFPBPC_BAD_LEN / OFPBPC_BAD_VALUE in OpenFlow 1.0's and 1.3's numbering
 * (13,3) / (13,4), the versions ovs-ofctl sends these in (1.4+ numbers
 * them (14,1) / (14,2)).
 */
const OFPET13_BAD_PROPERTY = 13;
const badProp = (code: number, msg: string) => new OfError(OFPET13_BAD_PROPERTY, code, msg);
const BPC_BAD_LEN = 3, BPC_BAD_VALUE = 4;

export interface CtFlush {
  zone?: number;
  orig?: TupleFilter;
  reply?: TupleFilter;
}

/** NXT_CT_FLUSH_ZONE's body (r after the subtype). */
export function decodeCtFlushZone(r: Reader): CtFlush {
  const pad = r.bytes(6);
  if (pad.some((b) => b !== 0)) throw expError(NXBRC_MUST_BE_ZERO, 'ct_flush_zone padding is not zero');
  return { zone: r.u16() };
}

/** Properties of 4-byte headers padded to 8: [type, value reader]. */
function* props(r: Reader): Generator<[number, Reader]> {
  while (r.left > 0) {
    if (r.left < 4) throw badProp(BPC_BAD_LEN, 'property header truncated');
    const type = r.u16(), len = r.u16();
    const padded = (len + 7) & ~7;
    if (len < 4 || padded - 4 > r.left) throw badProp(BPC_BAD_LEN, `property ${type}: length ${len}`);
    const v = r.sub(len - 4);
    r.skip(padded - len);
    yield [type, v];
  }
}

function addr(v: Reader, l3: { af: number }): string | undefined {
  if (v.left < 16) throw badProp(BPC_BAD_LEN, 'conntrack tuple address');
  const w = [v.u32(), v.u32(), v.u32(), v.u32()];
  if (w.every((x) => x === 0)) return undefined;
  const mapped = w[0] === 0 && w[1] === 0 && w[2] === 0xffff;
  const af = mapped ? 4 : 6;
  if (l3.af && l3.af !== af) throw badProp(BPC_BAD_VALUE, 'conntrack tuple mixes IPv4 and IPv6');
  l3.af = af;
  return mapped ? ipv4Str(w[3]) : ipv6Str(w);
}

function tuple(v: Reader, proto: number, l3: { af: number }): TupleFilter {
  v.skip(Math.min(v.left, 4)); // nested properties start 8 bytes into the outer one
  const t: TupleFilter = {};
  if (proto) t.proto = proto;
  for (const [type, p] of props(v)) {
    switch (type) {
      case TUPLE_SRC: t.src = addr(p, l3); break;
      case TUPLE_DST: t.dst = addr(p, l3); break;
      case TUPLE_SRC_PORT: t.sport = p.u16(); break;
      case TUPLE_DST_PORT: t.dport = p.u16(); break;
      case TUPLE_ICMP_ID: t.icmpId = p.u16(); break;
      case TUPLE_ICMP_TYPE: t.icmpType = p.u8(); break;
      case TUPLE_ICMP_CODE: t.icmpCode = p.u8(); break;
    }
  }
  for (const k of Object.keys(t) as (keyof TupleFilter)[]) if (t[k] === undefined || t[k] === 0) delete t[k];
  return t;
}

/** NXT_CT_FLUSH's body (r after the subtype). */
export function decodeCtFlush(r: Reader): CtFlush {
  const proto = r.u8();
  if (r.bytes(7).some((b) => b !== 0)) throw expError(NXBRC_MUST_BE_ZERO, 'ct_flush padding is not zero');
  const out: CtFlush = {};
  const l3 = { af: 0 };
  for (const [type, p] of props(r)) {
    if (type === NXT_CT_ORIG_TUPLE) out.orig = tuple(p, proto, l3);
    else if (type === NXT_CT_REPLY_TUPLE) out.reply = tuple(p, proto, l3);
    else if (type === NXT_CT_ZONE_ID) out.zone = p.u16();
  }
  if (proto && !out.orig && !out.reply) out.orig = { proto };
  return out;
}

/** NXT_CT_FLUSH_ZONE's body, for tests and tools. */
export function encodeCtFlushZone(w: Writer, zone: number): void {
  w.zeros(6).u16(zone);
}

export { NX_VENDOR };
