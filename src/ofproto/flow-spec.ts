// One flow as written in flow text: what `add-flow`, `mod-flows`, `del-flows`
// and `parse-flows` work with. The bridge turns it into a rule.

import type { OfAction } from './actions.ts';
import type { Match } from './match.ts';

export interface FlowSpec {
  table: number; // 0..254
  priority: number; // default 32768 (OFP_DEFAULT_PRIORITY)
  cookie: bigint;
  /** Only meaningful for mod/del/dump (cookie=V/M); null when not given. */
  cookieMask: bigint | null;
  idleTimeout: number; // seconds, 0 = none
  hardTimeout: number;
  importance: number;
  /** send_flow_rem, check_overlap, reset_counts, no_packet_counts, no_byte_counts */
  flags: string[];
  match: Match;
  /** Empty = drop. */
  actions: OfAction[];
  /** del-flows/dump-flows filters (out_port=, out_group=); null when absent. */
  outPort: number | null;
  outGroup: number | null;
  /**
   * The OpenFlow protocol variants the match fields can travel over, as
   * ovs-ofctl narrows them field by field while parsing (usable-protocols.ts);
   * absent = any.
   */
  matchUsable?: number;
  /** Whether `table=` was given (for del/dump filters: absent = all tables). */
  tableGiven: boolean;
}

export const OFP_DEFAULT_PRIORITY = 32768;
