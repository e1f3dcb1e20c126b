// OVS's flow hashes (lib/flow.c flow_hash_fields, lib/jhash.c, lib/hash.h's
// portable murmur path) and multipath's link choice (lib/multipath.c), so
// that multipath(...) picks the same link as OVS for the same packet. The
// hashes read OVS's structs as bytes in memory order (little-endian words
// of network-order fields), rebuilt here from swd's flow-key words. Slow
// path (translation): small allocations are fine.

import {
  ETH_TYPE_IP, ETH_TYPE_IPV6, FK_ETH_DST_HI, FK_ETH_DST_LO, FK_ETH_SRC_HI, FK_ETH_SRC_LO, FK_ETH_TYPE, FK_IPV6_DST,
  FK_IPV6_SRC, FK_NW_DST, FK_NW_FRAG, FK_NW_PROTO, FK_NW_SRC, FK_TP_DST, FK_TP_SRC, FK_VLAN_TCI, FRAG_ANY, IPPROTO_SCTP,
  IPPROTO_TCP, IPPROTO_UDP,
} from '../packet/flow-key.ts';

const rot = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

/** Bob Jenkins's lookup3 over bytes, as OVS's jhash_bytes (words read little-endian). */
export function jhashBytes(p: Uint8Array, basis: number): number {
  let n = p.length;
  let a = (0xdeadbeef + n + basis) >>> 0, b = a, c = a;
  const word = (o: number) => (p[o] | (p[o + 1] << 8) | (p[o + 2] << 16) | (p[o + 3] << 24)) >>> 0;
  let o = 0;
  while (n >= 12) {
    a = (a + word(o)) >>> 0; b = (b + word(o + 4)) >>> 0; c = (c + word(o + 8)) >>> 0;
    a = (a - c) >>> 0; a = (a ^ rot(c, 4)) >>> 0; c = (c + b) >>> 0;
    b = (b - a) >>> 0; b = (b ^ rot(a, 6)) >>> 0; a = (a + c) >>> 0;
    c = (c - b) >>> 0; c = (c ^ rot(b, 8)) >>> 0; b = (b + a) >>> 0;
    a = (a - c) >>> 0; a = (a ^ rot(c, 16)) >>> 0; c = (c + b) >>> 0;
    b = (b - a) >>> 0; b = (b ^ rot(a, 19)) >>> 0; a = (a + c) >>> 0;
    c = (c - b) >>> 0; c = (c ^ rot(b, 4)) >>> 0; b = (b + a) >>> 0;
    n -= 12;
    o += 12;
  }
  if (n > 0) {
    const t = new Uint8Array(12);
    t.set(p.subarray(o, o + n));
    const tw = (i: number) => (t[i] | (t[i + 1] << 8) | (t[i + 2] << 16) | (t[i + 3] << 24)) >>> 0;
    a = (a + tw(0)) >>> 0; b = (b + tw(4)) >>> 0; c = (c + tw(8)) >>> 0;
    c = (c ^ b) >>> 0; c = (c - rot(b, 14)) >>> 0;
    a = (a ^ c) >>> 0; a = (a - rot(c, 11)) >>> 0;
    b = (b ^ a) >>> 0; b = (b - rot(a, 25)) >>> 0;
    c = (c ^ b) >>> 0; c = (c - rot(b, 16)) >>> 0;
    a = (a ^ c) >>> 0; a = (a - rot(c, 4)) >>> 0;
    b = (b ^ a) >>> 0; b = (b - rot(a, 14)) >>> 0;
    c = (c ^ b) >>> 0; c = (c - rot(b, 24)) >>> 0;
  }
  return c;
}

/** hash.h's hash_add (murmur3 step; 0 leaves the hash alone). */
export function hashAdd(hash: number, data: number): number {
  data >>>= 0;
  if (data !== 0) {
    data = Math.imul(data, 0xcc9e2d51) >>> 0;
    data = rot(data, 15);
    data = Math.imul(data, 0x1b873593) >>> 0;
    hash = (hash ^ data) >>> 0;
  }
  hash = rot(hash, 13);
  return (Math.imul(hash, 5) + 0xe6546b64) >>> 0;
}

export function hashFinish(hash: number, final: number): number {
  let h = (hash ^ final) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

export function hash2Words(x: number, y: number): number {
  return hashFinish(hashAdd(hashAdd(x, 0), y), 8);
}

/** A 32-bit network-order value as OVS reads it from memory (a host-order u32 on little-endian). */
const le32 = (v: number) => (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
const le16 = (v: number) => (((v & 0xff) << 8) | ((v >>> 8) & 0xff)) >>> 0;

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24; b[o + 1] = (v >>> 16) & 0xff; b[o + 2] = (v >>> 8) & 0xff; b[o + 3] = v & 0xff;
}

function macBytes(f: Uint32Array, hi: number, lo: number): Uint8Array {
  const b = new Uint8Array(6);
  put16(b, 0, f[hi]);
  put32(b, 2, f[lo]);
  return b;
}

/** The words a hash read, for the megaflow mask (flow_mask_hash_fields): [word, mask] pairs. */
export type Reads = [number, number][];

/** OVS's flow_hash_fields(flow, fields, basis); `reads` gets what flow_mask_hash_fields unwildcards. Null: not a field set OVS hashes this way. */
export function ovsFlowHash(f: Uint32Array, fields: string, basis: number, reads: Reads): number | null {
  const type = f[FK_ETH_TYPE];
  const ip = type === ETH_TYPE_IP, ip6 = type === ETH_TYPE_IPV6;
  const proto = f[FK_NW_PROTO];
  const addrs = (src: boolean, dst: boolean) => {
    if (ip) {
      if (src) reads.push([FK_NW_SRC, 0xffffffff]);
      if (dst) reads.push([FK_NW_DST, 0xffffffff]);
    } else if (ip6) {
      for (let i = 0; i < 4; i++) {
        if (src) reads.push([FK_IPV6_SRC + i, 0xffffffff]);
        if (dst) reads.push([FK_IPV6_DST + i, 0xffffffff]);
      }
    }
  };
  const ip6Xor = (b: Uint8Array, o: number) => {
    for (let i = 0; i < 4; i++) put32(b, o + 4 * i, (f[FK_IPV6_SRC + i] ^ f[FK_IPV6_DST + i]) >>> 0);
  };
  switch (fields) {
    case 'eth_src':
      reads.push([FK_ETH_SRC_HI, 0xffff], [FK_ETH_SRC_LO, 0xffffffff]);
      return jhashBytes(macBytes(f, FK_ETH_SRC_HI, FK_ETH_SRC_LO), basis);
    case 'nw_src': case 'nw_dst': {
      addrs(fields === 'nw_src', fields === 'nw_dst');
      const w = fields === 'nw_src' ? FK_NW_SRC : FK_NW_DST;
      const w6 = fields === 'nw_src' ? FK_IPV6_SRC : FK_IPV6_DST;
      if (ip) {
        const b = new Uint8Array(4);
        put32(b, 0, f[w]);
        return jhashBytes(b, basis);
      }
      if (!ip6) return basis;
      const b = new Uint8Array(16);
      for (let i = 0; i < 4; i++) put32(b, 4 * i, f[w6 + i]);
      return jhashBytes(b, basis);
    }
    case 'symmetric_l4': {
      reads.push([FK_ETH_SRC_HI, 0xffff], [FK_ETH_SRC_LO, 0xffffffff], [FK_ETH_DST_HI, 0xffff], [FK_ETH_DST_LO, 0xffffffff], [FK_VLAN_TCI, 0x1fff]);
      addrs(true, true);
      const b = new Uint8Array(32);
      const src = macBytes(f, FK_ETH_SRC_HI, FK_ETH_SRC_LO), dst = macBytes(f, FK_ETH_DST_HI, FK_ETH_DST_LO);
      for (let i = 0; i < 6; i++) b[22 + i] = src[i] ^ dst[i];
      put16(b, 18, f[FK_VLAN_TCI] & 0x0fff);
      put16(b, 16, type);
      if (ip || ip6) {
        reads.push([FK_NW_PROTO, 0xff]);
        if (proto !== IPPROTO_UDP) reads.push([FK_TP_SRC, 0xffff], [FK_TP_DST, 0xffff]);
        if (ip) put32(b, 0, (f[FK_NW_SRC] ^ f[FK_NW_DST]) >>> 0);
        else ip6Xor(b, 0);
        b[28] = proto;
        if (proto === IPPROTO_TCP || proto === IPPROTO_SCTP) put16(b, 20, (f[FK_TP_SRC] ^ f[FK_TP_DST]) & 0xffff);
      }
      return jhashBytes(b, basis);
    }
    case 'symmetric_l3': {
      addrs(true, true);
      const b = new Uint8Array(20);
      put16(b, 16, type);
      if (ip) put32(b, 0, (f[FK_NW_SRC] ^ f[FK_NW_DST]) >>> 0);
      else if (ip6) ip6Xor(b, 0);
      return jhashBytes(b, basis);
    }
    case 'symmetric_l3l4': case 'symmetric_l3l4+udp': {
      const udp = fields === 'symmetric_l3l4+udp';
      const frag = (f[FK_NW_FRAG] & FRAG_ANY) !== 0;
      if (!ip && !ip6) {
        // flow_hash_symmetric_l2 (the mask: none, as OVS's flow_mask_hash_fields for a non-IP flow).
        const src = macBytes(f, FK_ETH_SRC_HI, FK_ETH_SRC_LO), dst = macBytes(f, FK_ETH_DST_HI, FK_ETH_DST_LO);
        const e = src.map((x, i) => x ^ dst[i]);
        const vt = f[FK_VLAN_TCI] & 0x0fff;
        let h = basis;
        h = hashAdd(h, le16(type) | (le16(vt) << 16));
        h = hashAdd(h, (e[0] | (e[1] << 8) | (e[2] << 16) | (e[3] << 24)) >>> 0);
        h = hashAdd(h, e[4] | (e[5] << 8));
        return hashFinish(h, basis);
      }
      addrs(true, true);
      reads.push([FK_NW_PROTO, 0xff]);
      let h = basis;
      if (ip) h = hashAdd(h, le32((f[FK_NW_SRC] ^ f[FK_NW_DST]) >>> 0));
      else {
        for (let i = 0; i < 4; i += 2) {
          // a 64-bit word of the address as memory holds it: low half first.
          h = hashAdd(h, le32((f[FK_IPV6_SRC + i] ^ f[FK_IPV6_DST + i]) >>> 0));
          h = hashAdd(h, le32((f[FK_IPV6_SRC + i + 1] ^ f[FK_IPV6_DST + i + 1]) >>> 0));
        }
      }
      h = hashAdd(h, proto);
      const ports = proto === IPPROTO_TCP || proto === IPPROTO_SCTP || (udp && proto === IPPROTO_UDP);
      if (!frag && ports) {
        reads.push([FK_TP_SRC, 0xffff], [FK_TP_DST, 0xffff]);
        h = hashAdd(h, le16((f[FK_TP_SRC] ^ f[FK_TP_DST]) & 0xffff));
      }
      return hashFinish(h, basis);
    }
  }
  return null;
}

function roundUpPow2(x: number): number {
  let p = 1;
  while (p < x) p *= 2;
  return p;
}

function iterHash(hash: number, n: number, modulo: number): number {
  if (modulo < n || modulo / 2 > n) modulo = roundUpPow2(n);
  let link: number;
  let i = 0;
  do link = hash2Words(hash, i++) % modulo;
  while (link >= n);
  return link;
}

/** multipath's algorithms (lib/multipath.c multipath_algorithm): a link 0..n-1 from `hash`. */
export function multipathLink(algorithm: string, hash: number, n: number, arg: number): number {
  switch (algorithm) {
    case 'modulo_n': return hash % n;
    case 'hash_threshold': return n === 1 ? 0 : Math.floor(hash / (Math.floor(0xffffffff / n) + 1));
    case 'iter_hash': return iterHash(hash, n, arg);
    default: {
      if (n > 64) return iterHash(hash, n, 0);
      let best = 0, bestW = hash2Words(hash, 0);
      for (let l = 1; l < n; l++) {
        const w = hash2Words(hash, l);
        if (w > bestW) {
          best = l;
          bestW = w;
        }
      }
      return best;
    }
  }
}
