// The flow commands of the control plane (ovs-ofctl add-flow(s), mod-flows,
// del-flows, dump-flows) on a bridge's tables, and the checks every action
// list passes before it is installed (flows and group buckets alike). A
// flows file is parsed and checked whole before anything is applied; each
// command ends with the switch's revalidation.

import type { OfAction } from './actions.ts';
import { SwitchError, type FlowEntry } from './api.ts';
import type { Bridge } from './bridge.ts';
import type { FlowSpec } from './flow-spec.ts';
import { formatActions } from './format-actions.ts';
import { formatFlow, formatMatch } from './format-flow.ts';
import { parseFlow, parseFlowFile } from './parse-flow.ts';

/** What the flow commands need from the switch. */
export interface FlowHost {
  bridge(name: string): Bridge;
  revalidate(): void;
  /** Bring rule counters up to date from the datapath (before a dump). */
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
export function checkActions(acts: OfAction[], br: Bridge | null, where: { file: string; line: number; text: string } | null = null): void {
  for (const a of acts) {
    if (a.type === 'ct' && a.alg) throw new SwitchError('ENOTSUP', `ct(alg=${a.alg}) is not supported yet`);
    if (a.type === 'group' && br && !br.groups.has(a.groupId)) {
      let loc = '';
      if (where) {
        const m = new RegExp(`group[:=(]\\s*${a.groupId}\\b`).exec(where.text);
        loc = `${where.file}:${where.line}:${m ? `${m.index + 1}:` : ''} `;
      }
      throw new SwitchError('OFPBAC_BAD_OUT_GROUP', `${loc}OFPBAC_BAD_OUT_GROUP: group ${a.groupId} does not exist`);
    }
  }
}

export class FlowCommands {
  constructor(private readonly host: FlowHost) {}

  private parseForBridge(br: Bridge, text: string, file: string, mode: 'add' | 'mod'): FlowSpec[] {
    const specs = parseFlowFile(text, file, mode);
    // Where each flow came from, for errors found after parsing (parseFlowFile skips blank and comment lines).
    const lines = text.split('\n');
    const flowLines = lines.map((l, i) => ({ l, i })).filter(({ l }) => l.trim() !== '' && !l.trim().startsWith('#'));
    specs.forEach((s, i) => {
      const at = flowLines[i];
      checkActions(s.actions, br, at ? { file, line: at.i + 1, text: at.l } : null);
      for (const a of s.actions) {
        if (a.type === 'goto_table' && a.table <= s.table) {
          throw new SwitchError('EINVAL', `goto_table:${a.table} must name a table after table ${s.table}`);
        }
      }
    });
    return specs;
  }

  addFlows(bridge: string, text: string, file: string) {
    const br = this.host.bridge(bridge);
    const specs = this.parseForBridge(br, text, file, 'add'); // throws before anything is applied
    const now = this.host.now();
    for (const s of specs) br.addFlow(s, now);
    this.host.revalidate();
    return { added: specs.length };
  }

  modFlows(bridge: string, text: string, file: string, strict: boolean) {
    const br = this.host.bridge(bridge);
    const specs = this.parseForBridge(br, text, file, 'mod');
    const now = this.host.now();
    let n = 0;
    for (const s of specs) n += br.modFlows(s, strict, now);
    this.host.revalidate();
    return { modified: n };
  }

  delFlows(bridge: string, match: string | null, strict: boolean) {
    const br = this.host.bridge(bridge);
    const filter = parseFlow(match ?? '', 'del');
    const n = br.delFlows(filter, strict);
    this.host.revalidate();
    return { deleted: n };
  }

  dumpFlows(bridge: string, match: string | null, opts: { noStats?: boolean }) {
    const br = this.host.bridge(bridge);
    this.host.pushStats();
    const filter = parseFlow(match ?? '', 'dump');
    const rules = br.select(filter, false);
    rules.sort((a, b) => a.table - b.table || b.priority - a.priority || a.id - b.id);
    const now = this.host.now();
    const flows: FlowEntry[] = rules.map((r) => {
      const stats = opts.noStats
        ? undefined
        : {
            durationSec: (now - r.createdMs) / 1000,
            nPackets: r.nPackets,
            nBytes: r.nBytes,
            idleAgeSec: Math.floor((now - r.usedMs) / 1000),
          };
      const text = formatFlow(r.spec, stats);
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
