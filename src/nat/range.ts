// NAT ranges: the `nat(src=ADDR[-ADDR][:PORT[-PORT]],persistent|hash|random)`
// clause of ct() (ovs-actions(7)) compiled once, on the slow path, into the
// numbers tuple selection (select.ts) walks. A compiled NatRange is
// immutable and shared by every packet of a megaflow and every thread.
//
// Addresses are kept as four 32-bit words (IPv4 in word 0, the others zero),
// the layout of conntrack keys (src/packet/tuple.ts K_SRC/K_DST).

import { ipv4FromText, ipv6FromText } from '../packet/addr.ts';

/** The nat clause of a ct() action as the flow parser writes it and ct() prints it. */
export interface NatSpec {
  /** null for a bare `nat`: apply the connection's existing translation. */
  kind: 'src' | 'dst' | null;
  addrMin?: string;
  addrMax?: string;
  portMin?: number;
  portMax?: number;
  persistent?: boolean;
  hash?: boolean;
  random?: boolean;
}

// NatRange.action bits. NAT_APPLY alone = bare `nat`.
export const NAT_APPLY = 0x1; // rewrite packets of NATed connections
export const NAT_SRC = 0x2; // set up source NAT on commit
export const NAT_DST = 0x4; // set up destination NAT on commit

// Selection of the starting point.
export const SEL_HASH = 0;
export const SEL_RANDOM = 1;

export interface NatRange {
  action: number;
  /** An address range is given (otherwise the address stays as it is). */
  hasAddr: boolean;
  /** 1 for IPv6 addresses, 0 for IPv4 (meaningful with hasAddr). */
  v6: number;
  addrMin: Int32Array;
  addrMax: Int32Array;
  /** Addresses in the range, capped at 2^32 (IPv6 ranges walk at most that many). */
  addrSpan: number;
  /** An explicit port range is given. */
  hasPorts: boolean;
  portMin: number;
  portMax: number;
  select: number; // SEL_*
  persistent: boolean;
}

export class NatRangeError extends Error {
  readonly code = 'ENATRANGE';
}

function v4Words(s: string): Int32Array | null {
  const v = ipv4FromText(s);
  return v === null ? null : Int32Array.of(v | 0, 0, 0, 0);
}

function v6Words(s: string): Int32Array | null {
  const w = ipv6FromText(s);
  return w === null ? null : Int32Array.from(w);
}

function toBig(w: Int32Array): bigint {
  let v = 0n;
  for (let i = 0; i < 4; i++) v = (v << 32n) | BigInt(w[i] >>> 0);
  return v;
}

/** Compile a nat clause. Throws NatRangeError on an address it cannot read
 *  or an empty range (the flow parser has already rejected those). */
export function compileNat(a: NatSpec): NatRange {
  const r: NatRange = {
    action: NAT_APPLY | (a.kind === 'src' ? NAT_SRC : a.kind === 'dst' ? NAT_DST : 0),
    hasAddr: false,
    v6: 0,
    addrMin: new Int32Array(4),
    addrMax: new Int32Array(4),
    addrSpan: 1,
    hasPorts: false,
    portMin: 0,
    portMax: 0,
    select: a.random ? SEL_RANDOM : SEL_HASH,
    persistent: a.persistent === true,
  };
  if (a.kind !== null && a.addrMin !== undefined) {
    const v6 = a.addrMin.includes(':');
    const rd = (s: string) => {
      const w = v6 ? v6Words(s) : v4Words(s);
      if (w === null) throw new NatRangeError(`nat: '${s}' is not an ${v6 ? 'IPv6' : 'IPv4'} address`);
      return w;
    };
    r.hasAddr = true;
    r.v6 = v6 ? 1 : 0;
    r.addrMin = rd(a.addrMin);
    r.addrMax = a.addrMax !== undefined ? rd(a.addrMax) : r.addrMin.slice();
    const span = v6 ? toBig(r.addrMax) - toBig(r.addrMin) + 1n : BigInt(r.addrMax[0] >>> 0) - BigInt(r.addrMin[0] >>> 0) + 1n;
    if (span <= 0n) throw new NatRangeError(`nat: address range ${a.addrMin}-${a.addrMax} is empty`);
    r.addrSpan = span > 0x100000000n ? 0x100000000 : Number(span);
  }
  if (a.kind !== null && a.portMin !== undefined) {
    r.hasPorts = true;
    r.portMin = a.portMin;
    r.portMax = a.portMax ?? a.portMin;
    if (r.portMax < r.portMin) throw new NatRangeError(`nat: port range ${r.portMin}-${r.portMax} is empty`);
  }
  return r;
}

/** out = min + off (0 <= off < 2^32), as an address of the given family: for
 *  IPv4 only word 0 (the others stay zero), for IPv6 a 128-bit big-endian
 *  add. Never allocates. */
export function addrAdd(out: Int32Array, oofs: number, min: Int32Array, off: number, v6: number): void {
  if (v6 === 0) {
    out[oofs] = ((min[0] >>> 0) + (off >>> 0)) | 0;
    return;
  }
  let carry = off >>> 0;
  for (let i = 3; i >= 0; i--) {
    const s = (min[i] >>> 0) + carry;
    out[oofs + i] = s | 0;
    carry = s > 0xffffffff ? 1 : 0;
  }
}
