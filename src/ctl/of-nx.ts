// The Nicira messages a connection answers in every version (OpenFlow 1.0's
// vendor and 1.3+'s experimenter messages share the layout):
// NXT_SET_PACKET_IN_FORMAT (standard packet-ins or NXT_PACKET_IN2),
// NXT_CT_FLUSH_ZONE and NXT_CT_FLUSH (`ovs-ofctl ct-flush-zone` /
// `ct-flush`). Anything else is left to the caller (false).

import { Reader } from '../openflow/buffer.ts';
import { decodeCtFlush, decodeCtFlushZone, NXT_CT_FLUSH, NXT_CT_FLUSH_ZONE } from '../openflow/ct-flush.ts';
import { NXPIF_NXT_PACKET_IN2, NXPIF_STANDARD, NXT_SET_PACKET_IN_FORMAT } from '../openflow/async-msgs.ts';
import { badLen, OFPBRC_EPERM, OFPET_BAD_REQUEST, OfError } from '../openflow/errors.ts';
import { NX_EXPERIMENTER_ID } from '../openflow/oxm.ts';
import type { OfBridge } from './of-bridge.ts';
import { decodeSetAsync, defaultFor, NXT_SET_ASYNC_CONFIG, NXT_SET_ASYNC_CONFIG2, type AsyncConfig } from '../openflow/async-config.ts';

/** [ofasync] Apply a SET_ASYNC (OpenFlow's or Nicira's): all or nothing. */
export function setAsync(st: NxConnState, msg: Buffer): void {
  st.asyncCfg = decodeSetAsync(msg, st.asyncCfg ?? defaultFor(msg[0]));
  st.onSetAsync?.();
}

/** What a connection chose through Nicira messages. */
export interface NxConnState {
  /** NXPIF_STANDARD (the version's packet-in) or NXPIF_NXT_PACKET_IN2. */
  packetInFormat: number;
  /** NXT_SET_CONTROLLER_ID: controller(id=N) actions reach only the connections with that id (0 by default). */
  controllerId?: number;
  /** [ofasync] The async config SET_ASYNC gave (null/absent: OVS's default for the version). */
  asyncCfg?: AsyncConfig | null;
  /** Told after each SET_ASYNC (a service connection then gets a miss_send_len). */
  onSetAsync?: () => void;
}

const NXT_SET_CONTROLLER_ID = 20;

/** Handle a Nicira message (OFPT_EXPERIMENTER / OFPT10_VENDOR); false when it is not one of these. */
export function handleNxMessage(br: OfBridge, st: NxConnState, msg: Buffer): boolean {
  if (msg.length < 16 || msg.readUInt32BE(8) !== NX_EXPERIMENTER_ID) return false;
  const r = new Reader(msg, 16, msg.readUInt16BE(2), () => badLen('Nicira message'));
  switch (msg.readUInt32BE(12)) {
    case NXT_SET_PACKET_IN_FORMAT: {
      const f = r.u32();
      // NXPIF_NXT_PACKET_IN (1, the old NXM packet-in) is not offered: OVS's tools ask for 0 or 2.
      if (f !== NXPIF_STANDARD && f !== NXPIF_NXT_PACKET_IN2) throw new OfError(OFPET_BAD_REQUEST, OFPBRC_EPERM, `packet-in format ${f}`);
      st.packetInFormat = f;
      return true;
    }
    case NXT_SET_CONTROLLER_ID:
      r.skip(6);
      st.controllerId = r.u16();
      return true;
    case NXT_SET_ASYNC_CONFIG:
    case NXT_SET_ASYNC_CONFIG2:
      setAsync(st, msg);
      return true;
    case NXT_CT_FLUSH_ZONE:
      br.ctFlush(decodeCtFlushZone(r));
      return true;
    case NXT_CT_FLUSH:
      br.ctFlush(decodeCtFlush(r));
      return true;
    default:
      return false;
  }
}
