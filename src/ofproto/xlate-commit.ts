// The commit of pending field changes: translation edits `flow` freely and,
// just before an action lets the packet leave its hands (output, ct, recirc,
// userspace), emits the set/push/pop datapath actions that turn `base` (the
// packet as the datapath has it) into `flow`. Every rewritten word is
// unwildcarded, so the new value never depends on bits the megaflow ignores.

import {
  FK_ETH_DST_HI, FK_ETH_DST_LO, FK_ETH_SRC_HI, FK_ETH_SRC_LO, FK_ETH_TYPE, FK_IPV6_DST, FK_IPV6_LABEL,
  FK_IPV6_SRC, FK_NW_DST, FK_NW_PROTO, FK_NW_SRC, FK_NW_TOS, FK_NW_TTL, FK_PKT_MARK, FK_TP_DST, FK_TP_SRC,
  FK_VLAN_TCI, ETH_TYPE_IP, ETH_TYPE_IPV6, IPPROTO_TCP, IPPROTO_UDP, VLAN_CFI,
} from '../packet/flow-key.ts';
import type { Ctx } from './xlate-ctx.ts';
import * as dp from '../datapath/dp-actions.ts';

/** Emit the set/push/pop actions that turn `base` into `flow`, then make base = flow. */
export function commitChanges(ctx: Ctx): void {
  const f = ctx.flow;
  const b = ctx.base;
  // VLAN first: the set actions below address the packet after its tag changes.
  if ((f[FK_VLAN_TCI] & 0xffff) !== (b[FK_VLAN_TCI] & 0xffff)) {
    ctx.unwild(FK_VLAN_TCI, 0xffff);
    if (b[FK_VLAN_TCI] & VLAN_CFI) ctx.out.push(dp.popVlan());
    if (f[FK_VLAN_TCI] & VLAN_CFI) ctx.out.push(dp.pushVlan(0x8100, f[FK_VLAN_TCI] & 0xffff));
    b[FK_VLAN_TCI] = f[FK_VLAN_TCI];
  }
  const setWords: number[] = [];
  const check = (w: number) => {
    if (f[w] !== b[w]) setWords.push(w);
  };
  check(FK_ETH_SRC_HI); check(FK_ETH_SRC_LO); check(FK_ETH_DST_HI); check(FK_ETH_DST_LO);
  if (setWords.length) emitSet(ctx, 'eth', setWords);
  const t = f[FK_ETH_TYPE];
  if (t === ETH_TYPE_IP) {
    const w4: number[] = [];
    for (const w of [FK_NW_SRC, FK_NW_DST, FK_NW_TOS, FK_NW_TTL]) if (f[w] !== b[w]) w4.push(w);
    if (w4.length) {
      // Like OVS, a set(ipv4(..)) matches the IP protocol too (the datapath's
      // IPv4 key carries it, though it is not writable).
      ctx.unwild(FK_NW_PROTO, 0xff);
      emitSet(ctx, 'ipv4', w4);
    }
  } else if (t === ETH_TYPE_IPV6) {
    const w6: number[] = [];
    // An address is set whole (as OVS's masked set carries all 128 bits),
    // even when only some of its words changed.
    for (const a of [FK_IPV6_SRC, FK_IPV6_DST]) {
      if ([0, 1, 2, 3].some((i) => f[a + i] !== b[a + i])) w6.push(a, a + 1, a + 2, a + 3);
    }
    for (const w of [FK_IPV6_LABEL, FK_NW_TOS, FK_NW_TTL]) if (f[w] !== b[w]) w6.push(w);
    if (w6.length) {
      ctx.unwild(FK_NW_PROTO, 0xff); // as for IPv4
      emitSet(ctx, 'ipv6', w6);
    }
  }
  if (t === ETH_TYPE_IP || t === ETH_TYPE_IPV6) {
    const wp: number[] = [];
    for (const w of [FK_TP_SRC, FK_TP_DST]) if (f[w] !== b[w]) wp.push(w);
    if (wp.length) {
      const proto = f[FK_NW_PROTO];
      const hdr = proto === IPPROTO_TCP ? 'tcp' : proto === IPPROTO_UDP ? 'udp' : 'sctp';
      emitSet(ctx, hdr, wp);
    }
  }
  if (f[FK_PKT_MARK] !== b[FK_PKT_MARK]) {
    ctx.out.push(dp.setPktMark(f[FK_PKT_MARK]));
    b[FK_PKT_MARK] = f[FK_PKT_MARK];
  }
}

function emitSet(ctx: Ctx, header: dp.SetHeader, changed: number[]): void {
  const f = ctx.flow;
  const b = ctx.base;
  // A rewritten field is matched exactly, so that the new value does not
  // depend on bits the megaflow would otherwise ignore.
  for (const w of changed) ctx.unwild(w);
  ctx.out.push(dp.set(header, changed, changed.map((w) => f[w])));
  for (const w of changed) b[w] = f[w];
}

