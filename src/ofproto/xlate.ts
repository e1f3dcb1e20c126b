// Translation: runs a flow key through a bridge's OpenFlow tables and produces
// the datapath actions for it plus the megaflow mask — the bits of the key
// that the outcome depended on. This is the upcall (slow) path; it may
// allocate freely. The rules that must stay true for megaflows to be correct:
// - every classifier lookup ORs the masks of the subtables it visited into wc;
// - every action that reads a field (NORMAL reads MACs and VLAN, dec_ttl reads
//   the TTL, move/output_reg read their source) unwildcards what it read;
// - a header field rewritten by a set action is unwildcarded, so the action's
//   result does not depend on bits the megaflow ignores;
// - OpenFlow-only state (registers, metadata) never reaches the datapath
//   mask: it is constant per recirc id (frozen state), so it is cleared from
//   wc at the end; actset_output, a function of the path taken, is not even
//   in the datapath key (match.ts).
//
// `flow` is the packet as OpenFlow currently sees it (in_port as an OpenFlow
// port number); `base` is the packet as the datapath has it after the
// actions emitted so far. Differences are committed as set/push/pop actions
// just before any action that lets the packet leave translation's hands
// (output, ct, recirc, userspace).

import {
  ETH_TYPE_IP, ETH_TYPE_IPV6, FK_ETH_TYPE, FK_IN_PORT, FK_NW_FRAG, FK_RECIRC_ID, FK_WORDS, FRAG_ANY, FRAG_LATER, VLAN_CFI, FK_VLAN_TCI,
} from '../packet/flow-key.ts';
import type { OfAction } from './actions.ts';
import { OFPP_IN_PORT, OFPP_NONE, OFPP_NORMAL } from './actions.ts';
import { readSlice } from './fields.ts';
import { formatActions } from './format-actions.ts';
import { formatMatch } from './format-flow.ts';
import { composeCt, xlateCtClear } from './xlate-ct.ts';
import { commitChanges } from './xlate-commit.ts';
import { Ctx, OF_ONLY_FIRST, OF_ONLY_LAST, overResubmitLimits, packetInUserdata, missUserdata, type Pipeline, type XBridge, type XlateResult } from './xlate-ctx.ts';

/** controller(reason=...) names, by OpenFlow reason code. */
const CONTROLLER_REASONS = ['no_match', 'action', 'invalid_ttl', 'action_set', 'group', 'packet_out'];
import { xlateFieldAction } from './xlate-fields.ts';
import { actionSetChanged, runActionSet } from './action-set.ts';
import { xlateGroup } from './xlate-group.ts';
import { xlateMoreAction } from './xlate-more.ts';
import { xlateCheckPktLarger } from './xlate-pkt-len.ts';
import { outputPort } from './xlate-output.ts';
import type { Rule } from './rule.ts';
import * as dp from '../datapath/dp-actions.ts';

export type { XBridge, XlateResult, XPort } from './xlate-ctx.ts';

const pipeline: Pipeline = { lookupAndExecute, executeAction };

/**
 * Translate `key` (a datapath flow key: in_port is a datapath port number)
 * through `br`. When `key[FK_RECIRC_ID]` is non-zero the frozen state of
 * that id says where to resume.
 */
export function xlate(br: XBridge, key: Uint32Array, nowMs: number, traceLines: string[] | null = null, learn = true): XlateResult {
  const ctx = new Ctx(pipeline, br, key, nowMs, traceLines);
  ctx.learn = learn;
  // Always exact: where the packet came from and what kind of packet it is.
  ctx.unwild(FK_RECIRC_ID);
  ctx.unwild(FK_IN_PORT);
  ctx.unwild(FK_ETH_TYPE);
  // Tagged or not is part of the packet's type (OVS's datapath key has it in
  // eth_type/encap), so a megaflow never mixes the two.
  ctx.unwild(FK_VLAN_TCI, VLAN_CFI);
  const ethType = key[FK_ETH_TYPE];
  if (ethType === ETH_TYPE_IP || ethType === ETH_TYPE_IPV6) ctx.unwild(FK_NW_FRAG, FRAG_ANY | FRAG_LATER);

  const inPort = br.portsByDp.get(key[FK_IN_PORT]);
  ctx.flow[FK_IN_PORT] = inPort ? inPort.ofport : OFPP_NONE;
  ctx.packetInPort = ctx.flow[FK_IN_PORT];

  let startTable = 0;
  const recircId = key[FK_RECIRC_ID];
  if (recircId !== 0) {
    const frozen = br.recirc.get(recircId);
    if (!frozen || frozen.bridge !== br.name) {
      ctx.error = `unknown recirculation id 0x${recircId.toString(16)}`;
      ctx.tr(`No frozen state for recirc_id=0x${recircId.toString(16)}: drop`);
      return finish(ctx);
    }
    for (let w = OF_ONLY_FIRST; w <= OF_ONLY_LAST; w++) ctx.flow[w] = frozen.metadata[w - OF_ONLY_FIRST];
    if (frozen.actionSet) {
      ctx.actionSet = [...frozen.actionSet];
      actionSetChanged(ctx);
    }
    startTable = frozen.table;
  }
  if (!inPort) {
    ctx.tr(`in_port ${key[FK_IN_PORT]} is not a port of bridge "${br.name}": drop`);
    return finish(ctx);
  }
  if (traceLines) {
    traceLines.push(`bridge("${br.name}")`);
    traceLines.push('-'.repeat(`bridge("${br.name}")`.length));
  }
  if (ctx.br.failOpen && startTable === 0) {
    ctx.tr(' 0. fail-open (no controller connected): NORMAL');
    outputPort(ctx, OFPP_NORMAL);
  } else lookupAndExecute(ctx, startTable, true);
  runActionSet(ctx, (acts) => executeActions(ctx, acts));
  return finish(ctx);
}


/**
 * Translate an action list (an OpenFlow packet-out's) for a packet whose
 * key the datapath extracted; `ofInPort` is the packet-out's in_port (a
 * bridge port, or CONTROLLER/LOCAL/NONE).
 */
export function xlateActions(br: XBridge, key: Uint32Array, ofInPort: number, actions: OfAction[], nowMs: number): XlateResult {
  const ctx = new Ctx(pipeline, br, key, nowMs, null);
  ctx.learn = false;
  ctx.flow[FK_IN_PORT] = ofInPort;
  ctx.packetInPort = ofInPort;
  ctx.inPacketOut = true;
  executeActions(ctx, actions);
  return finish(ctx);
}

function finish(ctx: Ctx): XlateResult {
  for (let w = OF_ONLY_FIRST; w <= OF_ONLY_LAST; w++) ctx.wc[w] = 0;
  // The megaflow matches the key as the datapath saw it, never more than it has:
  // the OpenFlow flow's translation-only tail (actset_output) is not part of it.
  const mask = ctx.wc.slice(0, FK_WORDS);
  return {
    actions: ctx.error ? [] : ctx.out,
    mask,
    rules: ctx.rules,
    trace: ctx.trace,
    error: ctx.error,
    finalFlow: ctx.flow,
    learned: ctx.learned,
    groups: ctx.groups,
  };
}

/** `mayPacketIn`: a miss here may go to the controllers (the pipeline's first lookup and goto_table, not resubmit, as OVS). */
function lookupAndExecute(ctx: Ctx, table: number, mayPacketIn = false): void {
  if (ctx.exit) return;
  if (overResubmitLimits(ctx)) return;
  const cls = ctx.br.tables[table];
  const rule = cls ? cls.lookup(ctx.flow, 0, ctx.wc) : null;
  const saveTable = ctx.table;
  ctx.table = table;
  if (!rule) {
    ctx.tr(`${String(table).padStart(2)}. No match.`);
    if (mayPacketIn && ctx.br.packetInOnMiss) {
      ctx.tr('    controller(reason=no_match)');
      ctx.out.push(dp.userspace('controller', missUserdata(ctx, table)));
    } else ctx.tr('    drop');
    ctx.table = saveTable;
    return;
  }
  ctx.rules.push(rule.data);
  const saveRule = ctx.rule;
  ctx.rule = rule.data;
  if (ctx.trace) {
    const m = formatMatch(rule.data.spec.match);
    ctx.tr(`${String(table).padStart(2)}. ${m.length ? m + ', ' : ''}priority ${rule.data.priority}${cookieSuffix(rule.data)}`);
  }
  executeActions(ctx, rule.data.spec.actions);
  ctx.rule = saveRule;
  ctx.table = saveTable;
}

function isPlainController(a: Extract<OfAction, { type: 'controller' }>): boolean {
  return a.id === undefined && a.userdata === undefined && !a.pause && a.meterId === undefined;
}

function cookieSuffix(rule: Rule): string {
  return rule.spec.cookie !== 0n ? `, cookie 0x${rule.spec.cookie.toString(16)}` : '';
}

function executeActions(ctx: Ctx, actions: OfAction[]): void {
  if (actions.length === 0 && ctx.trace) ctx.tr('    drop');
  for (let i = 0; i < actions.length; i++) {
    const a = actions[i];
    if (ctx.exit) return;
    if (ctx.trace) ctx.tr('    ' + formatActions([a]));
    // check_pkt_larger translates the rest of the list twice, into its two branches.
    if (a.type === 'check_pkt_larger') return xlateCheckPktLarger(ctx, a, actions.slice(i + 1), (acts) => executeActions(ctx, acts));
    executeAction(ctx, a);
  }
}

function executeAction(ctx: Ctx, a: OfAction): void {
  const f = ctx.flow;
  switch (a.type) {
    case 'output':
      outputPort(ctx, a.port);
      return;
    case 'output_reg': {
      ctx.unwildField(a.src.field, a.src.ofs, a.src.nbits);
      outputPort(ctx, Number(readSlice(f, 0, a.src)));
      return;
    }
    case 'controller':
      commitChanges(ctx);
      // A plain `controller` is OVS's output:CONTROLLER, whose reason depends on where it runs (outputReason).
      ctx.out.push(dp.userspace('controller', packetInUserdata(ctx, a.reason === undefined ? (isPlainController(a) ? undefined : 1) : CONTROLLER_REASONS.indexOf(a.reason), a)));
      ctx.br.onControllerPacket?.();
      return;
    case 'resubmit': {
      const oldIn = f[FK_IN_PORT];
      if (a.port !== null && a.port !== OFPP_IN_PORT) f[FK_IN_PORT] = a.port;
      ctx.depth++;
      lookupAndExecute(ctx, a.table ?? ctx.table);
      ctx.depth--;
      f[FK_IN_PORT] = oldIn;
      return;
    }
    case 'goto_table':
      // goto_table replaces the rest of the pipeline; the parser guarantees it is the last action.
      lookupAndExecute(ctx, a.table, true);
      return;
    case 'note':
      return;
    case 'write_actions':
      ctx.actionSet.push(...a.actions);
      actionSetChanged(ctx);
      return;
    case 'clear_actions':
      ctx.actionSet = [];
      actionSetChanged(ctx);
      return;
    case 'group':
      xlateGroup(ctx, a.groupId);
      return;
    case 'ct':
      composeCt(ctx, a);
      return;
    case 'ct_clear':
      xlateCtClear(ctx);
      return;
    case 'meter': {
      // The datapath meter the OpenFlow meter runs on (add-flow refuses a meter that does not exist).
      const m = ctx.br.meters?.get(a.meterId);
      if (m) ctx.out.push(dp.meter(m.dpId));
      return;
    }
    default:
      if (!xlateMoreAction(ctx, a, (acts) => executeActions(ctx, acts))) xlateFieldAction(ctx, a);
  }
}
