// A match over the flow key: per-word value and mask (value is always
// already masked). The parser builds it from flow text, the formatter prints
// it in ovs-ofctl's field order, the classifier groups rules by mask.

import {
  CS_DST_NAT, CS_ESTABLISHED, CS_INVALID, CS_NEW, CS_RELATED, CS_REPLY_DIR, CS_SRC_NAT, CS_TRACKED, FK_CT_STATE, FK_WORDS,
} from '../packet/flow-key.ts';

export interface Match {
  value: Uint32Array; // FK_WORDS
  mask: Uint32Array; // FK_WORDS
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
  return { value: new Uint32Array(FK_WORDS), mask: new Uint32Array(FK_WORDS) };
}

/** Set word `w` of the match to `value` under `mask`, keeping other bits. */
export function setMatchWord(m: Match, w: number, value: number, mask: number): void {
  m.mask[w] = (m.mask[w] | mask) >>> 0;
  m.value[w] = ((m.value[w] & ~mask) | (value & mask)) >>> 0;
}

/** True when `key` (at word offset ofs) matches `m`. */
export function matchesKey(m: Match, key: Uint32Array, ofs = 0): boolean {
  const v = m.value, k = m.mask;
  for (let i = 0; i < FK_WORDS; i++) if (((key[ofs + i] & k[i]) >>> 0) !== v[i]) return false;
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
