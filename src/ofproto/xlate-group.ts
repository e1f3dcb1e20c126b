// The group action: all / indirect / fast_failover / select, each bucket run
// on a copy of the flow (xlate_group_bucket). Groups count against the
// resubmit limits. Selection itself (hashes, rendezvous) is in
// group-select.ts.

import {
  FK_ETH_TYPE, FK_NW_PROTO, ETH_TYPE_ARP, ETH_TYPE_IP, ETH_TYPE_IPV6, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP,
} from '../packet/flow-key.ts';
import { bestLiveBucket, fieldsHash, symmetricL4Hash } from './group-select.ts';
import type { Bucket, Group } from './group.ts';
import { formatActions } from './format-actions.ts';
import { isL4, overResubmitLimits, type Ctx } from './xlate-ctx.ts';

/** Nesting of groups within groups (OVS's limit on group chains is the translation depth). */
const MAX_GROUP_DEPTH = 32;

export function xlateGroup(ctx: Ctx, groupId: number): void {
  const group = ctx.br.groups.get(groupId);
  if (!group) {
    ctx.tr(`     -> group ${groupId} does not exist: drop`);
    return;
  }
  // Groups count against the same limits as resubmits (OVS's
  // xlate_resubmit_resource_check), so a loop of `all` groups ends.
  if (overResubmitLimits(ctx)) return;
  const g = group.spec;
  const buckets = g.buckets;
  switch (g.type) {
    case 'all':
      // Every bucket gets a copy of the packet; the group counts it once.
      if (buckets.length === 0) ctx.groups.push({ group, bucket: -1, countGroup: true });
      for (let i = 0; i < buckets.length; i++) {
        ctx.groups.push({ group, bucket: i, countGroup: i === 0 });
        xlateBucket(ctx, buckets[i]);
      }
      return;
    case 'indirect':
      ctx.groups.push({ group, bucket: buckets.length ? 0 : -1, countGroup: true });
      if (buckets.length) xlateBucket(ctx, buckets[0]);
      return;
    case 'ff': {
      let chosen = -1;
      for (let i = 0; i < buckets.length; i++) {
        if (bucketIsLive(ctx, buckets[i], 0)) {
          chosen = i;
          break;
        }
        ctx.tr(`     -> bucket ${buckets[i].bucketId}: not live due to ${deadReason(buckets[i])}`);
      }
      takeBucket(ctx, group, chosen);
      return;
    }
    case 'select': {
      const unwild = (w: number, m?: number) => ctx.unwild(w, m);
      // 'hash' with fields hashes those; everything else (the default and
      // dp_hash) uses OVS's default method, the symmetric L4 hash.
      const basis = g.selectionMethod === 'hash' && g.fields.length
        ? fieldsHash(ctx.flow, g.fields, g.selectionMethodParam, unwild, (f) => prereqOk(ctx, f.prereq))
        : symmetricL4Hash(ctx.flow, unwild);
      const scores: string[] | undefined = ctx.trace ? [] : undefined;
      const chosen = bestLiveBucket(buckets, basis, (b) => bucketIsLive(ctx, b, 0), scores);
      if (scores) for (const l of scores) ctx.tr(l);
      takeBucket(ctx, group, chosen);
      return;
    }
  }
}

/** Run the chosen bucket of a select or fast_failover group (-1: none is live). */
function takeBucket(ctx: Ctx, group: Group, chosen: number): void {
  if (chosen < 0) {
    // Without a live bucket the packet is dropped, uncounted by the group (as in OVS).
    ctx.tr('     -> no live bucket');
    return;
  }
  ctx.groups.push({ group, bucket: chosen, countGroup: true });
  ctx.tr(`     -> using bucket ${group.spec.buckets[chosen].bucketId}`);
  xlateBucket(ctx, group.spec.buckets[chosen]);
}

function deadReason(b: Bucket): string {
  return b.watchPort !== null ? `port ${b.watchPort}` : `group ${b.watchGroup}`;
}

/** A bucket is live when its watched port exists and is up and its watched group has a live bucket. */
function bucketIsLive(ctx: Ctx, b: Bucket, depth: number): boolean {
  if (b.watchPort !== null) {
    const p = ctx.br.portsByOf.get(b.watchPort);
    if (!p || !p.up) return false;
  }
  if (b.watchGroup !== null) {
    const g = ctx.br.groups.get(b.watchGroup);
    if (!g || depth >= MAX_GROUP_DEPTH) return false;
    if (!g.spec.buckets.some((x) => bucketIsLive(ctx, x, depth + 1))) return false;
  }
  return true;
}

/** Whether the flow meets a field's prerequisites, unwildcarding what the answer read. */
function prereqOk(ctx: Ctx, prereq: string): boolean {
  const f = ctx.flow;
  const t = f[FK_ETH_TYPE];
  const ip = t === ETH_TYPE_IP || t === ETH_TYPE_IPV6;
  const proto = () => {
    ctx.unwild(FK_NW_PROTO, 0xff);
    return f[FK_NW_PROTO] & 0xff;
  };
  switch (prereq) {
    case 'none': return true;
    case 'ip': return ip;
    case 'ipv4': return t === ETH_TYPE_IP;
    case 'ipv6': return t === ETH_TYPE_IPV6;
    case 'arp': return t === ETH_TYPE_ARP;
    case 'ip_or_arp': return ip || t === ETH_TYPE_ARP;
    case 'l4': return isL4(ctx);
    case 'tcp': return ip && proto() === IPPROTO_TCP;
    case 'udp': return ip && proto() === IPPROTO_UDP;
    case 'sctp': return ip && proto() === IPPROTO_SCTP;
    case 'icmp': return t === ETH_TYPE_IP && proto() === 1;
    case 'icmpv6': return t === ETH_TYPE_IPV6 && proto() === 58;
    default: return false;
  }
}

/**
 * Run one bucket's actions on a clone of the packet: afterwards the flow is
 * as it was before the bucket (later actions and buckets see the original
 * packet, as OVS's xlate_group_bucket arranges), and a bucket that stopped
 * translation (dec_ttl at 1) stops only itself.
 */
function xlateBucket(ctx: Ctx, b: Bucket): void {
  ctx.tr(`    bucket ${b.bucketId}`);
  const saved = Uint32Array.from(ctx.flow);
  ctx.depth++;
  ctx.inGroup++;
  for (const a of b.actions) {
    if (ctx.exit) break;
    if (ctx.trace) ctx.tr('            ' + formatActions([a]));
    ctx.pipeline.executeAction(ctx, a);
  }
  ctx.inGroup--;
  ctx.depth--;
  ctx.flow.set(saved);
  // A bucket that stopped (dec_ttl at 1) stops only itself; an error stops everything.
  if (!ctx.error) ctx.exit = false;
}
