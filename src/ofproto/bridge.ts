// A bridge: its ports, its OpenFlow tables (one classifier per table, 0..254)
// and its MAC learning table. Flow mods (add/modify/delete, loose and strict)
// follow OpenFlow 1.0 as ovs-ofctl uses it: a loose filter selects every rule
// whose match is at least as specific as the filter, a strict one the rule
// with exactly that match and priority; a modify that selects nothing adds.
// Every change bumps `generation` so the switch revalidates the datapath.

import { OFPP_LOCAL, OFPP_NONE, type LearnAction, type OfAction } from './actions.ts';
import { formatActions } from './format-actions.ts';
import { Classifier, type ConjClause } from './classifier.ts';
import type { Group } from './group.ts';
import type { Meter } from './meter.ts';
import type { FlowSpec } from './flow-spec.ts';
import { MacTable } from './mac-learning.ts';
import { OF_WORDS, type Match } from './match.ts';
import type { RecircIds } from './recirc.ts';
import { Rule } from './rule.ts';
import { PacketInTable } from './packet-in-table.ts';
import type { XBridge, XPort } from './xlate.ts';

export const N_TABLES = 255;

export interface BridgePort extends XPort {
  type: string;
  options: Record<string, string>;
}

export class Bridge implements XBridge {
  readonly tables: Classifier<Rule>[] = [];
  readonly portsByOf = new Map<number, BridgePort>();
  readonly portsByDp = new Map<number, BridgePort>();
  readonly macs = new MacTable();
  /** OpenFlow groups by group id. */
  readonly groups = new Map<number, Group>();
  /** OpenFlow meters by meter id (meter-commands.ts). */
  readonly meters = new Map<number, Meter>();
  /** Bumped on every flow-table, group or port change. */
  generation = 0;
  controllerPackets = 0;
  /** Set by the connection manager (src/ctl): see XBridge. Changing either needs a revalidation. */
  packetInOnMiss = false;
  failOpen = false;
  readonly onControllerPacket = () => {
    this.controllerPackets++;
  };
  /** The packet-ins' cookies and userdata (packet-in-table.ts); starting over retranslates every megaflow. */
  readonly packetIns = new PacketInTable();
  /**
   * Rules added, changed or removed since the database last saved them, while
   * the database keeps a journal (saved-flows.ts); null when nobody tracks.
   */
  ruleChanges: Set<Rule> | null = null;
  /** Rules in the tables with an idle or hard timeout: expireRules has nothing to visit while 0. */
  private nTimed = 0;

  constructor(
    readonly name: string,
    readonly recirc: RecircIds,
    readonly datapathId: bigint,
  ) {
    for (let t = 0; t < N_TABLES; t++) this.tables.push(new Classifier<Rule>());
    this.packetIns.onReset = () => this.generation++;
  }

  // ------------------------------------------------------------ ports

  addPort(p: BridgePort): void {
    this.portsByOf.set(p.ofport, p);
    this.portsByDp.set(p.dpPort, p);
    this.generation++;
  }

  removePort(p: BridgePort): void {
    this.portsByOf.delete(p.ofport);
    this.portsByDp.delete(p.dpPort);
    this.macs.flushPort(p.ofport);
    this.generation++;
  }

  portByName(name: string): BridgePort | undefined {
    for (const p of this.portsByOf.values()) if (p.name === name) return p;
    return undefined;
  }

  /** The lowest free OpenFlow port number (OVS allocates from 1). */
  freeOfport(): number {
    let n = 1;
    while (this.portsByOf.has(n)) n++;
    return n;
  }

  /** Ports in ofport order, LOCAL last, as ovs-ofctl show lists them. */
  sortedPorts(): BridgePort[] {
    return [...this.portsByOf.values()].sort((a, b) => a.ofport - b.ofport);
  }

  // ------------------------------------------------------------ rules

  *rules(): Iterable<Rule> {
    for (const t of this.tables) for (const r of t.rules()) yield r.data;
  }

  ruleCount(): number {
    let n = 0;
    for (const t of this.tables) n += t.count;
    return n;
  }

  /** Add (or replace: same table, match and priority) a rule. */
  addFlow(spec: FlowSpec, nowMs: number): Rule {
    const cls = this.tables[spec.table];
    const old = cls.find(spec.match, spec.priority);
    const rule = new Rule(spec, nowMs);
    if (old) {
      this.forget(old.data);
      cls.remove(old);
      // OpenFlow: replacing an identical flow keeps its counters unless reset_counts.
      if (!spec.flags.includes('reset_counts')) {
        rule.nPackets = old.data.nPackets;
        rule.nBytes = old.data.nBytes;
      }
    }
    cls.insert(spec.match, spec.priority, rule, conjClauses(spec.actions));
    if (isTimed(spec)) this.nTimed++;
    this.ruleChanges?.add(rule);
    this.generation++;
    return rule;
  }

  /** Rules selected by a flow-mod/dump filter. */
  select(filter: FlowSpec, strict: boolean): Rule[] {
    const out: Rule[] = [];
    const tables = filter.tableGiven ? [filter.table] : [...Array(N_TABLES).keys()];
    for (const t of tables) {
      for (const entry of this.tables[t].rules()) {
        const r = entry.data;
        if (strict) {
          if (r.priority !== filter.priority || !sameMatch(r.spec.match, filter.match)) continue;
        } else if (!isSubsetOf(r.spec.match, filter.match)) continue;
        if (filter.cookieMask !== null && filter.cookieMask !== 0n) {
          if ((r.spec.cookie & filter.cookieMask) !== (filter.cookie & filter.cookieMask)) continue;
        }
        if (filter.outPort !== null && filter.outPort !== OFPP_NONE && !outputsTo(r.spec.actions, filter.outPort)) continue;
        if (filter.outGroup !== null && !r.spec.actions.some((a) => a.type === 'group' && a.groupId === filter.outGroup)) continue;
        out.push(r);
      }
    }
    return out;
  }

  /** Modify actions of the selected rules; with none selected, add the flow (OpenFlow 1.0). */
  modFlows(spec: FlowSpec, strict: boolean, nowMs: number): number {
    const rules = this.select(spec, strict);
    if (rules.length === 0) {
      this.addFlow({ ...spec, table: spec.tableGiven ? spec.table : 0 }, nowMs);
      return 1;
    }
    for (const r of rules) {
      r.spec = { ...r.spec, actions: spec.actions };
      // A rule becomes soft (conjunction-only) or hard with its actions: re-insert it as such.
      const cls = this.tables[r.table];
      const entry = cls.find(r.spec.match, r.priority);
      if (entry && entry.data === r) {
        cls.remove(entry);
        cls.insert(r.spec.match, r.priority, r, conjClauses(spec.actions));
      }
      if (spec.flags.includes('reset_counts')) {
        r.nPackets = 0;
        r.nBytes = 0;
      }
      this.ruleChanges?.add(r);
    }
    this.generation++;
    return rules.length;
  }

  delFlows(filter: FlowSpec, strict: boolean): number {
    const rules = this.select(filter, strict);
    for (const r of rules) this.removeRule(r);
    if (rules.length) this.generation++;
    return rules.length;
  }

  /** [ofwire] Told of each rule removed, with OpenFlow's reason (0 idle, 1 hard timeout, 2 delete, 3 group delete): FLOW_REMOVED. */
  onRuleRemoved: ((r: Rule, reason: number) => void) | null = null;

  removeRule(r: Rule, reason = 2): void {
    const cls = this.tables[r.table];
    const entry = cls.find(r.spec.match, r.priority);
    if (entry && entry.data === r) cls.remove(entry);
    this.forget(r);
    // learn(delete_learned,...): the flows a deleted rule learned go with it.
    for (const a of r.spec.actions) {
      if (a.type !== 'learn') continue;
      const learned = this.learnedBy.get(a);
      this.learnedBy.delete(a);
      if (a.deleteLearned && learned) for (const l of learned) if (!l.removed) this.removeRule(l);
    }
    this.onRuleRemoved?.(r, reason);
  }

  /** A rule leaves the tables: stale references ignore it, the timeout count and the database's journal follow. */
  private forget(r: Rule): void {
    if (r.removed) return;
    r.removed = true;
    if (isTimed(r.spec)) this.nTimed--;
    this.ruleChanges?.add(r);
  }

  /** Flows installed by each learn action (by action object), for limit= and delete_learned. */
  private readonly learnedBy = new Map<LearnAction, Set<Rule>>();

  /**
   * A learn action's flow (XBridge.learnFlow): added, or, when the same flow
   * with the same actions is there, refreshed in place (its timeouts start
   * again) without a table change. limit= counts the flows this action
   * learned that still exist. `dryRun` (tracing, revalidation) only says
   * whether the flow would be learned, so result_dst comes out the same.
   */
  readonly learnFlow = (spec: FlowSpec, learn: LearnAction, _owner: Rule | undefined, nowMs: number, dryRun = false): boolean => {
    let set = this.learnedBy.get(learn);
    if (!set) this.learnedBy.set(learn, (set = new Set()));
    for (const r of set) if (r.removed) set.delete(r);
    const existing = this.tables[spec.table].find(spec.match, spec.priority)?.data;
    if (existing && set.has(existing) && formatActions(existing.spec.actions) === formatActions(spec.actions) &&
      existing.spec.idleTimeout === spec.idleTimeout && existing.spec.hardTimeout === spec.hardTimeout) {
      if (dryRun) return true;
      existing.createdMs = nowMs;
      existing.usedMs = nowMs;
      return true;
    }
    if (learn.limit && !(existing && set.has(existing)) && set.size >= learn.limit) return false;
    if (dryRun) return true;
    set.add(this.addFlow(spec, nowMs));
    return true;
  };

  // ------------------------------------------------------------ groups

  /** Install `g`, replacing any group with its id (the old one stops counting). */
  putGroup(g: Group): void {
    const old = this.groups.get(g.id);
    if (old) old.removed = true;
    this.groups.set(g.id, g);
    this.generation++;
  }

  /** Delete a group and, as OpenFlow requires, every rule that sends to it; returns whether it existed. */
  deleteGroup(id: number): boolean {
    const g = this.groups.get(id);
    if (!g) return false;
    g.removed = true;
    this.groups.delete(id);
    for (const r of [...this.rules()]) if (r.spec.actions.some((a) => a.type === 'group' && a.groupId === id)) this.removeRule(r, 3);
    this.generation++;
    return true;
  }

  /** How many rules send to group `id` (dump-group-stats' ref_count). */
  groupRefCount(id: number): number {
    let n = 0;
    for (const r of this.rules()) if (r.spec.actions.some((a) => a.type === 'group' && a.groupId === id)) n++;
    return n;
  }

  /** Remove rules whose idle or hard timeout has passed; returns how many. */
  expireRules(nowMs: number): number {
    if (this.nTimed === 0) return 0;
    const dead: [Rule, number][] = [];
    for (const r of this.rules()) {
      const { idleTimeout, hardTimeout } = r.spec;
      if (hardTimeout > 0 && nowMs - r.createdMs >= hardTimeout * 1000) dead.push([r, 1]);
      else if (idleTimeout > 0 && nowMs - r.usedMs >= idleTimeout * 1000) dead.push([r, 0]);
    }
    for (const [r, reason] of dead) this.removeRule(r, reason);
    if (dead.length) this.generation++;
    return dead.length;
  }
}

const isTimed = (s: FlowSpec) => s.idleTimeout > 0 || s.hardTimeout > 0;

/** The clauses of a conjunction-only rule, for the classifier; null for any other rule. */
function conjClauses(actions: OfAction[]): ConjClause[] | null {
  const out: ConjClause[] = [];
  for (const a of actions) if (a.type === 'conjunction') out.push({ id: a.id, clause: a.clause - 1, nClauses: a.nClauses });
  return out.length ? out : null;
}

function sameMatch(a: Match, b: Match): boolean {
  if (a.conjId !== b.conjId) return false;
  for (let i = 0; i < OF_WORDS; i++) if (a.mask[i] !== b.mask[i] || a.value[i] !== b.value[i]) return false;
  return true;
}

/** True when every packet matching `rule` also matches `filter` (rule is at least as specific). */
function isSubsetOf(rule: Match, filter: Match): boolean {
  if (filter.conjId !== undefined && rule.conjId !== filter.conjId) return false;
  for (let i = 0; i < OF_WORDS; i++) {
    const fm = filter.mask[i];
    if ((rule.mask[i] & fm) >>> 0 !== fm) return false;
    if ((rule.value[i] & fm) >>> 0 !== filter.value[i]) return false;
  }
  return true;
}

function outputsTo(actions: OfAction[], port: number): boolean {
  for (const a of actions) {
    if (a.type === 'output' && a.port === port) return true;
    if (a.type === 'ct' && outputsTo(a.exec, port)) return true;
  }
  return false;
}

export { OFPP_LOCAL };
