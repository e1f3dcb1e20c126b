// ct() and ct_clear: a ct action becomes one datapath ct action (mark and
// label set inside exec() travel with it) and, with table=N, a recirculation
// whose frozen state carries the OpenFlow-only fields.

import { formatActions } from './format-actions.ts';
import {
  FK_CT_LABEL, FK_CT_MARK, FK_CT_NW_DST, FK_CT_NW_PROTO, FK_CT_NW_SRC, FK_CT_STATE, FK_CT_TP, FK_CT_ZONE,
  FK_CT_IPV6_DST, FK_CT_IPV6_SRC, FK_IN_PORT,
} from '../packet/flow-key.ts';
import type { CtAction } from './actions.ts';
import { readSlice } from './fields.ts';
import { commitChanges } from './xlate-commit.ts';
import { OF_ONLY_FIRST, OF_ONLY_LAST, type Ctx } from './xlate-ctx.ts';
import * as dp from '../datapath/dp-actions.ts';

const CT_WORDS = [
  FK_CT_STATE, FK_CT_ZONE, FK_CT_MARK, FK_CT_LABEL, FK_CT_LABEL + 1, FK_CT_LABEL + 2, FK_CT_LABEL + 3,
  FK_CT_NW_SRC, FK_CT_NW_DST, FK_CT_NW_PROTO, FK_CT_TP,
  FK_CT_IPV6_SRC, FK_CT_IPV6_SRC + 1, FK_CT_IPV6_SRC + 2, FK_CT_IPV6_SRC + 3,
  FK_CT_IPV6_DST, FK_CT_IPV6_DST + 1, FK_CT_IPV6_DST + 2, FK_CT_IPV6_DST + 3,
];

/** ct_clear: the connection-tracking fields become zero, in the flow and (committed) in the packet. */
export function xlateCtClear(ctx: Ctx): void {
  const f = ctx.flow;
  for (const w of CT_WORDS) f[w] = 0;
  commitChanges(ctx);
  ctx.out.push(dp.ctClear());
  for (const w of CT_WORDS) ctx.base[w] = 0;
}

export function composeCt(ctx: Ctx, a: CtAction): void {
  const f = ctx.flow;
  let zone = a.zone;
  if (a.zoneSrc) {
    ctx.unwildField(a.zoneSrc.field, a.zoneSrc.ofs, a.zoneSrc.nbits);
    zone = Number(readSlice(f, 0, a.zoneSrc)) & 0xffff;
  }
  // Mark and label set inside exec() travel with the ct action.
  let mark: { value: number; mask: number } | null = null;
  let label: { value: bigint; mask: bigint } | null = null;
  for (const e of a.exec) {
    if (e.type === 'set_field' || e.type === 'load') {
      const field = e.type === 'set_field' ? e.field : e.dst.field;
      const ofs = e.type === 'set_field' ? 0 : e.dst.ofs;
      const nbits = e.type === 'set_field' ? (field === 'ct_mark' ? 32 : 128) : e.dst.nbits;
      const width = field === 'ct_mark' ? 32 : 128;
      const fullMask = (1n << BigInt(width)) - 1n;
      let value: bigint;
      let mask: bigint;
      if (e.type === 'set_field') {
        mask = e.mask ?? fullMask;
        value = e.value & mask;
      } else {
        mask = ((1n << BigInt(nbits)) - 1n) << BigInt(ofs);
        value = (e.value << BigInt(ofs)) & mask;
      }
      if (field === 'ct_mark') {
        const prev: { value: number; mask: number } = mark ?? { value: 0, mask: 0 };
        mark = { value: Number((BigInt(prev.value) & ~mask) | value) >>> 0, mask: Number(BigInt(prev.mask) | mask) >>> 0 };
      } else if (field === 'ct_label') {
        const prev: { value: bigint; mask: bigint } = label ?? { value: 0n, mask: 0n };
        label = { value: (prev.value & ~mask) | value, mask: prev.mask | mask };
      }
    } else if (e.type === 'move') {
      ctx.unwildField(e.src.field, e.src.ofs, e.src.nbits);
      const v = readSlice(f, 0, e.src);
      const mask = ((1n << BigInt(e.dst.nbits)) - 1n) << BigInt(e.dst.ofs);
      const value = (v << BigInt(e.dst.ofs)) & mask;
      if (e.dst.field === 'ct_mark') {
        const prev: { value: number; mask: number } = mark ?? { value: 0, mask: 0 };
        mark = { value: Number((BigInt(prev.value) & ~mask) | value) >>> 0, mask: Number(BigInt(prev.mask) | mask) >>> 0 };
      } else {
        const prev: { value: bigint; mask: bigint } = label ?? { value: 0n, mask: 0n };
        label = { value: (prev.value & ~mask) | value, mask: prev.mask | mask };
      }
    }
  }
  commitChanges(ctx);
  ctx.out.push(
    dp.ct({ zone, commit: a.commit, force: a.force, mark, label, nat: a.nat, alg: a.alg }),
  );
  if (a.table !== null) {
    // Freeze: the packet comes back with a new recirc id and resumes in a.table
    // with the ct fields conntrack set. OpenFlow-only state travels in the id.
    const metadata = f.slice(OF_ONLY_FIRST, OF_ONLY_LAST + 1);
    const id = ctx.br.recirc.idFor({
      bridge: ctx.br.name, table: a.table, metadata, ctZone: zone, inPort: f[FK_IN_PORT],
      ...(ctx.actionSet.length ? { actionSet: [...ctx.actionSet], actionSetText: formatActions(ctx.actionSet) } : {}),
    });
    ctx.out.push(dp.recirc(id));
    ctx.tr(`    -> A clone of the packet is forked to recirculate. The forked pipeline will be resumed at table ${a.table}.`);
  }
  // After ct the packet continues with its pre-ct connection-tracking fields:
  // nothing to change in `flow`.
}
