// Packet builders and mutation families for the hostile-load tests. The
// families are a table (FUZZ_FAMILIES): each makes packet number i of its
// kind from a seeded generator, so a failing run is repeated by its seed.
// Later parts add rows (the FTP helper's malformed PORT/PASV commands,
// fragment storms) with `FUZZ_FAMILIES.push(...)` or their own table passed
// to runPacketFuzz().

import { setIpv4HeaderChecksum, setL4Checksum } from '../../src/packet/checksum.ts';

/** xorshift32: small, fast and repeatable. */
export class Rng {
  private s: number;
  constructor(seed: number) { this.s = (seed | 0) || 0x9e3779b9; }
  next(): number {
    let x = this.s;
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    this.s = x;
    return x >>> 0;
  }
  int(n: number): number { return this.next() % n; }
  pick<T>(a: readonly T[]): T { return a[this.int(a.length)]; }
  bytes(n: number): Uint8Array { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = this.next() & 0xff; return b; }
}

const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};
const u16 = (v: number) => [(v >>> 8) & 0xff, v & 0xff];
const u32 = (v: number) => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];

export const MAC1 = [0x50, 0x54, 0, 0, 0, 1];
export const MAC2 = [0x50, 0x54, 0, 0, 0, 2];

export function eth(type: number, payload: Uint8Array, vlans: number[] = []): Uint8Array {
  const tags = vlans.flatMap((t, i) => [...u16(i === 0 && vlans.length > 1 ? 0x88a8 : 0x8100), ...u16(t)]);
  return cat(Uint8Array.from([...MAC2, ...MAC1, ...tags, ...u16(type)]), payload);
}

export interface V4Opts { ihl?: number; totLen?: number; flagsFrag?: number; options?: Uint8Array; ttl?: number; id?: number }

/** An IPv4 packet, header checksum right, L4 checksum right when `l4csum`. */
export function ipv4(src: number, dst: number, proto: number, l4: Uint8Array, o: V4Opts = {}, l4csum = true): Uint8Array {
  const opt = o.options ?? new Uint8Array(0);
  const hl = 20 + opt.length;
  const d = new Uint8Array(hl + l4.length);
  d.set([0x40 | (o.ihl ?? hl / 4), 0, ...u16(o.totLen ?? d.length), ...u16(o.id ?? 0), ...u16(o.flagsFrag ?? 0), o.ttl ?? 64, proto, 0, 0, ...u32(src), ...u32(dst)]);
  d.set(opt, 20);
  d.set(l4, hl);
  if (l4csum && (proto === 6 || proto === 17 || proto === 1) && hl % 4 === 0 && l4.length >= (proto === 6 ? 20 : 8)) setL4Checksum(d, 0, hl, d.length, proto);
  setIpv4HeaderChecksum(d, 0);
  return d;
}

export function ipv6(src: number, dst: number, nh: number, payload: Uint8Array, plen?: number): Uint8Array {
  const a = (w: number) => [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ...u32(w)];
  const d = cat(Uint8Array.from([0x60, 0, 0, 0, ...u16(plen ?? payload.length), nh, 64, ...a(src), ...a(dst)]), payload);
  if (plen === undefined && (nh === 6 || nh === 17 || nh === 58) && payload.length >= (nh === 6 ? 20 : 8)) setL4Checksum(d, 0, 40, d.length, nh);
  return d;
}

export function tcp(sport: number, dport: number, flags: number, seq = 1, ack = 0, doff = 5, payload = 0): Uint8Array {
  const b = new Uint8Array(Math.max(20, doff * 4) + payload);
  b.set([...u16(sport), ...u16(dport), ...u32(seq), ...u32(ack), (doff & 0xf) << 4, flags & 0xff, ...u16(65535)]);
  return b;
}

export function udp(sport: number, dport: number, payload = 4, len?: number): Uint8Array {
  const b = new Uint8Array(8 + payload).fill(0x55);
  b.set([...u16(sport), ...u16(dport), ...u16(len ?? b.length), 0, 0]);
  return b;
}

export function icmp(type: number, code: number, rest: Uint8Array): Uint8Array {
  return cat(Uint8Array.from([type, code, 0, 0]), rest);
}

const V4_SRC = [0x0a000001, 0x0a000002, 0x0a000003, 0x0a000004];
const V4_DST = [0x0a010001, 0x0a010002];
const PORTS = [53, 80, 443, 1000, 1001, 40000];

/** A well-formed packet of a random kind, from a small address pool (so that
 *  connections repeat, get replies, and exhaust the NAT range). */
export function validPacket(r: Rng): Uint8Array {
  const s = r.pick(V4_SRC);
  const d = r.pick(V4_DST);
  const sp = r.pick(PORTS) + r.int(200);
  const dp = r.pick(PORTS);
  const rev = r.int(4) === 0;
  const [a, b, x, y] = rev ? [d, s, dp, sp] : [s, d, sp, dp];
  switch (r.int(6)) {
    case 0: return eth(0x0800, ipv4(a, b, 6, tcp(x, y, r.pick([0x02, 0x12, 0x10, 0x18, 0x11, 0x04]), r.next(), r.next())));
    case 1: return eth(0x0800, ipv4(a, b, 17, udp(x, y, r.int(64))));
    case 2: return eth(0x0800, ipv4(a, b, 1, icmp(r.pick([8, 0]), 0, Uint8Array.from([0, r.int(8), 0, 1]))));
    case 3: return eth(0x86dd, ipv6(a, b, 6, tcp(x, y, r.pick([0x02, 0x12, 0x10]), r.next(), r.next())));
    case 4: return eth(0x86dd, ipv6(a, b, 17, udp(x, y, r.int(64))));
    default: return eth(0x86dd, ipv6(a, b, 58, icmp(r.pick([128, 129]), 0, Uint8Array.from([0, r.int(8), 0, 1]))));
  }
}

/** An ICMP error quoting `inner` (an L3 packet), `depth` times nested. */
export function icmpErrorChain(r: Rng, depth: number, v6: boolean): Uint8Array {
  let inner: Uint8Array = v6 ? ipv6(1, 2, 17, udp(1000, 53)) : ipv4(V4_SRC[0], V4_DST[0], 17, udp(1000, 53));
  for (let i = 0; i < depth; i++) {
    const quoted = r.int(3) === 0 ? inner.subarray(0, r.int(inner.length + 1)) : inner;
    inner = v6
      ? ipv6(2, 1, 58, icmp(r.pick([1, 2, 3, 4]), 0, cat(new Uint8Array(4), quoted)))
      : ipv4(V4_DST[0], V4_SRC[0], 1, icmp(r.pick([3, 11, 12, 5]), r.int(16), cat(new Uint8Array(4), quoted)));
  }
  return eth(v6 ? 0x86dd : 0x0800, inner);
}

/** An IPv6 packet behind a chain of extension headers, lengths and next
 *  headers as hostile as the generator likes (loops: a header naming
 *  itself as next, chains longer than any parser should follow). */
export function ipv6ExtChain(r: Rng): Uint8Array {
  const kinds = [0, 43, 44, 60, 51, 50, 59, 135];
  const n = r.int(4) === 0 ? 50 + r.int(200) : 1 + r.int(6);
  const parts: Uint8Array[] = [];
  const first = r.pick(kinds);
  let cur = first;
  for (let i = 0; i < n; i++) {
    const next = r.int(5) === 0 ? cur : i === n - 1 ? r.pick([6, 17, 58, 0, 44]) : r.pick(kinds);
    const len = r.int(8) === 0 ? 255 : r.int(3);
    const h = new Uint8Array(cur === 44 ? 8 : (len + 1) * 8 > 64 ? 8 : (len + 1) * 8);
    h[0] = next;
    h[1] = len;
    if (cur === 44) { h[2] = r.int(256); h[3] = r.int(256); }
    parts.push(h);
    cur = next;
  }
  parts.push(r.int(2) ? udp(1, 2) : tcp(1, 2, 0x02));
  const body = cat(...parts);
  return eth(0x86dd, ipv6(r.pick(V4_SRC), r.pick(V4_DST), first, body, r.int(4) === 0 ? r.int(0x10000) : undefined));
}

export interface FuzzFamily {
  name: string;
  /** Packet number i of this family (an Ethernet frame). */
  make(r: Rng, i: number): Uint8Array;
}

export const FUZZ_FAMILIES: FuzzFamily[] = [
  { name: 'valid', make: (r) => validPacket(r) },
  {
    // every offset of every kind: i walks the offsets
    name: 'truncated',
    make: (r, i) => { const p = validPacket(r); return p.subarray(0, i % (p.length + 1)); },
  },
  {
    name: 'bad lengths',
    make: (r) => {
      const l4 = r.int(2) ? udp(r.pick(PORTS), 53, r.int(40), r.int(3) === 0 ? r.int(0x10000) : undefined) : tcp(1000, 80, 0x02);
      if (r.int(3) === 0) return eth(0x86dd, ipv6(1, 2, 17, l4, r.pick([0, 1, 7, 8, l4.length + 1, 0xffff, r.int(0x10000)])));
      const totLen = r.pick([0, 1, 19, 20, 21, 27, 28 + l4.length + 1, 0xffff, r.int(0x10000)]);
      return eth(0x0800, ipv4(r.pick(V4_SRC), r.pick(V4_DST), l4.length > 20 ? 17 : 6, l4, { totLen }));
    },
  },
  {
    name: 'IHL and options',
    make: (r) => {
      const optLen = r.int(11) * 4;
      const opts = r.bytes(optLen);
      if (optLen > 0) { opts[0] = r.pick([0x44, 0x07, 0x83, 0x89, 0x94, 1, 0]); if (optLen > 1) opts[1] = r.pick([0, 1, 2, 3, 40, 255, optLen, optLen + 4]); }
      const ihl = r.int(2) ? r.int(5) : r.int(16); // < 5 half the time
      return eth(0x0800, ipv4(r.pick(V4_SRC), r.pick(V4_DST), r.pick([6, 17, 1]), r.int(2) ? udp(5, 53) : tcp(5, 80, 0x02), { ihl, options: opts }));
    },
  },
  { name: 'IPv6 extension headers', make: (r) => ipv6ExtChain(r) },
  { name: 'ICMP errors quoting ICMP errors', make: (r) => icmpErrorChain(r, 1 + r.int(5), r.int(2) === 1) },
  {
    // every TCP flag combination (i walks them), any data offset, to and from the pool's connections
    name: 'TCP flags',
    make: (r, i) => {
      const t = tcp(r.pick(PORTS) + r.int(3), r.pick(PORTS), i & 0xff, r.next(), r.next(), r.int(8) === 0 ? r.int(16) : 5);
      return r.int(4) === 0 ? eth(0x86dd, ipv6(r.pick(V4_SRC), r.pick(V4_DST), 6, t)) : eth(0x0800, ipv4(r.pick(V4_SRC), r.pick(V4_DST), 6, t));
    },
  },
  {
    name: 'fragments',
    make: (r) => {
      const l4 = r.pick([udp(1000, 53, r.int(100)), tcp(1000, 80, 0x02), icmp(8, 0, new Uint8Array(4))]);
      const proto = l4.length === 8 ? 1 : l4[13] === 0x02 && l4.length === 20 ? 6 : 17;
      const cut = l4.subarray(0, r.int(l4.length + 1));
      if (r.int(3) === 0) {
        const fh = Uint8Array.from([proto === 1 ? 58 : proto, 0, ...u16((r.int(0x2000) << 3) | r.int(2)), ...u32(r.next())]);
        return eth(0x86dd, ipv6(1, 2, 44, cat(fh, cut)));
      }
      const flagsFrag = r.pick([0x2000, 0x2000 | r.int(0x2000), r.int(0x2000), 0x4000, 0x6000 | r.int(0x2000), 0x8000]);
      return eth(0x0800, ipv4(r.pick(V4_SRC), r.pick(V4_DST), proto, cut, { flagsFrag, id: r.int(8) }, false));
    },
  },
  {
    name: 'VLAN, ARP and other ethertypes',
    make: (r) => {
      const inner = validPacket(r).subarray(14);
      const kind = r.int(4);
      if (kind === 0) return eth(r.pick([0x0800, 0x86dd]), inner, [r.int(4096)]);
      if (kind === 1) return eth(r.pick([0x0800, 0x86dd]), inner, [r.int(4096), r.int(4096)]);
      if (kind === 2) return eth(0x0806, r.bytes(r.int(40)));
      return eth(r.pick([0x8847, 0x8848, 0x894f, 0x88cc, 0x0000, 0xffff, 0x05dc]), r.bytes(r.int(80)));
    },
  },
  {
    name: 'bit flips',
    make: (r) => {
      const p = Uint8Array.from(validPacket(r));
      for (let k = 1 + r.int(8); k > 0; k--) p[r.int(p.length)] ^= 1 << r.int(8);
      return p;
    },
  },
  { name: 'random bytes', make: (r) => { const p = r.bytes(r.int(200)); if (p.length >= 14 && r.int(2)) p.set(u16(r.pick([0x0800, 0x86dd])), 12); return p; } },
];
