// Tuple selection for a new NATed connection: choose the translated address
// and port so that the connection's reply tuple is unique in its zone, as
// OVS's userspace conntrack does (ovs-actions(7) "nat"; seed 001):
//
// - The starting point is a hash of the connection's tuple, seeded per
//   process (`hash`, the default), or a random number (`random`). With
//   `persistent` the address comes from a hash of the source address alone,
//   so one client always maps to the same translated address.
// - Addresses are walked from the start, wrapping at the end of the range;
//   for each address the ports are walked. An explicit port range starts at
//   its hashed offset; without one, SNAT keeps the original source port when
//   it is free and otherwise walks OVS's default range for it (1-511,
//   600-1023 or 1024-65535, by where the original port lies). DNAT with a
//   port range walks the destination ports first, then the client's source
//   port as above. Per address at most 128 ports are probed in sequence,
//   then rounds of 64, 32, 16 and 8 from random points (OVS's bound).
// - Protocols without ports (ICMP, others) only change the address: OVS 3.1
//   keeps the ICMP echo id.
//
// "Unique" is asked of the caller through TupleProbe (the conntrack table,
// which owns the locks); this module owns no table and never allocates.

import { addrAdd, NAT_DST, SEL_RANDOM, type NatRange } from './range.ts';
import { hashFinish as fin, hashMix as mix } from '../packet/hash.ts';

import { K_DST, K_META, K_PORTS, K_SRC, KEY_WORDS, tupleHasPorts } from '../packet/tuple.ts';

/** Port attempts per address in the first sequential round (OVS's bound). */
export const PORT_ATTEMPTS = 128;
/** Addresses walked at most (IPv6 ranges can be 2^32 long). */
export const MAX_ADDR_ATTEMPTS = 65536;

export const EPHEMERAL_MIN = 1024;
export const EPHEMERAL_MAX = 65535;

/** Per-process seed for the selection hash: nobody outside can predict
 *  which translated tuple a connection gets. */
export const NAT_SEED = (Math.random() * 0x100000000) | 0;

/** Asked for every candidate: is this reply tuple already a key in the table? */
export interface TupleProbe {
  taken(k: Int32Array, ofs: number): boolean;
}



/** Hash of a whole key (the connection's tuple and zone). */
export function natTupleHash(k: Int32Array, ofs: number, seed: number): number {
  let h = seed | 0;
  for (let i = 0; i < KEY_WORDS; i++) h = mix(h, k[ofs + i]);
  return fin(h);
}

/** Hash of the source address and zone only (`persistent`). */
export function natSourceHash(k: Int32Array, ofs: number, seed: number): number {
  let h = mix(seed | 0, k[ofs + K_META] & 0xffff);
  for (let i = 0; i < 4; i++) h = mix(h, k[ofs + K_SRC + i]);
  return fin(h);
}

function rand32(): number {
  return (Math.random() * 0x100000000) >>> 0;
}

/** Default range of the client's source port when no port range is given. */
export function defaultPortMin(port: number): number {
  return port < 512 ? 1 : port < 1024 ? 600 : EPHEMERAL_MIN;
}

export function defaultPortMax(port: number): number {
  return port < 512 ? 511 : port < 1024 ? 1023 : EPHEMERAL_MAX;
}

/** Probe ports of one half of out[K_PORTS] (shift 16 = reply sport, 0 =
 *  reply dport) from `cur` within [min, max]. Leaves the first free tuple in
 *  `out` and returns true; on failure restores `cur` and returns false. */
function walkPort(probe: TupleProbe, out: Int32Array, oofs: number, shift: number, cur: number, min: number,
  max: number): boolean {
  const n = max - min + 1;
  const keep = shift === 16 ? 0x0000ffff : 0xffff0000 | 0;
  let attempts = n < PORT_ATTEMPTS ? n : PORT_ATTEMPTS;
  let p = cur;
  for (;;) {
    for (let i = 0; i < attempts; i++) {
      out[oofs + K_PORTS] = (out[oofs + K_PORTS] & keep) | (p << shift);
      if (!probe.taken(out, oofs)) return true;
      p = p >= max ? min : p + 1;
    }
    if (attempts >= n || attempts < 16) break;
    attempts >>>= 1;
    p = min + (rand32() % n);
  }
  out[oofs + K_PORTS] = (out[oofs + K_PORTS] & keep) | (cur << shift);
  return false;
}

/**
 * Choose the translated tuple of a new connection. `orig` (at oofs) is the
 * connection's original tuple; `out` (at rofs) holds its plain reverse on
 * entry and the chosen reply tuple on success. `range.action` must have
 * NAT_SRC or NAT_DST. Returns false when every candidate is taken (the
 * caller drops the packet and creates nothing); `out` is then unspecified.
 */
export function selectTuple(range: NatRange, orig: Int32Array, oofs: number, out: Int32Array, rofs: number,
  seed: number, probe: TupleProbe): boolean {
  const dnat = (range.action & NAT_DST) !== 0;
  const proto = (orig[oofs + K_META] >>> 16) & 0xff;
  const pat = tupleHasPorts(proto);
  const h = range.select === SEL_RANDOM ? rand32() : natTupleHash(orig, oofs, seed);
  const ha = range.persistent ? natSourceHash(orig, oofs, seed ^ 0x2545f491) : h;

  // The translated address sits in the reply tuple's source (DNAT) or
  // destination (SNAT).
  const addrAt = rofs + (dnat ? K_SRC : K_DST);
  const span = range.hasAddr ? range.addrSpan : 1;
  const start = range.hasAddr ? ha % span : 0;

  const ports = orig[oofs + K_PORTS];
  const clientPort = ports >>> 16;
  // Reply dport = the client's source port after SNAT.
  let sCur = clientPort;
  let sMin = defaultPortMin(clientPort);
  let sMax = defaultPortMax(clientPort);
  if (!dnat && range.hasPorts) {
    sMin = range.portMin;
    sMax = range.portMax;
    sCur = sMin + (h % (sMax - sMin + 1));
  }
  // Reply sport = the server's port after DNAT.
  let dCur = ports & 0xffff;
  const dWalk = dnat && range.hasPorts;
  if (dWalk) dCur = range.portMin + (h % (range.portMax - range.portMin + 1));

  const tries = span < MAX_ADDR_ATTEMPTS ? span : MAX_ADDR_ATTEMPTS;
  for (let i = 0; i < tries; i++) {
    if (range.hasAddr) {
      let off = start + i;
      if (off >= span) off -= span;
      addrAdd(out, addrAt, range.addrMin, off, range.v6);
    }
    if (!pat) {
      if (!probe.taken(out, rofs)) return true;
      continue;
    }
    out[rofs + K_PORTS] = ((dCur << 16) | sCur) | 0;
    if (dWalk && walkPort(probe, out, rofs, 16, dCur, range.portMin, range.portMax)) return true;
    if (walkPort(probe, out, rofs, 0, sCur, sMin, sMax)) return true;
  }
  return false;
}

export { K_SRC as NAT_K_SRC, K_DST as NAT_K_DST, K_PORTS as NAT_K_PORTS };
