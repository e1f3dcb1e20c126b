// NAT choices in conformance scenarios. Which translated address and port a
// connection gets depends on a hash seeded at random per process, in OVS as
// in swd, so two runs legitimately differ there — and only there. This
// module replaces such a value by a symbol (`<nat-ip-1>`, `<nat-port-1>`,
// numbered in order of first appearance, one per connection) and does so
// only after checking it:
//
// - the value is the translated side of the connection (SNAT: the reply
//   tuple's destination / the source of what leaves in the original
//   direction; DNAT: the reply tuple's source / the destination of what
//   leaves) and lies inside a `nat(src=..)`/`nat(dst=..)` range of the
//   scenario's flow table that offers more than one choice for it; a value
//   outside every range, or a deterministic choice (a single address, the
//   original port kept, a port range of one), stays as it is and is
//   compared exactly;
// - it is the same for the connection (keyed by its original tuple)
//   wherever it appears: the conntrack dump's reply tuple and the packets
//   the ports sent. A different value for a known connection becomes
//   `<nat-ip-N:inconsistent=VALUE>` and fails the comparison;
// - no two connections in one dump share a translated reply tuple
//   (a line `<nat: duplicate reply tuple ...>` is added, which fails).
//
// Replies are injected by writing the symbols into the step
// (`ipv4(src=10.1.1.2,dst=<nat-ip-1>,...)`); substitute() puts this run's
// values back before the switch sees the packet, and what comes out
// (un-NATed back to the client) is compared exactly.
//
// A sent frame whose header text has a masked value cannot keep the sha1 of
// the whole frame. Its digest is replaced by `nat-sha1=` (the sha1 of the
// frame with the masked address/port bytes and the IP and L4 checksum
// fields zeroed: payload, TTL, ids, options and flags are all still
// compared) followed by `csums=ok` once the IPv4 header checksum and the
// TCP/UDP/ICMP/ICMPv6 checksum of the real frame verify (`csums=BAD(..)`
// otherwise).

import { createHash } from 'node:crypto';
import { ipv4HeaderChecksum, verifyL4Checksum } from '../../src/packet/checksum.ts';
import { rd16 } from '../../src/packet/bytes.ts';
import { parsePacketArg } from '../../src/packet/compose.ts';
import { extractHeaders } from '../../src/packet/extract.ts';
import { FK_IPV6_DST, FK_IPV6_SRC, FK_NW_DST, FK_NW_SRC, FK_TP_DST, FK_TP_SRC, FK_WORDS } from '../../src/packet/flow-key.ts';
import { ipv4Str, ipv6Str } from '../../src/packet/odp-format.ts';
import { describeFrame } from './tx.ts';

type Kind = 'src' | 'dst';

export interface NatRangeSpec {
  kind: Kind;
  v6: boolean;
  lo: bigint;
  hi: bigint;
  pLo: number | null;
  pHi: number | null;
}

/** A packet's tuple as read from its bytes. */
interface Tuple {
  v6: boolean;
  proto: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  l3: number;
  l4: number;
}

interface Conn {
  ip: string | null;
  ipSym: string | null;
  port: number | null;
  portSym: string | null;
}

const PROTO_NUM: Record<string, number> = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58, sctp: 132, udplite: 136, dccp: 33 };
const HAS_PORTS = new Set([6, 17, 33, 132, 136]);

function addrValue(a: string): bigint | null {
  if (a.includes(':')) {
    const halves = a.split('::');
    const part = (x: string) => (x === '' ? [] : x.split(':'));
    const head = part(halves[0]);
    const tail = halves.length === 2 ? part(halves[1]) : [];
    const g = [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
    if (g.length !== 8 || g.some((x) => !/^[0-9a-fA-F]{1,4}$/.test(x))) return null;
    return g.reduce((v, x) => (v << 16n) | BigInt(parseInt(x, 16)), 0n);
  }
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(a);
  if (!m) return null;
  return m.slice(1).reduce((v, x) => (v << 8n) | BigInt(Number(x)), 0n);
}

/** The nat(src=..)/nat(dst=..) ranges of a flow table. */
export function natRanges(flows: string[]): NatRangeSpec[] {
  const out: NatRangeSpec[] = [];
  const re = /nat\((src|dst)=([^,)]+)/g;
  for (const f of flows) {
    for (let m = re.exec(f); m; m = re.exec(f)) {
      const kind = m[1] as Kind;
      const spec = m[2];
      let addrs: string, ports: string | undefined;
      if (spec.startsWith('[')) {
        const v = /^\[([^\]]+)\](?:-\[([^\]]+)\])?(?::(.*))?$/.exec(spec);
        if (!v) continue;
        addrs = v[2] ? `${v[1]}-${v[2]}` : v[1];
        ports = v[3];
      } else {
        [addrs, ports] = spec.split(':');
      }
      const [a, b] = addrs.split('-');
      const lo = addrValue(a), hi = addrValue(b ?? a);
      if (lo === null || hi === null) continue;
      let pLo: number | null = null, pHi: number | null = null;
      if (ports) {
        const [x, y] = ports.split('-');
        pLo = Number(x);
        pHi = Number(y ?? x);
      }
      out.push({ kind, v6: a.includes(':'), lo, hi, pLo, pHi });
    }
  }
  return out;
}

function frameTuple(data: Uint8Array): Tuple | null {
  const key = new Uint32Array(FK_WORDS);
  const l3 = new Int32Array(1), l4 = new Int32Array(1);
  l3[0] = -1;
  l4[0] = -1;
  extractHeaders(data, 0, data.length, key, 0, l3, l4, 0);
  if (l3[0] < 0) return null;
  const v6 = (data[l3[0]] >> 4) === 6;
  if (!v6 && (data[l3[0]] >> 4) !== 4) return null;
  const proto = v6 ? data[l3[0] + 6] : data[l3[0] + 9];
  const ports = HAS_PORTS.has(proto) && l4[0] >= 0;
  return {
    v6,
    proto,
    src: v6 ? ipv6Str(key, FK_IPV6_SRC) : ipv4Str(key[FK_NW_SRC]),
    dst: v6 ? ipv6Str(key, FK_IPV6_DST) : ipv4Str(key[FK_NW_DST]),
    sport: ports ? key[FK_TP_SRC] : 0,
    dport: ports ? key[FK_TP_DST] : 0,
    l3: l3[0],
    l4: l4[0],
  };
}

/** The checksums of a frame that do not verify ('' when all do). */
export function badChecksums(data: Uint8Array): string {
  const t = frameTuple(data);
  if (!t) return '';
  const bad: string[] = [];
  if (!t.v6 && ipv4HeaderChecksum(data, t.l3) !== rd16(data, t.l3 + 10)) bad.push('ip');
  const end = t.v6 ? t.l3 + 40 + rd16(data, t.l3 + 4) : t.l3 + rd16(data, t.l3 + 2);
  const udpNone = t.proto === 17 && !t.v6 && rd16(data, t.l4 + 6) === 0;
  if (t.l4 >= 0 && [1, 6, 17, 58].includes(t.proto) && !udpNone &&
    !verifyL4Checksum(data, t.l3, t.l4, Math.min(end, data.length), t.proto)) bad.push('l4');
  return bad.join(',');
}

const connKey = (proto: number, src: string, dst: string, sport: number, dport: number) =>
  HAS_PORTS.has(proto) ? `${proto}|${src}|${dst}|${sport}|${dport}` : `${proto}|${src}|${dst}`;

export class NatNormaliser {
  private readonly ranges: NatRangeSpec[];
  private readonly conns = new Map<string, Conn>();
  private readonly values = new Map<string, string>();
  private ips = 0;
  private ports = 0;
  /** The tuple of the packet the current inject step sent in. */
  private injected: Tuple | null = null;

  constructor(flows: string[]) {
    this.ranges = natRanges(flows);
  }

  get active(): boolean {
    return this.ranges.length > 0;
  }

  /** Put this run's values in place of the symbols in a step's arguments. */
  substitute(args: string[]): string[] {
    return args.map((a) =>
      a.replace(/<nat-(?:ip|port)-\d+>/g, (sym) => {
        const v = this.values.get(sym);
        if (v === undefined) throw new Error(`${sym} is used before any connection was given it`);
        return v;
      }),
    );
  }

  /** Before an inject step runs: remember the packet's tuple. */
  injecting(packet: string): void {
    try {
      this.injected = frameTuple(parsePacketArg(packet).bytes);
    } catch {
      this.injected = null;
    }
  }

  /** Does a range of this kind and family offer more than one address containing `a`? */
  private ipMaskable(kind: Kind, a: string): boolean {
    const v = addrValue(a);
    if (v === null) return false;
    const v6 = a.includes(':');
    return this.ranges.some((r) => r.kind === kind && r.v6 === v6 && r.hi > r.lo && v >= r.lo && v <= r.hi);
  }

  private portMaskable(kind: Kind, p: number): boolean {
    return this.ranges.some((r) => r.kind === kind && r.pLo !== null && r.pHi! > r.pLo && p >= r.pLo && p <= r.pHi!);
  }

  private conn(key: string): Conn {
    let c = this.conns.get(key);
    if (!c) {
      c = { ip: null, ipSym: null, port: null, portSym: null };
      this.conns.set(key, c);
    }
    return c;
  }

  /** The text for a translated address of connection `key`: a symbol when
   *  it is a checked choice from a range, the address itself otherwise. */
  private ipText(key: string, kind: Kind, original: string, a: string): string {
    if (a === original || !this.ipMaskable(kind, a)) return a;
    const c = this.conn(key);
    if (c.ip === null) {
      c.ip = a;
      c.ipSym = `<nat-ip-${++this.ips}>`;
      this.values.set(c.ipSym, a);
    }
    return c.ip === a ? c.ipSym! : `${c.ipSym!.slice(0, -1)}:inconsistent=${a}>`;
  }

  private portText(key: string, kind: Kind, original: number, p: number): string {
    if (p === original || !this.portMaskable(kind, p)) return String(p);
    const c = this.conn(key);
    if (c.port === null) {
      c.port = p;
      c.portSym = `<nat-port-${++this.ports}>`;
      this.values.set(c.portSym, String(p));
    }
    return c.port === p ? c.portSym! : `${c.portSym!.slice(0, -1)}:inconsistent=${p}>`;
  }

  /** dump-conntrack lines (raw): translated values of the reply tuples masked. */
  conntrack(lines: string[]): string[] {
    if (!this.active) return lines;
    const parsed = lines.map((l) => {
      const m = /^(\w+),orig=\(([^)]*)\),reply=\(([^)]*)\)(.*)$/.exec(l);
      if (!m) return { l, m: null };
      const fields = (s: string) => new Map(s.split(',').map((f) => f.split('=') as [string, string]));
      return { l, m, orig: fields(m[2]), reply: fields(m[3]) };
    });
    // Bind in the order of the original tuples, which do not depend on NAT.
    const order = [...parsed].sort((a, b) => (a.m && b.m ? (a.m[2] < b.m[2] ? -1 : a.m[2] > b.m[2] ? 1 : 0) : 0));
    const out = new Map<string, string>();
    const replies = new Map<string, number>();
    for (const p of order) {
      if (!p.m) continue;
      const { orig, reply } = p as { orig: Map<string, string>; reply: Map<string, string> };
      const proto = PROTO_NUM[p.m[1]] ?? -1;
      const n = (m: Map<string, string>, f: string) => Number(m.get(f) ?? 0);
      const key = connKey(proto, orig.get('src')!, orig.get('dst')!, n(orig, 'sport'), n(orig, 'dport'));
      const r = new Map(reply);
      // SNAT shows in the reply's destination, DNAT in its source.
      r.set('dst', this.ipText(key, 'src', orig.get('src')!, reply.get('dst')!));
      r.set('src', this.ipText(key, 'dst', orig.get('dst')!, reply.get('src')!));
      if (reply.has('dport')) r.set('dport', this.portText(key, 'src', n(orig, 'sport'), n(reply, 'dport')));
      if (reply.has('sport')) r.set('sport', this.portText(key, 'dst', n(orig, 'dport'), n(reply, 'sport')));
      const zone = /,zone=(\d+)/.exec(p.m[4])?.[1] ?? '0';
      const rt = `${p.m[1]},${p.m[3]},zone=${zone}`;
      replies.set(rt, (replies.get(rt) ?? 0) + 1);
      out.set(p.l, `${p.m[1]},orig=(${p.m[2]}),reply=(${[...r].map(([f, v]) => `${f}=${v}`).join(',')})${p.m[4]}`);
    }
    const res = lines.map((l) => out.get(l) ?? l);
    for (const [rt, c] of replies) if (c > 1) res.push(`<nat: duplicate reply tuple ${rt}>`);
    return res;
  }

  /** A frame a port sent during the current step: its tx text, with the
   *  translated address/port masked and the digest as described above. */
  txLine(port: string, data: Uint8Array): string {
    const plain = `tx ${port} ${describeFrame(data)}`;
    if (!this.active) return plain;
    const t = frameTuple(data);
    const i = this.injected;
    if (!t || !i || t.v6 !== i.v6 || t.proto !== i.proto) return plain;
    const key = connKey(i.proto, i.src, i.dst, i.sport, i.dport);
    const ports = HAS_PORTS.has(t.proto);
    const src = this.ipText(key, 'src', i.src, t.src);
    const dst = this.ipText(key, 'dst', i.dst, t.dst);
    const sport = ports ? this.portText(key, 'src', i.sport, t.sport) : String(t.sport);
    const dport = ports ? this.portText(key, 'dst', i.dport, t.dport) : String(t.dport);
    if (src === t.src && dst === t.dst && sport === String(t.sport) && dport === String(t.dport)) return plain;
    // Header text: the masked fields in the ipv4()/ipv6() and L4 groups.
    let text = describeFrame(data).replace(/ len=\d+ sha1=[0-9a-f]+$/, '');
    const l3 = t.v6 ? 'ipv6' : 'ipv4';
    text = text.replace(new RegExp(`${l3}\\(src=[^,]+,dst=[^,]+`), `${l3}(src=${src},dst=${dst}`);
    if (ports) text = text.replace(/(tcp|udp|sctp)\(src=\d+,dst=\d+\)/, `$1(src=${sport},dst=${dport})`);
    // Digest with the masked bytes and the checksums zeroed.
    const z = Uint8Array.from(data);
    const zero = (o: number, n: number) => z.fill(0, o, o + n);
    const alen = t.v6 ? 16 : 4;
    const sAt = t.v6 ? t.l3 + 8 : t.l3 + 12;
    const dAt = t.v6 ? t.l3 + 24 : t.l3 + 16;
    if (src !== t.src) zero(sAt, alen);
    if (dst !== t.dst) zero(dAt, alen);
    if (sport !== String(t.sport)) zero(t.l4, 2);
    if (dport !== String(t.dport)) zero(t.l4 + 2, 2);
    if (!t.v6) zero(t.l3 + 10, 2);
    const ck = { 6: 16, 17: 6, 1: 2, 58: 2 }[t.proto as 6 | 17 | 1 | 58];
    if (ck !== undefined && t.l4 >= 0) zero(t.l4 + ck, 2);
    const digest = createHash('sha1').update(z).digest('hex').slice(0, 8);
    const bad = badChecksums(data);
    return `tx ${port} ${text} len=${data.length} nat-sha1=${digest} csums=${bad ? `BAD(${bad})` : 'ok'}`;
  }
}
