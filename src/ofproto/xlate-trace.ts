// ofproto/trace (Switch.trace): the flow, translation's own trace lines, the
// final flow, the megaflow and the datapath actions, as OVS prints them.

import {
  FK_ETH_DST_HI, FK_ETH_SRC_HI, FK_ETH_TYPE, FK_IN_PORT, FK_IPV6_DST, FK_IPV6_LABEL, FK_IPV6_SRC, FK_NW_DST,
  FK_NW_FRAG, FK_NW_PROTO, FK_NW_SRC, FK_NW_TOS, FK_NW_TTL, FK_TP_DST, FK_TP_SRC, FK_VLAN_TCI, FK_TCP_FLAGS,
  FK_WORDS, ETH_TYPE_IP, ETH_TYPE_IPV6, FRAG_ANY, FRAG_LATER, FK_ARP_SHA_HI, FK_ARP_THA_HI,
} from '../packet/flow-key.ts';
import { formatMatch } from './format-flow.ts';
import type * as dp from '../datapath/dp-actions.ts';
import { xlate, type XBridge } from './xlate.ts';

/** Format a whole flow key the way ofproto/trace prints "Flow:" lines: packet fields in full, metadata only when set. */
export function formatTraceFlow(key: Uint32Array): string {
  const mask = new Uint32Array(FK_WORDS);
  for (let w = 0; w < FK_ETH_SRC_HI; w++) if (key[w] !== 0) mask[w] = 0xffffffff;
  mask[FK_IN_PORT] = 0xffff;
  for (const w of [FK_ETH_SRC_HI, FK_ETH_DST_HI]) {
    mask[w] = 0xffff;
    mask[w + 1] = 0xffffffff;
  }
  mask[FK_VLAN_TCI] = 0xffff;
  mask[FK_ETH_TYPE] = 0xffff;
  const t = key[FK_ETH_TYPE];
  if (t === ETH_TYPE_IP || t === ETH_TYPE_IPV6) {
    if (t === ETH_TYPE_IP) mask[FK_NW_SRC] = mask[FK_NW_DST] = 0xffffffff;
    else {
      for (let i = 0; i < 4; i++) mask[FK_IPV6_SRC + i] = mask[FK_IPV6_DST + i] = 0xffffffff;
      mask[FK_IPV6_LABEL] = 0xfffff;
    }
    mask[FK_NW_PROTO] = 0xff;
    mask[FK_NW_TOS] = 0xff;
    mask[FK_NW_TTL] = 0xff;
    mask[FK_NW_FRAG] = FRAG_ANY | FRAG_LATER;
    mask[FK_TP_SRC] = mask[FK_TP_DST] = 0xffff;
    if (key[FK_TCP_FLAGS]) mask[FK_TCP_FLAGS] = 0xfff;
  } else if (t === 0x0806) {
    mask[FK_NW_SRC] = mask[FK_NW_DST] = 0xffffffff;
    mask[FK_NW_PROTO] = 0xff;
    for (const w of [FK_ARP_SHA_HI, FK_ARP_THA_HI]) {
      mask[w] = 0xffff;
      mask[w + 1] = 0xffffffff;
    }
  }
  return formatMatch({ value: key, mask });
}

/**
 * Trace `key` (a datapath flow key) through `br` without learning MACs;
 * `formatDpActions` prints datapath actions with the datapath's port names.
 */
export function traceXlate(br: XBridge, key: Uint32Array, nowMs: number, formatDpActions: (a: dp.DpAction[]) => string): { lines: string[]; datapathActions: string } {
  const lines: string[] = [];
  const shown = Uint32Array.from(key);
  const inPort = br.portsByDp.get(key[FK_IN_PORT]);
  if (inPort) shown[FK_IN_PORT] = inPort.ofport;
  lines.push(`Flow: ${formatTraceFlow(shown)}`, '');
  const traceLines: string[] = [];
  const res = xlate(br, key, nowMs, traceLines, false);
  lines.push(...traceLines, '');
  const final = formatTraceFlow(res.finalFlow);
  lines.push(`Final flow: ${final === formatTraceFlow(shown) ? 'unchanged' : final}`);
  const mf = new Uint32Array(FK_WORDS);
  for (let i = 0; i < FK_WORDS; i++) mf[i] = key[i] & res.mask[i];
  lines.push(`Megaflow: ${formatMatch({ value: mf, mask: res.mask }, undefined, { packetTypeEth: true })}`);
  const datapathActions = formatDpActions(res.actions);
  lines.push(`Datapath actions: ${datapathActions}`);
  if (res.error) lines.push(`Translation failed (${res.error}), packet is dropped.`);
  return { lines, datapathActions };
}
