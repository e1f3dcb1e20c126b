// Header parsing into the flow key: the fields land in the right words, and
// truncated or hostile packets never throw.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { composePacket } from '../../src/packet/compose.ts';
import { HEADROOM, PacketBatch } from '../../src/packet/batch.ts';
import {
  extractBatch, extractHeaders, ParseStats, PARSE_BAD_ARP, PARSE_BAD_IPV4, PARSE_OK, PARSE_TRUNC_L2, PARSE_TRUNC_L4,
} from '../../src/packet/extract.ts';
import {
  FK_ETH_TYPE, FK_NW_FRAG, FK_NW_PROTO, FK_NW_SRC, FK_NW_TTL, FK_TCP_FLAGS, FK_TP_DST, FK_TP_SRC, FK_VLAN_TCI, FK_WORDS,
  FK_IPV6_SRC, FK_ND_TARGET, FK_ARP_SHA_HI, FK_ARP_SHA_LO, FRAG_ANY, FRAG_LATER, FK_ETH_DST_HI, FK_ETH_DST_LO,
  FK_ETH_SRC_HI, FK_ETH_SRC_LO, FK_NW_TOS, FK_NW_DST, FK_IPV6_DST, FK_IPV6_LABEL, FK_ARP_THA_HI, FK_ARP_THA_LO,
  FK_IN_PORT,
} from '../../src/packet/flow-key.ts';
import { parseOdpFlow } from '../../src/packet/odp-parse.ts';

function parse(bytes: Uint8Array) {
  const key = new Uint32Array(FK_WORDS);
  const l3 = new Int32Array(1), l4 = new Int32Array(1);
  const r = extractHeaders(bytes, 0, bytes.length, key, 0, l3, l4, 0);
  return { r, key, l3: l3[0], l4: l4[0] };
}

/** Parse datapath-flow text, compose the packet, parse it back: the fields given must come back. */
function roundTrip(text: string) {
  const { key, mask } = parseOdpFlow(text);
  const back = parse(composePacket(key));
  for (let w = 0; w < FK_WORDS; w++) if (mask[w] && w > 40) expect([w, back.key[w] & mask[w]]).toEqual([w, key[w] & mask[w]]);
  return back;
}

const ETH = 'eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02)';

describe('extract', () => {
  it('parses IPv4 TCP with flags', () => {
    const p = roundTrip(`${ETH},eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=6,tos=4,ttl=63,frag=no),tcp(src=34567,dst=80),tcp_flags(syn|ack)`);
    expect(p.r).toBe(PARSE_OK);
    expect([p.l3, p.l4]).toEqual([14, 34]);
    expect(p.key[FK_TCP_FLAGS]).toBe(0x012);
    expect(p.key[FK_NW_TTL]).toBe(63);
  });

  it('parses 802.1Q tags: TCI with CFI, inner ethertype', () => {
    const p = roundTrip(`${ETH},eth_type(0x8100),vlan(vid=10,pcp=3),encap(eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1,dst=2))`);
    expect(p.key[FK_VLAN_TCI]).toBe(0x1000 | (3 << 13) | 10);
    expect(p.key[FK_ETH_TYPE]).toBe(0x0800);
    expect(p.l3).toBe(18);
  });

  it('parses ARP, IPv6 UDP and ICMPv6 neighbour solicitation', () => {
    const arp = roundTrip(`${ETH},eth_type(0x0806),arp(sip=10.1.1.1,tip=10.1.1.2,op=1,sha=50:54:00:00:00:01,tha=00:00:00:00:00:00)`);
    expect([arp.key[FK_NW_PROTO], arp.key[FK_NW_SRC], arp.key[FK_ARP_SHA_HI], arp.key[FK_ARP_SHA_LO]]).toEqual([1, 0x0a010101, 0x5054, 1]);
    const v6 = roundTrip(`${ETH},eth_type(0x86dd),ipv6(src=fc00::1,dst=fc00::2,label=5,proto=17,tclass=0,hlimit=64,frag=no),udp(src=1,dst=2)`);
    expect([v6.key[FK_IPV6_SRC], v6.key[FK_IPV6_SRC + 3], v6.l4]).toEqual([0xfc000000, 1, 54]);
    const nd = roundTrip(`${ETH},eth_type(0x86dd),ipv6(src=fc00::1,dst=ff02::1,label=0,proto=58,tclass=0,hlimit=255,frag=no),icmpv6(type=135,code=0),nd(target=fc00::2)`);
    expect([nd.key[FK_TP_SRC], nd.key[FK_ND_TARGET + 3]]).toEqual([135, 2]);
  });

  it('marks IPv4 fragments and leaves later fragments without L4 fields', () => {
    const { key } = parseOdpFlow(`${ETH},eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=first),udp(src=1,dst=2)`);
    const first = parse(composePacket(key));
    expect(first.key[FK_NW_FRAG]).toBe(FRAG_ANY);
    expect(first.key[FK_TP_DST]).toBe(2);
    const later = parse(composePacket(parseOdpFlow(`${ETH},eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=later)`).key));
    expect(later.key[FK_NW_FRAG]).toBe(FRAG_ANY | FRAG_LATER);
    expect([later.key[FK_TP_SRC], later.l4]).toEqual([0, -1]);
  });

  it('walks IPv6 extension headers (hop-by-hop, routing, destination options, fragment)', () => {
    const base = composePacket(parseOdpFlow(`${ETH},eth_type(0x86dd),ipv6(src=fc00::1,dst=fc00::2,label=0,proto=17,tclass=0,hlimit=64,frag=no),udp(src=7,dst=9)`).key);
    const l4 = base.subarray(54);
    // hop-by-hop (8 bytes) -> routing (8) -> dest options (8) -> fragment (8, offset 0, M=1) -> UDP
    const ext = Uint8Array.from([43, 0, 0, 0, 0, 0, 0, 0, 60, 0, 0, 0, 0, 0, 0, 0, 44, 0, 0, 0, 0, 0, 0, 0, 17, 0, 0, 1, 0, 0, 0, 1]);
    const p = new Uint8Array(54 + ext.length + l4.length);
    p.set(base.subarray(0, 54));
    p[20] = 0; // next header: hop-by-hop
    p[18] = ((ext.length + l4.length) >> 8) & 255;
    p[19] = (ext.length + l4.length) & 255;
    p.set(ext, 54);
    p.set(l4, 54 + ext.length);
    const r = parse(p);
    expect(r.r).toBe(PARSE_OK);
    expect([r.key[FK_NW_PROTO], r.key[FK_TP_SRC], r.key[FK_TP_DST], r.key[FK_NW_FRAG], r.l4]).toEqual([17, 7, 9, FRAG_ANY, 54 + 32]);
  });

  it('counts truncated and malformed packets and parses what is valid', () => {
    const good = composePacket(parseOdpFlow(`${ETH},eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=6,tos=0,ttl=64,frag=no),tcp(src=1,dst=2)`).key);
    expect(parse(good.subarray(0, 10)).r).toBe(PARSE_TRUNC_L2);
    expect(parse(good.subarray(0, 30)).r).toBe(PARSE_BAD_IPV4);
    const short = new Uint8Array(good.subarray(0, 44));
    short[17] = 30; // IPv4 total length claims 30 bytes: 20 IP + 10 of TCP
    const t = parse(short);
    expect(t.r).toBe(PARSE_TRUNC_L4);
    expect(t.key[FK_NW_SRC]).toBe(0x0a010101);
    const stats = new ParseStats();
    for (const r of [PARSE_TRUNC_L2, PARSE_BAD_IPV4, PARSE_TRUNC_L4, PARSE_OK]) stats.count(r);
    expect([stats.packets, stats.malformed]).toEqual([4, 3]);
  });

  it('never throws on random bytes, random truncations or random corruption', () => {
    const good = composePacket(parseOdpFlow(`${ETH},eth_type(0x86dd),ipv6(src=fc00::1,dst=fc00::2,label=0,proto=6,tclass=0,hlimit=64,frag=no),tcp(src=1,dst=2)`).key);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        parse(b);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.nat(good.length), fc.array(fc.tuple(fc.nat(good.length - 1), fc.nat(255)), { maxLength: 8 }), (cut, pokes) => {
        const b = new Uint8Array(good);
        for (const [i, v] of pokes) b[i] = v;
        parse(b.subarray(0, cut));
      }),
      { numRuns: 2000 },
    );
  });
});

// ---- Byte-level cases: hand-built packets, each field checked in its key word.

describe('extract: hand-built packets', () => {
  const hx = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
  const MACS = '505400000002 505400000001';
  /** IPv4 header (no checksum: the parser does not check it) + payload. */
  const ipv4 = (proto: number, payload: string, opts = '', frag = '0000') => {
    const len = 20 + opts.length / 2 + payload.replace(/\s+/g, '').length / 2;
    const ihl = 5 + opts.length / 8;
    return `4${ihl.toString(16)}04 ${len.toString(16).padStart(4, '0')} 1234 ${frag} 40${proto.toString(16).padStart(2, '0')} 0000 0a010101 0a010102 ${opts} ${payload}`;
  };
  const ipv6 = (next: number, payload: string) =>
    `6012345 6 ${(payload.replace(/\s+/g, '').length / 2).toString(16).padStart(4, '0')} ${next.toString(16).padStart(2, '0')}40 fc000000000000000000000000000001 fc000000000000000000000000000002 ${payload}`.replace('6012345 6', '60123456');

  it('puts Ethernet addresses and type in their words', () => {
    const p = parse(hx(`${MACS} 88cc 0000`));
    expect([p.r, p.key[FK_ETH_DST_HI], p.key[FK_ETH_DST_LO], p.key[FK_ETH_SRC_HI], p.key[FK_ETH_SRC_LO], p.key[FK_ETH_TYPE], p.l3]).toEqual([
      PARSE_OK, 0x5054, 0x00000002, 0x5054, 0x00000001, 0x88cc, -1,
    ]);
  });

  it('gives 802.3 frames (length instead of type) eth_type 0x05ff', () => {
    expect(parse(hx(`${MACS} 0026 aaaa03000000`)).key[FK_ETH_TYPE]).toBe(0x05ff);
  });

  it('takes the outer tag of QinQ and the innermost type', () => {
    const p = parse(hx(`${MACS} 88a8 a064 8100 0065 0800 ${ipv4(17, '03e8 0035 0008 0000')}`));
    expect([p.key[FK_VLAN_TCI], p.key[FK_ETH_TYPE], p.l3, p.key[FK_TP_DST]]).toEqual([0x1000 | 0xa064, 0x0800, 22, 53]);
    expect(parse(hx(`${MACS} 8100 00`)).r).toBe(PARSE_TRUNC_L2);
  });

  it('parses IPv4 with options, then TCP after them', () => {
    const p = parse(hx(`${MACS} 0800 ${ipv4(6, '1f90 0050 00000001 00000000 5018 ffff 0000 0000', '01010101')}`));
    expect([p.r, p.l3, p.l4, p.key[FK_NW_TOS], p.key[FK_NW_TTL], p.key[FK_NW_SRC], p.key[FK_NW_DST]]).toEqual([PARSE_OK, 14, 38, 4, 0x40, 0x0a010101, 0x0a010102]);
    expect([p.key[FK_TP_SRC], p.key[FK_TP_DST], p.key[FK_TCP_FLAGS]]).toEqual([8080, 80, 0x018]);
  });

  it('ignores Ethernet padding after the IPv4 total length', () => {
    const p = parse(hx(`${MACS} 0800 ${ipv4(17, '03e8 0035 0008 0000')} 000000000000000000000000000000000000`));
    expect([p.r, p.key[FK_TP_SRC], p.key[FK_TP_DST]]).toEqual([PARSE_OK, 1000, 53]);
  });

  it('marks IPv4 fragments: first (MF, offset 0) has L4, later (offset > 0, with or without MF) has not', () => {
    const udp = '03e8 0035 0008 0000';
    const first = parse(hx(`${MACS} 0800 ${ipv4(17, udp, '', '2000')}`));
    const middle = parse(hx(`${MACS} 0800 ${ipv4(17, udp, '', '2010')}`));
    const last = parse(hx(`${MACS} 0800 ${ipv4(17, udp, '', '0010')}`));
    expect([first.key[FK_NW_FRAG], first.key[FK_TP_DST], first.l4]).toEqual([FRAG_ANY, 53, 34]);
    expect([middle.key[FK_NW_FRAG], middle.key[FK_TP_DST], middle.l4, middle.key[FK_NW_PROTO]]).toEqual([FRAG_ANY | FRAG_LATER, 0, -1, 17]);
    expect([last.key[FK_NW_FRAG], last.key[FK_TP_DST], last.l4]).toEqual([FRAG_ANY | FRAG_LATER, 0, -1]);
  });

  it('parses SCTP ports and ICMP type/code', () => {
    const sctp = parse(hx(`${MACS} 0800 ${ipv4(132, '1388 1770 00000000 00000000')}`));
    expect([sctp.key[FK_NW_PROTO], sctp.key[FK_TP_SRC], sctp.key[FK_TP_DST], sctp.l4]).toEqual([132, 5000, 6000, 34]);
    const icmp = parse(hx(`${MACS} 0800 ${ipv4(1, '0301 0000 00000000')}`));
    expect([icmp.key[FK_TP_SRC], icmp.key[FK_TP_DST]]).toEqual([3, 1]);
  });

  it('walks IPv6 extension headers to a later fragment: nw_proto is the fragment\'s next header', () => {
    // hop-by-hop (16 bytes: hdr ext len 1) -> fragment (offset 8, M=0) -> (TCP, not parsed)
    const p = parse(hx(`${MACS} 86dd ${ipv6(0, '2c01 0000 00000000 0000000000000000 0600 0040 00000001 1f90 0050')}`));
    expect([p.r, p.key[FK_NW_FRAG], p.key[FK_NW_PROTO], p.key[FK_TP_SRC], p.l4]).toEqual([PARSE_OK, FRAG_ANY | FRAG_LATER, 6, 0, -1]);
    expect([p.key[FK_IPV6_LABEL], p.key[FK_NW_TOS], p.key[FK_NW_TTL], p.key[FK_IPV6_SRC], p.key[FK_IPV6_DST + 3]]).toEqual([0x23456, 0x01, 0x40, 0xfc000000, 2]);
  });

  it('parses an IPv6 atomic fragment (offset 0, M=0) as not a fragment', () => {
    const p = parse(hx(`${MACS} 86dd ${ipv6(44, '1100 0000 00000001 03e8 0035 0008 0000')}`));
    expect([p.r, p.key[FK_NW_FRAG], p.key[FK_NW_PROTO], p.key[FK_TP_DST], p.l4]).toEqual([PARSE_OK, 0, 17, 53, 62]);
  });

  it('parses ICMPv6 neighbour solicitation (sll) and advertisement (tll)', () => {
    const target = 'fc000000000000000000000000000002';
    const ns = parse(hx(`${MACS} 86dd ${ipv6(58, `8700 0000 00000000 ${target} 0101 505400000001`)}`));
    expect([ns.key[FK_TP_SRC], ns.key[FK_ND_TARGET], ns.key[FK_ND_TARGET + 3], ns.key[FK_ARP_SHA_HI], ns.key[FK_ARP_SHA_LO], ns.key[FK_ARP_THA_LO]]).toEqual([135, 0xfc000000, 2, 0x5054, 1, 0]);
    const na = parse(hx(`${MACS} 86dd ${ipv6(58, `8800 0000 60000000 ${target} 0201 505400000002`)}`));
    expect([na.key[FK_TP_SRC], na.key[FK_ND_TARGET + 3], na.key[FK_ARP_THA_HI], na.key[FK_ARP_THA_LO], na.key[FK_ARP_SHA_LO]]).toEqual([136, 2, 0x5054, 2, 0]);
    // A zero-length option ends option parsing without a fault.
    const bad = parse(hx(`${MACS} 86dd ${ipv6(58, `8700 0000 00000000 ${target} 0100 505400000001`)}`));
    expect([bad.r, bad.key[FK_ND_TARGET + 3], bad.key[FK_ARP_SHA_LO]]).toEqual([PARSE_OK, 2, 0]);
  });

  it('parses ARP and rejects non-Ethernet/IPv4 ARP', () => {
    const arp = parse(hx(`${MACS} 0806 0001 0800 0604 0002 505400000001 0a010101 505400000002 0a010102`));
    expect([arp.r, arp.key[FK_NW_PROTO], arp.key[FK_NW_SRC], arp.key[FK_NW_DST], arp.key[FK_ARP_SHA_LO], arp.key[FK_ARP_THA_HI], arp.key[FK_ARP_THA_LO], arp.l3]).toEqual([
      PARSE_OK, 2, 0x0a010101, 0x0a010102, 1, 0x5054, 2, 14,
    ]);
    expect(parse(hx(`${MACS} 0806 0006 0800 0604 0001 505400000001 0a010101 505400000002 0a010102`)).r).toBe(PARSE_BAD_ARP);
    expect(parse(hx(`${MACS} 0806 0001 0800 0604 0001 5054`)).r).toBe(PARSE_BAD_ARP);
  });

  it('counts each kind of malformed packet in ParseStats through extractBatch', () => {
    const batch = new PacketBatch();
    const cases: [string, string][] = [
      ['ok', `${MACS} 0800 ${ipv4(17, '03e8 0035 0008 0000')}`],
      ['truncatedL2', '505400000002'],
      ['badIpv4', `${MACS} 0800 ${ipv4(17, '03e8 0035 0008 0000').replace(/^45/, '55')}`], // version 5
      ['badIpv4', `${MACS} 0800 ${ipv4(17, '03e8 0035 0008 0000').replace(/^45/, '44')}`], // ihl 4
      ['badIpv4', `${MACS} 0800 ${ipv4(17, '03e8 0035 0008 0000')}`.slice(0, -8)], // total length beyond the frame
      ['badIpv6', `${MACS} 86dd 60000000 0010 1140`],
      ['badIpv6', `${MACS} 86dd ${ipv6(0, '1100 0000 0000')}`], // hop-by-hop header cut short
      ['truncatedL4', `${MACS} 0800 ${ipv4(6, '1f90 0050 00000001 00000000 4018 ffff 0000 0000')}`], // data offset 4
      ['truncatedL4', `${MACS} 0800 ${ipv4(17, '03e8 0035')}`],
      ['badArp', `${MACS} 0806 0001 0800`],
    ];
    for (const [, h] of cases) batch.push(hx(h));
    batch.keys.fill(7); // metadata words must survive, header words must be rewritten
    const stats = new ParseStats();
    extractBatch(batch, stats);
    expect({ ...stats }).toEqual({ packets: 10, truncatedL2: 1, badIpv4: 3, badIpv6: 2, truncatedL4: 2, badArp: 1 });
    expect(stats.malformed).toBe(9);
    expect([batch.keys[FK_IN_PORT], batch.keys[FK_TP_DST], batch.keys[FK_WORDS + FK_ETH_TYPE], batch.l4[0], batch.l3[1]]).toEqual([7, 53, 0, HEADROOM + 34, -1]);
    expect([batch.keys[7 * FK_WORDS + FK_NW_SRC], batch.l3[7], batch.l4[7]]).toEqual([0x0a010101, HEADROOM + 14, -1]);
  });

  it('never throws on random bytes (0..200) and counts every packet once', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { minLength: 1, maxLength: 32 }), (pkts) => {
        const batch = new PacketBatch(512);
        for (const p of pkts) batch.push(p);
        const stats = new ParseStats();
        extractBatch(batch, stats);
        expect(stats.packets).toBe(pkts.length);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on random bytes behind a valid Ethernet/IP header', () => {
    fc.assert(
      fc.property(fc.constantFrom('0800', '86dd', '0806', '8100'), fc.uint8Array({ maxLength: 200 }), (type, rest) => {
        const head = hx(`${MACS} ${type}`);
        const b = new Uint8Array(head.length + rest.length);
        b.set(head);
        b.set(rest, head.length);
        if (type === '0800' && b.length > 14) b[14] = 0x40 | (b[14] & 0x0f);
        if (type === '86dd' && b.length > 14) b[14] = 0x60 | (b[14] & 0x0f);
        const r = parse(b);
        expect(r.r).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 3000 },
    );
  });
});
