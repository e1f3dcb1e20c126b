// A slave connection (ROLE_REQUEST slave, OpenFlow 1.2+) may read but not
// change the switch: flow mods, packet-outs and bundles are refused with
// OFPBRC_IS_SLAVE and nothing is applied, as OVS's reject_slave_controller;
// reads are answered; once master again, the same flow mod is applied.

import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Switch } from '../../src/ofproto/switch.ts';
import { encodeHello, readHeader } from '../../src/openflow/header.ts';
import { OfBridge } from '../../src/ctl/of-bridge.ts';
import { OfConnection } from '../../src/ctl/of-conn.ts';
import { FakeSocket, hex, quietLog } from './fake-socket.ts';

const log = quietLog;
const role = (r: number, xid: number) => hex(`04 18 0018 ${xid.toString(16).padStart(8, '0')} 0000000${r} 00000000 0000000000000001`);
// OFPFC_ADD, table 0, priority 0x1234, match all, no instructions.
const FLOW_MOD = hex('04 0e 0038 00000005 0000000000000000 0000000000000000 00 00 0000 0000 1234 ffffffff ffffffff ffffffff 0000 0000 0001 0004 00000000');
// OFPT_PACKET_OUT: no buffer, in_port CONTROLLER, no actions, a 14-byte frame.
const PACKET_OUT = hex('04 0d 0026 00000007 ffffffff fffffffd 0000 000000000000 505400000002 505400000001 0800');
// OFPMP_DESC request.
const DESC = hex('04 12 0010 00000008 0000 0000 00000000');
const OFPT_ERROR = 1, OFPT_MULTIPART_REPLY = 19, OFPT_ROLE_REPLY = 25;

let sw: Switch;
afterEach(() => sw?.close());

describe('a slave connection', () => {
  it('is refused flow mods and packet-outs with OFPBRC_IS_SLAVE, nothing applied; reads answered; master may write', () => {
    sw = Switch.fromConfig(null, { defaultBridge: true });
    const sock = new FakeSocket();
    new OfConnection(sock as unknown as Socket, new OfBridge(sw, 'br0', () => {}), log, {});
    const send = (m: Buffer) => sock.emit('data', m);
    send(encodeHello(4, 1, [4]));
    sock.take();
    const flows = () => sw.dumpFlows('br0', null, {}).flows.filter((f: { priority: number }) => f.priority === 0x1234);
    send(role(3, 6));
    expect(sock.take().map((m) => readHeader(m).type)).toEqual([OFPT_ROLE_REPLY]);
    for (const m of [FLOW_MOD, PACKET_OUT]) {
      send(m);
      const [err, ...rest] = sock.take();
      expect(rest).toEqual([]);
      expect(readHeader(err!).type).toBe(OFPT_ERROR);
      expect([err!.readUInt16BE(8), err!.readUInt16BE(10)]).toEqual([1, 10]); // OFPET_BAD_REQUEST, OFPBRC_IS_SLAVE
      expect(readHeader(err!).xid).toBe(readHeader(m).xid);
    }
    expect(flows()).toEqual([]);
    send(DESC);
    expect(sock.take().map((m) => readHeader(m).type)).toEqual([OFPT_MULTIPART_REPLY]);
    send(role(2, 9));
    sock.take();
    send(FLOW_MOD);
    expect(sock.take()).toEqual([]);
    expect(flows()).toHaveLength(1);
  });
});
