// The flow commands of the control plane (ovs-ofctl add-flow(s), mod-flows,
// del-flows, dump-flows, replace-flows, diff-flows) on a bridge's tables,
// and the checks every action list passes before it is installed (flows and
// group buckets alike). Port names in flow text resolve against the
// bridge's ports; an add-flows line may carry its own command (add, modify,
// modify_strict, delete, delete_strict). A file is parsed and checked whole
// before anything is applied (all or nothing, as `--bundle` asks); each
// command ends with the switch's revalidation. The control socket uses the
// *Sliced versions, which parse a big file without holding the event loop.

import type { OfAction } from './actions.ts';
import { SwitchError, type FlowEntry } from './api.ts';
import type { Bridge } from './bridge.ts';
import { withPortLabels, withPortNames } from './field-text.ts';
import { diffFlows, replaceFlows } from './flow-diff.ts';
import type { FlowSpec } from './flow-spec.ts';
import { formatActions } from './format-actions.ts';
import { formatFlow, formatMatch } from './format-flow.ts';
import { parseFlow, parseFlowFile, parseFlowModFile, type FlowModLine } from './parse-flow.ts';
import { parseFlowModSliced } from './flow-slices.ts';

/** Where a flow came from, for errors found after parsing. */
export interface FlowWhere {
  file: string;
  line: number;
  text: string;
}

/** What the flow commands need from the switch. */
export interface FlowHost {
  bridge(name: string): Bridge;
  revalidate(): void;
  /** Bring rule counters up to date from the datapath (before a dump or a replace). */
  pushStats(): void;
  now(): number;
}

/**
 * Checks that need the bridge or the switch's capabilities (OVS's
 * ofpacts_check): conntrack features, and for flows (`br` given) that
 * every group they send to exists, refused as OVS refuses it with
 * OFPBAC_BAD_OUT_GROUP. Group buckets may name groups that do not exist
 * yet (OVS 3.1 accepts them; translation drops).
 */
export function checkActions(acts: OfAction[], br: Bridge | null, where: FlowWhere | null = null): void {
  for (const a of acts) {
    if (a.type === 'group' && br && !br.groups.has(a.groupId)) {
      let loc = '';
      if (where) {
        const m = new RegExp(`group[:=(]\\s*${a.groupId}\\b`).exec(where.text);
        loc = `${where.file}:${where.line}:${m ? `${m.index + 1}:` : ''} `;
      }
      throw new SwitchError('OFPBAC_BAD_OUT_GROUP', `${loc}OFPBAC_BAD_OUT_GROUP: group ${a.groupId} does not exist`);
    }
    // As ofproto_check_ofpacts: a flow may use only a meter the bridge has.
    if (a.type === 'meter' && br && !br.meters.has(a.meterId)) {
      const loc = where ? `${where.file}:${where.line}: ` : '';
      throw new SwitchError('OFPMMFC_INVALID_METER', `${loc}OFPMMFC_INVALID_METER: meter ${a.meterId} does not exist`);
    }
  }
}

/** The switch-side checks of one parsed flow: its actions, and goto_table going forward. */
export function checkFlow(br: Bridge, s: FlowSpec, where: FlowWhere | null): void {
  checkActions(s.actions, br, where);
  for (const a of s.actions) {
    if (a.type === 'goto_table' && a.table <= s.table) {
      throw new SwitchError('EINVAL', `goto_table:${a.table} must name a table after table ${s.table}`);
    }
  }
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

/** An add-flows file's lines, parsed for the bridge and checked (adds and modifies). */
export function parseFlowModLines(br: Bridge, text: string, file: string): FlowModLine[] {
  return checkFlowModLines(br, parseForBridge(br, () => parseFlowModFile(text, file)), file);
}

/** The switch-side checks of an add-flows file's adds and modifies; returns the lines. */
export function checkFlowModLines(br: Bridge, lines: FlowModLine[], file: string): FlowModLine[] {
  for (const l of lines) if (l.command.startsWith('add') || l.command.startsWith('modify')) checkFlow(br, l.spec, { file, line: l.line, text: l.text });
  return lines;
}

export class FlowCommands {
  constructor(private readonly host: FlowHost) {}

  /** ovs-ofctl add-flows: each line adds, or does what its leading command says. */
  addFlows(bridge: string, text: string, file: string) {
    const br = this.host.bridge(bridge);
    return this.applyFlowMods(br, parseFlowModLines(br, text, file)); // parse throws before anything is applied
  }

  // The control socket's versions of the whole-file commands: a big file is
  // parsed in slices that let other requests through (flow-slices.ts), then
  // checked against the bridge as it is now and applied in one synchronous
  // step, so it is still all or nothing. Callers run one bridge's requests
  // in order (ctl/methods.ts).

  async addFlowsSliced(bridge: string, text: string, file: string) {
    const [br, lines] = await this.parseSliced(bridge, text, file);
    return this.applyFlowMods(br, lines);
  }

  async replaceFlowsSliced(bridge: string, text: string, file: string) {
    const [br, lines] = await this.parseSliced(bridge, text, file);
    return this.replaceChecked(br, lines, file);
  }

  async diffFlowsSliced(bridge: string, text: string, file: string, opts: { names?: boolean } = {}) {
    const [br, lines] = await this.parseSliced(bridge, text, file);
    return diffFlows(br, lines, file, opts.names ? portNames(br) : null);
  }

  /** Parse in slices, then check against the bridge as it is once parsing is done. */
  private async parseSliced(bridge: string, text: string, file: string): Promise<[Bridge, FlowModLine[]]> {
    const lines = await parseFlowModSliced(portNumbers(this.host.bridge(bridge)), text, file);
    const br = this.host.bridge(bridge);
    return [br, checkFlowModLines(br, lines, file)];
  }

  /** Apply checked add-flows lines, in order, and revalidate. */
  private applyFlowMods(br: Bridge, lines: FlowModLine[]) {
    const now = this.host.now();
    let added = 0, modified = 0, deleted = 0;
    for (const { command, spec } of lines) {
      if (command === 'add') {
        // As `ovs-ofctl add-flows` (OpenFlow 1.0): an add resets counters, which OVS records as reset_counts.
        const flags = spec.flags.includes('reset_counts') ? spec.flags : [...spec.flags, 'reset_counts'];
        br.addFlow({ ...spec, flags, table: spec.tableGiven ? spec.table : 0 }, now);
        added++;
      } else if (command === 'modify' || command === 'modify_strict') modified += br.modFlows(spec, command === 'modify_strict', now);
      else deleted += br.delFlows(spec, command === 'delete_strict');
    }
    this.host.revalidate();
    return { added, modified, deleted };
  }

  modFlows(bridge: string, text: string, file: string, strict: boolean) {
    const br = this.host.bridge(bridge);
    const specs = parseForBridge(br, () => parseFlowFile(text, file, 'mod'));
    // Where each flow came from, for errors found after parsing (parseFlowFile skips blank and comment lines).
    const flowLines = text.split('\n').map((l, i) => ({ l, i })).filter(({ l }) => l.trim() !== '' && !l.trim().startsWith('#'));
    specs.forEach((s, i) => {
      const at = flowLines[i];
      checkFlow(br, s, at ? { file, line: at.i + 1, text: at.l } : null);
    });
    const now = this.host.now();
    let n = 0;
    for (const s of specs) n += br.modFlows(s, strict, now);
    this.host.revalidate();
    return { modified: n };
  }

  delFlows(bridge: string, match: string | null, strict: boolean) {
    const br = this.host.bridge(bridge);
    const filter = parseForBridge(br, () => parseFlow(match ?? '', 'del'));
    const n = br.delFlows(filter, strict);
    this.host.revalidate();
    return { deleted: n };
  }

  replaceFlows(bridge: string, text: string, file: string) {
    const br = this.host.bridge(bridge);
    return this.replaceChecked(br, parseFlowModLines(br, text, file), file);
  }

  private replaceChecked(br: Bridge, lines: FlowModLine[], file: string) {
    this.host.pushStats();
    const r = replaceFlows(br, lines, file, this.host.now());
    this.host.revalidate();
    return r;
  }

  diffFlows(bridge: string, text: string, file: string, opts: { names?: boolean } = {}) {
    const br = this.host.bridge(bridge);
    return diffFlows(br, parseFlowModLines(br, text, file), file, opts.names ? portNames(br) : null);
  }

  dumpFlows(bridge: string, match: string | null, opts: { noStats?: boolean; names?: boolean }) {
    const br = this.host.bridge(bridge);
    this.host.pushStats();
    const filter = parseForBridge(br, () => parseFlow(match ?? '', 'dump'));
    const rules = br.select(filter, false);
    rules.sort((a, b) => a.table - b.table || b.priority - a.priority || a.id - b.id);
    const now = this.host.now();
    const names = opts.names ? portNames(br) : null;
    const flows: FlowEntry[] = rules.map((r) => {
      const stats = opts.noStats
        ? undefined
        : {
            durationSec: (now - r.createdMs) / 1000,
            nPackets: r.nPackets,
            nBytes: r.nBytes,
            idleAgeSec: Math.floor((now - r.usedMs) / 1000),
          };
      const text = withPortLabels(names, () => formatFlow(r.spec, stats));
      return {
        table: r.table,
        priority: r.priority,
        cookie: `0x${r.spec.cookie.toString(16)}`,
        durationSec: Number(((now - r.createdMs) / 1000).toFixed(3)),
        nPackets: r.nPackets,
        nBytes: r.nBytes,
        idleTimeout: r.spec.idleTimeout,
        hardTimeout: r.spec.hardTimeout,
        match: formatMatch(r.spec.match),
        actions: formatActions(r.spec.actions),
        text,
      };
    });
    const lines = opts.noStats ? flows.map((f) => f.text) : ['NXST_FLOW reply (xid=0x4):', ...flows.map((f) => f.text)];
    return { flows, lines };
  }
}
