// The OpenFlow 1.1+ action set (ovs-actions(7) "Action Sets"): write_actions
// adds actions to it, clear_actions empties it, and when the pipeline ends
// (also after `exit` or a table miss) its actions run in OVS's order, not
// the order they were written in (ofpacts_execute_action_set):
//   1. at most one each, the last written winning: strip_vlan/pop_vlan,
//      pop_mpls, decap, encap, push_mpls, push_vlan, dec_ttl, dec_mpls_ttl,
//      dec_nsh_ttl;
//   2. every set/move (load, move, mod_*, set_field, set_tunnel, set_queue)
//      in the order written;
//   3. one final action: group, else output, else resubmit, else ct_clear,
//      else ct (the last written of its kind). Without one the set does
//      nothing, as the modified packet goes nowhere.
// The set travels with the packet through resubmits and goto_table, and
// into the recirculation a ct(table=N) forks (frozen state). Slow path.
//
// While it is built, the set's output port is the flow's actset_output (OVS's
// xlate_write_actions__): the port of the last output written, OFPP_UNSET
// without one, and OFPP_UNSET for good once a group is written (until
// clear_actions).

import { OFPP_CONTROLLER, OFPP_UNSET, type OfAction } from './actions.ts';
import { actsetPortWord, OFK_ACTSET_OUTPUT } from './match.ts';
import type { Ctx } from './xlate-ctx.ts';

const SLOTS: OfAction['type'][][] = [
  ['strip_vlan', 'pop_vlan'], ['pop_mpls'], ['decap'], ['encap'], ['push_mpls'], ['push_vlan'], ['dec_ttl'], ['dec_mpls_ttl'], ['dec_nsh_ttl'],
];
/** Final actions, lowest priority first (OVS's ACTION_SET_FINAL_PRIORITY). */
const FINAL: OfAction['type'][] = ['ct', 'ct_clear', 'resubmit', 'output', 'group'];
const SET_OR_MOVE = new Set<OfAction['type']>([
  'set_field', 'load', 'move', 'mod_dl_src', 'mod_dl_dst', 'mod_nw_src', 'mod_nw_dst', 'mod_nw_tos', 'mod_nw_ecn', 'mod_nw_ttl',
  'mod_tp_src', 'mod_tp_dst', 'set_mpls_label', 'set_mpls_tc', 'set_mpls_ttl', 'set_queue', 'set_tunnel', 'mod_vlan_vid', 'mod_vlan_pcp',
]);

/** What kind of action-set member `a` is: a slot index, 'set', a final priority, or null (not allowed). */
function classify(a: OfAction): { slot: number } | { set: true } | { final: number } | null {
  const slot = SLOTS.findIndex((s) => s.includes(a.type));
  if (slot >= 0) return { slot };
  if (SET_OR_MOVE.has(a.type)) return { set: true };
  // controller without arguments is an output to CONTROLLER (as OVS parses it); a truncating output is not an output.
  if (a.type === 'controller') {
    const plain = a.reason === undefined && a.id === undefined && a.userdata === undefined && !a.pause && a.meterId === undefined;
    return plain ? { final: FINAL.indexOf('output') } : null;
  }
  if (a.type === 'output' && a.maxLen !== undefined) return null;
  const final = FINAL.indexOf(a.type);
  return final >= 0 ? { final } : null;
}

/** Whether OVS lets `a` into an action set (ofpact_is_allowed_in_actions_set). */
export function allowedInActionSet(a: OfAction): boolean {
  return classify(a) !== null;
}

/** The action list an action set executes as, in OVS's order (empty without a final action). */
export function actionSetList(set: readonly OfAction[]): OfAction[] {
  const slots: (OfAction | undefined)[] = new Array(SLOTS.length);
  const sets: OfAction[] = [];
  let final: OfAction | undefined;
  let finalPri = -1;
  for (const a of set) {
    const c = classify(a);
    if (c === null) continue;
    if ('slot' in c) slots[c.slot] = a;
    else if ('set' in c) sets.push(a);
    else if (c.final >= finalPri) {
      final = a;
      finalPri = c.final;
    }
  }
  if (!final) return [];
  return [...slots.filter((a): a is OfAction => a !== undefined), ...sets, final];
}

/** The action set's output port (actset_output), OFPP_UNSET when there is none or a group. */
export function actionSetOutput(set: readonly OfAction[]): number {
  let port = OFPP_UNSET;
  for (const a of set) {
    // What OVS parses as OFPACT_OUTPUT: output:PORT (in_port, normal, ... too) without max_len, and a plain controller.
    if (a.type === 'output' && a.maxLen === undefined) port = a.port;
    else if (a.type === 'controller' && classify(a) !== null) port = OFPP_CONTROLLER;
    else if (a.type === 'group') return OFPP_UNSET;
  }
  return port;
}

/** The action set changed (write_actions, clear_actions, a thawed set): keep actset_output in step. */
export function actionSetChanged(ctx: Ctx): void {
  ctx.flow[OFK_ACTSET_OUTPUT] = actsetPortWord(actionSetOutput(ctx.actionSet));
}

/**
 * The pipeline (or a clone) is over, even by exit: the action set runs, in
 * its own order, through `run` (the translator's action loop).
 */
export function runActionSet(ctx: Ctx, run: (actions: OfAction[]) => void): void {
  if (ctx.error || ctx.actionSet.length === 0) return;
  const list = actionSetList(ctx.actionSet);
  ctx.actionSet = [];
  if (list.length === 0) return;
  ctx.exit = false;
  // As ofproto/trace prints it: a table-level line, the actions under it.
  ctx.tr('--. Executing action set:');
  ctx.inActionSet = true;
  run(list);
  ctx.inActionSet = false;
}
