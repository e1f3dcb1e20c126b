// composePacket builds, from datapath-flow text, the very bytes a real OVS
// (3.1, `ovs-appctl netdev-dummy/receive p1 FLOW`) sends: the fixture was
// captured once from OVS's tx_pcap (see its "source").

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { composePacket, PacketArgError, parsePacketArg } from '../../src/packet/compose.ts';
import { parseOdpFlow } from '../../src/packet/odp-parse.ts';

interface Composed {
  name: string;
  flow: string;
  hex: string;
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/ovs-composed.json', import.meta.url), 'utf8')) as { packets: Composed[] };
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('composePacket against OVS netdev-dummy/receive', () => {
  it('has the captured packets', () => {
    expect(fixture.packets.map((p) => p.name)).toEqual([
      'udp', 'tcp-syn', 'tcp-ack', 'icmp-echo', 'ipv6-udp', 'arp', 'vlan-udp', 'icmpv6-echo', 'icmpv6-ns', 'icmpv6-na',
      'tcp6', 'tcp6-psh', 'sctp', 'ipv4-frag-first', 'ipv4-frag-later',
    ]);
  });

  for (const p of fixture.packets) {
    it(`composes ${p.name} byte for byte`, () => {
      expect(hex(composePacket(parseOdpFlow(p.flow).key))).toBe(p.hex);
      const arg = parsePacketArg(p.flow);
      expect([arg.inPort, hex(arg.bytes)]).toEqual([1, p.hex]);
    });
  }
});

describe('parsePacketArg', () => {
  it('takes hex bytes, with or without spaces, and no in_port', () => {
    const udp = fixture.packets[0].hex;
    expect(hex(parsePacketArg(udp).bytes)).toBe(udp);
    const spaced = udp.replace(/(....)/g, '$1 ');
    const arg = parsePacketArg(`  ${spaced}  `);
    expect([arg.inPort, hex(arg.bytes)]).toEqual([null, udp]);
  });

  it('takes flow text without in_port', () => {
    const arg = parsePacketArg(fixture.packets[0].flow.replace('in_port(1),', ''));
    expect([arg.inPort, hex(arg.bytes)]).toEqual([null, fixture.packets[0].hex]);
  });

  it('rejects odd, short and unparsable input with coded errors', () => {
    const codeOf = (text: string) => {
      try {
        parsePacketArg(text);
        return 'accepted';
      } catch (e) {
        return `${(e as Error & { code: string }).code}: ${(e as Error).message}`;
      }
    };
    expect(codeOf('505400000002505400000001080')).toBe('EPACKET: hex packet has an odd number of digits');
    expect(codeOf('5054000000025054')).toBe('EPACKET: hex packet is shorter than an Ethernet header (14 bytes)');
    expect(codeOf('in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_typ(0x0800)')).toBe(
      "EODPPARSE: unknown datapath field 'eth_typ' (at column 61)",
    );
    expect(codeOf('in_port(1),eth(src=50:54:00:00:00:01')).toBe("EODPPARSE: unbalanced parentheses in 'eth(' (at column 12)");
    expect(new PacketArgError('x').code).toBe('EPACKET');
  });
});
