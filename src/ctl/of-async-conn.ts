// [ofasync] A connection's OpenFlow 1.3+ async-config requests: OFPT_SET_ASYNC
// (1.3's masks, 1.4+'s properties) and OFPT_GET_ASYNC_REQUEST, answered with
// the connection's config (OVS's default for its version until one is set).
// Nicira's NXT_SET_ASYNC_CONFIG(2) go through of-nx.ts to the same setAsync.

import { defaultFor, encodeGetAsyncReply, OFPT13_GET_ASYNC_REQUEST, OFPT13_SET_ASYNC } from '../openflow/async-config.ts';
import { badLen } from '../openflow/errors.ts';
import { setAsync, type NxConnState } from './of-nx.ts';

/** Handle SET_ASYNC / GET_ASYNC_REQUEST; false when the message is neither. */
export function handleAsyncRequest(st: NxConnState, msg: Buffer, type: number, xid: number, send: (b: Buffer) => void): boolean {
  const version = msg[0];
  if (version < 4) return false;
  if (type === OFPT13_SET_ASYNC) {
    setAsync(st, msg);
    return true;
  }
  if (type === OFPT13_GET_ASYNC_REQUEST) {
    if (msg.length !== 8) throw badLen('get_async_request');
    send(encodeGetAsyncReply(version, xid, st.asyncCfg ?? defaultFor(version)));
    return true;
  }
  return false;
}
