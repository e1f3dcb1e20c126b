// Header parsing into the flow key: the fields land in the right words, and
// truncated or hostile packets never throw.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { composePacket } from '../../src/packet/compose.ts';
import { extractHeaders, ParseStats, PARSE_BAD_IPV4, PARSE_OK, PARSE_TRUNC_L2, PARSE_TRUNC_L4 } from '../../src/packet/extract.ts';
import {
  FK_ETH_TYPE, FK_NW_FRAG, FK_NW_PROTO, FK_NW_SRC, FK_NW_TTL, FK_TCP_FLAGS, FK_TP_DST, FK_TP_SRC, FK_VLAN_TCI, FK_WORDS,
  FK_IPV6_SRC, FK_ND_TARGET, FK_ARP_SHA_HI, FK_ARP_SHA_LO, FRAG_ANY, FRAG_LATER,
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
