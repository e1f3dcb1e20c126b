// Datapath-flow text: parseOdpFlow and formatOdpFlowKey agree with each other
// and with what OVS 3.1's `ovs-appctl dpctl/dump-flows [-m]` prints for the
// same megaflow (fixture captured once from a real OVS, see its "source").

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { composePacket } from '../../src/packet/compose.ts';
import { extractHeaders } from '../../src/packet/extract.ts';
import { FK_IN_PORT, FK_NW_SRC, FK_TP_DST, FK_WORDS } from '../../src/packet/flow-key.ts';
import { formatOdpFlowKey, ipv4Str } from '../../src/packet/odp-format.ts';
import { OdpParseError, parseOdpFlow } from '../../src/packet/odp-parse.ts';

interface DumpedMegaflow {
  name: string;
  injected: string;
  terse: string;
  verbose: string;
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/ovs-dump-flows.json', import.meta.url), 'utf8')) as { megaflows: DumpedMegaflow[] };

/** The match part of a dump-flows line: no ufid, no stats, no actions. */
const matchOf = (line: string) => line.replace(/^ufid:[0-9a-f-]+, /, '').replace(/, packets:.*$/, '');

/** The whole key of the injected packet, as the datapath would see it on port 1. */
function packetKey(flowText: string): Uint32Array {
  const bytes = composePacket(parseOdpFlow(flowText).key);
  const key = new Uint32Array(FK_WORDS);
  extractHeaders(bytes, 0, bytes.length, key, 0, new Int32Array(1), new Int32Array(1), 0);
  key[FK_IN_PORT] = 1;
  return key;
}

describe('formatOdpFlowKey against OVS dpctl/dump-flows', () => {
  for (const m of fixture.megaflows) {
    it(`prints the ${m.name} megaflow as OVS does (terse and -m)`, () => {
      const key = packetKey(m.injected);
      const mask = parseOdpFlow(matchOf(m.terse)).mask;
      expect(formatOdpFlowKey(key, 0, mask, 0, false)).toBe(matchOf(m.terse));
      expect(formatOdpFlowKey(key, 0, mask, 0, true, (n) => `p${n}`)).toBe(matchOf(m.verbose));
      // The -m text carries the same mask.
      expect(Array.from(parseOdpFlow(matchOf(m.verbose).replace('in_port(p1)', 'in_port(1)')).mask)).toEqual(Array.from(mask));
    });
  }

  it('prints a masked key (what the megaflow cache stores) with the same mask', () => {
    const m = fixture.megaflows.find((x) => x.name === 'tcp-syn')!;
    const { key, mask } = parseOdpFlow(matchOf(m.terse));
    expect(formatOdpFlowKey(key, 0, mask, 0, false)).toBe(
      'recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(src=10.0.0.0/255.0.0.0,proto=6,frag=no)',
    );
  });

  it('reads key and mask at word offsets', () => {
    const key = new Uint32Array(FK_WORDS * 3), mask = new Uint32Array(FK_WORDS * 2);
    const f = parseOdpFlow('recirc_id(0x8),in_port(2),eth_type(0x0800),ipv4(proto=17,frag=no),udp(dst=53)');
    key.set(f.key, FK_WORDS * 2);
    mask.set(f.mask, FK_WORDS);
    expect(formatOdpFlowKey(key, FK_WORDS * 2, mask, FK_WORDS, false)).toBe(
      'recirc_id(0x8),in_port(2),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(proto=17,frag=no),udp(dst=53)',
    );
  });
});

describe('parseOdpFlow -> formatOdpFlowKey round trip', () => {
  const canonical = [
    'recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=6,tos=0x4,ttl=64,frag=no),tcp(src=34567,dst=80),tcp_flags(syn|ack)',
    'ct_state(+new+trk),ct_zone(0x1),ct_mark(0x5/0xf),recirc_id(0x3),in_port(2),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(frag=no)',
    'ct_state(-new+est+trk),recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(dst=10.1.0.0/255.255.0.0,proto=17,frag=first),udp(src=1024/0xfc00)',
    'recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x86dd),ipv6(src=fc00::1,dst=fc00::/ffff:ffff::,label=0x5,proto=58,tclass=0x10,hlimit=255,frag=no),icmpv6(type=135,code=0),nd(target=fc00::2,sll=50:54:00:00:00:01)',
    'recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth(dst=01:00:00:00:00:00/01:00:00:00:00:00),eth_type(0x0806),arp(sip=10.1.1.1,tip=10.1.1.0/255.255.255.0,op=1)',
    'recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x8100),vlan(vid=10,pcp=3),encap(eth_type(0x0800),ipv4(proto=1,frag=no),icmp(type=8,code=0))',
    'recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(proto=17,frag=later)',
    'skb_mark(0x1),recirc_id(0),dp_hash(0xf/0xff),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(ttl=1/0xf,frag=no)',
  ];
  for (const text of canonical) {
    it(`keeps ${text.slice(0, 60)}...`, () => {
      const { key, mask } = parseOdpFlow(text);
      expect(formatOdpFlowKey(key, 0, mask, 0, false)).toBe(text);
    });
  }

  it('keeps random masked IPv4/UDP matches', () => {
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    const u16 = fc.integer({ min: 0, max: 0xffff });
    const prefix = fc.integer({ min: 0, max: 32 }).map((n) => (n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0));
    fc.assert(
      fc.property(u32, prefix, u16, u16, fc.integer({ min: 1, max: 0xffff }), (src, srcMask, dport, dportMask, inPort) => {
        const parts: string[] = [];
        if (srcMask !== 0) parts.push(srcMask === 0xffffffff ? `src=${ipv4Str(src)}` : `src=${ipv4Str((src & srcMask) >>> 0)}/${ipv4Str(srcMask)}`);
        parts.push('proto=17', 'frag=no');
        let text = `recirc_id(0),in_port(${inPort}),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(${parts.join(',')})`;
        if (dportMask !== 0) text += `,udp(dst=${dportMask === 0xffff ? dport : `${dport & dportMask}/0x${dportMask.toString(16)}`})`;
        const { key, mask } = parseOdpFlow(text);
        expect([key[FK_NW_SRC], mask[FK_NW_SRC], key[FK_TP_DST], mask[FK_TP_DST]]).toEqual([(src & srcMask) >>> 0, srcMask, dport & dportMask, dportMask]);
        expect(formatOdpFlowKey(key, 0, mask, 0, false)).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('rejects malformed text with a column', () => {
    const err = (t: string) => {
      try {
        parseOdpFlow(t);
        return 'accepted';
      } catch (e) {
        expect(e).toBeInstanceOf(OdpParseError);
        return (e as Error).message;
      }
    };
    expect(err('in_port(1),ipv4(src=10.1.1.300)')).toBe("bad IPv4 address '10.1.1.300' (at column 12)");
    expect(err('in_port(1),ipv4(frag=maybe)')).toBe("bad frag 'maybe' (expected no, first or later) (at column 12)");
    expect(err('in_port(1),tcp_flags(syn|bogus)')).toBe("unknown flag 'bogus' (at column 12)");
    expect(err('in_port(1) eth')).toBe("expected '(' after 'eth' (at column 15)");
  });
});
