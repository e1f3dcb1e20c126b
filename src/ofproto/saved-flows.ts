// The flows as the database saves them, and what changed since the last
// save (for the database's journal, ctl/db-journal.ts).
//
// A rule's database text is `formatFlow(spec)`, formatted once and kept on
// the rule (Rule.text; a new spec clears it). Within a bridge the text is a
// rule's identity: two rules with the same table, priority and match cannot
// both be in the tables, and the text holds all three. So the journal names
// a rule by the text the database holds for it (Rule.savedText), and a save
// after N flow mods writes N lines' worth, whatever the table's size.
//
// What must stay true: once a bridge tracks changes (ruleChanges non-null),
// every rule that enters, leaves or changes its tables is in ruleChanges
// until the next save takes it (bridge.ts does that); savedText is what the
// file on disk holds only if that save reached the disk, so after a failed
// save the caller must save in full (fullFlows resets everything).

import type { Bridge } from './bridge.ts';
import { formatFlow } from './format-flow.ts';
import type { Rule } from './rule.ts';

/** One bridge's flow changes: the saved texts that go, then the texts that come. */
export interface FlowDelta {
  del: string[];
  add: string[];
}

/** A rule's database text (cached on the rule). */
export function ruleText(r: Rule): string {
  return (r.text ??= formatFlow(r.spec).trim());
}

/** Database order: by table, then priority (highest first), then age. */
export function savedOrder(rules: Iterable<Rule>): Rule[] {
  return [...rules].sort((a, b) => a.table - b.table || b.priority - a.priority || a.id - b.id);
}

/** The bridge's flows in database order. With `baseline`, they become what the disk holds and tracking starts afresh. */
export function fullFlows(br: Bridge, baseline: boolean): string[] {
  const rules = savedOrder(br.rules());
  const out = new Array<string>(rules.length);
  for (let i = 0; i < rules.length; i++) {
    const t = ruleText(rules[i]);
    out[i] = t;
    if (baseline) rules[i].savedText = t;
  }
  if (baseline) br.ruleChanges = new Set();
  return out;
}

/** What changed in the bridge's flows since the last save; the changes are taken (the next call starts from here). */
export function takeFlowDelta(br: Bridge): FlowDelta {
  const d: FlowDelta = { del: [], add: [] };
  const changes = br.ruleChanges;
  if (!changes || changes.size === 0) return d;
  br.ruleChanges = new Set();
  for (const r of changes) {
    const now = r.removed ? null : ruleText(r);
    if (r.savedText === now) continue;
    if (r.savedText !== null) d.del.push(r.savedText);
    if (now !== null) d.add.push(now);
    r.savedText = now;
  }
  return d;
}
