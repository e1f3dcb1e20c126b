// Requests a connection answers beside of-conn.ts's core set (OpenFlow
// 1.3+): PORT_MOD (checked against the bridge's ports; swd cannot change a
// port's administrative state, so only a request that changes nothing is
// accepted), QUEUE_GET_CONFIG and OFPMP_QUEUE statistics (swd has no
// queues: empty answers for all queues, OFPQOFC_BAD_QUEUE for a named one),
// meters (of-meter.ts), and the packet-in as NXT_PACKET_IN2.

import { FK_IN_PORT } from '../packet/flow-key.ts';
import { emptyMatch, setMatchWord } from '../ofproto/match.ts';
import type { Reader } from '../openflow/buffer.ts';
import { encodePacketIn2 } from '../openflow/async-msgs.ts';
import { OFPET_BAD_REQUEST, OFPET_PORT_MOD_FAILED, OfError, OFPBRC_BAD_LEN } from '../openflow/errors.ts';
import { bodyReader, finishMsg, OFPT_PORT_MOD, startMsg } from '../openflow/header.ts';
import { OFPMP_QUEUE } from '../openflow/multipart.ts';
import { portFromOf11, portToOf11 } from '../openflow/ports.ts';
import { OFPPC_PORT_DOWN } from '../openflow/switch-msgs.ts';
import type { OfBridge } from './of-bridge.ts';
import { dispatchMeter, meterMultipart } from './of-meter.ts';

const OFPT13_QUEUE_GET_CONFIG_REQUEST = 22;
const OFPT13_QUEUE_GET_CONFIG_REPLY = 23;
const OFPP_ANY = 0xffffffff;
const OFPQ_ALL = 0xffffffff;
const OFPET_QUEUE_OP_FAILED = 9;
const OFPQOFC_BAD_PORT = 0, OFPQOFC_BAD_QUEUE = 1;
const OFPPMFC_BAD_PORT = 0, OFPPMFC_BAD_HW_ADDR = 1, OFPPMFC_EPERM = 4;

function knownPort(br: OfBridge, of11Port: number): boolean {
  const p = portFromOf11(of11Port);
  return p !== null && br.portDescs().some((d) => d.portNo === p);
}

/** Handle a message type of-conn.ts does not; false when it is none of these. */
export function dispatchMore(br: OfBridge, msg: Buffer, type: number, xid: number, version: number, send: (b: Buffer) => void): boolean {
  if (dispatchMeter(br, msg, type)) return true;
  switch (type) {
    case OFPT_PORT_MOD: {
      portMod(br, bodyReader(msg), version);
      return true;
    }
    case OFPT13_QUEUE_GET_CONFIG_REQUEST: {
      if (version !== 4) return false; // OpenFlow 1.4 moved it into OFPMP_QUEUE_DESC
      const r = bodyReader(msg);
      const port = r.u32();
      if (port !== OFPP_ANY && !knownPort(br, port)) throw new OfError(OFPET_QUEUE_OP_FAILED, OFPQOFC_BAD_PORT, `port ${port} does not exist`);
      send(finishMsg(startMsg(version, OFPT13_QUEUE_GET_CONFIG_REPLY, xid).u32(port).zeros(4)));
      return true;
    }
    default:
      return false;
  }
}

/** OFPT_PORT_MOD: port, hardware address, config/mask (1.3: then advertise; 1.4+: properties). */
function portMod(br: OfBridge, r: Reader, version: number): void {
  if (r.left < 24) throw new OfError(OFPET_BAD_REQUEST, OFPBRC_BAD_LEN, 'port_mod truncated');
  const port = r.u32();
  r.skip(4);
  const hw = r.bytes(6);
  r.skip(2);
  const config = r.u32(), mask = r.u32();
  void version;
  const p = portFromOf11(port);
  const desc = p === null ? undefined : br.portDescs().find((d) => d.portNo === p);
  if (!desc) throw new OfError(OFPET_PORT_MOD_FAILED, OFPPMFC_BAD_PORT, `port ${port} does not exist`);
  if (!hw.equals(desc.hwAddr)) throw new OfError(OFPET_PORT_MOD_FAILED, OFPPMFC_BAD_HW_ADDR, 'hardware address does not match the port');
  if (((config ^ desc.config) & mask) !== 0) {
    const what = mask & OFPPC_PORT_DOWN ? 'administrative state' : 'configuration';
    throw new OfError(OFPET_PORT_MOD_FAILED, OFPPMFC_EPERM, `swd cannot change a port's ${what}`);
  }
}

/** Multipart types of-conn.ts does not answer; null when unknown. */
export function multipartMore(br: OfBridge, type: number, body: Reader, version: number): Buffer[] | null {
  void version;
  const meters = meterMultipart(br, type, body);
  if (meters) return meters;
  if (type !== OFPMP_QUEUE) return null;
  const port = body.u32(), queue = body.u32();
  if (port !== OFPP_ANY && !knownPort(br, port)) throw new OfError(OFPET_QUEUE_OP_FAILED, OFPQOFC_BAD_PORT, `port ${port} does not exist`);
  if (queue !== OFPQ_ALL) throw new OfError(OFPET_QUEUE_OP_FAILED, OFPQOFC_BAD_QUEUE, `queue ${queue} does not exist (swd has no queues)`);
  return [];
}

/** A packet-in as NXT_PACKET_IN2 (in_port in its metadata; the rule's cookie; the controller action's userdata). */
export function packetIn2For(version: number, ofInPort: number, packet: Buffer, totalLen: number, reason: number, tableId: number, cookie: bigint, userdata: Buffer | null): Buffer {
  const metadata = emptyMatch();
  setMatchWord(metadata, FK_IN_PORT, ofInPort, 0xffff);
  return encodePacketIn2(version, 0, { packet, totalLen, tableId, cookie, reason, metadata, ...(userdata ? { userdata } : {}) });
}

export { portToOf11 };
