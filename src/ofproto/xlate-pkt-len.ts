// Translation of check_pkt_larger(N)->FIELD (ovs-actions(7)), as OVS's
// xlate_check_pkt_larger does it for a datapath that can check a length:
// the rest of the action list (and whatever it resubmits to) is translated
// twice, once with FIELD = 1 (the packet is longer than N) and once with
// FIELD = 0, into the two branches of one datapath action
// `check_pkt_len(size=N,gt(...),le(...))`. The datapath picks the branch per
// packet, so one megaflow serves both sizes and its mask is the union of
// what both branches consulted; nothing of the packet's length is matched.
// Translation ends after it (both branches ran the rest). Slow path.

import type { OfAction } from './actions.ts';
import { commitChanges } from './xlate-commit.ts';
import type { Ctx } from './xlate-ctx.ts';
import { xlateFieldAction } from './xlate-fields.ts';
import * as dp from '../datapath/dp-actions.ts';

type CheckPktLargerAction = Extract<OfAction, { type: 'check_pkt_larger' }>;

/** Translate check_pkt_larger `a` followed by `rest` (the rest of its action list), run by `run`. */
export function xlateCheckPktLarger(ctx: Ctx, a: CheckPktLargerAction, rest: OfAction[], run: (acts: OfAction[]) => void): void {
  commitChanges(ctx);
  const outer = ctx.out.splice(0);
  const flow = Uint32Array.from(ctx.flow);
  const base = Uint32Array.from(ctx.base);
  const stack = ctx.stack.slice();
  const queue = ctx.queue;
  const branch = (larger: boolean): dp.DpAction[] => {
    ctx.flow.set(flow);
    ctx.base.set(base);
    ctx.stack.length = 0;
    ctx.stack.push(...stack);
    ctx.queue = queue;
    ctx.exit = false;
    xlateFieldAction(ctx, { type: 'load', value: larger ? 1n : 0n, dst: a.dst });
    run(rest);
    return ctx.out.splice(0);
  };
  const gt = branch(true);
  const le = ctx.error === null ? branch(false) : [];
  ctx.out.push(...outer, dp.checkPktLen(a.pktLen, gt, le));
  ctx.flow.set(flow);
  ctx.base.set(base);
  ctx.exit = true;
}
