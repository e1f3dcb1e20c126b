// Bucket selection: OVS's hashes for select groups (the symmetric L4 hash,
// or the listed fields) and the rendezvous choice among live buckets. Each
// hash unwildcards exactly what it read, so one megaflow never mixes
// packets that would pick different buckets.

import {
  ETH_TYPE_IP, ETH_TYPE_IPV6, FK_ETH_DST_HI, FK_ETH_DST_LO, FK_ETH_SRC_HI, FK_ETH_SRC_LO, FK_ETH_TYPE,
  FK_IPV6_DST, FK_IPV6_SRC, FK_NW_DST, FK_NW_PROTO, FK_NW_SRC, FK_TP_DST, FK_TP_SRC, IPPROTO_SCTP, IPPROTO_TCP,
} from '../packet/flow-key.ts';
import { fieldKeyMask, lookupField, readField, type FieldDef } from './fields.ts';
import type { Bucket, HashField } from './group.ts';
import { hashFinish as fin, hashMix as mix } from '../packet/hash.ts';

/** Where a word of the hash input lives and which bits count. */
export type Unwild = (word: number, mask?: number) => void;

/**
 * OVS's default selection hash (flow_hash_symmetric_l4 with basis 0): both
 * Ethernet addresses, the IP addresses, the protocol and, for TCP and SCTP
 * only, the ports; symmetric, so both directions of a connection hash
 * alike. Unwildcards exactly what it read, as flow_mask_hash_fields does.
 */
export function symmetricL4Hash(flow: Uint32Array, unwild: Unwild): number {
  unwild(FK_ETH_SRC_HI, 0xffff);
  unwild(FK_ETH_SRC_LO);
  unwild(FK_ETH_DST_HI, 0xffff);
  unwild(FK_ETH_DST_LO);
  let h = 0;
  h = mix(h, (flow[FK_ETH_SRC_HI] ^ flow[FK_ETH_DST_HI]) & 0xffff);
  h = mix(h, flow[FK_ETH_SRC_LO] ^ flow[FK_ETH_DST_LO]);
  const type = flow[FK_ETH_TYPE];
  h = mix(h, type);
  if (type === ETH_TYPE_IP) {
    unwild(FK_NW_SRC);
    unwild(FK_NW_DST);
    h = mix(h, flow[FK_NW_SRC] ^ flow[FK_NW_DST]);
  } else if (type === ETH_TYPE_IPV6) {
    for (let i = 0; i < 4; i++) {
      unwild(FK_IPV6_SRC + i);
      unwild(FK_IPV6_DST + i);
      h = mix(h, flow[FK_IPV6_SRC + i] ^ flow[FK_IPV6_DST + i]);
    }
  }
  if (type === ETH_TYPE_IP || type === ETH_TYPE_IPV6) {
    unwild(FK_NW_PROTO, 0xff);
    const proto = flow[FK_NW_PROTO] & 0xff;
    h = mix(h, proto);
    if (proto === IPPROTO_TCP || proto === IPPROTO_SCTP) {
      unwild(FK_TP_SRC, 0xffff);
      unwild(FK_TP_DST, 0xffff);
      h = mix(h, (flow[FK_TP_SRC] ^ flow[FK_TP_DST]) & 0xffff);
    }
  }
  return fin(h);
}

/**
 * `selection_method=hash,fields(...)`: a hash of the listed fields under
 * their masks, seeded by selection_method_param. A field whose
 * prerequisites the packet does not meet is left out (OVS does the same).
 */
export function fieldsHash(flow: Uint32Array, fields: HashField[], basis: bigint, unwild: Unwild, prereqOk: (f: FieldDef) => boolean): number {
  let h = Number(basis & 0xffffffffn) ^ Number((basis >> 32n) & 0xffffffffn);
  for (const hf of fields) {
    const f = lookupField(hf.field)!;
    if (!prereqOk(f)) continue;
    for (const { word, mask } of fieldKeyMask(f.name)) unwild(word, mask);
    const v = readField(flow, 0, f.name) & hf.mask;
    for (let s = 0n; s < BigInt(f.bits); s += 32n) h = mix(h, Number((v >> s) & 0xffffffffn));
  }
  return fin(h);
}

/** Hash of a bucket id under the packet's hash (OVS's hash_int(bucket_id, basis)). */
function bucketScore(bucketId: number, basis: number): number {
  return fin(mix(basis | 0, bucketId)) & 0xffff;
}

/**
 * Rendezvous choice among live buckets (OVS's group_best_live_bucket): each
 * bucket scores hash(bucket_id, packet hash) times its weight and the best
 * wins, so removing a bucket moves only the connections it had. Returns the
 * index of the bucket, or -1 when none is live; `scores` collects the trace.
 */
export function bestLiveBucket(buckets: Bucket[], basis: number, live: (b: Bucket) => boolean, scores?: string[]): number {
  let best = -1;
  let bestScore = 0;
  for (let i = 0; i < buckets.length; i++) {
    const b = buckets[i];
    if (!live(b)) continue;
    const score = bucketScore(b.bucketId, basis) * b.weight;
    scores?.push(`     -> bucket ${b.bucketId}: score ${score}`);
    if (best < 0 || score > bestScore) {
      best = i;
      bestScore = score;
    }
  }
  return best;
}

