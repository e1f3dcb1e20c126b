// A match over the flow key: per-word value and mask (value is always
// already masked). The parser builds it from flow text, the formatter prints
// it in ovs-ofctl's field order, the classifier groups rules by mask.
//
// OpenFlow sees a little more than the datapath: the OpenFlow flow is the
// datapath's flow key (FK_WORDS words) followed by words that exist only while
// a packet is translated, as OVS keeps actset_output in struct flow but never
// in the datapath key. Matches, the classifier and translation's flow are
// OF_WORDS long; translation drops the tail from the megaflow mask, so a
// megaflow never matches on it.

import {
  CS_DST_NAT, CS_ESTABLISHED, CS_INVALID, CS_NEW, CS_RELATED, CS_REPLY_DIR, CS_SRC_NAT, CS_TRACKED, FK_CT_STATE, FK_WORDS,
} from '../packet/flow-key.ts';

/** The output port of the action set's output action (OpenFlow 1.1+ form: OFPP_* as 0xffffXXXX), OFPP_UNSET without one. */
export const OFK_ACTSET_OUTPUT = FK_WORDS;
/** Words of an OpenFlow flow: the datapath key and the translation-only tail. */
export const OF_WORDS = FK_WORDS + 1;

/** A 16-bit OpenFlow port as the actset_output word holds it (OVS's ofputil_port_to_ofp11). */
export function actsetPortWord(port: number): number {
  return port < 0xff00 ? port : (port + 0xffff0000) >>> 0;
}

export interface Match {
  value: Uint32Array; // OF_WORDS
  mask: Uint32Array; // OF_WORDS
  /**
   * Fields outside the flow key (tunnel, MPLS, NSH, conj_id, ...), kept as
   * ovs-ofctl prints them so that parse-flows shows them; a switch refuses
   * flows that have any (fields.ts, ExtraFieldDef).
   */
  /** conj_id=N: the rule matches only in the second lookup of a conjunctive match with that id (classifier.ts). */
  conjId?: number;
  /** `bytes`: for tunnel metadata, the option bytes the field takes (OVS allots 256 per flow). */
  extra?: { name: string; slot: 'meta' | 'tunnel' | 'mpls' | 'nsh'; rank: number; text: string; bytes?: number }[];
}

export function emptyMatch(): Match {
  return { value: new Uint32Array(OF_WORDS), mask: new Uint32Array(OF_WORDS) };
}

/** Set word `w` of the match to `value` under `mask`, keeping other bits. */
export function setMatchWord(m: Match, w: number, value: number, mask: number): void {
  m.mask[w] = (m.mask[w] | mask) >>> 0;
  m.value[w] = ((m.value[w] & ~mask) | (value & mask)) >>> 0;
}

/** True when `key` (an OpenFlow flow, at word offset ofs) matches `m`. */
export function matchesKey(m: Match, key: Uint32Array, ofs = 0): boolean {
  const v = m.value, k = m.mask;
  for (let i = 0; i < OF_WORDS; i++) if (((key[ofs + i] & k[i]) >>> 0) !== v[i]) return false;
  return true;
}

/**
 * OVS's is_ct_valid: the match's ct_state implies a valid connection (+new,
 * +est, +rel, +rpl, +snat, +dnat), or has +trk with an explicit -inv. The
 * prerequisite of ct_nw_*, ct_ipv6_*, ct_tp_* and resubmit(,,ct).
 */
export function ctStateValid(m: Match): boolean {
  const v = m.value[FK_CT_STATE], k = m.mask[FK_CT_STATE];
  return (v & (CS_NEW | CS_ESTABLISHED | CS_RELATED | CS_REPLY_DIR | CS_SRC_NAT | CS_DST_NAT)) !== 0 ||
    ((v & CS_TRACKED) !== 0 && (k & CS_INVALID) !== 0 && (v & CS_INVALID) === 0);
}
