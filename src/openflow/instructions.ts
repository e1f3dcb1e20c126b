// OpenFlow 1.1+ instructions <-> the swd action list, where goto_table,
// write_metadata and clear_actions are actions at the list's end and meter
// one at its start (as ovs-ofctl writes them). Encoding: the meter (1.3 and
// 1.4: an instruction; 1.5: an action, OFPAT15_METER), the other leading
// actions as one APPLY_ACTIONS, then the instructions in OVS's order
// (clear_actions, write_metadata, goto_table). Decoding accepts each
// instruction at most once, in any order, and returns them in that order;
// an instruction swd does not have (write_actions, experimenter) is
// OFPBIC_UNSUP_INST, and 1.5's meter instruction OFPBIC_UNKNOWN_INST (OVS).

import type { OfAction } from '../ofproto/actions.ts';
import { Reader, Writer } from './buffer.ts';
import { expError, OFPBIC_BAD_EXPERIMENTER, OFPBIC_DUP_INST, OFPBIC_BAD_LEN, OFPBIC_BAD_TABLE_ID, OFPBIC_UNKNOWN_INST, OFPBIC_UNSUP_INST, OFPET_BAD_INSTRUCTION, OfError } from './errors.ts';
import { decodeActions, encodeActions, type ActionContext } from './of-actions.ts';

export const OFPIT_GOTO_TABLE = 1;
export const OFPIT_WRITE_METADATA = 2;
export const OFPIT_WRITE_ACTIONS = 3;
export const OFPIT_APPLY_ACTIONS = 4;
export const OFPIT_CLEAR_ACTIONS = 5;
export const OFPIT_METER = 6;

const bad = (code: number, msg: string) => new OfError(OFPET_BAD_INSTRUCTION, code, msg);
const INSTRUCTION_TYPES = new Set(['goto_table', 'write_metadata', 'clear_actions']);
/** Before OpenFlow 1.5 meter is an instruction. */
const meterIsInstruction = (ctx: ActionContext) => ctx.version < 6;

export function encodeInstructions(w: Writer, acts: OfAction[], ctx: ActionContext): void {
  if (meterIsInstruction(ctx)) {
    for (const a of acts) if (a.type === 'meter') w.u16(OFPIT_METER).u16(8).u32(a.meterId);
  }
  const apply = acts.filter((a) => !INSTRUCTION_TYPES.has(a.type) && !(a.type === 'meter' && meterIsInstruction(ctx)));
  if (apply.length) {
    const at = w.len;
    w.u16(OFPIT_APPLY_ACTIONS).u16(0).zeros(4);
    encodeActions(w, apply, ctx);
    w.put16(at + 2, w.len - at);
  }
  for (const a of acts) {
    if (a.type === 'clear_actions') w.u16(OFPIT_CLEAR_ACTIONS).u16(8).zeros(4);
  }
  for (const a of acts) {
    if (a.type === 'write_metadata') w.u16(OFPIT_WRITE_METADATA).u16(24).zeros(4).u64(a.value).u64(a.mask ?? 0xffffffffffffffffn);
  }
  for (const a of acts) {
    if (a.type === 'goto_table') w.u16(OFPIT_GOTO_TABLE).u16(8).u8(a.table).zeros(3);
  }
}

/** Decode instructions filling `r`; `table` is the flow's table (goto_table must go forward). */
export function decodeInstructions(r: Reader, ctx: ActionContext, table: number | null): OfAction[] {
  let apply: OfAction[] = [];
  let clear: OfAction | null = null, meta: OfAction | null = null, gotoT: OfAction | null = null, meter: OfAction | null = null;
  const seen = new Set<number>();
  while (r.left > 0) {
    if (r.left < 4) throw bad(OFPBIC_BAD_LEN, 'instruction header truncated');
    const type = r.u16(), len = r.u16();
    if (len < 8 || len % 8 || len - 4 > r.left) throw bad(OFPBIC_BAD_LEN, `instruction ${type}: length ${len}`);
    const b = r.sub(len - 4, () => bad(OFPBIC_BAD_LEN, `instruction ${type}: truncated`));
    if (seen.has(type)) throw expError(OFPBIC_DUP_INST, `instruction ${type} appears twice`);
    seen.add(type);
    switch (type) {
      case OFPIT_APPLY_ACTIONS:
        b.skip(4);
        apply = decodeActions(b, ctx, true);
        // OpenFlow 1.0's write_metadata action inside apply_actions is the instruction (OVS).
        for (const a of apply) if (a.type === 'write_metadata') meta = a;
        apply = apply.filter((a) => a.type !== 'write_metadata');
        break;
      case OFPIT_CLEAR_ACTIONS:
        if (len !== 8) throw bad(OFPBIC_BAD_LEN, 'clear_actions: length');
        clear = { type: 'clear_actions' };
        break;
      case OFPIT_WRITE_METADATA: {
        if (len !== 24) throw bad(OFPBIC_BAD_LEN, 'write_metadata: length');
        b.skip(4);
        const value = b.u64(), mask = b.u64();
        meta = { type: 'write_metadata', value, mask: mask === 0xffffffffffffffffn ? null : mask };
        break;
      }
      case OFPIT_GOTO_TABLE: {
        if (len !== 8) throw bad(OFPBIC_BAD_LEN, 'goto_table: length');
        const t = b.u8();
        if (t >= 255 || (table !== null && t <= table)) throw bad(OFPBIC_BAD_TABLE_ID, `goto_table:${t}`);
        gotoT = { type: 'goto_table', table: t };
        break;
      }
      case 0xffff:
        throw bad(OFPBIC_BAD_EXPERIMENTER, 'experimenter instruction');
      case OFPIT_METER:
        if (!meterIsInstruction(ctx)) throw bad(OFPBIC_UNKNOWN_INST, 'meter is an action in OpenFlow 1.5');
        if (len !== 8) throw bad(OFPBIC_BAD_LEN, 'meter: length');
        meter = { type: 'meter', meterId: b.u32() };
        break;
      case OFPIT_WRITE_ACTIONS:
        throw bad(OFPBIC_UNSUP_INST, `instruction ${type} is not supported by swd`);
      default:
        throw bad(OFPBIC_UNKNOWN_INST, `unknown instruction ${type}`);
    }
  }
  return [...(meter ? [meter] : []), ...apply, ...(clear ? [clear] : []), ...(meta ? [meta] : []), ...(gotoT ? [gotoT] : [])];
}
