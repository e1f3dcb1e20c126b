// Nicira extension actions (experimenter 0x00002320) <-> the swd action
// model: resubmit (and its table/ct forms), reg_load, reg_move, note,
// output_reg, controller, controller2, dec_ttl_cnt_ids, output_trunc, ct,
// nat and ct_clear, with the layouts of OVS's lib/ofp-actions.c. Nested
// actions (ct's exec) go through the caller's codec (`nested`), so this
// file needs no import of the action list codec.

import type { CtAction, FieldRef, NatSpec, OfAction } from '../ofproto/actions.ts';
import { OFPP_IN_PORT } from '../ofproto/actions.ts';
import { lookupField } from '../ofproto/fields.ts';
import { ipv4Str, ipv6Str } from '../packet/odp-format.ts';
import { ipv4FromText, ipv6FromText } from '../packet/addr.ts';
import { Reader, Writer } from './buffer.ts';
import { expError, NXBRC_MUST_BE_ZERO, OFPBAC_BAD_ARGUMENT, OFPBAC_BAD_EXP_TYPE, OFPBAC_BAD_LEN, OFPBAC_BAD_SET_ARGUMENT, OFPBAC_BAD_SET_LEN, OFPET_BAD_ACTION, OfError } from './errors.ts';
import { headerWord, NX_EXPERIMENTER_ID, pullHeader, putHeader, refWireField, type WireField } from './oxm.ts';

export const NXAST_RESUBMIT = 1;
export const NXAST_REG_MOVE = 6;
export const NXAST_REG_LOAD = 7;
export const NXAST_NOTE = 8;
export const NXAST_RESUBMIT_TABLE = 14;
export const NXAST_OUTPUT_REG = 15;
export const NXAST_DEC_TTL = 18;
export const NXAST_CONTROLLER = 20;
export const NXAST_DEC_TTL_CNT_IDS = 21;
export const NXAST_OUTPUT_REG2 = 32;
export const NXAST_REG_LOAD2 = 33;
export const NXAST_CT = 35;
export const NXAST_NAT = 36;
export const NXAST_CONTROLLER2 = 37;
export const NXAST_OUTPUT_TRUNC = 39;
export const NXAST_CT_CLEAR = 43;
export const NXAST_RESUBMIT_TABLE_CT = 44;

export const NX_CT_F_COMMIT = 1;
export const NX_CT_F_FORCE = 2;
export const NX_CT_RECIRC_NONE = 0xff;
const NX_NAT_F_SRC = 1, NX_NAT_F_DST = 2, NX_NAT_F_PERSISTENT = 4, NX_NAT_F_PROTO_HASH = 8, NX_NAT_F_PROTO_RANDOM = 16;
const RANGE_V4_MIN = 1, RANGE_V4_MAX = 2, RANGE_V6_MIN = 4, RANGE_V6_MAX = 8, RANGE_PROTO_MIN = 16, RANGE_PROTO_MAX = 32;

export const CONTROLLER_REASONS = ['no_match', 'action', 'invalid_ttl', 'action_set', 'group', 'packet_out'];
const OFPR_ACTION = 1;
const ALG_PORTS: Record<string, number> = { ftp: 21, tftp: 69 };

export interface NestedCodec {
  encode(w: Writer, acts: OfAction[]): void;
  decode(r: Reader): OfAction[];
  /** The codec for ct's exec(): the only place ct_mark and ct_label may be written. */
  readonly ctExec: NestedCodec;
  readonly inCtExec: boolean;
  /** The OpenFlow version (1.5 carries masked set_field instead of reg_load). */
  readonly version?: number;
}

export const NXAST_GROUP = 40;
export const NXAST_WRITE_METADATA = 22;
export const ONF_ET_COPY_FIELD = 3200;
const CT_WRITABLE = new Set(['ct_mark', 'ct_label']);

const bad = (code: number, msg: string) => new OfError(OFPET_BAD_ACTION, code, msg);
const badLen = (what: string) => bad(OFPBAC_BAD_LEN, `${what}: bad length`);

/** Start an NX action; returns its offset for `endNx`. */
export function startNx(w: Writer, subtype: number): number {
  const at = w.len;
  w.u16(0xffff).u16(0).u32(NX_EXPERIMENTER_ID).u16(subtype);
  return at;
}

export function endNx(w: Writer, at: number): void {
  w.pad(8, at);
  w.put16(at + 2, w.len - at);
}

export const ofsNbits = (ofs: number, nbits: number) => (ofs << 6) | (nbits - 1);

export function refField(ref: FieldRef, what: string): WireField {
  const wf = refWireField(ref.field, false);
  if (!wf) throw bad(OFPBAC_BAD_ARGUMENT, `${what}: field ${ref.field} has no NXM header`);
  return wf;
}

function putRefHeader(w: Writer, wf: WireField): void {
  putHeader(w, wf, false);
}

/** A field reference read from an NXM header plus offset/width, checked against the field's width. */
export function pullRef(r: Reader, ofs: number, nbits: number, what: string): FieldRef {
  const h = pullHeader(r);
  if (!h.wf) throw bad(OFPBAC_BAD_ARGUMENT, `${what}: unknown field`);
  if (h.hasMask) throw bad(OFPBAC_BAD_SET_ARGUMENT, `${what}: masked field header`);
  const name = h.wf.conv === 'vid' ? 'vlan_tci' : h.wf.name;
  const def = lookupField(name);
  if (!def || ofs + nbits > def.bits || nbits < 1) throw bad(OFPBAC_BAD_SET_ARGUMENT, `${what}: bits ${ofs}+${nbits} outside ${name}`);
  return { field: name, ofs, nbits };
}

export function fromNbits(v: number): [number, number] {
  return [v >>> 6, (v & 0x3f) + 1];
}

// ------------------------------------------------------------------ encode

/** Encode one action as an NX action; false when it is not one. */
export function encodeNxAction(w: Writer, a: OfAction, nested: NestedCodec): boolean {
  switch (a.type) {
    case 'resubmit': {
      if (a.table === null && !a.ct && a.port !== null && a.port !== OFPP_IN_PORT) {
        const at = startNx(w, NXAST_RESUBMIT);
        w.u16(a.port).zeros(4);
        endNx(w, at);
      } else {
        const at = startNx(w, a.ct ? NXAST_RESUBMIT_TABLE_CT : NXAST_RESUBMIT_TABLE);
        w.u16(a.port ?? OFPP_IN_PORT).u8(a.table ?? 0xff).zeros(3);
        endNx(w, at);
      }
      return true;
    }
    case 'load': {
      if (a.dst.nbits > 64) throw bad(OFPBAC_BAD_ARGUMENT, 'load of more than 64 bits');
      const at = startNx(w, NXAST_REG_LOAD);
      w.u16(ofsNbits(a.dst.ofs, a.dst.nbits));
      putRefHeader(w, refField(a.dst, 'load'));
      w.u64(a.value);
      endNx(w, at);
      return true;
    }
    case 'move': {
      const at = startNx(w, NXAST_REG_MOVE);
      w.u16(a.src.nbits).u16(a.src.ofs).u16(a.dst.ofs);
      putRefHeader(w, refField(a.src, 'move'));
      putRefHeader(w, refField(a.dst, 'move'));
      endNx(w, at);
      return true;
    }
    case 'note': {
      const at = startNx(w, NXAST_NOTE);
      w.bytes(a.bytes);
      if (w.len - at < 16) w.zeros(16 - (w.len - at));
      endNx(w, at);
      return true;
    }
    case 'output_reg': {
      const wf = refField(a.src, 'output_reg');
      if (wf.exp !== undefined) {
        const at = startNx(w, NXAST_OUTPUT_REG2);
        w.u16(ofsNbits(a.src.ofs, a.src.nbits)).u16(a.maxLen ?? 65535);
        putRefHeader(w, wf);
        endNx(w, at);
      } else {
        const at = startNx(w, NXAST_OUTPUT_REG);
        w.u16(ofsNbits(a.src.ofs, a.src.nbits));
        putRefHeader(w, wf);
        w.u16(a.maxLen ?? 65535).zeros(6);
        endNx(w, at);
      }
      return true;
    }
    case 'output': {
      // Only output(port=P,max_len=N) to an ordinary port is an NX action (output_trunc).
      const at = startNx(w, NXAST_OUTPUT_TRUNC);
      w.u16(a.port).u32(a.maxLen ?? 0);
      endNx(w, at);
      return true;
    }
    case 'controller': {
      const reason = a.reason === undefined ? OFPR_ACTION : CONTROLLER_REASONS.indexOf(a.reason);
      if (reason < 0) throw bad(OFPBAC_BAD_ARGUMENT, `controller reason ${a.reason}`);
      if (a.userdata === undefined && !a.pause && a.meterId === undefined) {
        const at = startNx(w, NXAST_CONTROLLER);
        w.u16(a.maxLen).u16(a.id ?? 0).u8(reason).u8(0);
        endNx(w, at);
        return true;
      }
      const at = startNx(w, NXAST_CONTROLLER2);
      w.zeros(6);
      const prop = (type: number, body: (w: Writer) => void) => {
        const p = w.len;
        w.u16(type).u16(0);
        body(w);
        w.put16(p + 2, w.len - p);
        w.pad(8, p);
      };
      if (a.maxLen !== 65535) prop(0, (x) => x.u16(a.maxLen).zeros(2));
      if (a.id) prop(1, (x) => x.u16(a.id!).zeros(2));
      if (reason !== OFPR_ACTION) prop(2, (x) => x.u8(reason));
      if (a.userdata) prop(3, (x) => x.bytes(Buffer.from(a.userdata!.replace(/\./g, ''), 'hex')));
      if (a.pause) prop(4, () => {});
      if (a.meterId !== undefined) prop(5, (x) => x.u32(a.meterId!));
      endNx(w, at);
      return true;
    }
    case 'dec_ttl': {
      const at = startNx(w, NXAST_DEC_TTL_CNT_IDS);
      const ids = a.ids ?? [];
      w.u16(ids.length).zeros(4);
      for (const id of ids) w.u16(id);
      endNx(w, at);
      return true;
    }
    case 'ct': encodeCt(w, a, nested); return true;
    case 'ct_clear': {
      const at = startNx(w, NXAST_CT_CLEAR);
      w.zeros(6);
      endNx(w, at);
      return true;
    }
    default:
      return false;
  }
}

function encodeCt(w: Writer, a: CtAction, nested: NestedCodec): void {
  const at = startNx(w, NXAST_CT);
  w.u16((a.commit ? NX_CT_F_COMMIT : 0) | (a.force ? NX_CT_F_FORCE : 0));
  if (a.zoneSrc) {
    w.u32(headerWord(refField(a.zoneSrc, 'ct zone')));
    w.u16(ofsNbits(a.zoneSrc.ofs, a.zoneSrc.nbits));
  } else w.u32(0).u16(a.zone);
  w.u8(a.table ?? NX_CT_RECIRC_NONE).zeros(3);
  w.u16(a.alg ? ALG_PORTS[a.alg] ?? 0 : 0);
  const natW = new Writer();
  if (a.nat) encodeNat(natW, a.nat);
  if (a.nat && a.natFirst) w.bytes(natW.done());
  nested.ctExec.encode(w, a.exec);
  if (a.nat && !a.natFirst) w.bytes(natW.done());
  w.put16(at + 2, w.len - at);
}

function encodeNat(w: Writer, n: NatSpec): void {
  const at = startNx(w, NXAST_NAT);
  w.zeros(2);
  let flags = n.kind === 'src' ? NX_NAT_F_SRC : n.kind === 'dst' ? NX_NAT_F_DST : 0;
  if (n.persistent) flags |= NX_NAT_F_PERSISTENT;
  if (n.hash) flags |= NX_NAT_F_PROTO_HASH;
  if (n.random) flags |= NX_NAT_F_PROTO_RANDOM;
  w.u16(flags);
  const presentAt = w.len;
  w.u16(0);
  let present = 0;
  const v6 = n.addrMin?.includes(':') ?? false;
  const addr = (s: string | undefined, bit: number) => {
    if (!s) return;
    if (v6) {
      const a = ipv6FromText(s);
      if (!a) throw bad(OFPBAC_BAD_ARGUMENT, `nat address ${s}`);
      for (const x of a) w.u32(x);
    } else {
      const a = ipv4FromText(s);
      if (a === null) throw bad(OFPBAC_BAD_ARGUMENT, `nat address ${s}`);
      w.u32(a);
    }
    present |= bit;
  };
  addr(n.addrMin, v6 ? RANGE_V6_MIN : RANGE_V4_MIN);
  addr(n.addrMax, v6 ? RANGE_V6_MAX : RANGE_V4_MAX);
  if (n.portMin) (w.u16(n.portMin), (present |= RANGE_PROTO_MIN));
  if (n.portMax) (w.u16(n.portMax), (present |= RANGE_PROTO_MAX));
  w.put16(presentAt, present);
  endNx(w, at);
}

// ------------------------------------------------------------------ decode

/** Decode the body of an NX action (r is positioned after the subtype, windowed to the action). */
export function decodeNxAction(subtype: number, r: Reader, nested: NestedCodec): OfAction {
  switch (subtype) {
    case NXAST_RESUBMIT: {
      const port = r.u16();
      return { type: 'resubmit', port, table: null };
    }
    case NXAST_RESUBMIT_TABLE: case NXAST_RESUBMIT_TABLE_CT: {
      const port = r.u16(), table = r.u8();
      r.skip(3);
      if (subtype === NXAST_RESUBMIT_TABLE_CT && table === 0xff) throw bad(OFPBAC_BAD_ARGUMENT, 'resubmit(...,ct) needs a table');
      return { type: 'resubmit', port: port === OFPP_IN_PORT ? null : port, table: table === 0xff ? null : table, ...(subtype === NXAST_RESUBMIT_TABLE_CT ? { ct: true } : {}) };
    }
    case NXAST_REG_LOAD: {
      const [ofs, nbits] = fromNbits(r.u16());
      const dst = pullRef(r, ofs, nbits, 'reg_load');
      const value = r.u64();
      if (nbits < 64 && value >> BigInt(nbits)) throw bad(OFPBAC_BAD_ARGUMENT, 'reg_load value wider than its destination');
      checkWritable(dst.field, nested);
      return { type: 'load', value, dst };
    }
    case NXAST_REG_MOVE: {
      const nbits = r.u16(), srcOfs = r.u16(), dstOfs = r.u16();
      const src = pullRef(r, srcOfs, nbits, 'reg_move');
      const dst = pullRef(r, dstOfs, nbits, 'reg_move');
      checkWritable(dst.field, nested);
      return { type: 'move', src, dst };
    }
    case NXAST_GROUP: {
      r.skip(2);
      return { type: 'group', groupId: r.u32() };
    }
    case NXAST_WRITE_METADATA: {
      r.skip(6);
      const value = r.u64(), mask = r.u64();
      return { type: 'write_metadata', value, mask: mask === 0xffffffffffffffffn ? null : mask };
    }
    case NXAST_NOTE:
      return { type: 'note', bytes: Uint8Array.from(r.bytes(r.left)) };
    case NXAST_OUTPUT_REG: {
      const [ofs, nbits] = fromNbits(r.u16());
      const src = pullRef(r, ofs, nbits, 'output_reg');
      const maxLen = r.u16();
      return { type: 'output_reg', src, ...(maxLen !== 65535 ? { maxLen } : {}) };
    }
    case NXAST_OUTPUT_REG2: {
      const [ofs, nbits] = fromNbits(r.u16());
      const maxLen = r.u16();
      const src = pullRef(r, ofs, nbits, 'output_reg2');
      return { type: 'output_reg', src, ...(maxLen !== 65535 ? { maxLen } : {}) };
    }
    case NXAST_OUTPUT_TRUNC: {
      const port = r.u16(), maxLen = r.u32();
      if (maxLen > 0xffff) throw bad(OFPBAC_BAD_ARGUMENT, 'output_trunc max_len');
      return { type: 'output', port, maxLen };
    }
    case NXAST_DEC_TTL:
      return { type: 'dec_ttl' };
    case NXAST_DEC_TTL_CNT_IDS: {
      const n = r.u16();
      r.skip(4);
      if (n * 2 > r.left) throw badLen('dec_ttl_cnt_ids');
      const ids: number[] = [];
      for (let i = 0; i < n; i++) ids.push(r.u16());
      return { type: 'dec_ttl', ids };
    }
    case NXAST_CONTROLLER: {
      const maxLen = r.u16(), id = r.u16(), reason = r.u8();
      if (reason >= CONTROLLER_REASONS.length) throw bad(OFPBAC_BAD_ARGUMENT, `controller reason ${reason}`);
      return { type: 'controller', maxLen, ...(reason !== OFPR_ACTION ? { reason: CONTROLLER_REASONS[reason] } : {}), ...(id ? { id } : {}) };
    }
    case NXAST_CONTROLLER2: return decodeController2(r);
    case NXAST_CT: return decodeCt(r, nested);
    case NXAST_NAT: throw bad(OFPBAC_BAD_ARGUMENT, 'nat outside ct()');
    case NXAST_CT_CLEAR:
      return { type: 'ct_clear' };
    default:
      throw bad(OFPBAC_BAD_EXP_TYPE, `unknown Nicira action subtype ${subtype}`);
  }
}

/** A destination field: writable, and ct_mark/ct_label only inside ct's exec() (as OVS). */
export function checkWritable(field: string, nested: NestedCodec): void {
  const def = lookupField(field);
  if (nested.inCtExec && !CT_WRITABLE.has(field)) throw bad(OFPBAC_BAD_ARGUMENT, `ct exec() may only set ct_mark or ct_label, not ${field}`);
  if (!def || !def.writable || (!nested.inCtExec && CT_WRITABLE.has(field))) throw bad(OFPBAC_BAD_SET_ARGUMENT, `${field} may not be written here`);
}

/** ONF's copy_field (OpenFlow 1.3 extension 3200): a move. */
export function decodeOnfCopyField(r: Reader, nested: NestedCodec): OfAction {
  r.skip(2);
  return decodeCopyFieldBody(r, nested);
}

/** The body copy_field shares in OpenFlow 1.5 and ONF's 1.3 extension: n_bits, offsets, pad, two OXM headers. */
export function decodeCopyFieldBody(r: Reader, nested: NestedCodec): OfAction {
  const nbits = r.u16(), srcOfs = r.u16(), dstOfs = r.u16();
  r.skip(2);
  const src = pullRef(r, srcOfs, nbits, 'copy_field');
  const dst = pullRef(r, dstOfs, nbits, 'copy_field');
  checkWritable(dst.field, nested);
  return { type: 'move', src, dst };
}

function decodeController2(r: Reader): OfAction {
  if (!r.bytes(6).every((b) => b === 0)) throw expError(NXBRC_MUST_BE_ZERO, 'controller2 padding is not zero');
  const c: Extract<OfAction, { type: 'controller' }> = { type: 'controller', maxLen: 65535 };
  while (r.left > 0) {
    const type = r.u16(), len = r.u16();
    if (len < 4) throw badLen('controller2 property');
    const p = r.sub(len - 4, () => badLen('controller2 property'));
    r.skip(Math.min(r.left, ((len + 7) & ~7) - len));
    switch (type) {
      case 0: c.maxLen = p.u16(); break;
      case 1: c.id = p.u16(); break;
      case 2: {
        const reason = p.u8();
        if (reason >= CONTROLLER_REASONS.length) throw bad(OFPBAC_BAD_ARGUMENT, `controller reason ${reason}`);
        if (reason !== OFPR_ACTION) c.reason = CONTROLLER_REASONS[reason];
        break;
      }
      case 3: c.userdata = [...p.bytes(p.left)].map((x) => x.toString(16).padStart(2, '0')).join('.'); break;
      case 4: c.pause = true; break;
      case 5: c.meterId = p.u32(); break;
      default: throw bad(OFPBAC_BAD_ARGUMENT, `unknown controller2 property ${type}`);
    }
  }
  return c;
}

function decodeCt(r: Reader, nested: NestedCodec): CtAction {
  const flags = r.u16();
  const zoneSrcHdr = r.u32();
  const zoneWord = r.u16();
  const table = r.u8();
  r.skip(3);
  const algPort = r.u16();
  if (flags & ~(NX_CT_F_COMMIT | NX_CT_F_FORCE)) throw bad(OFPBAC_BAD_ARGUMENT, `ct flags 0x${flags.toString(16)}`);
  if (flags & NX_CT_F_FORCE && !(flags & NX_CT_F_COMMIT)) throw bad(OFPBAC_BAD_ARGUMENT, 'ct force without commit');
  const ct: CtAction = {
    type: 'ct', commit: (flags & (NX_CT_F_COMMIT | NX_CT_F_FORCE)) !== 0, force: (flags & NX_CT_F_FORCE) !== 0,
    zone: 0, zoneSrc: null, table: table === NX_CT_RECIRC_NONE ? null : table, alg: null, exec: [], nat: null,
  };
  if (zoneSrcHdr) {
    const hb = Buffer.alloc(4);
    hb.writeUInt32BE(zoneSrcHdr);
    const [ofs, nbits] = fromNbits(zoneWord);
    ct.zoneSrc = pullRef(new Reader(hb, 0, 4, () => badLen('ct zone')), ofs, nbits, 'ct zone');
    if (nbits !== 16) throw bad(OFPBAC_BAD_SET_LEN, `ct zone from ${nbits} bits (must be 16)`);
  } else ct.zone = zoneWord;
  if (algPort) {
    const alg = Object.keys(ALG_PORTS).find((k) => ALG_PORTS[k] === algPort);
    if (!alg) throw bad(OFPBAC_BAD_ARGUMENT, `ct alg port ${algPort}`);
    ct.alg = alg;
  }
  // Nested actions: nat is part of ct itself; the rest is exec().
  while (r.left > 0) {
    if (r.left >= 10 && r.buf.readUInt16BE(r.pos) === 0xffff && r.buf.readUInt32BE(r.pos + 4) === NX_EXPERIMENTER_ID && r.buf.readUInt16BE(r.pos + 8) === NXAST_NAT) {
      const len = r.buf.readUInt16BE(r.pos + 2);
      if (len < 16 || len % 8) throw badLen('nat');
      const nr = r.sub(len, () => badLen('nat'));
      nr.skip(10);
      if (ct.nat) throw bad(OFPBAC_BAD_ARGUMENT, 'ct() with two nat actions');
      ct.nat = decodeNat(nr);
      if (ct.exec.length === 0) ct.natFirst = true;
      continue;
    }
    const len = r.left >= 4 ? r.buf.readUInt16BE(r.pos + 2) : 0;
    if (len < 8 || len % 8) throw badLen('ct nested action');
    const one = nested.ctExec.decode(r.sub(len, () => badLen('ct nested action')));
    for (const e of one) {
      const field = e.type === 'set_field' ? e.field : e.type === 'load' || e.type === 'move' ? e.dst.field : null;
      if (field !== 'ct_mark' && field !== 'ct_label') throw bad(OFPBAC_BAD_ARGUMENT, `ct exec() may only set ct_mark or ct_label, not ${e.type}`);
    }
    ct.exec.push(...one);
  }
  return ct;
}

function addrOrder(s: string): bigint {
  if (!s.includes(':')) return BigInt(ipv4FromText(s)! >>> 0);
  return ipv6FromText(s)!.reduce((v, x) => (v << 32n) | BigInt(x >>> 0), 0n);
}

function decodeNat(r: Reader): NatSpec {
  r.skip(2);
  const flags = r.u16(), present = r.u16();
  if (flags & NX_NAT_F_SRC && flags & NX_NAT_F_DST) throw bad(OFPBAC_BAD_ARGUMENT, 'nat with both src and dst');
  if (flags & ~31 || present & ~63) throw bad(OFPBAC_BAD_ARGUMENT, 'nat flags');
  const n: NatSpec = { kind: flags & NX_NAT_F_SRC ? 'src' : flags & NX_NAT_F_DST ? 'dst' : null };
  if (n.kind === null && (present || flags)) throw bad(OFPBAC_BAD_ARGUMENT, 'nat range without src or dst');
  const v6 = () => {
    const words = [r.u32(), r.u32(), r.u32(), r.u32()];
    return ipv6Str(words);
  };
  if (present & RANGE_V4_MIN) n.addrMin = ipv4Str(r.u32());
  if (present & RANGE_V4_MAX) n.addrMax = ipv4Str(r.u32());
  if (present & RANGE_V6_MIN) n.addrMin = v6();
  if (present & RANGE_V6_MAX) n.addrMax = v6();
  if (present & RANGE_PROTO_MIN) n.portMin = r.u16();
  if (present & RANGE_PROTO_MAX) n.portMax = r.u16();
  if (present & RANGE_V4_MIN && present & RANGE_V6_MIN) throw bad(OFPBAC_BAD_ARGUMENT, 'nat range with both IPv4 and IPv6');
  if (n.addrMin && n.addrMax && addrOrder(n.addrMin) > addrOrder(n.addrMax)) throw bad(OFPBAC_BAD_ARGUMENT, 'nat address range min > max');
  if (n.portMin !== undefined && n.portMax !== undefined && n.portMin > n.portMax) throw bad(OFPBAC_BAD_ARGUMENT, 'nat port range min > max');
  if (flags & NX_NAT_F_PERSISTENT) n.persistent = true;
  if (flags & NX_NAT_F_PROTO_HASH) n.hash = true;
  if (flags & NX_NAT_F_PROTO_RANDOM) n.random = true;
  return n;
}
