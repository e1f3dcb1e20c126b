// A connection's asynchronous messages and Nicira requests, in process on a
// real Switch: FLOW_REMOVED when a send_flow_rem flow times out or is
// deleted (and none for other flows), PORT_STATUS when ports come and go,
// NXT_PACKET_IN2 once the peer asks for it, NXT_CT_FLUSH_ZONE flushing
// conntrack, PORT_MOD and queue requests answered as OVS does.

import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Switch } from '../../src/ofproto/switch.ts';
import { decodeFlowRemoved, decodePacketIn2Props, OFPRR_DELETE, OFPRR_HARD_TIMEOUT } from '../../src/openflow/async-msgs.ts';
import { encodeFlowMod } from '../../src/openflow/flow-mod.ts';
import { encodeHello, readHeader } from '../../src/openflow/header.ts';
import { decodeError, decodePortStatus, OFPPR_ADD, OFPPR_DELETE } from '../../src/openflow/switch-msgs.ts';
import { errorName } from '../../src/openflow/errors.ts';
import { parseFlow } from '../../src/ofproto/parse-flow.ts';
import { OfAsync } from '../../src/ctl/of-async.ts';
import { OfBridge } from '../../src/ctl/of-bridge.ts';
import { OfConnection } from '../../src/ctl/of-conn.ts';
import { FakeSocket, hex } from './fake-socket.ts';

const log = { warn() {}, debug() {} };

function rig(version = 4) {
  const sw = Switch.fromConfig(null, { defaultBridge: true });
  const sock = new FakeSocket();
  const conn = new OfConnection(sock as unknown as Socket, new OfBridge(sw, 'br0', () => {}), log);
  sock.emit('data', encodeHello(version, 1, [version]));
  const async = new OfAsync(sw, () => [conn]);
  async.sync();
  sock.take();
  return { sw, sock, conn, async, send: (m: Buffer) => sock.emit('data', m) };
}

let open: Switch[] = [];
afterEach(() => {
  for (const sw of open) sw.close?.();
  open = [];
});

describe('asynchronous OpenFlow messages', () => {
  it('FLOW_REMOVED for a send_flow_rem flow at its hard timeout, and on delete; none for other flows', () => {
    const { sw, sock, async } = rig();
    open.push(sw);
    const t0 = Date.now();
    sw.addFlows('br0', [
      'table=3,priority=7,cookie=0x99,send_flow_rem,hard_timeout=1,udp,actions=drop',
      'table=3,priority=6,hard_timeout=1,tcp,actions=drop',
      'table=4,priority=5,cookie=0x5,send_flow_rem,ip,actions=drop',
    ].join('\n'), 'test');
    sw.tick(t0 + 2500);
    async.sync();
    const expired = sock.take();
    expect(expired).toHaveLength(1);
    const fr = decodeFlowRemoved(expired[0]);
    expect([fr.reason, fr.spec.cookie, fr.spec.priority, fr.spec.table, fr.spec.hardTimeout]).toEqual([OFPRR_HARD_TIMEOUT, 0x99n, 7, 3, 1]);
    // A delete over the wire (by cookie) removes the last one with reason DELETE.
    const del = encodeFlowMod(4, 9, { command: 'delete', spec: { ...parseFlow('table=4', 'del'), cookie: 0x5n, cookieMask: 0xffffffffffffffffn }, bufferId: 0xffffffff });
    sock.emit('data', del);
    const deleted = sock.take();
    expect(deleted.map((m) => decodeFlowRemoved(m).reason)).toEqual([OFPRR_DELETE]);
    expect(decodeFlowRemoved(deleted[0]).spec.cookie).toBe(0x5n);
  });

  it('PORT_STATUS when a port is added and when it is deleted', () => {
    const { sw, sock, async } = rig();
    open.push(sw);
    sw.addPort('br0', { name: 'p9', type: 'dummy', ofport: 9 });
    async.sync();
    const added = sock.take().map(decodePortStatus);
    expect(added.map((s) => [s.reason, s.port.portNo, s.port.name])).toEqual([[OFPPR_ADD, 9, 'p9']]);
    async.sync();
    expect(sock.take()).toEqual([]);
    sw.delPort('br0', 'p9');
    async.sync();
    expect(sock.take().map(decodePortStatus).map((s) => [s.reason, s.port.portNo])).toEqual([[OFPPR_DELETE, 9]]);
  });

  it('packet-ins become NXT_PACKET_IN2 after NXT_SET_PACKET_IN_FORMAT 2', () => {
    const { sw, sock, conn, send } = rig();
    open.push(sw);
    const pkt = Buffer.alloc(60, 0xab);
    conn.packetIn(1, pkt, 1, 0);
    expect(readHeader(sock.take()[0]).type).toBe(10); // OFPT_PACKET_IN
    send(hex('04040014 00000005 00002320 00000010 00000002'));
    expect(sock.take()).toEqual([]);
    conn.packetIn(2, pkt, 0, 3);
    const [m] = sock.take();
    expect(m.readUInt32BE(12)).toBe(30); // NXT_PACKET_IN2
    const props = decodePacketIn2Props(m);
    expect(props.get(0)).toEqual(pkt);
    expect(props.get(3)![0]).toBe(3);
    expect(props.get(5)![0]).toBe(0);
    // OXM in_port = 2 as the metadata.
    expect(props.get(6)!.toString('hex')).toBe('8000000400000002');
    // An unknown format is refused and the old one kept.
    send(hex('04040014 00000006 00002320 00000010 00000007'));
    const [err] = sock.take();
    const e = decodeError(err);
    expect(errorName(e.type, e.code)).toBe('OFPBRC_EPERM');
  });

  it('NXT_CT_FLUSH_ZONE flushes the zone\'s connections only', () => {
    const { sw, send, sock } = rig();
    open.push(sw);
    sw.addFlows('br0', 'in_port=1,udp,tp_src=1000,actions=ct(commit,zone=3),2\nin_port=1,udp,tp_src=1001,actions=ct(commit,zone=4),2', 'test');
    for (const sport of [1000, 1001]) {
      sw.inject('br0', 'p1', `in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=no),udp(src=${sport},dst=53)`, 1);
    }
    const zones = () => (sw.dumpConntrack({}).lines as string[]).map((l) => /zone=(\d+)/.exec(l)?.[1]).sort();
    expect(zones()).toEqual(['3', '4']);
    send(hex('04040018 00000007 00002320 0000001d 000000000000 0003'));
    expect(sock.take()).toEqual([]);
    expect(zones()).toEqual(['4']);
  });

  it('PORT_MOD: an unknown port or address is refused, a state change is not possible, no change is accepted', () => {
    const { sw, send, sock, conn } = rig();
    open.push(sw);
    void conn;
    const desc = new OfBridge(sw, 'br0', () => {}).portDescs().find((p) => p.portNo === 1)!;
    const mod = (port: number, hw: Buffer, config: number, mask: number) =>
      Buffer.concat([hex('04100028 00000008'), hex(port.toString(16).padStart(8, '0') + '00000000'), hw, hex('0000'), hex(config.toString(16).padStart(8, '0') + mask.toString(16).padStart(8, '0')), Buffer.alloc(8)]);
    const answer = (m: Buffer) => {
      send(m);
      const out = sock.take();
      return out.length ? errorName(decodeError(out[0]).type, decodeError(out[0]).code) : 'none';
    };
    expect(answer(mod(99, desc.hwAddr, 0, 0))).toBe('OFPPMFC_BAD_PORT');
    expect(answer(mod(1, Buffer.alloc(6), 0, 0))).toBe('OFPPMFC_BAD_HW_ADDR');
    expect(answer(mod(1, desc.hwAddr, 1, 1))).toBe('OFPPMFC_EPERM');
    expect(answer(mod(1, desc.hwAddr, 0, 1))).toBe('none');
  });
});
