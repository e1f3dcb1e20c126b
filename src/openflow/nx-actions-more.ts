// The Nicira extension actions that issue 13 added to the flow text: learn
// (NXAST_LEARN/LEARN2), conjunction, clone, exit, multipath, bundle and
// bundle_load, fin_timeout, sample (NXAST_SAMPLE/2/3), pop_queue, the field
// stack (push/pop), check_pkt_larger, and OpenFlow 1.0's NX set_queue.
// Layouts as OVS's lib/ofp-actions.c puts them on the wire; the checks on
// decode are the ones OVS makes, with its errors. `encodeNx`/`decodeNx`
// are the one entry point for every Nicira action (these and nx-actions.ts's).

import type { FieldRef, LearnAction, LearnSpec, OfAction } from '../ofproto/actions.ts';
import { lookupField } from '../ofproto/fields.ts';
import { HASH_FIELDS } from '../ofproto/parse-actions-more.ts';
import { Reader, type Writer } from './buffer.ts';
import { expError, NX_VENDOR, NXBRC_MUST_BE_ZERO, OFPBAC_BAD_ARGUMENT, OFPBAC_BAD_LEN, OFPBAC_BAD_SET_ARGUMENT, OFPET_BAD_ACTION, OfError } from './errors.ts';
import { checkWritable, decodeNxAction, encodeNxAction, endNx, fromNbits, ofsNbits, pullRef, refField, startNx, type NestedCodec } from './nx-actions.ts';
import { headerWord, putHeader } from './oxm.ts';

export const NXAST_SET_QUEUE = 4;
export const NXAST_POP_QUEUE = 5;
export const NXAST_MULTIPATH = 10;
export const NXAST_BUNDLE = 12;
export const NXAST_BUNDLE_LOAD = 13;
export const NXAST_LEARN = 16;
export const NXAST_EXIT = 17;
export const NXAST_FIN_TIMEOUT = 19;
export const NXAST_STACK_PUSH = 27;
export const NXAST_STACK_POP = 28;
export const NXAST_SAMPLE = 29;
export const NXAST_CONJUNCTION = 34;
export const NXAST_SAMPLE2 = 38;
export const NXAST_SAMPLE3 = 41;
export const NXAST_CLONE = 42;
export const NXAST_LEARN2 = 45;
export const NXAST_CHECK_PKT_LARGER = 49;

const MULTIPATH_ALGS = ['modulo_n', 'hash_threshold', 'hrw', 'iter_hash'];
const BUNDLE_ALGS = ['active_backup', 'hrw'];
const SAMPLE_DIRECTIONS = [undefined, 'ingress', 'egress'];
const NXM_OF_IN_PORT = 0x00000002;
const BUNDLE_MAX_MEMBERS = 2048;
const OFPP_NONE = 0xffff;

const NX_LEARN_F_SEND_FLOW_REM = 1, NX_LEARN_F_DELETE_LEARNED = 2, NX_LEARN_F_WRITE_RESULT = 4;
const NX_LEARN_SRC_IMMEDIATE = 1 << 13;
const NX_LEARN_DST_LOAD = 1 << 11, NX_LEARN_DST_OUTPUT = 2 << 11, NX_LEARN_DST_MASK = 3 << 11;
const NX_LEARN_N_BITS_MASK = 0x3ff;

/** NXBAC_BAD_CONJUNCTION: NX1.2+(15). */
const NXBAC_BAD_CONJUNCTION: [number, number] = [NX_VENDOR, 15];

const bad = (code: number, msg: string) => new OfError(OFPET_BAD_ACTION, code, msg);
const badArg = (msg: string) => bad(OFPBAC_BAD_ARGUMENT, msg);
const badLen = (what: string) => bad(OFPBAC_BAD_LEN, `${what}: bad length`);

function allZero(r: Reader, what: string, err: () => OfError = () => expError(NXBRC_MUST_BE_ZERO, `${what}: padding is not zero`)): void {
  while (r.left > 0) if (r.u8() !== 0) throw err();
}

/** A field slice as an NXM/OXM header word (for the fixed 32-bit dst slots of multipath and bundle_load). */
function refWord(ref: FieldRef, what: string): number {
  return headerWord(refField(ref, what));
}

/** A field named by a 32-bit NXM header word plus offset/width (multipath's and bundle_load's dst). */
function refFromWord(r: Reader, word: number, ofs: number, nbits: number, what: string): FieldRef {
  const hb = Buffer.alloc(4);
  hb.writeUInt32BE(word >>> 0);
  void r;
  return pullRef(new Reader(hb, 0, 4, () => badLen(what)), ofs, nbits, what);
}

// ------------------------------------------------------------------ encode

/** Encode any Nicira action (this file's and nx-actions.ts's); false when `a` is not one. */
export function encodeNx(w: Writer, a: OfAction, nested: NestedCodec): boolean {
  if (encodeNxAction(w, a, nested)) return true;
  switch (a.type) {
    case 'exit': {
      const at = startNx(w, NXAST_EXIT);
      w.zeros(6);
      endNx(w, at);
      return true;
    }
    case 'pop_queue': {
      const at = startNx(w, NXAST_POP_QUEUE);
      w.zeros(6);
      endNx(w, at);
      return true;
    }
    case 'set_queue': {
      // OpenFlow 1.0's form; 1.1+ carries OFPAT_SET_QUEUE (of-actions.ts).
      const at = startNx(w, NXAST_SET_QUEUE);
      w.zeros(2).u32(a.queue);
      endNx(w, at);
      return true;
    }
    case 'fin_timeout': {
      const at = startNx(w, NXAST_FIN_TIMEOUT);
      w.u16(a.idle).u16(a.hard).zeros(2);
      endNx(w, at);
      return true;
    }
    case 'conjunction': {
      const at = startNx(w, NXAST_CONJUNCTION);
      w.u8(a.clause - 1).u8(a.nClauses).u32(a.id);
      endNx(w, at);
      return true;
    }
    case 'clone': {
      const at = startNx(w, NXAST_CLONE);
      w.zeros(6);
      nested.encode(w, a.actions);
      w.put16(at + 2, w.len - at);
      return true;
    }
    case 'multipath': {
      const at = startNx(w, NXAST_MULTIPATH);
      w.u16(HASH_FIELDS.indexOf(a.fields)).u16(a.basis).zeros(2);
      w.u16(MULTIPATH_ALGS.indexOf(a.algorithm)).u16(a.nLinks - 1).u32(a.arg).zeros(2);
      w.u16(ofsNbits(a.dst.ofs, a.dst.nbits)).u32(refWord(a.dst, 'multipath'));
      endNx(w, at);
      return true;
    }
    case 'bundle': {
      const at = startNx(w, a.dst ? NXAST_BUNDLE_LOAD : NXAST_BUNDLE);
      w.u16(BUNDLE_ALGS.indexOf(a.algorithm)).u16(HASH_FIELDS.indexOf(a.fields)).u16(a.basis);
      w.u32(NXM_OF_IN_PORT).u16(a.members.length);
      if (a.dst) w.u16(ofsNbits(a.dst.ofs, a.dst.nbits)).u32(refWord(a.dst, 'bundle_load'));
      else w.u16(0).u32(0);
      w.zeros(4);
      for (const m of a.members) w.u16(m);
      endNx(w, at);
      return true;
    }
    case 'sample': {
      const dir = SAMPLE_DIRECTIONS.indexOf(a.direction);
      const sub = dir > 0 ? NXAST_SAMPLE3 : a.samplingPort !== undefined ? NXAST_SAMPLE2 : NXAST_SAMPLE;
      const at = startNx(w, sub);
      w.u16(a.probability).u32(a.collectorSetId).u32(a.obsDomainId).u32(a.obsPointId);
      if (sub !== NXAST_SAMPLE) w.u16(a.samplingPort ?? OFPP_NONE).u8(Math.max(dir, 0)).zeros(5);
      endNx(w, at);
      return true;
    }
    case 'stack_push': case 'stack_pop': {
      const ref = a.type === 'stack_push' ? a.src : a.dst;
      const at = startNx(w, a.type === 'stack_push' ? NXAST_STACK_PUSH : NXAST_STACK_POP);
      w.u16(ref.ofs);
      putHeader(w, refField(ref, 'stack'), false);
      w.u16(ref.nbits);
      if (w.len - at < 24) w.zeros(24 - (w.len - at));
      endNx(w, at);
      return true;
    }
    case 'check_pkt_larger': {
      const at = startNx(w, NXAST_CHECK_PKT_LARGER);
      w.u16(a.pktLen).u16(a.dst.ofs);
      putHeader(w, refField(a.dst, 'check_pkt_larger'), false);
      if (w.len - at < 24) w.zeros(24 - (w.len - at));
      endNx(w, at);
      return true;
    }
    case 'learn': encodeLearn(w, a); return true;
    default:
      return false;
  }
}

function encodeLearn(w: Writer, l: LearnAction): void {
  const two = l.limit !== 0 || l.resultDst !== null;
  const at = startNx(w, two ? NXAST_LEARN2 : NXAST_LEARN);
  const flags = (l.sendFlowRem ? NX_LEARN_F_SEND_FLOW_REM : 0) | (l.deleteLearned ? NX_LEARN_F_DELETE_LEARNED : 0) | (l.resultDst ? NX_LEARN_F_WRITE_RESULT : 0);
  w.u16(l.idleTimeout).u16(l.hardTimeout).u16(l.priority).u64(l.cookie).u16(flags).u8(l.table).u8(0).u16(l.finIdleTimeout).u16(l.finHardTimeout);
  if (two) {
    w.u32(l.limit).u16(l.resultDst?.ofs ?? 0).u16(0);
    if (l.resultDst) putHeader(w, refField(l.resultDst, 'learn result_dst'), false);
  }
  for (const s of l.specs) {
    const nbits = s.kind === 'output' ? s.src.nbits : s.dst.nbits;
    const src = s.kind === 'output' ? s.src : s.src;
    const dstType = s.kind === 'match' ? 0 : s.kind === 'load' ? NX_LEARN_DST_LOAD : NX_LEARN_DST_OUTPUT;
    w.u16(nbits | dstType | (src ? 0 : NX_LEARN_SRC_IMMEDIATE));
    if (src) {
      w.u32(refWord(src, 'learn'));
      w.u16(src.ofs);
    } else w.uint(s.kind !== 'output' ? s.value ?? 0n : 0n, 2 * Math.ceil(nbits / 16));
    if (s.kind !== 'output') w.u32(refWord(s.dst, 'learn')).u16(s.dst.ofs);
  }
  endNx(w, at);
}

// ------------------------------------------------------------------ decode

/** Decode the body of any Nicira action (r positioned after the subtype, windowed to the action). */
export function decodeNx(subtype: number, r: Reader, nested: NestedCodec): OfAction {
  switch (subtype) {
    case NXAST_EXIT:
      return { type: 'exit' };
    case NXAST_POP_QUEUE:
      return { type: 'pop_queue' };
    case NXAST_SET_QUEUE:
      r.skip(2);
      return { type: 'set_queue', queue: r.u32() };
    case NXAST_FIN_TIMEOUT: {
      const idle = r.u16(), hard = r.u16();
      return { type: 'fin_timeout', idle, hard };
    }
    case NXAST_CONJUNCTION: {
      const clause = r.u8(), n = r.u8(), id = r.u32();
      if (n < 2 || n > 64 || clause >= n) throw expError(NXBAC_BAD_CONJUNCTION, `conjunction clause ${clause}/${n}`);
      return { type: 'conjunction', id, clause: clause + 1, nClauses: n };
    }
    case NXAST_CLONE:
      r.skip(6);
      return { type: 'clone', actions: nested.decode(r) };
    case NXAST_MULTIPATH: {
      const fields = r.u16(), basis = r.u16();
      r.skip(2);
      const alg = r.u16(), maxLink = r.u16(), arg = r.u32();
      r.skip(2);
      const [ofs, nbits] = fromNbits(r.u16());
      const dst = refFromWord(r, r.u32(), ofs, nbits, 'multipath');
      if (fields >= HASH_FIELDS.length) throw badArg(`multipath fields ${fields}`);
      if (alg >= MULTIPATH_ALGS.length) throw badArg(`multipath algorithm ${alg}`);
      if (2 ** nbits < maxLink + 1) throw badArg(`multipath needs more than ${nbits} bits for ${maxLink + 1} links`);
      checkWritable(dst.field, nested);
      return { type: 'multipath', fields: HASH_FIELDS[fields], basis, algorithm: MULTIPATH_ALGS[alg], nLinks: maxLink + 1, arg, dst };
    }
    case NXAST_BUNDLE: case NXAST_BUNDLE_LOAD: return decodeBundle(subtype === NXAST_BUNDLE_LOAD, r, nested);
    case NXAST_SAMPLE: case NXAST_SAMPLE2: case NXAST_SAMPLE3: {
      const a: Extract<OfAction, { type: 'sample' }> = { type: 'sample', probability: r.u16(), collectorSetId: r.u32(), obsDomainId: r.u32(), obsPointId: r.u32() };
      if (subtype !== NXAST_SAMPLE) {
        const port = r.u16(), dir = r.u8();
        if (port !== OFPP_NONE) a.samplingPort = port;
        if (subtype === NXAST_SAMPLE3) {
          if (dir >= SAMPLE_DIRECTIONS.length) throw badArg(`sample direction ${dir}`);
          if (dir) a.direction = SAMPLE_DIRECTIONS[dir];
        }
      }
      if (a.probability === 0) throw badArg('sample probability 0');
      return a;
    }
    case NXAST_STACK_PUSH: case NXAST_STACK_POP: {
      const ofs = r.u16();
      // The header comes before the width: read the width past it, then the header.
      const hdrLen = r.left >= 4 && r.buf[r.pos] === 0xff && r.buf[r.pos + 1] === 0xff ? 8 : 4;
      if (r.left < hdrLen + 2) throw badLen('stack');
      const nbits = r.buf.readUInt16BE(r.pos + hdrLen);
      const ref = pullRef(r, ofs, nbits, 'stack');
      r.skip(2);
      allZero(r, 'stack');
      if (subtype === NXAST_STACK_POP) {
        checkWritable(ref.field, nested);
        return { type: 'stack_pop', dst: ref };
      }
      return { type: 'stack_push', src: ref };
    }
    case NXAST_CHECK_PKT_LARGER: {
      const pktLen = r.u16(), ofs = r.u16();
      const dst = pullRef(r, ofs, 1, 'check_pkt_larger');
      allZero(r, 'check_pkt_larger');
      checkWritable(dst.field, nested);
      return { type: 'check_pkt_larger', pktLen, dst };
    }
    case NXAST_LEARN: case NXAST_LEARN2: return decodeLearn(subtype === NXAST_LEARN2, r, nested);
    default:
      return decodeNxAction(subtype, r, nested);
  }
}

function decodeBundle(load: boolean, r: Reader, nested: NestedCodec): OfAction {
  const alg = r.u16(), fields = r.u16(), basis = r.u16(), memberType = r.u32(), n = r.u16();
  const ofsNb = r.u16(), dstWord = r.u32();
  const zero = r.u32();
  if (fields >= HASH_FIELDS.length) throw badArg(`bundle fields ${fields}`);
  if (n > BUNDLE_MAX_MEMBERS) throw badArg('bundle with too many members');
  if (alg >= BUNDLE_ALGS.length) throw badArg(`bundle algorithm ${alg}`);
  if (memberType !== NXM_OF_IN_PORT) throw badArg(`bundle member type 0x${memberType.toString(16)}`);
  if (zero) throw badArg('bundle reserved field is not zero');
  let dst: FieldRef | null = null;
  if (load) {
    const [ofs, nbits] = fromNbits(ofsNb);
    dst = refFromWord(r, dstWord, ofs, nbits, 'bundle_load');
    if (nbits < 16) throw badArg('bundle_load needs a destination of at least 16 bits');
    checkWritable(dst.field, nested);
  } else if (ofsNb || dstWord) throw badArg('bundle has nonzero reserved fields');
  if (r.left < n * 2) throw badLen('bundle members');
  const members: number[] = [];
  for (let i = 0; i < n; i++) members.push(r.u16());
  return { type: 'bundle', fields: HASH_FIELDS[fields], basis, algorithm: BUNDLE_ALGS[alg], members, dst };
}

function decodeLearn(two: boolean, r: Reader, nested: NestedCodec): LearnAction {
  const l: LearnAction = {
    type: 'learn', idleTimeout: r.u16(), hardTimeout: r.u16(), priority: r.u16(), cookie: r.u64(), table: 0,
    finIdleTimeout: 0, finHardTimeout: 0, sendFlowRem: false, deleteLearned: false, limit: 0, resultDst: null, specs: [],
  };
  const flags = r.u16();
  l.table = r.u8();
  const pad = r.u8();
  l.finIdleTimeout = r.u16();
  l.finHardTimeout = r.u16();
  if (pad) throw badArg('learn padding is not zero');
  if (l.table === 0xff) throw badArg('learn into table 255');
  if (flags & ~(NX_LEARN_F_SEND_FLOW_REM | NX_LEARN_F_DELETE_LEARNED | (two ? NX_LEARN_F_WRITE_RESULT : 0))) throw badArg(`learn flags 0x${flags.toString(16)}`);
  l.sendFlowRem = (flags & NX_LEARN_F_SEND_FLOW_REM) !== 0;
  l.deleteLearned = (flags & NX_LEARN_F_DELETE_LEARNED) !== 0;
  if (two) {
    l.limit = r.u32();
    const resOfs = r.u16();
    if (r.u16()) throw expError([NX_VENDOR, 11], 'learn2 padding is not zero');
    if (flags & NX_LEARN_F_WRITE_RESULT) {
      l.resultDst = pullRef(r, resOfs, 1, 'learn result_dst');
      const def = lookupField(l.resultDst.field);
      if (!def?.writable) throw bad(OFPBAC_BAD_SET_ARGUMENT, `learn result_dst ${l.resultDst.field} is read-only`);
    } else if (resOfs) throw badArg('learn result_dst offset without result_dst');
  }
  while (r.left >= 2) {
    const header = r.u16();
    if (!header) break;
    l.specs.push(decodeLearnSpec(header, r));
  }
  allZero(r, 'learn', () => badArg('learn: trailing bytes are not zero'));
  void nested;
  return l;
}

function decodeLearnSpec(header: number, r: Reader): LearnSpec {
  const nbits = header & NX_LEARN_N_BITS_MASK;
  const imm = (header & NX_LEARN_SRC_IMMEDIATE) !== 0;
  const dstType = header & NX_LEARN_DST_MASK;
  if (header & 0xc000 || dstType === NX_LEARN_DST_MASK || (dstType === NX_LEARN_DST_OUTPUT && imm)) throw badArg(`learn spec header 0x${header.toString(16)}`);
  if (nbits === 0) throw badArg('learn spec of 0 bits');
  const minLen = (imm ? 2 * Math.ceil(nbits / 16) : 6) + (dstType === NX_LEARN_DST_OUTPUT ? 0 : 6);
  if (r.left < minLen) throw badLen('learn spec');
  let src: FieldRef | null = null;
  let value: bigint | null = null;
  if (imm) value = r.uint(2 * Math.ceil(nbits / 16));
  else {
    const word = r.u32();
    src = refFromWord(r, word, r.u16(), nbits, 'learn source');
  }
  if (dstType === NX_LEARN_DST_OUTPUT) return { kind: 'output', src: src! };
  const word = r.u32();
  const dst = refFromWord(r, word, r.u16(), nbits, 'learn destination');
  if (value !== null && nbits < 128 && value >> BigInt(nbits)) throw badArg('learn immediate wider than its field');
  return { kind: dstType === NX_LEARN_DST_LOAD ? 'load' : 'match', dst, src, value };
}
