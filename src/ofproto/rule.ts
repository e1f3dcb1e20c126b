// An installed OpenFlow rule: the flow as the user wrote it plus the
// counters and timestamps dump-flows prints. Rules are owned by their
// bridge's tables; megaflows keep references to the rules they were
// translated through so that datapath hits can be credited back (OVS's
// "xlate cache" / revalidator stats push).

import type { FlowSpec } from './flow-spec.ts';

let nextRuleId = 1;

export class Rule {
  readonly id = nextRuleId++;
  nPackets = 0;
  nBytes = 0;
  /** Last time a packet hit this rule (ms since epoch), for idle_timeout and idle_age. */
  usedMs: number;
  /** Set when the rule is removed from its table; stale references then ignore stats. */
  removed = false;
  /** The flow's database text (saved-flows.ts), formatted once; cleared when the spec changes. */
  text: string | null = null;
  /** The text the database on disk holds for this rule, or null (saved-flows.ts, the journal's deletes). */
  savedText: string | null = null;
  private _spec: FlowSpec;

  constructor(
    spec: FlowSpec,
    /** When the rule was added (or, for a learned flow, last re-learned): hard_timeout counts from here. */
    public createdMs: number,
  ) {
    this._spec = spec;
    this.usedMs = createdMs;
  }

  get spec(): FlowSpec {
    return this._spec;
  }

  set spec(s: FlowSpec) {
    this._spec = s;
    this.text = null;
  }

  get table(): number {
    return this.spec.table;
  }

  get priority(): number {
    return this.spec.priority;
  }

  credit(packets: number, bytes: number, nowMs: number): void {
    if (packets <= 0) return;
    this.nPackets += packets;
    this.nBytes += bytes;
    this.usedMs = nowMs;
  }
}
