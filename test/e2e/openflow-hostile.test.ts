// Hostile OpenFlow peers on a bridge's .mgmt socket: each malformed message
// gets the error OVS sends for it (type and code, the request's xid, the
// offending bytes), nothing it carried is applied, and a peer that sends
// garbage or floods is disconnected while another connection, swctl and the
// datapath go on as before. The expected errors are what OVS 3.1 answered
// to the same bytes on its br0.mgmt (checked with the ORACLE.md sandbox).

import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFlowMod } from '../../src/openflow/flow-mod.ts';
import { encodeHello, readHeader } from '../../src/openflow/header.ts';
import { encodeMultipartRequest } from '../../src/openflow/multipart.ts';
import { decodeError, encodeEchoReply } from '../../src/openflow/switch-msgs.ts';
import { errorName } from '../../src/openflow/errors.ts';
import { parseFlow } from '../../src/ofproto/parse-flow.ts';
import { SwdInstance } from './harness.ts';

/** A raw OpenFlow 1.3 peer: HELLO exchanged, then messages in and whole messages out. */
class RawPeer {
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;
  private constructor(readonly sock: Socket) {
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (const w of this.waiters.splice(0)) w();
    });
    sock.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    sock.on('error', () => {});
  }

  static async open(path: string): Promise<RawPeer> {
    const sock = connect(path);
    await new Promise<void>((r, j) => sock.once('connect', r).once('error', j));
    const p = new RawPeer(sock);
    sock.write(encodeHello(4, 1, [4]));
    const hello = await p.next();
    expect(readHeader(hello).type).toBe(0);
    return p;
  }

  /** The next whole message, or null when the connection closed first. */
  async next(): Promise<Buffer> {
    for (;;) {
      if (this.buf.length >= 8 && this.buf.length >= this.buf.readUInt16BE(2)) {
        const len = this.buf.readUInt16BE(2);
        const m = this.buf.subarray(0, len);
        this.buf = this.buf.subarray(len);
        return m;
      }
      if (this.closed) throw new Error('connection closed');
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  /** Send `msg` and a barrier; the error (name) the switch answered before the barrier reply, or 'none'. */
  async errorFor(msg: Buffer): Promise<string> {
    const xid = msg.readUInt32BE(4);
    this.sock.write(Buffer.concat([msg, Buffer.from('04140008fffffff0', 'hex')]));
    let err = 'none';
    for (;;) {
      const m = await this.next();
      const h = readHeader(m);
      if (h.type === 21 && h.xid === 0xfffffff0) return err;
      if (h.type === 1) {
        expect(h.xid).toBe(xid);
        const e = decodeError(m);
        // The offending request's first bytes come back with the error.
        expect(e.data.subarray(0, 8).equals(msg.subarray(0, 8))).toBe(true);
        err = e.type === 0xffff ? `experimenter/${e.code}` : errorName(e.type, e.code);
      }
    }
  }

  async waitClosed(): Promise<boolean> {
    for (let i = 0; i < 200 && !this.closed; i++) await new Promise((r) => setTimeout(r, 50));
    return this.closed;
  }

  close(): void {
    this.sock.destroy();
  }
}

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const withLen = (b: Buffer) => {
  b.writeUInt16BE(b.length, 2);
  return b;
};
const flowMod = (text: string, xid = 7) => encodeFlowMod(4, xid, { command: 'add', spec: parseFlow(text, 'add'), bufferId: 0xffffffff });

/** A valid flow mod with its (only) action replaced by `action`. */
function withAction(action: Buffer): Buffer {
  const base = flowMod('priority=3,actions=output:1');
  // ... ofp_instruction_actions (8 bytes) + one 16-byte output action at the end.
  const head = base.subarray(0, base.length - 16);
  const m = Buffer.concat([head, action]);
  m.writeUInt16BE(8 + action.length, head.length - 8 + 2);
  return withLen(m);
}

describe('hostile OpenFlow peers', () => {
  const swd = new SwdInstance();
  const mgmt = () => join(swd.rundir, 'br0.mgmt');
  const flows = () => swd.ok(['dump-flows', 'br0', '--no-stats']);
  let peer: RawPeer;

  beforeAll(async () => {
    await swd.start();
    swd.ok(['add-flow', 'br0', 'priority=1,actions=NORMAL']);
    peer = await RawPeer.open(mgmt());
  });
  afterAll(async () => {
    peer?.close();
    await swd.dispose();
  });

  const cases: [string, () => Buffer, string][] = [
    ['a message of another version than negotiated', () => hex('05140008 00000011'), 'OFPBRC_BAD_VERSION'],
    ['an echo request of another version (answered, as OVS does)', () => hex('05020008 00000010'), 'none'],
    ['an unknown message type', () => hex('04630008 00000012'), 'OFPBRC_BAD_TYPE'],
    ['a truncated flow mod', () => withLen(flowMod('priority=2,actions=drop').subarray(0, 20)), 'OFPBRC_BAD_LEN'],
    ['a flow mod whose match overruns the message', () => {
      const m = flowMod('priority=2,ip,actions=drop');
      m.writeUInt16BE(0x400, 50); // ofp_match length
      return m;
    }, 'OFPBMC_BAD_LEN'],
    ['a match field of an unknown class', () => {
      const m = flowMod('priority=2,ip,actions=drop');
      m.writeUInt16BE(0x1234, 52); // the first OXM's class
      return m;
    }, 'OFPBMC_BAD_FIELD'],
    ['an unknown action type', () => withAction(hex('0050 0008 00000000')), 'OFPBAC_BAD_TYPE'],
    ['an action whose length is not a multiple of 8', () => withAction(hex('0000 000c 00000001 ffff0000 00000000')), 'OFPBAC_BAD_LEN'],
    ['a flow mod whose length is not a multiple of 8', () => withAction(hex('0000 000c 00000001 ffff0000')), 'OFPBRC_BAD_LEN'],
    ['an action longer than its list', () => withAction(hex('0000 0040 00000001 ffff0000 00000000')), 'OFPBAC_BAD_LEN'],
    ['a Nicira action of unknown subtype', () => withAction(hex('ffff 0010 00002320 00c8 000000000000')), 'OFPBAC_BAD_EXP_TYPE'],
    ['an unknown experimenter action', () => withAction(hex('ffff 0010 00abcdef 0001 000000000000')), 'OFPBAC_BAD_EXPERIMENTER'],
    ['an output to port 0xffff (OpenFlow 1.0\'s NONE)', () => withAction(hex('0000 0010 0000ffff ffff 000000000000')), 'OFPBAC_BAD_OUT_PORT'],
    ['an output to a port in the reserved range', () => withAction(hex('0000 0010 ffffff00 ffff 000000000000')), 'OFPBAC_BAD_OUT_PORT'],
    ['an unknown multipart type', () => encodeMultipartRequest(4, 0x21, 0x7777), 'OFPBRC_BAD_MULTIPART'],
    ['an unknown experimenter message', () => hex('04040010 00000022 00abcdef 00000001'), 'OFPBRC_BAD_EXPERIMENTER'],
    ['an unknown Nicira message', () => hex('04040010 00000023 00002320 000000fe'), 'OFPBRC_BAD_EXP_TYPE'],
    ['a truncated NXT_CT_FLUSH_ZONE', () => hex('04040012 00000024 00002320 0000001d 0000'), 'OFPBRC_BAD_LEN'],
    ['a port mod of a port that does not exist', () => hex('04100028 00000025 00000063 00000000 505400000001 0000 00000000 00000000 00000000 00000000'), 'OFPPMFC_BAD_PORT'],
    ['queue statistics of a queue that does not exist', () => encodeMultipartRequest(4, 0x26, 5, hex('ffffffff 00000005')), 'OFPQOFC_BAD_QUEUE'],
  ];

  for (const [what, build, expected] of cases) {
    it(`${what}: ${expected}, nothing applied`, async () => {
      const before = flows();
      expect(await peer.errorFor(build())).toBe(expected);
      expect(flows()).toEqual(before);
      expect(peer.closed).toBe(false);
    });
  }

  // [ofmeter] Malformed and refused meter mods and meter multipart requests: OVS 3.1's answers to the same bytes.
  const band = '0001 0010 0000000a 00000000 00000000';
  const meterMod = (body: string) => withLen(hex(`041d0000 00000040 ${body}`));
  const meterCases: [string, () => Buffer, string][] = [
    ['a truncated meter mod', () => meterMod(''), 'OFPBRC_BAD_LEN'],
    ['a meter mod whose length is not a multiple of 8', () => meterMod(`0000 0002 00000006 ${band} 00000000`), 'OFPBRC_BAD_LEN'],
    ['a meter band of 12 bytes', () => meterMod('0000 0002 00000006 0001 000c 0000000a 00000000 00000000'), 'OFPBRC_BAD_LEN'],
    ['a meter band of 32 bytes', () => meterMod(`0000 0002 00000006 0001 0020 0000000a 00000000 00000000 ${'00'.repeat(16)}`), 'OFPBRC_BAD_LEN'],
    ['bytes after the last meter band', () => meterMod(`0000 0002 00000006 ${band} 00000000 00000000`), 'OFPBRC_BAD_LEN'],
    ['an unknown meter band type', () => meterMod('0000 0002 00000006 0005 0010 0000000a 00000000 00000000'), 'OFPMMFC_BAD_BAND'],
    ['an experimenter meter band', () => meterMod('0000 0002 00000006 ffff 0010 0000000a 00000000 00000000'), 'OFPMMFC_BAD_BAND'],
    ['a dscp_remark band (the datapath drops only)', () => meterMod('0000 0001 00000006 0002 0010 0000000a 00000000 01000000'), 'OFPMMFC_BAD_BAND'],
    ['a good band, then a bad one', () => meterMod(`0000 0002 00000006 ${band} 0005 0010 0000000a 00000000 00000000`), 'OFPMMFC_BAD_BAND'],
    ['too many bands (9)', () => meterMod(`0000 0002 00000006 ${`${band} `.repeat(9)}`), 'OFPMMFC_OUT_OF_BANDS'],
    ['a meter without bands', () => meterMod('0000 0002 00000006'), 'OFPMMFC_OUT_OF_BANDS'],
    ['an unknown meter mod command', () => meterMod(`0003 0002 00000006 ${band}`), 'OFPMMFC_BAD_COMMAND'],
    ['kbps and pktps together', () => meterMod(`0000 0003 00000006 ${band}`), 'OFPMMFC_BAD_FLAGS'],
    ['neither kbps nor pktps', () => meterMod(`0000 0000 00000006 ${band}`), 'OFPMMFC_BAD_FLAGS'],
    ['an unknown meter flag', () => meterMod(`0000 0011 00000006 ${band}`), 'OFPMMFC_BAD_FLAGS'],
    ['a band rate of 0', () => meterMod('0000 0002 00000006 0001 0010 00000000 00000000 00000000'), 'OFPMMFC_BAD_RATE'],
    ['meter id 0', () => meterMod(`0000 0002 00000000 ${band}`), 'OFPMMFC_INVALID_METER'],
    ['meter id all', () => meterMod(`0000 0002 ffffffff ${band}`), 'OFPMMFC_INVALID_METER'],
    ['a meter id above OFPM13_MAX', () => meterMod(`0000 0002 ffff0001 ${band}`), 'OFPMMFC_INVALID_METER'],
    ['a modify of a meter that does not exist', () => meterMod(`0001 0002 00000007 ${band}`), 'OFPMMFC_UNKNOWN_METER'],
    ['a meter stats request of 4 bytes', () => encodeMultipartRequest(4, 0x41, 9, hex('00000001')), 'OFPBRC_BAD_LEN'],
    ['a meter config request of 12 bytes', () => encodeMultipartRequest(4, 0x42, 10, hex('00000001 00000000 00000000')), 'OFPBRC_BAD_LEN'],
    ['a meter features request with a body', () => encodeMultipartRequest(4, 0x43, 11, hex('00000000 00000000')), 'OFPBRC_BAD_LEN'],
    ['meter stats of a meter that does not exist', () => encodeMultipartRequest(4, 0x44, 9, hex('00000063 00000000')), 'OFPMMFC_UNKNOWN_METER'],
    ['the config of a meter that does not exist', () => encodeMultipartRequest(4, 0x45, 10, hex('00000063 00000000')), 'OFPMMFC_UNKNOWN_METER'],
  ];

  for (const [what, build, expected] of meterCases) {
    it(`${what}: ${expected}, no meter or flow changed`, async () => {
      const before = [flows(), swd.ok(['dump-meters', 'br0'])];
      expect(await peer.errorFor(build())).toBe(expected);
      expect([flows(), swd.ok(['dump-meters', 'br0'])]).toEqual(before);
      expect(peer.closed).toBe(false);
    });
  }

  it('a good meter mod applies, and adding it again is OFPMMFC_METER_EXISTS', async () => {
    expect(await peer.errorFor(meterMod(`0000 0002 00000006 ${band}`))).toBe('none');
    const meters = swd.ok(['dump-meters', 'br0']);
    expect(meters).toEqual(['OFPST_METER_CONFIG reply (OF1.3) (xid=0x2):', 'meter=6 pktps bands=', 'type=drop rate=10']);
    expect(await peer.errorFor(meterMod(`0000 0002 00000006 ${band}`))).toBe('OFPMMFC_METER_EXISTS');
    // A delete of a meter that does not exist, or of meter 0, is no error.
    expect(await peer.errorFor(meterMod('0002 0000 0000004d'))).toBe('none');
    expect(await peer.errorFor(meterMod('0002 0000 00000000'))).toBe('none');
    expect(swd.ok(['dump-meters', 'br0'])).toEqual(meters);
    expect(await peer.errorFor(meterMod('0002 0000 00000006'))).toBe('none');
    expect(swd.ok(['dump-meters', 'br0'])).toEqual(['OFPST_METER_CONFIG reply (OF1.3) (xid=0x2):']);
  });

  it('a flow mod with one bad action among good ones adds nothing', async () => {
    const before = flows();
    const good = flowMod('priority=9,ip,actions=output:1,output:2');
    // Replace the second output's type by an unknown one.
    good.writeUInt16BE(0x0050, good.length - 16);
    expect(await peer.errorFor(good)).toBe('OFPBAC_BAD_TYPE');
    expect(flows()).toEqual(before);
  });

  it('garbage is answered with OFPBRC_BAD_LEN and disconnected; others are served on', async () => {
    const bad = await RawPeer.open(mgmt());
    bad.sock.write(hex('0400000300000000 deadbeef'));
    expect(await bad.waitClosed()).toBe(true);
    // The well-behaved peer and swctl still work, and the datapath forwards.
    expect(await peer.errorFor(hex('04020008 00000031'))).toBe('none');
    expect(flows()).toEqual([' priority=1 actions=NORMAL']);
    swd.ok(['inject', 'br0', 'p1', 'in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1000,dst=53)']);
    expect(swd.ok(['dump-flows', 'br0']).join('\n')).toMatch(/n_packets=1, .*priority=1 actions=NORMAL/);
  });

  it('a peer that floods requests and never reads the replies is disconnected', async () => {
    const flood = await RawPeer.open(mgmt());
    flood.sock.pause();
    // 64 KiB echo requests: their replies pile up unread in swd until it cuts the peer off.
    const echo = withLen(Buffer.concat([hex('04020000 00000001'), Buffer.alloc(0xfff0)]));
    void encodeEchoReply;
    for (let i = 0; i < 600 && !flood.closed; i++) {
      if (!flood.sock.write(echo)) await new Promise((r) => setTimeout(r, 5));
    }
    expect(await flood.waitClosed()).toBe(true);
    expect(await peer.errorFor(hex('04020008 00000032'))).toBe('none');
    expect(flows()).toEqual([' priority=1 actions=NORMAL']);
  });
});
