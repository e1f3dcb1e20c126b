// Whole messages from OVS's tests/ofp-print.at (OpenFlow 1.3): each decodes
// to the flow the text describes (the same match and actions swd's flow
// parser builds from ovs-ofctl's text) and re-encodes byte for byte.

import { describe, expect, it } from 'vitest';
import { parseFlow } from '../../src/ofproto/parse-flow.ts';
import { formatFlow } from '../../src/ofproto/format-flow.ts';
import { decodeFlowMod, decodeFlowRemoved, encodeFlowMod, encodeFlowRemoved } from '../../src/openflow/flow-mod.ts';
import { decodePacketIn, encodePacketIn } from '../../src/openflow/packet.ts';
import { negotiateVersion, encodeHello } from '../../src/openflow/header.ts';
import { OfError } from '../../src/openflow/errors.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('OpenFlow 1.3 messages from ofp-print.at', () => {
  it('OFPT_FLOW_MOD (OF1.3) with every flag: ADD table:1 priority=65535,arp,in_port=1,... actions=output:3', () => {
    const msg = hex(`04 0e 00 90 00 00 00 02 00 00 00 00 00 00 00 00
      00 00 00 00 00 00 00 00 01 00 00 00 00 00 ff ff
      ff ff ff ff ff ff ff ff ff ff ff ff 00 1f 00 00
      00 01 00 42 80 00 00 04 00 00 00 01 80 00 08 06
      50 54 00 00 00 06 80 00 06 06 50 54 00 00 00 05
      80 00 0a 02 08 06 80 00 0c 02 00 00 80 00 2a 02
      00 02 80 00 2c 04 c0 a8 00 02 80 00 2e 04 c0 a8
      00 01 00 00 00 00 00 00 00 04 00 18 00 00 00 00
      00 00 00 10 00 00 00 03 00 00 00 00 00 00 00 00`);
    const fm = decodeFlowMod(msg);
    expect(fm.command).toBe('add');
    const text = parseFlow('table=1,priority=65535,arp,in_port=1,vlan_tci=0x0000/0x1fff,dl_src=50:54:00:00:00:06,dl_dst=50:54:00:00:00:05,arp_spa=192.168.0.2,arp_tpa=192.168.0.1,arp_op=2,send_flow_rem,check_overlap,reset_counts,no_packet_counts,no_byte_counts,actions=output:3', 'add');
    expect(formatFlow(fm.spec)).toBe(formatFlow(text));
    expect([...fm.spec.match.value]).toEqual([...text.match.value]);
    expect([...fm.spec.match.mask]).toEqual([...text.match.mask]);
    expect(encodeFlowMod(4, 2, fm).toString('hex')).toBe(msg.toString('hex'));
    expect(encodeFlowMod(4, 2, { command: 'add', spec: text, bufferId: 0xffffffff }).toString('hex')).toBe(msg.toString('hex'));
  });

  it('OFPT_FLOW_REMOVED (OF1.3): dl_vlan=9 reason=hard table_id=5 cookie:0xfedcba9876543210', () => {
    const msg = hex(`04 0b 00 40 00 00 00 00 fe dc ba 98 76 54 32 10
      80 00 01 05 00 00 00 01 00 98 96 80 00 3c 00 78
      00 00 00 00 00 12 d6 87 00 00 00 00 6f 68 ba 66
      00 01 00 0a 80 00 0c 02 10 09 00 00 00 00 00 00`);
    const fr = decodeFlowRemoved(msg);
    expect(fr.reason).toBe(1);
    expect(fr.spec.table).toBe(5);
    expect(fr.spec.cookie).toBe(0xfedcba9876543210n);
    expect([fr.durationSec, fr.spec.idleTimeout, fr.spec.hardTimeout, fr.packetCount, fr.byteCount]).toEqual([1, 60, 120, 1234567n, 1869134438n]);
    expect([...fr.spec.match.mask]).toEqual([...parseFlow('dl_vlan=9,actions=drop', 'add').match.mask]);
    expect(encodeFlowRemoved(4, 0, fr).toString('hex')).toBe(msg.toString('hex'));
  });

  it('OFPT_PACKET_IN (OF1.3): cookie=0x102030405060708 total_len=42 in_port=LOCAL (via no_match)', () => {
    const msg = hex(`04 0a 00 54 00 00 00 00 ff ff ff 00 00 2a 00 00
      01 02 03 04 05 06 07 08 00 01 00 0c 80 00 00 04
      ff ff ff fe 00 00 00 00 00 00 ff ff ff ff ff ff
      00 23 20 83 c1 5f 80 35 00 01 08 00 06 04 00 03
      00 23 20 83 c1 5f 00 00 00 00 00 23 20 83 c1 5f
      00 00 00 00`);
    const pi = decodePacketIn(msg);
    expect([pi.bufferId, pi.totalLen, pi.reason, pi.cookie, pi.packet.length]).toEqual([0xffffff00, 42, 0, 0x102030405060708n, 42]);
    expect([...pi.match.value]).toEqual([...parseFlow('in_port=LOCAL,actions=drop', 'add').match.value]);
    expect(encodePacketIn(4, 0, pi).toString('hex')).toBe(msg.toString('hex'));
  });

  it('negotiates the highest common version from a HELLO bitmap, or none', () => {
    // ovs-ofctl -O OpenFlow13,OpenFlow14: version 5 with a bitmap of 1.3 and 1.4.
    expect(negotiateVersion(hex('05 00 00 10 00 00 00 01 00 01 00 08 00 00 00 30'))).toBe(5);
    // -O OpenFlow11,OpenFlow13: 1.3.
    expect(negotiateVersion(hex('04 00 00 10 00 00 00 01 00 01 00 08 00 00 00 14'))).toBe(4);
    // OpenFlow 1.0's HELLO has no bitmap: its version is the highest it speaks.
    expect(negotiateVersion(hex('01 00 00 08 00 00 00 01'))).toBe(1);
    // Only 1.1 and 1.2 (bitmap 0x0c): nothing in common.
    expect(negotiateVersion(hex('03 00 00 10 00 00 00 01 00 01 00 08 00 00 00 0c'))).toBe(null);
    expect(negotiateVersion(encodeHello(6, 7))).toBe(6);
  });

  it('refuses a FLOW_MOD adding to table 255 with OFPFMFC_BAD_TABLE_ID and a bad command with OFPFMFC_BAD_COMMAND', () => {
    const base = encodeFlowMod(4, 1, { command: 'add', spec: parseFlow('ip,actions=drop', 'add'), bufferId: 0xffffffff });
    const t255 = Buffer.from(base);
    t255[24] = 0xff;
    expect(() => decodeFlowMod(t255)).toThrow(expect.objectContaining({ label: 'OFPFMFC_BAD_TABLE_ID' }));
    const badCmd = Buffer.from(base);
    badCmd[25] = 9;
    expect(() => decodeFlowMod(badCmd)).toThrow(expect.objectContaining({ label: 'OFPFMFC_BAD_COMMAND' }));
    const short = base.subarray(0, 40);
    short.writeUInt16BE(40, 2);
    expect(() => decodeFlowMod(short)).toThrow(OfError);
  });
});
