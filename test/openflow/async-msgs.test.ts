// The asynchronous messages and the Nicira conntrack flushes against OVS's
// own vectors (tests/ofp-print.at, v3.1.0): FLOW_REMOVED (OpenFlow 1.3 and
// 1.0's NXT_FLOW_REMOVED), PORT_STATUS (1.4's port with properties),
// NXT_PACKET_IN2 and NXT_CT_FLUSH_ZONE / NXT_CT_FLUSH.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseFlow } from '../../src/ofproto/parse-flow.ts';
import { formatMatch } from '../../src/ofproto/format-flow.ts';
import { Reader } from '../../src/openflow/buffer.ts';
import { decodeFlowRemoved, decodePacketIn2Props, encodeFlowRemoved, encodeRoleStatus, OFPCRR_CONFIG, OFPCRR_EXPERIMENTER, encodePacketIn2, encodePortStatus, OFPRR_HARD_TIMEOUT, OFPRR_IDLE_TIMEOUT } from '../../src/openflow/async-msgs.ts';
import { decodeCtFlush, decodeCtFlushZone } from '../../src/openflow/ct-flush.ts';
import { OfError } from '../../src/openflow/errors.ts';
import { OFPPR_MODIFY } from '../../src/openflow/switch-msgs.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const body = (msg: Buffer) => new Reader(msg, 16, msg.length, () => new OfError(1, 6, 'short'));

describe('asynchronous messages, byte for byte as OVS writes them', () => {
  it('OFPT_FLOW_REMOVED (OF1.3)', () => {
    const spec = parseFlow('table=5,priority=32768,cookie=0xfedcba9876543210,idle_timeout=60,hard_timeout=120,dl_vlan=9,actions=drop', 'add');
    const msg = encodeFlowRemoved(4, 0, { spec, reason: OFPRR_HARD_TIMEOUT, durationSec: 1, durationNsec: 10_000_000, packetCount: 1234567n, byteCount: 1869134438n });
    expect(msg.toString('hex')).toBe(hex(`04 0b 00 40 00 00 00 00 fe dc ba 98 76 54 32 10
      80 00 01 05 00 00 00 01 00 98 96 80 00 3c 00 78
      00 00 00 00 00 12 d6 87 00 00 00 00 6f 68 ba 66
      00 01 00 0a 80 00 0c 02 10 09 00 00 00 00 00 00`).toString('hex'));
  });

  it('OFPT_FLOW_REMOVED (OF1.5): statistics as OXS, decoded and re-encoded byte for byte', () => {
    const ovs = hex(`06 0b 00 80 00 00 00 02 01 00 00 00 11 00 22 00
      00 00 00 00 00 00 00 01 00 01 00 2d 80 00 00 04
      00 00 00 02 80 00 06 06 52 54 00 c3 00 89 80 00
      0a 02 08 00 80 00 10 01 00 80 00 04 08 00 00 00
      00 00 00 00 00 00 00 00 00 00 00 34 80 02 00 08
      00 00 00 98 29 e6 ed c0 80 02 02 08 00 00 00 98
      00 00 00 00 80 02 08 08 00 00 00 00 00 00 00 02
      80 02 0a 08 00 00 00 00 00 00 00 80 00 00 00 00`);
    // OVS prints: priority=0,ip,metadata=0,in_port=2,dl_dst=52:54:00:c3:00:89,nw_tos=0 reason=idle table_id=1 cookie:0x1 duration152.703s idle4352 hard8704 pkts2 bytes128
    const fr = decodeFlowRemoved(ovs);
    expect(formatMatch(fr.spec.match)).toBe('ip,metadata=0,in_port=2,dl_dst=52:54:00:c3:00:89,nw_tos=0');
    expect([fr.reason, fr.spec.table, fr.spec.cookie, fr.durationSec, fr.durationNsec, fr.spec.idleTimeout, fr.spec.hardTimeout, fr.packetCount, fr.byteCount, fr.idleAgeSec])
      .toEqual([OFPRR_IDLE_TIMEOUT, 1, 1n, 152, 703_000_000, 4352, 8704, 2n, 128n, 152]);
    const again = encodeFlowRemoved(6, 2, fr);
    expect(again.toString('hex')).toBe(ovs.toString('hex'));
    // What swd (like OVS) sends: no idle time, 12 bytes less.
    const spec = parseFlow('table=1,priority=0,cookie=0x1,idle_timeout=4352,hard_timeout=8704,ip,metadata=0,in_port=2,dl_dst=52:54:00:c3:00:89,nw_tos=0,actions=drop', 'add');
    const sent = encodeFlowRemoved(6, 2, { spec, reason: OFPRR_IDLE_TIMEOUT, durationSec: 152, durationNsec: 703_000_000, packetCount: 2n, byteCount: 128n });
    expect(sent.toString('hex')).toBe(['060b007000000002', ovs.subarray(8, 72).toString('hex'), '00000028', ovs.subarray(76, 88).toString('hex'), ovs.subarray(100, 124).toString('hex')].join(''));
  });

  it('mutations of the OF1.5 FLOW_REMOVED vector decode or fail with an OpenFlow error', () => {
    const v = hex(`06 0b 00 80 00 00 00 02 01 00 00 00 11 00 22 00 00 00 00 00 00 00 00 01 00 01 00 2d 80 00 00 04
      00 00 00 02 80 00 06 06 52 54 00 c3 00 89 80 00 0a 02 08 00 80 00 10 01 00 80 00 04 08 00 00 00
      00 00 00 00 00 00 00 00 00 00 00 34 80 02 00 08 00 00 00 98 29 e6 ed c0 80 02 02 08 00 00 00 98
      00 00 00 00 80 02 08 08 00 00 00 00 00 00 00 02 80 02 0a 08 00 00 00 00 00 00 00 80 00 00 00 00`);
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 8, max: v.length - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat(120), (flips, cut) => {
      const b = Buffer.from(v);
      for (const [at, x] of flips) b[at] = x;
      const m = b.subarray(0, Math.max(8, b.length - cut));
      m.writeUInt16BE(m.length, 2);
      try {
        decodeFlowRemoved(m);
      } catch (e) {
        if (!(e instanceof OfError)) throw e;
      }
    }), { numRuns: 2000 });
  });

  it('ROLE_STATUS: OpenFlow 1.4\'s and 1.3\'s ONF extension (role=primary generation_id=16 reason=configuration_changed); none below 1.3', () => {
    expect(encodeRoleStatus(5, 0xa, 2, OFPCRR_CONFIG, 16n)!.toString('hex')).toBe(hex('05 1e 00 18 00 00 00 0a 00 00 00 02 01 00 00 00 00 00 00 00 00 00 00 10').toString('hex'));
    expect(encodeRoleStatus(4, 0xa, 2, OFPCRR_EXPERIMENTER, 0xffffffffffffffffn)!.toString('hex'))
      .toBe(hex('04 04 00 20 00 00 00 0a 4f 4e 46 00 00 00 07 77 00 00 00 02 02 00 00 00 ff ff ff ff ff ff ff ff').toString('hex'));
    expect(encodeRoleStatus(1, 0, 3, 0, 0n)).toBe(null);
  });

  it('NXT_FLOW_REMOVED (OF1.0 with NXM)', () => {
    const spec = parseFlow('table=1,priority=65535,idle_timeout=5,arp,in_port=3,vlan_tci=0x0000,dl_src=50:54:00:00:00:05,dl_dst=50:54:00:00:00:06,arp_spa=192.168.0.1,arp_tpa=192.168.0.2,arp_op=2,actions=drop', 'add');
    const msg = encodeFlowRemoved(1, 0, { spec, reason: OFPRR_IDLE_TIMEOUT, durationSec: 6, durationNsec: 24_000_000, packetCount: 1n, byteCount: 60n });
    // The same fields as OVS's vector; swd writes the NXM entries in its own (valid) order.
    expect(msg.length).toBe(0x78);
    expect(msg.subarray(0, 48).toString('hex')).toBe(hex(`01 04 00 78 00 00 00 00 00 00 23 20 00 00 00 0e
      00 00 00 00 00 00 00 00 ff ff 00 02 00 00 00 06 01 6e 36 00 00 05 00 3c 00 00 00 00 00 00 00 01
      `).toString('hex'));
    const entries = (b: Buffer) => {
      const out: string[] = [];
      for (let i = 0; i < 60; ) {
        const len = b[i + 3];
        out.push(b.subarray(i, i + 4 + len).toString('hex'));
        i += 4 + len;
      }
      return out.sort();
    };
    const ovs = hex(`00 00 00 02 00 03 00 00 02 06 50 54 00 00 00 06 00 00 04 06 50 54 00 00
      00 05 00 00 06 02 08 06 00 00 08 02 00 00 00 00 1e 02 00 02 00 00 20 04 c0 a8 00 01 00 00 22 04 c0 a8 00 02`);
    expect(entries(msg.subarray(56, 116))).toEqual(entries(ovs));
  });

  it('OFPT_PORT_STATUS (OF1.4): the port with its Ethernet property', () => {
    const msg = encodePortStatus(5, 0, OFPPR_MODIFY, {
      portNo: 3, hwAddr: hex('505400000001'), name: 'eth0', config: 0, state: 0, curr: 0x2008, advertised: 0x280f, supported: 0x280f, peer: 0,
      currSpeed: 100000, maxSpeed: 100000,
    });
    expect(msg.toString('hex')).toBe(hex(`05 0c 00 58 00 00 00 00 02 00 00 00 00 00 00 00
      00 00 00 03 00 48 00 00 50 54 00 00 00 01 00 00 65 74 68 30 00 00 00 00 00 00 00 00 00 00 00 00
      00 00 00 00 00 00 00 00 00 00 00 20 00 00 00 00 00 00 20 08 00 00 28 0f 00 00 28 0f 00 00 00 00
      00 01 86 a0 00 01 86 a0`).toString('hex'));
  });

  it('NXT_PACKET_IN2: the properties OVS writes (swd keeps no buffers, so no buffer_id)', () => {
    const packet = hex(`82 82 82 82 82 82 80 81 81 81 81 81 81 00 00 50 08 00 45 00 00 28 00 00 00 00 00 06 32 05 53 53
      53 53 54 54 54 54 00 55 00 56 00 00 00 00 00 00`);
    const metadata = parseFlow('metadata=0x5a5a5a5a5a5a5a5a,actions=drop', 'add').match;
    const msg = encodePacketIn2(1, 0, { packet, totalLen: 64, tableId: 7, cookie: 0xfedcba9876543210n, reason: 1, metadata, userdata: hex('0102030405') });
    const ovs = hex(`01 04 0098 00000000 00002320 0000001e
      0000 0034 82 82 82 82 82 82 80 81 81 81 81 81 81 00 00 50 08 00 45 00 00 28 00 00 00 00 00 06 32 05 53 53
        53 53 54 54 54 54 00 55 00 56 00 00 00 00 00 00   00000000
      0001 0008 00000040
      0003 0005 07   000000
      0004 0010 00000000   fedcba9876543210
      0005 0005 01   000000
      0006 0010 80000408 5a5a5a5a5a5a5a5a
      0007 0009 0102030405  00000000000000`);
    ovs.writeUInt16BE(ovs.length, 2);
    expect(msg.toString('hex')).toBe(ovs.toString('hex'));
    expect([...decodePacketIn2Props(msg).keys()]).toEqual([0, 1, 3, 4, 5, 6, 7]);
  });
});

describe('NXT_CT_FLUSH_ZONE and NXT_CT_FLUSH as OVS sends them', () => {
  it('ct-flush-zone 13', () => {
    expect(decodeCtFlushZone(body(hex('01 04 00 18 00 00 00 03 00 00 23 20 00 00 00 1d 00 00 00 00 00 00 00 0d')))).toEqual({ zone: 13 });
  });
  it('a nonzero pad is NXBRC_MUST_BE_ZERO', () => {
    expect(() => decodeCtFlushZone(body(hex('01 04 00 18 00 00 00 03 00 00 23 20 00 00 00 1d 00 01 00 00 00 00 00 0d')))).toThrow(/padding/);
  });
  it('ct-flush by protocol, zone and original tuple', () => {
    expect(decodeCtFlush(body(hex('01 04 00 18 00 00 00 03 00 00 23 20 00 00 00 20 06 00 00 00 00 00 00 00')))).toEqual({ orig: { proto: 6 } });
    expect(decodeCtFlush(body(hex(`01 04 00 68 00 00 00 03 00 00 23 20 00 00 00 20 06 00 00 00 00 00 00 00
      00 02 00 08 00 0d 00 00 00 00 00 48 00 00 00 00
      00 00 00 14 00 00 00 00 00 00 00 00 00 00 ff ff 0a 0a 00 01 00 00 00 00
      00 01 00 14 00 00 00 00 00 00 00 00 00 00 ff ff 0a 0a 00 02 00 00 00 00
      00 02 00 08 00 50 00 00 00 03 00 08 1f 90 00 00`)))).toEqual({ zone: 13, orig: { proto: 6, src: '10.10.0.1', dst: '10.10.0.2', sport: 80, dport: 8080 } });
  });
  it('a property that overruns the message is refused as OFPBPC_BAD_LEN', () => {
    const e = (() => {
      try {
        decodeCtFlush(body(hex('01 04 00 20 00 00 00 03 00 00 23 20 00 00 00 20 06 00 00 00 00 00 00 00 00 02 00 10 00 0d 00 00')));
      } catch (x) {
        return x as OfError;
      }
    })();
    expect(e).toBeInstanceOf(OfError);
    expect(e!.label).toBe('OFPBPC_BAD_LEN');
  });
});
