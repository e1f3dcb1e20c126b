// Whole-table flow commands: replace-flows (make a bridge's tables equal a
// file with the fewest changes, counters kept on unchanged flows) and
// diff-flows (print the difference as ovs-ofctl diff-flows does). A flow's
// identity is OVS's fte key: table, priority and match; what else is
// compared is its "version": cookie, timeouts, importance, actions.

import { SwitchError } from './api.ts';
import type { Bridge } from './bridge.ts';
import { withPortLabels } from './field-text.ts';
import type { FlowSpec } from './flow-spec.ts';
import type { FlowModLine } from './parse-flow.ts';
import { formatActions } from './format-actions.ts';
import { formatMatch } from './format-flow.ts';
import type { Rule } from './rule.ts';

function flowKey(table: number, spec: FlowSpec): string {
  return `${table} ${formatMatch(spec.match, spec.priority)}`;
}

function versionText(spec: FlowSpec): string {
  let s = '';
  if (spec.cookie !== 0n) s += ` cookie=0x${spec.cookie.toString(16)}`;
  if (spec.idleTimeout) s += ` idle_timeout=${spec.idleTimeout}`;
  if (spec.hardTimeout) s += ` hard_timeout=${spec.hardTimeout}`;
  if (spec.importance) s += ` importance=${spec.importance}`;
  return `${s} actions=${formatActions(spec.actions)}`;
}

/** One side of a diff-flows line, as ovs-ofctl's fte_version_format prints it. */
function diffLine(table: number, spec: FlowSpec): string {
  return `${table ? `table=${table} ` : ''}${formatMatch(spec.match, spec.priority)}${versionText(spec)}`;
}

/** The file's flows (adds only, as ovs-ofctl reads them for replace/diff), last one per key winning. */
function fileFlows(lines: FlowModLine[], file: string): Map<string, FlowSpec> {
  const out = new Map<string, FlowSpec>();
  for (const l of lines) {
    if (l.command !== 'add') throw new SwitchError('EINVAL', `${file}:${l.line}: ${l.command} lines are not allowed here (the file lists the flows the tables should hold)`);
    const spec = { ...l.spec, table: l.spec.tableGiven ? l.spec.table : 0 };
    out.set(flowKey(spec.table, spec), spec);
  }
  return out;
}

function bridgeFlows(br: Bridge): Map<string, Rule> {
  const out = new Map<string, Rule>();
  for (const r of br.rules()) out.set(flowKey(r.table, r.spec), r);
  return out;
}

/**
 * ovs-ofctl replace-flows: after it the tables hold exactly the file's
 * flows. Flows that are the same in both stay untouched (their counters
 * and age go on); changed ones are replaced, missing ones added, the rest
 * deleted. Nothing changes when the file does not parse.
 */
export function replaceFlows(br: Bridge, lines: FlowModLine[], file: string, now: number) {
  const want = fileFlows(lines, file);
  const have = bridgeFlows(br);
  let added = 0, modified = 0, deleted = 0;
  for (const [key, r] of have) {
    if (!want.has(key)) {
      br.removeRule(r);
      deleted++;
    }
  }
  for (const [key, spec] of want) {
    const r = have.get(key);
    if (r && versionText(r.spec) === versionText(spec)) continue;
    br.addFlow(spec, now);
    if (r) modified++;
    else added++;
  }
  if (deleted) br.generation++;
  return { added, modified, deleted };
}

/** ovs-ofctl diff-flows BRIDGE FILE: `-` lines are the bridge's, `+` lines the file's (`names`: print ports by name). */
export function diffFlows(br: Bridge, fileLines: FlowModLine[], file: string, names: ReadonlyMap<number, string> | null) {
  const want = fileFlows(fileLines, file);
  const have = bridgeFlows(br);
  const keys = [...new Set([...have.keys(), ...want.keys()])];
  const specOf = (k: string) => have.get(k)?.spec ?? want.get(k)!;
  keys.sort((a, b) => {
    const x = specOf(a), y = specOf(b);
    return x.table - y.table || y.priority - x.priority || (a < b ? -1 : a > b ? 1 : 0);
  });
  const lines: string[] = [];
  withPortLabels(names, () => {
    for (const k of keys) {
      const a = have.get(k)?.spec, b = want.get(k);
      if (a && b && versionText(a) === versionText(b)) continue;
      if (a) lines.push(`-${diffLine(a.table, a)}`);
      if (b) lines.push(`+${diffLine(b.table, b)}`);
    }
  });
  return { differ: lines.length > 0, lines };
}
