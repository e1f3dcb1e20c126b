// Bundles (OpenFlow 1.4 BUNDLE_CONTROL / BUNDLE_ADD_MESSAGE, and the ONF
// extension 2300/2301 of OpenFlow 1.3 that `ovs-ofctl --bundle` uses): the
// flow mods of a bundle are decoded and checked when added, and applied
// together on commit, all or nothing. swd supports flow mods in bundles.

import { Writer } from '../openflow/buffer.ts';
import { OFPET_BAD_REQUEST, OfError, ONF_VENDOR } from '../openflow/errors.ts';
import { decodeFlowMod, type FlowMod } from '../openflow/flow-mod.ts';
import { finishMsg, OFPT_EXPERIMENTER, OFPT_FLOW_MOD, readHeader, startMsg } from '../openflow/header.ts';
import type { OfBridge } from './of-bridge.ts';

export const OFPT14_BUNDLE_CONTROL = 33;
export const OFPT14_BUNDLE_ADD_MESSAGE = 34;
export const ONFT_BUNDLE_CONTROL = 2300;
export const ONFT_BUNDLE_ADD_MESSAGE = 2301;
const OPEN = 0, CLOSE = 2, COMMIT = 4, DISCARD = 6;
const OFPET_BUNDLE_FAILED = 17;
const OFPBFC_BAD_ID = 1, OFPBFC_BUNDLE_EXIST = 2, OFPBFC_BUNDLE_CLOSED = 3, OFPBFC_MSG_UNSUP = 7, OFPBFC_BAD_TYPE = 4;

const bundleError = (code: number, msg: string) => new OfError(OFPET_BUNDLE_FAILED, code, msg);

/** Whether a message is a bundle message, and where its body starts. */
export function bundleKind(msg: Buffer): { control: boolean; body: number } | null {
  const { type, version } = readHeader(msg);
  if (version >= 5 && (type === OFPT14_BUNDLE_CONTROL || type === OFPT14_BUNDLE_ADD_MESSAGE)) return { control: type === OFPT14_BUNDLE_CONTROL, body: 8 };
  if (type === OFPT_EXPERIMENTER && msg.length >= 16 && msg.readUInt32BE(8) === ONF_VENDOR) {
    const t = msg.readUInt32BE(12);
    if (t === ONFT_BUNDLE_CONTROL || t === ONFT_BUNDLE_ADD_MESSAGE) return { control: t === ONFT_BUNDLE_CONTROL, body: 16 };
  }
  return null;
}

export class Bundles {
  private readonly open = new Map<number, { closed: boolean; mods: FlowMod[] }>();

  constructor(private readonly br: OfBridge) {}

  /** Handle one bundle message; returns the reply to send (if any). */
  handle(msg: Buffer, kind: { control: boolean; body: number }): Buffer | null {
    const h = readHeader(msg);
    if (msg.length < kind.body + 8) throw new OfError(OFPET_BAD_REQUEST, 6, 'bundle message truncated');
    const id = msg.readUInt32BE(kind.body);
    if (!kind.control) {
      const b = this.open.get(id);
      if (!b) throw bundleError(OFPBFC_BAD_ID, `bundle ${id} is not open`);
      if (b.closed) throw bundleError(OFPBFC_BUNDLE_CLOSED, `bundle ${id} is closed`);
      const inner = msg.subarray(kind.body + 8);
      if (inner.length < 8 || inner.readUInt16BE(2) > inner.length) throw new OfError(OFPET_BAD_REQUEST, 6, 'bundled message truncated');
      const m = Buffer.from(inner.subarray(0, inner.readUInt16BE(2)));
      if (m[1] !== OFPT_FLOW_MOD) throw bundleError(OFPBFC_MSG_UNSUP, 'only flow mods may be bundled');
      b.mods.push(decodeFlowMod(m));
      return null;
    }
    const type = msg.readUInt16BE(kind.body + 4), flags = msg.readUInt16BE(kind.body + 6);
    switch (type) {
      case OPEN:
        if (this.open.has(id)) throw bundleError(OFPBFC_BUNDLE_EXIST, `bundle ${id} is already open`);
        this.open.set(id, { closed: false, mods: [] });
        break;
      case CLOSE: {
        const b = this.open.get(id);
        if (!b) throw bundleError(OFPBFC_BAD_ID, `bundle ${id} is not open`);
        b.closed = true;
        break;
      }
      case COMMIT: {
        const b = this.open.get(id);
        if (!b) throw bundleError(OFPBFC_BAD_ID, `bundle ${id} is not open`);
        this.open.delete(id);
        this.br.flowMods(b.mods);
        break;
      }
      case DISCARD:
        if (!this.open.delete(id)) throw bundleError(OFPBFC_BAD_ID, `bundle ${id} is not open`);
        break;
      default:
        throw bundleError(OFPBFC_BAD_TYPE, `bundle control type ${type}`);
    }
    // The reply: the same control message with the reply type (request + 1).
    const w: Writer = startMsg(h.version, h.type, h.xid);
    w.bytes(msg.subarray(8, kind.body)).u32(id).u16(type + 1).u16(flags);
    return finishMsg(w);
  }
}
