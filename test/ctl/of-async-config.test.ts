// A connection's async config decides what it is sent, as OVS's connmgr:
// a connection that masks out PACKET_IN no_match gets no table-miss
// packet-ins (and still the others), GET_ASYNC reports what was set, a slave
// gets port status but no packet-ins or flow-removed until its secondary
// masks say so, and a service connection (the .mgmt socket, ptcp/punix)
// gets nothing asynchronous until it sets a miss_send_len or an async config.
// Real translation on an in-process Switch; a connection on a fake socket.

import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Switch } from '../../src/ofproto/switch.ts';
import { bareMeta } from '../../src/ofproto/packet-in-table.ts';
import { encodeHello, readHeader } from '../../src/openflow/header.ts';
import { decodePacketIn } from '../../src/openflow/packet.ts';
import { OfAsync } from '../../src/ctl/of-async.ts';
import { OfBridge } from '../../src/ctl/of-bridge.ts';
import { OfConnection } from '../../src/ctl/of-conn.ts';
import { FakeSocket, hex, quietLog } from './fake-socket.ts';

const log = quietLog;
const udp = (port: number) => `in_port(${port}),eth(src=50:54:00:00:00:0${port},dst=50:54:00:00:00:09),eth_type(0x0800),ipv4(src=10.1.1.${port},dst=10.1.1.9,proto=17,tos=0,ttl=64,frag=no),udp(src=1000,dst=53)`;
const OFPT_PACKET_IN = 10, OFPT_FLOW_REMOVED = 11, OFPT_PORT_STATUS = 12, OFPT_GET_ASYNC_REPLY = 27;
const SET_CONFIG_65534 = hex('04 09 000c 00000009 0000 fffe');

let sw: Switch;
afterEach(() => sw?.close());

function rig(service = false) {
  sw?.close();
  sw = Switch.fromConfig(null, { defaultBridge: true });
  const br = sw.bridges.get('br0')!;
  const sock = new FakeSocket();
  const conn = new OfConnection(sock as unknown as Socket, new OfBridge(sw, 'br0', () => {}), log, { service });
  sw.dp.datapath.onUserspace = (dpInPort, packet, word) => {
    const meta = br.packetIns.lookup(word) ?? bareMeta(word);
    conn.packetIn(br.portsByDp.get(dpInPort)!.ofport, packet, meta.reason, meta.table, meta);
  };
  sock.emit('data', encodeHello(4, 1, [4]));
  const async = new OfAsync(sw, () => [conn]);
  async.sync();
  sock.take();
  sw.addFlows('br0', 'priority=0,actions=controller\npriority=10,in_port=2,actions=controller\ntable=1,send_flow_rem,actions=drop', 't');
  /** Inject on p1 (the table-miss rule) and on p2 (an action), delete the send_flow_rem flow, add a port: the message types sent. */
  const events = () => {
    sw.inject('br0', 'p1', udp(1), 1);
    sw.inject('br0', 'p2', udp(2), 1);
    sw.delFlows('br0', 'table=1', false);
    sw.addPort('br0', { name: `p${5 + events.n}`, ofport: 5 + events.n++ });
    async.sync();
    return sock.take().map((m) => (readHeader(m).type === OFPT_PACKET_IN ? `packet_in:${decodePacketIn(m).reason === 0 ? 'no_match' : 'action'}` : readHeader(m).type === OFPT_FLOW_REMOVED ? 'flow_removed' : readHeader(m).type === OFPT_PORT_STATUS ? 'port_status' : `type ${readHeader(m).type}`));
  };
  events.n = 0;
  const send = (m: Buffer) => sock.emit('data', m);
  const restore = () => sw.addFlows('br0', 'table=1,send_flow_rem,actions=drop', 't');
  return { sock, conn, events, send, restore };
}

describe('async config per connection', () => {
  it('masking out PACKET_IN no_match stops table-miss packet-ins, not the others; GET_ASYNC reports it', () => {
    const { sock, events, send, restore } = rig();
    expect(events()).toEqual(['packet_in:no_match', 'packet_in:action', 'flow_removed', 'port_status']);
    restore();
    // OFPT_SET_ASYNC: packet-in primary action only; port status all; flow removed idle hard delete group_delete.
    send(hex('04 1c 0020 00000001 00000002 00000000 00000007 00000007 0000000f 00000000'));
    expect(sock.take()).toEqual([]);
    expect(events()).toEqual(['packet_in:action', 'flow_removed', 'port_status']);
    send(hex('04 1a 0008 00000002'));
    const [reply] = sock.take();
    expect(readHeader(reply).type).toBe(OFPT_GET_ASYNC_REPLY);
    expect(reply.subarray(8).toString('hex')).toBe(hex('00000002 00000000 00000007 00000007 0000000f 00000000').toString('hex'));
  });

  it('a slave gets port status only, until its secondary masks ask for more', () => {
    const { sock, events, send, restore } = rig();
    send(hex('04 18 0018 00000003 00000003 00000000 0000000000000000')); // ROLE_REQUEST slave
    expect(sock.take().map((m) => readHeader(m).type)).toEqual([25]);
    expect(events()).toEqual(['port_status']);
    restore();
    // Secondary: packet-in no_match, flow removed delete.
    send(hex('04 1c 0020 00000001 00000002 00000001 00000007 00000007 0000000f 00000004'));
    expect(events()).toEqual(['packet_in:no_match', 'flow_removed', 'port_status']);
  });

  it('a service connection gets nothing asynchronous until it sets a miss_send_len (or an async config)', () => {
    const { events, send, restore } = rig(true);
    expect(events()).toEqual([]);
    restore();
    send(SET_CONFIG_65534);
    expect(events()).toEqual(['packet_in:no_match', 'packet_in:action', 'flow_removed', 'port_status']);
    const other = rig(true);
    other.send(hex('04 1c 0020 00000001 00000002 00000000 00000007 00000007 0000000f 00000000'));
    expect(other.events()).toEqual(['packet_in:action', 'flow_removed', 'port_status']);
  });
});
