// Action lists on the wire (OpenFlow 1.3 ofp_action_*, with Nicira
// extensions from nx-actions.ts) <-> the swd action model. Encoding follows
// OVS's choices for OpenFlow 1.2-1.4: a whole-field set_field is
// OFPAT_SET_FIELD, a masked one becomes one reg_load per run of mask bits,
// OpenFlow 1.0 rewrites (mod_dl_src, mod_tp_src, ...) become set_field,
// output to CONTROLLER with the defaults is OFPAT_OUTPUT. Decoding refuses
// what OVS refuses: unknown type OFPBAC_BAD_TYPE, bad length
// OFPBAC_BAD_LEN, unknown experimenter OFPBAC_BAD_EXPERIMENTER, a set_field
// of an unknown or read-only field OFPBAC_BAD_SET_TYPE.

import { FK_NW_PROTO, FK_VLAN_TCI } from '../packet/flow-key.ts';
import { OFPP_CONTROLLER, type OfAction } from '../ofproto/actions.ts';
import { ipv4FromText } from '../packet/addr.ts';
import { lookupField } from '../ofproto/fields.ts';
import type { Match } from '../ofproto/match.ts';
import { Reader, Writer } from './buffer.ts';
import {
  OFPBAC_BAD_ARGUMENT, OFPBAC_BAD_EXPERIMENTER, OFPBAC_BAD_LEN, OFPBAC_BAD_OUT_PORT, OFPBAC_BAD_SET_ARGUMENT,
  OFPBAC_BAD_SET_LEN, OFPBAC_BAD_SET_TYPE, OFPBAC_BAD_TYPE, OFPET_BAD_ACTION, OfError,
} from './errors.ts';
import { checkWritable, decodeCopyFieldBody, decodeOnfCopyField, ONF_ET_COPY_FIELD, type NestedCodec } from './nx-actions.ts';
import { decodeNx as decodeNxAction, encodeNx as encodeNxAction } from './nx-actions-more.ts';
import { expError, OFPBAC_BAD_SET_MASK, OFPBIC_UNSUP_INST, OFPET_BAD_INSTRUCTION, ONF_VENDOR } from './errors.ts';
import { NX_EXPERIMENTER_ID, pullHeader, putHeader, refWireField } from './oxm.ts';
import { portFromOf11, portToOf11 } from './ports.ts';

export const OFPAT_OUTPUT = 0;
export const OFPAT_PUSH_VLAN = 17;
export const OFPAT_SET_QUEUE = 21;
export const OFPAT_POP_VLAN = 18;
export const OFPAT_GROUP = 22;
export const OFPAT_SET_NW_TTL = 23;
export const OFPAT_DEC_NW_TTL = 24;
export const OFPAT_SET_FIELD = 25;
export const OFPAT15_COPY_FIELD = 28;
export const OFPAT15_METER = 29;
export const OFPAT_EXPERIMENTER = 0xffff;

/** What encoding needs to know besides the actions: the version and the flow's match. */
export interface ActionContext {
  version: number;
  /** The flow's match (for mod_tp_src's protocol and whether a VLAN tag is present). */
  match: Match | null;
}

const bad = (code: number, msg: string) => new OfError(OFPET_BAD_ACTION, code, msg);

function putSetField(w: Writer, field: string, value: bigint, mask: bigint | null = null): void {
  const wf = refWireField(field, true);
  if (!wf) throw bad(OFPBAC_BAD_SET_TYPE, `set_field of ${field} has no OXM`);
  const at = w.len;
  w.u16(OFPAT_SET_FIELD).u16(0);
  let v = value;
  if (wf.conv === 'vid') v = (value & 0xfffn) | 0x1000n; // OFPVID_PRESENT
  else if (wf.conv === 'in_port32') v = BigInt(portToOf11(Number(value)));
  putHeader(w, wf, mask !== null);
  w.uint(mask !== null ? v & mask : v, wf.bytes);
  if (mask !== null) w.uint(mask, wf.bytes);
  w.pad(8, at);
  w.put16(at + 2, w.len - at);
}

/**
 * OpenFlow 1.5 has no reg_load: a partial write is a masked set_field (as
 * OVS sends it); false when the field has no plain OXM form to mask.
 */
function putMaskedSetField15(w: Writer, field: string, value: bigint, mask: bigint): boolean {
  const wf = refWireField(field, true);
  const def = lookupField(field);
  if (!wf || !def || wf.conv || wf.bytes * 8 < def.bits) return false;
  const full = (1n << BigInt(def.bits)) - 1n;
  putSetField(w, field, value & mask, mask === full ? null : mask);
  return true;
}

function refWireFieldOrBad(field: string) {
  const wf = refWireField(field, false);
  if (!wf) throw bad(OFPBAC_BAD_ARGUMENT, `field ${field} has no OXM header`);
  return wf;
}

function l4Field(ctx: ActionContext, dir: 'src' | 'dst'): string {
  const m = ctx.match;
  const proto = m && m.mask[FK_NW_PROTO] & 0xff ? m.value[FK_NW_PROTO] : -1;
  if (proto === 6) return `tcp_${dir}`;
  if (proto === 17) return `udp_${dir}`;
  if (proto === 132) return `sctp_${dir}`;
  throw bad(OFPBAC_BAD_ARGUMENT, `mod_tp_${dir} needs a tcp, udp or sctp match`);
}

const hasVlan = (ctx: ActionContext) => !!ctx.match && (ctx.match.mask[FK_VLAN_TCI] & 0x1000) !== 0 && (ctx.match.value[FK_VLAN_TCI] & 0x1000) !== 0;

function macBig(mac: string): bigint {
  return BigInt(`0x${mac.replace(/:/g, '')}`);
}

function encodeOne(w: Writer, a: OfAction, ctx: ActionContext, nested: NestedCodec): void {
  switch (a.type) {
    case 'output':
      if (a.port !== OFPP_CONTROLLER && a.maxLen !== undefined && a.maxLen !== 65535) {
        encodeNxAction(w, a, nested);
        return;
      }
      w.u16(OFPAT_OUTPUT).u16(16).u32(portToOf11(a.port)).u16(a.port === OFPP_CONTROLLER ? (a.maxLen ?? 65535) : 0).zeros(6);
      return;
    case 'controller':
      if (a.reason === undefined && a.id === undefined && a.userdata === undefined && !a.pause && a.meterId === undefined) {
        w.u16(OFPAT_OUTPUT).u16(16).u32(portToOf11(OFPP_CONTROLLER)).u16(a.maxLen).zeros(6);
        return;
      }
      encodeNxAction(w, a, nested);
      return;
    case 'set_queue':
      w.u16(OFPAT_SET_QUEUE).u16(8).u32(a.queue);
      return;
    case 'enqueue':
      // OpenFlow 1.1+ has no enqueue: OVS sends set_queue, output, pop_queue.
      w.u16(OFPAT_SET_QUEUE).u16(8).u32(a.queue);
      w.u16(OFPAT_OUTPUT).u16(16).u32(portToOf11(a.port)).u16(65535).zeros(6);
      encodeNxAction(w, { type: 'pop_queue' }, nested);
      return;
    case 'group':
      w.u16(OFPAT_GROUP).u16(8).u32(a.groupId);
      return;
    case 'push_vlan':
      w.u16(OFPAT_PUSH_VLAN).u16(8).u16(a.ethertype).zeros(2);
      return;
    case 'pop_vlan': case 'strip_vlan':
      w.u16(OFPAT_POP_VLAN).u16(8).zeros(4);
      return;
    case 'mod_nw_ttl':
      w.u16(OFPAT_SET_NW_TTL).u16(8).u8(a.ttl).zeros(3);
      return;
    case 'dec_ttl':
      if (!a.ids) {
        w.u16(OFPAT_DEC_NW_TTL).u16(8).zeros(4);
        return;
      }
      encodeNxAction(w, a, nested);
      return;
    case 'move':
      if (ctx.version >= 6) {
        // OpenFlow 1.5's copy_field: n_bits, offsets, then the two OXM headers.
        const at = w.len;
        w.u16(OFPAT15_COPY_FIELD).u16(0).u16(a.src.nbits).u16(a.src.ofs).u16(a.dst.ofs).zeros(2);
        putHeader(w, refWireFieldOrBad(a.src.field), false);
        putHeader(w, refWireFieldOrBad(a.dst.field), false);
        w.pad(8, at);
        w.put16(at + 2, w.len - at);
        return;
      }
      encodeNxAction(w, a, nested);
      return;
    case 'load':
      if (ctx.version >= 6) {
        const m = ((1n << BigInt(a.dst.nbits)) - 1n) << BigInt(a.dst.ofs);
        if (putMaskedSetField15(w, a.dst.field, a.value << BigInt(a.dst.ofs), m)) return;
      }
      encodeNxAction(w, a, nested);
      return;
    case 'set_field': {
      const def = lookupField(a.field);
      const full = def ? (1n << BigInt(def.bits)) - 1n : 0n;
      if (a.mask === null || a.mask === full) {
        putSetField(w, a.field, a.value);
        return;
      }
      if (ctx.version >= 6 && putMaskedSetField15(w, a.field, a.value, a.mask)) return;
      // A partial set_field: one reg_load per contiguous run of mask bits (OVS's set_field_to_nxast).
      for (let bit = 0; bit < def!.bits; ) {
        if (!((a.mask >> BigInt(bit)) & 1n)) {
          bit++;
          continue;
        }
        let end = bit;
        while (end + 1 < def!.bits && (a.mask >> BigInt(end + 1)) & 1n) end++;
        const n = end - bit + 1;
        encodeNxAction(w, { type: 'load', value: (a.value >> BigInt(bit)) & ((1n << BigInt(n)) - 1n), dst: { field: a.field, ofs: bit, nbits: n } }, nested);
        bit = end + 1;
      }
      return;
    }
    case 'mod_dl_src': putSetField(w, 'eth_src', macBig(a.mac)); return;
    case 'mod_dl_dst': putSetField(w, 'eth_dst', macBig(a.mac)); return;
    case 'mod_nw_src': case 'mod_nw_dst': {
      const v = ipv4FromText(a.addr);
      if (v === null) throw bad(OFPBAC_BAD_ARGUMENT, `${a.type}: ${a.addr}`);
      putSetField(w, a.type === 'mod_nw_src' ? 'nw_src' : 'nw_dst', BigInt(v >>> 0));
      return;
    }
    case 'mod_tp_src': putSetField(w, l4Field(ctx, 'src'), BigInt(a.port)); return;
    case 'mod_tp_dst': putSetField(w, l4Field(ctx, 'dst'), BigInt(a.port)); return;
    case 'mod_nw_tos': putSetField(w, 'ip_dscp', BigInt(a.tos >> 2)); return;
    case 'mod_nw_ecn': putSetField(w, 'nw_ecn', BigInt(a.ecn)); return;
    case 'mod_vlan_vid': case 'mod_vlan_pcp':
      // OpenFlow 1.0's mod_vlan_* tags an untagged packet first.
      if (!hasVlan(ctx)) w.u16(OFPAT_PUSH_VLAN).u16(8).u16(0x8100).zeros(2);
      if (a.type === 'mod_vlan_vid') putSetField(w, 'dl_vlan', BigInt(a.vid));
      else putSetField(w, 'dl_vlan_pcp', BigInt(a.pcp));
      return;
    case 'meter':
      // OpenFlow 1.5's meter action; before it, instructions.ts writes the meter instruction.
      if (ctx.version < 6) throw bad(OFPBAC_BAD_TYPE, 'meter is an instruction before OpenFlow 1.5');
      w.u16(OFPAT15_METER).u16(8).u32(a.meterId);
      return;
    case 'goto_table': case 'write_metadata': case 'clear_actions':
      throw bad(OFPBAC_BAD_TYPE, `${a.type} is an instruction, not an action`);
    default:
      if (!encodeNxAction(w, a, nested)) throw bad(OFPBAC_BAD_TYPE, `action ${a.type} has no OpenFlow encoding in swd`);
  }
}

function decodeSetField(r: Reader, nested: NestedCodec): OfAction {
  const h = pullHeader(r);
  if (!h.wf || h.wf.conv === 'packet_type') throw bad(OFPBAC_BAD_SET_TYPE, `set_field of unknown field class 0x${h.cls.toString(16)} field ${h.field}`);
  const wf = h.wf;
  // Only OpenFlow 1.5 may mask a set_field (OVS: OFPBAC_BAD_SET_MASK before it).
  if (h.hasMask && ((nested.version ?? 4) < 6 || !wf.maskable || wf.conv)) throw expError(OFPBAC_BAD_SET_MASK, `set_field of ${wf.name} with a mask`);
  if (h.len !== wf.bytes * (h.hasMask ? 2 : 1)) throw bad(OFPBAC_BAD_SET_LEN, `set_field of ${wf.name}: bad length`);
  let v = r.uint(wf.bytes);
  const mask = h.hasMask ? r.uint(wf.bytes) : null;
  if (r.left && !r.buf.subarray(r.pos, r.end).every((b) => b === 0)) throw bad(OFPBAC_BAD_SET_ARGUMENT, 'set_field padding is not zero');
  let name = wf.name;
  if (wf.conv === 'vid') {
    if (!(v & 0x1000n)) throw bad(OFPBAC_BAD_SET_ARGUMENT, 'set_field vlan_vid without OFPVID_PRESENT');
    v &= 0xfffn;
    name = 'dl_vlan';
  } else if (wf.conv === 'in_port32') {
    const p = portFromOf11(Number(v));
    if (p === null) throw bad(OFPBAC_BAD_SET_ARGUMENT, 'set_field in_port out of range');
    v = BigInt(p);
  } else if (wf.conv === 'frag' || wf.conv === 'dscp_tos') throw bad(OFPBAC_BAD_SET_TYPE, `${wf.name} is not writable`);
  const def = lookupField(name);
  if (!def || !def.writable) throw bad(OFPBAC_BAD_SET_TYPE, `${name} is not writable`);
  checkWritable(name, nested);
  if (v >> BigInt(def.bits) || (mask !== null && mask >> BigInt(def.bits))) throw bad(OFPBAC_BAD_SET_ARGUMENT, `set_field value too wide for ${name}`);
  if (mask !== null && v & ~mask) throw bad(OFPBAC_BAD_SET_ARGUMENT, `set_field value has bits outside its mask`);
  const full = (1n << BigInt(def.bits)) - 1n;
  return { type: 'set_field', field: name, value: v, mask: mask === null || mask === full ? null : mask };
}

function decodeOne(r: Reader, nested: NestedCodec): OfAction {
  const type = r.u16(), len = r.u16();
  if (len < 8 || len % 8 || len - 4 > r.left) throw bad(OFPBAC_BAD_LEN, `action type ${type}: length ${len}`);
  const b = r.sub(len - 4, () => bad(OFPBAC_BAD_LEN, `action type ${type}: truncated`));
  const fixed = (n: number) => {
    if (len !== n) throw bad(OFPBAC_BAD_LEN, `action type ${type}: length ${len}, expected ${n}`);
  };
  switch (type) {
    case OFPAT_OUTPUT: {
      fixed(16);
      const p = portFromOf11(b.u32());
      const maxLen = b.u16();
      if (p === null || (p >= 0xff00 && p < 0xfff8) || p === 0xffff) throw bad(OFPBAC_BAD_OUT_PORT, 'output to an invalid port');
      if (p === OFPP_CONTROLLER) return { type: 'controller', maxLen };
      return { type: 'output', port: p };
    }
    case OFPAT_SET_QUEUE:
      fixed(8);
      return { type: 'set_queue', queue: b.u32() };
    case OFPAT_GROUP:
      fixed(8);
      return { type: 'group', groupId: b.u32() };
    case OFPAT_PUSH_VLAN: {
      fixed(8);
      const ethertype = b.u16();
      if (ethertype !== 0x8100 && ethertype !== 0x88a8) throw bad(OFPBAC_BAD_ARGUMENT, `push_vlan ethertype 0x${ethertype.toString(16)}`);
      return { type: 'push_vlan', ethertype };
    }
    case OFPAT_POP_VLAN:
      fixed(8);
      return { type: 'pop_vlan' };
    case OFPAT_SET_NW_TTL:
      fixed(8);
      return { type: 'mod_nw_ttl', ttl: b.u8() };
    case OFPAT_DEC_NW_TTL:
      fixed(8);
      return { type: 'dec_ttl' };
    case OFPAT_SET_FIELD:
      return decodeSetField(b, nested);
    case OFPAT15_COPY_FIELD: {
      if ((nested.version ?? 4) < 6) throw bad(OFPBAC_BAD_TYPE, 'copy_field before OpenFlow 1.5');
      return decodeCopyFieldBody(b, nested);
    }
    case OFPAT15_METER:
      if ((nested.version ?? 4) < 6) throw bad(OFPBAC_BAD_TYPE, 'meter action before OpenFlow 1.5');
      fixed(8);
      return { type: 'meter', meterId: b.u32() };
    case OFPAT_EXPERIMENTER: {
      if (len < 16) throw bad(OFPBAC_BAD_LEN, 'experimenter action shorter than 16 bytes');
      const vendor = b.u32();
      if (vendor === ONF_VENDOR) {
        const t = b.u16();
        if (t === ONF_ET_COPY_FIELD) return decodeOnfCopyField(b, nested);
        throw bad(3, `unknown ONF action ${t}`);
      }
      if (vendor !== NX_EXPERIMENTER_ID) throw bad(OFPBAC_BAD_EXPERIMENTER, `experimenter 0x${vendor.toString(16)}`);
      return decodeNxAction(b.u16(), b, nested);
    }
    default:
      throw bad(OFPBAC_BAD_TYPE, `unknown action type ${type}`);
  }
}

/** The action-list codec for one version; ct's exec() uses its `ctExec` twin. */
export function actionCodec(ctx: ActionContext, inCtExec = false, outer?: NestedCodec): NestedCodec {
  const codec: NestedCodec = {
    inCtExec,
    version: ctx.version,
    get ctExec(): NestedCodec {
      return inCtExec ? codec : actionCodec(ctx, true, codec);
    },
    encode(w, acts) {
      for (const a of acts) encodeOne(w, a, ctx, codec);
    },
    decode(r) {
      const out: OfAction[] = [];
      while (r.left > 0) {
        if (r.left < 4) throw bad(OFPBAC_BAD_LEN, 'action header truncated');
        out.push(decodeOne(r, codec));
      }
      return out;
    },
  };
  void outer;
  return codec;
}

export function encodeActions(w: Writer, acts: OfAction[], ctx: ActionContext): void {
  actionCodec(ctx).encode(w, acts);
}

/**
 * Decode actions filling `r` to its end. Outside an instruction list (a
 * packet-out, an OpenFlow 1.0 flow) write_metadata is refused as OVS does.
 */
export function decodeActions(r: Reader, ctx: ActionContext, inInstructions = false): OfAction[] {
  const acts = actionCodec(ctx).decode(r);
  if (!inInstructions && acts.some((a) => a.type === 'write_metadata')) {
    throw new OfError(OFPET_BAD_INSTRUCTION, OFPBIC_UNSUP_INST, 'write_metadata instruction not allowed here');
  }
  return acts;
}
