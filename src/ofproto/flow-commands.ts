// Flow-file commands of the control plane that go beyond one flow mod:
// add-flows files whose lines carry their own command (add, modify,
// modify_strict, delete, delete_strict), replace-flows (make a bridge's
// tables equal a file with the fewest changes) and diff-flows (print the
// difference as ovs-ofctl diff-flows does). Port names in the files resolve
// against the bridge's ports. Every command parses and checks the whole file
// before it changes anything (all or nothing, as `--bundle` asks).

import { SwitchError } from './api.ts';
import type { Bridge } from './bridge.ts';
import type { FlowSpec } from './flow-spec.ts';
import { formatActions } from './format-actions.ts';
import { formatMatch, withPortLabels } from './format-flow.ts';
import { parseFlowModFile, withPortNames, type FlowModLine } from './parse-flow.ts';
import type { Rule } from './rule.ts';

/** Where a flow came from, for errors found after parsing. */
export interface FlowWhere {
  file: string;
  line: number;
  text: string;
}

/** What the flow commands need from the switch. */
export interface FlowHost {
  bridge(name: string): Bridge;
  /** Switch-side checks of one parsed flow (conntrack, groups, goto_table); throws SwitchError. */
  checkFlow(br: Bridge, spec: FlowSpec, where: FlowWhere): void;
  revalidate(): void;
  now(): number;
}

/** The bridge's port names -> OpenFlow port numbers, for resolving names in flow text. */
export function portNumbers(br: Bridge): Map<string, number> {
  const m = new Map<string, number>();
  for (const p of br.sortedPorts()) m.set(p.name, p.ofport);
  return m;
}

/** OpenFlow port numbers -> names, for printing with --names. */
export function portNames(br: Bridge): Map<number, string> {
  const m = new Map<number, string>();
  for (const p of br.sortedPorts()) m.set(p.ofport, p.name);
  return m;
}

/** Parse flow text for a bridge: names resolve to its ports, fields swd cannot carry are refused. */
export function parseForBridge<T>(br: Bridge, fn: () => T): T {
  return withPortNames(portNumbers(br), fn, true);
}

/** The identity of a flow in a table (OVS's fte: table, priority, match). */
function flowKey(table: number, spec: FlowSpec): string {
  return `${table} ${formatMatch(spec.match, spec.priority)}`;
}

/** What diff-flows compares besides the key: cookie, timeouts, importance, actions. */
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

export class FlowCommands {
  constructor(private readonly host: FlowHost) {}

  private parseFile(br: Bridge, text: string, file: string): FlowModLine[] {
    const lines = parseForBridge(br, () => parseFlowModFile(text, file));
    for (const l of lines) if (l.command.startsWith('add') || l.command.startsWith('modify')) this.host.checkFlow(br, l.spec, { file, line: l.line, text: l.text });
    return lines;
  }

  /** ovs-ofctl add-flows: each line adds, or does what its leading command says. */
  addFlows(bridge: string, text: string, file: string) {
    const br = this.host.bridge(bridge);
    const lines = this.parseFile(br, text, file); // throws before anything is applied
    const now = this.host.now();
    let added = 0, modified = 0, deleted = 0;
    for (const { command, spec } of lines) {
      if (command === 'add') {
        br.addFlow({ ...spec, table: spec.tableGiven ? spec.table : 0 }, now);
        added++;
      } else if (command === 'modify' || command === 'modify_strict') modified += br.modFlows(spec, command === 'modify_strict', now);
      else deleted += br.delFlows(spec, command === 'delete_strict');
    }
    this.host.revalidate();
    return { added, modified, deleted };
  }

  /** The file's flows (adds only, as ovs-ofctl reads them for replace/diff), last one per key winning. */
  private fileFlows(br: Bridge, text: string, file: string): Map<string, FlowSpec> {
    const out = new Map<string, FlowSpec>();
    for (const l of this.parseFile(br, text, file)) {
      if (l.command !== 'add') throw new SwitchError('EINVAL', `${file}:${l.line}: ${l.command} lines are not allowed here (the file lists the flows the tables should hold)`);
      const spec = { ...l.spec, table: l.spec.tableGiven ? l.spec.table : 0 };
      out.set(flowKey(spec.table, spec), spec);
    }
    return out;
  }

  private bridgeFlows(br: Bridge): Map<string, Rule> {
    const out = new Map<string, Rule>();
    for (const r of br.rules()) out.set(flowKey(r.table, r.spec), r);
    return out;
  }

  /**
   * ovs-ofctl replace-flows: after it the tables hold exactly the file's
   * flows. Flows that are the same in both stay untouched (their counters
   * and age go on); changed ones are replaced, missing ones added, the rest
   * deleted.
   */
  replaceFlows(bridge: string, text: string, file: string) {
    const br = this.host.bridge(bridge);
    const want = this.fileFlows(br, text, file);
    const have = this.bridgeFlows(br);
    const now = this.host.now();
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
    this.host.revalidate();
    return { added, modified, deleted };
  }

  /** ovs-ofctl diff-flows BRIDGE FILE: `-` lines are the bridge's, `+` lines the file's. */
  diffFlows(bridge: string, text: string, file: string, opts: { names?: boolean } = {}) {
    const br = this.host.bridge(bridge);
    const want = this.fileFlows(br, text, file);
    const have = this.bridgeFlows(br);
    const keys = [...new Set([...have.keys(), ...want.keys()])];
    const specOf = (k: string) => have.get(k)?.spec ?? want.get(k)!;
    keys.sort((a, b) => {
      const x = specOf(a), y = specOf(b);
      return x.table - y.table || y.priority - x.priority || (a < b ? -1 : a > b ? 1 : 0);
    });
    const lines: string[] = [];
    withPortLabels(opts.names ? portNames(br) : null, () => {
      for (const k of keys) {
        const a = have.get(k)?.spec, b = want.get(k);
        if (a && b && versionText(a) === versionText(b)) continue;
        if (a) lines.push(`-${diffLine(a.table, a)}`);
        if (b) lines.push(`+${diffLine(b.table, b)}`);
      }
    });
    return { differ: lines.length > 0, lines };
  }
}
