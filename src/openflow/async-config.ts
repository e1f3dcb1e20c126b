// Which asynchronous messages a connection receives (OpenFlow's "async
// config", OVS's ofputil_async_cfg): per role (primary = master or equal,
// secondary = slave) a bit mask of reasons for each message type. The
// messages that set and read it, as OVS encodes them (lib/ofp-connection.c):
// OpenFlow 1.3's OFPT_SET_ASYNC / GET_ASYNC_REPLY and Nicira's
// NXT_SET_ASYNC_CONFIG (three pairs of masks, primary first), OpenFlow
// 1.4+'s SET_ASYNC / GET_ASYNC_REPLY and NXT_SET_ASYNC_CONFIG2 (properties:
// type 2k for the secondary mask of message type k, 2k+1 for the primary).
//
// Packet-in reasons include OVS's two internal ones: a table-miss rule's
// controller action (EXPLICIT_MISS) and a miss without a rule
// (IMPLICIT_MISS, only below OpenFlow 1.3); a no_match bit covers both.

import { Reader } from './buffer.ts';
import { badLen, OfError } from './errors.ts';
import { finishMsg, startMsg } from './header.ts';
import { NX_EXPERIMENTER_ID } from './oxm.ts';

export const OAM_PACKET_IN = 0, OAM_PORT_STATUS = 1, OAM_FLOW_REMOVED = 2, OAM_ROLE_STATUS = 3, OAM_TABLE_STATUS = 4, OAM_REQUESTFORWARD = 5;
const OAM_N_TYPES = 6;

export const OFPR_NO_MATCH = 0, OFPR_ACTION = 1, OFPR_INVALID_TTL = 2, OFPR_ACTION_SET = 3, OFPR_GROUP = 4, OFPR_PACKET_OUT = 5;
/** OVS's internal packet-in reasons (never on the wire). */
export const OFPR_EXPLICIT_MISS = 6, OFPR_IMPLICIT_MISS = 7;

export const OFPT13_GET_ASYNC_REQUEST = 26, OFPT13_GET_ASYNC_REPLY = 27, OFPT13_SET_ASYNC = 28;
export const NXT_SET_ASYNC_CONFIG = 19, NXT_SET_ASYNC_CONFIG2 = 27;
export const OFPET_ASYNC_CONFIG_FAILED = 15;
export const OFPACFC_INVALID = 0, OFPACFC_UNSUPPORTED = 1;

const OFP13_VERSION = 4, OFP14_VERSION = 5;
const OFPR10_BITS = 0x7, OFPR14_BITS = 0x3f, OFPR14_ACTION_BITS = 0x38;
const OFPPR_BITS = 0x7;
const OFPRR10_BITS = 0x7, OFPRR13_BITS = 0xf, OFPRR14_BITS = 0x3f;

/** Masks of reasons per message type (index OAM_*). */
export interface AsyncConfig {
  readonly primary: readonly number[];
  readonly secondary: readonly number[];
}

/** What each message type's mask may hold: [below 1.4, 1.4+]. */
const ALLOWED: [number, number][] = [
  [OFPR10_BITS, OFPR14_BITS],
  [OFPPR_BITS, OFPPR_BITS],
  [0x3f, 0x3f], // flow removed: up to OVS_OFPRR_NONE
  [0x7, 0x7], // role status
  [0x18, 0x18], // table status: vacancy down/up
  [0x3, 0x3], // request forward
];

function allowed(type: number, version: number): number {
  return ALLOWED[type][version >= OFP14_VERSION ? 1 : 0];
}

/** OVS's default for a connection of this version (ofputil_async_cfg_default). */
export function defaultAsyncConfig(version: number): AsyncConfig {
  let pin = (OFPR14_BITS & ~(1 << OFPR_INVALID_TTL)) | (1 << OFPR_EXPLICIT_MISS);
  if (version < OFP13_VERSION) pin |= 1 << OFPR_IMPLICIT_MISS;
  const fr = version >= OFP14_VERSION ? OFPRR14_BITS : version === OFP13_VERSION ? OFPRR13_BITS : OFPRR10_BITS;
  return { primary: [pin, OFPPR_BITS, fr, 0, 0, 0], secondary: [0, OFPPR_BITS, 0, 0, 0, 0] };
}

const DEFAULTS = new Map([1, 4, 5, 6].map((v) => [v, defaultAsyncConfig(v)]));

/** The default, shared (callers must not change it). */
export function defaultFor(version: number): AsyncConfig {
  return DEFAULTS.get(version) ?? defaultAsyncConfig(version);
}

/** Whether a connection with this config and role gets a message of `type` for `reason`. */
export function receivesAsync(cfg: AsyncConfig, secondary: boolean, type: number, reason: number): boolean {
  return ((secondary ? cfg.secondary : cfg.primary)[type] & (1 << reason)) !== 0;
}

/** A packet-in reason as the wire of this version says it (OVS's encode_packet_in_reason). */
export function wireReason(reason: number, version: number): number {
  if (reason === OFPR_EXPLICIT_MISS) return version < OFP13_VERSION ? OFPR_ACTION : OFPR_NO_MATCH;
  if (reason === OFPR_IMPLICIT_MISS) return OFPR_NO_MATCH;
  if (reason >= OFPR_ACTION_SET && reason <= OFPR_PACKET_OUT && version < OFP14_VERSION) return OFPR_ACTION;
  return reason;
}

/** Store a decoded mask: a no_match bit stands for both misses (IMPLICIT only below 1.3). */
function setMask(dst: number[], type: number, mask: number, version: number): void {
  if (type === OAM_PACKET_IN && mask & (1 << OFPR_NO_MATCH)) {
    mask |= 1 << OFPR_EXPLICIT_MISS;
    if (version < OFP13_VERSION) mask |= 1 << OFPR_IMPLICIT_MISS;
  }
  dst[type] = mask >>> 0;
}

/** As OVS stores a config below 1.4: the action bit includes the 1.4 refinements of "action". */
function widen(c: { primary: number[]; secondary: number[] }, version: number): AsyncConfig {
  if (version < OFP14_VERSION) {
    for (const a of [c.primary, c.secondary]) if (a[OAM_PACKET_IN] & (1 << OFPR_ACTION)) a[OAM_PACKET_IN] |= OFPR14_ACTION_BITS;
  }
  return c;
}

/** Where a message's body starts: 8 (OFPT_*), 16 (Nicira). */
function bodyAt(msg: Buffer): number {
  if (msg.length < 8 || msg.readUInt16BE(2) > msg.length) throw badLen('set_async');
  if (msg[1] !== 4) return 8;
  if (msg.length < 16 || msg.readUInt32BE(8) !== NX_EXPERIMENTER_ID) throw badLen('set_async');
  return 16;
}

/**
 * Decode a SET_ASYNC (any form) against `basis` (the connection's current
 * config; the property forms change only what they name). Legacy masks drop
 * unknown bits silently (OVS: loose); properties refuse them.
 */
export function decodeSetAsync(msg: Buffer, basis: AsyncConfig): AsyncConfig {
  const version = msg[0];
  const at = bodyAt(msg);
  const len = msg.readUInt16BE(2);
  const r = new Reader(msg, at, len, () => badLen('set_async'));
  const nx = at === 16 ? msg.readUInt32BE(12) : -1;
  if (nx === NXT_SET_ASYNC_CONFIG || (nx === -1 && version < OFP14_VERSION)) {
    if (r.left !== 24) throw badLen('set_async');
    const c = { primary: [0, 0, 0, 0, 0, 0], secondary: [0, 0, 0, 0, 0, 0] };
    for (const type of [OAM_PACKET_IN, OAM_PORT_STATUS, OAM_FLOW_REMOVED]) {
      setMask(c.primary, type, r.u32() & allowed(type, version), version);
      setMask(c.secondary, type, r.u32() & allowed(type, version), version);
    }
    return widen(c, version);
  }
  const c = { primary: [...basis.primary], secondary: [...basis.secondary] };
  while (r.left) {
    if (r.left < 4) throw badLen('async config property');
    const type = r.u16(), plen = r.u16();
    if (plen < 4 || plen - 4 > r.left) throw badLen('async config property');
    const body = r.sub(plen - 4);
    r.skip(Math.min(r.left, ((plen + 7) & ~7) - plen));
    const oam = type >> 1;
    if (oam >= OAM_N_TYPES) throw new OfError(OFPET_ASYNC_CONFIG_FAILED, OFPACFC_UNSUPPORTED, `unknown async config property type ${type}`);
    if (body.left !== 4) throw badLen('async config property');
    const mask = body.u32();
    if (mask & ~allowed(oam, version)) {
      throw new OfError(OFPET_ASYNC_CONFIG_FAILED, OFPACFC_INVALID, `bad value 0x${mask.toString(16)} for async message type ${oam} (allowed mask 0x${allowed(oam, version).toString(16)})`);
    }
    setMask(type & 1 ? c.primary : c.secondary, oam, mask, version);
  }
  return widen(c, version);
}

/** GET_ASYNC_REPLY: 1.3's three pairs of masks, 1.4+'s twelve properties (secondary, then primary, per type). */
export function encodeGetAsyncReply(version: number, xid: number, cfg: AsyncConfig): Buffer {
  const w = startMsg(version, OFPT13_GET_ASYNC_REPLY, xid);
  if (version < OFP14_VERSION) {
    for (const type of [OAM_PACKET_IN, OAM_PORT_STATUS, OAM_FLOW_REMOVED]) w.u32(cfg.primary[type] & allowed(type, version)).u32(cfg.secondary[type] & allowed(type, version));
  } else {
    for (let t = 0; t < OAM_N_TYPES; t++) {
      w.u16(2 * t).u16(8).u32(cfg.secondary[t] & allowed(t, version));
      w.u16(2 * t + 1).u16(8).u32(cfg.primary[t] & allowed(t, version));
    }
  }
  return finishMsg(w);
}

/** SET_ASYNC as ovs-ofctl sends it: 1.4+ properties for every type, 1.3's OFPT_SET_ASYNC, NXT_SET_ASYNC_CONFIG below. */
export function encodeSetAsync(version: number, xid: number, cfg: AsyncConfig): Buffer {
  if (version >= OFP14_VERSION) {
    const w = startMsg(version, OFPT13_SET_ASYNC, xid);
    for (let t = 0; t < OAM_N_TYPES; t++) {
      w.u16(2 * t).u16(8).u32(cfg.secondary[t] & allowed(t, version));
      w.u16(2 * t + 1).u16(8).u32(cfg.primary[t] & allowed(t, version));
    }
    return finishMsg(w);
  }
  const w = version >= OFP13_VERSION ? startMsg(version, OFPT13_SET_ASYNC, xid) : startMsg(version, 4, xid).u32(NX_EXPERIMENTER_ID).u32(NXT_SET_ASYNC_CONFIG);
  for (const type of [OAM_PACKET_IN, OAM_PORT_STATUS, OAM_FLOW_REMOVED]) w.u32(cfg.primary[type] & allowed(type, version)).u32(cfg.secondary[type] & allowed(type, version));
  return finishMsg(w);
}
