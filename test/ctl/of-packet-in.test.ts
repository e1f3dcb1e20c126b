// Packet-ins carry what OVS's do: the cookie of the rule whose controller
// action sent the packet (the right one after a resubmit returns), the
// action's userdata (NXT_PACKET_IN2), and they go only to connections with
// the action's controller id. Real translation on an in-process Switch; the
// datapath's userspace number is looked up in the bridge's packet-in table
// as the OpenFlow listener does, and handed to a connection on a fake socket.

import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Switch } from '../../src/ofproto/switch.ts';
import { bareMeta, COOKIE_NONE, PacketInTable, type PacketInMeta } from '../../src/ofproto/packet-in-table.ts';
import { decodePacketIn2Props } from '../../src/openflow/async-msgs.ts';
import { encodeHello, readHeader } from '../../src/openflow/header.ts';
import { decodePacketIn } from '../../src/openflow/packet.ts';
import { OfBridge } from '../../src/ctl/of-bridge.ts';
import { OfConnection } from '../../src/ctl/of-conn.ts';
import { FakeSocket, hex, quietLog } from './fake-socket.ts';

const log = quietLog;
const UDP = 'in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1000,dst=53)';

let sw: Switch;
afterEach(() => sw?.close());

/** A switch whose controller-bound packets are collected with their packet-in details, and one OpenFlow 1.3 connection. */
function rig() {
  sw = Switch.fromConfig(null, { defaultBridge: true });
  const br = sw.bridges.get('br0')!;
  const pins: { port: number; packet: Uint8Array; meta: PacketInMeta }[] = [];
  sw.dp.datapath.onUserspace = (dpInPort, packet, word) => {
    pins.push({ port: br.portsByDp.get(dpInPort)!.ofport, packet, meta: br.packetIns.lookup(word) ?? bareMeta(word) });
  };
  const sock = new FakeSocket();
  const conn = new OfConnection(sock as unknown as Socket, new OfBridge(sw, 'br0', () => {}), log);
  sock.emit('data', encodeHello(4, 1, [4]));
  sock.take();
  const deliver = () => {
    for (const p of pins.splice(0)) conn.packetIn(p.port, p.packet, p.meta.reason, p.meta.table, p.meta);
    return sock.take();
  };
  return { sock, conn, pins, deliver, send: (m: Buffer) => sock.emit('data', m) };
}

describe('packet-in cookie and userdata', () => {
  it('the cookie is the sending rule\'s, also after a resubmit returns; userdata goes with the action', () => {
    const { pins } = rig();
    sw.addFlows('br0', [
      'table=0,cookie=0x10,in_port=1,actions=resubmit(,1),controller',
      'table=1,cookie=0x20,actions=controller(userdata=aa.bb.cc)',
    ].join('\n'), 't');
    sw.inject('br0', 'p1', UDP, 1);
    expect(pins.map((p) => [p.meta.table, p.meta.cookie, p.meta.userdata?.toString('hex') ?? null, p.meta.reason])).toEqual([
      [1, 0x20n, 'aabbcc', 1],
      [0, 0x10n, null, 1],
    ]);
    // The megaflow's second packet goes up with the same details (the ids are stable).
    sw.inject('br0', 'p1', UDP, 1);
    expect(pins.slice(2).map((p) => [p.meta.table, p.meta.cookie])).toEqual([[1, 0x20n], [0, 0x10n]]);
  });

  it('OFPT_PACKET_IN carries the cookie; NXT_PACKET_IN2 the cookie and userdata', () => {
    const { deliver, send } = rig();
    sw.addFlows('br0', 'table=0,cookie=0xfeed,in_port=1,actions=controller(userdata=01.02)', 't');
    sw.inject('br0', 'p1', UDP, 1);
    const [m] = deliver();
    const pi = decodePacketIn(m);
    expect([pi.cookie, pi.tableId, pi.reason, pi.totalLen]).toEqual([0xfeedn, 0, 1, pi.packet.length]);
    send(hex('04040014 00000005 00002320 00000010 00000002')); // NXT_SET_PACKET_IN_FORMAT nxt_packet_in2
    sw.inject('br0', 'p1', UDP, 1);
    const props = decodePacketIn2Props(deliver()[0]);
    expect(props.get(4)!.toString('hex')).toBe('00000000' + '000000000000feed'); // pad(4), cookie
    expect(props.get(7)!.toString('hex')).toBe('0102');
  });

  it('controller(id=N) reaches only a connection that set controller id N', () => {
    const { deliver, send } = rig();
    sw.addFlows('br0', 'table=0,in_port=1,actions=controller(id=7)', 't');
    sw.inject('br0', 'p1', UDP, 1);
    expect(deliver()).toEqual([]);
    send(hex('04040018 00000009 00002320 00000014 000000000000 0007')); // NXT_SET_CONTROLLER_ID 7
    sw.inject('br0', 'p1', UDP, 1);
    expect(deliver().map((m) => readHeader(m).type)).toEqual([10]);
  });
});

describe('packet-in table', () => {
  it('interns by content, and starting over when full forgets the old ids and tells its owner', () => {
    const t = new PacketInTable();
    let resets = 0;
    t.onReset = () => resets++;
    const meta = (cookie: bigint): PacketInMeta => ({ reason: 1, table: 2, cookie, userdata: null, maxLen: 65535, controllerId: 0, pause: false });
    const first = t.intern(meta(1n));
    expect(t.intern(meta(1n))).toBe(first);
    expect(t.lookup(first)!.cookie).toBe(1n);
    for (let c = 2n; t.size < 0x10000; c++) t.intern(meta(c));
    expect(resets).toBe(0);
    const after = t.intern(meta(0x1_0000_0000n));
    expect(resets).toBe(1);
    expect(t.size).toBe(1);
    expect(t.lookup(first)).toBe(null);
    // What the number's low bits say survives: reason 1, table 2, cookie none.
    expect(bareMeta(first)).toMatchObject({ reason: 1, table: 2, cookie: COOKIE_NONE });
    expect(t.lookup(after)!.cookie).toBe(0x1_0000_0000n);
  });
});
