// OpenFlow groups (ovs-ofctl(8) "Group Syntax", ovs-actions(7) "group"):
// the group model (GroupSpec, Bucket) and the installed Group with its
// packet counters. Text in group-parse.ts and group-format.ts, bucket
// selection in group-select.ts, the group action in xlate-group.ts.
//
// Slow path only: the datapath never sees a group, only the actions of the
// bucket translation chose, under a megaflow mask that covers every field
// the choice read (the hashed fields), so one connection always takes one
// bucket.

import type { OfAction } from './actions.ts';

/** Group ids above OFPG_MAX are reserved (ALL, ANY). */
export const OFPG_MAX = 0xffffff00;
export const OFPG_ALL = 0xfffffffc;
export const OFPG_ANY = 0xffffffff;
/** Bucket ids above this are reserved (first, last, all). */
export const OFPG15_BUCKET_MAX = 0xffffff00;
/** Weight of a select bucket that does not give one; other types have 0. */
export const DEFAULT_SELECT_WEIGHT = 1;

export type GroupType = 'all' | 'select' | 'indirect' | 'ff';

export interface Bucket {
  bucketId: number;
  weight: number;
  /** OpenFlow port whose liveness the bucket depends on; null = none. */
  watchPort: number | null;
  watchGroup: number | null;
  actions: OfAction[];
}

/** A field a `selection_method=hash` group hashes, with the mask OVS calls its value. */
export interface HashField {
  field: string;
  mask: bigint;
}

export interface GroupSpec {
  groupId: number;
  type: GroupType;
  /** '' = OVS's default method; 'hash' or 'dp_hash' when given. */
  selectionMethod: string;
  selectionMethodParam: bigint;
  fields: HashField[];
  buckets: Bucket[];
}

export type GroupCommand = 'add' | 'modify' | 'delete';

/** OVS's names for fields where swd's canonical name differs (mf_field names). */
export const OVS_FIELD_NAME: Record<string, string> = { nw_src: 'ip_src', nw_dst: 'ip_dst', tp_src: 'tcp_src', tp_dst: 'tcp_dst', dl_vlan: 'dl_vlan' };

/** An installed group: its spec, counters, and the time it was added. */
export class Group {
  nPackets = 0;
  nBytes = 0;
  readonly bucketPackets: number[];
  readonly bucketBytes: number[];
  /** Set when the group is deleted or replaced; stale megaflow references then ignore stats. */
  removed = false;

  constructor(
    readonly spec: GroupSpec,
    readonly createdMs: number,
  ) {
    this.bucketPackets = spec.buckets.map(() => 0);
    this.bucketBytes = spec.buckets.map(() => 0);
  }

  get id(): number {
    return this.spec.groupId;
  }

  /** Count packets through the group (unless `countGroup` is false) and, when one was taken, bucket `idx` (-1: none). */
  credit(idx: number, packets: number, bytes: number, countGroup = true): void {
    if (this.removed || packets <= 0) return;
    if (countGroup) {
      this.nPackets += packets;
      this.nBytes += bytes;
    }
    if (idx >= 0 && idx < this.bucketPackets.length) {
      this.bucketPackets[idx] += packets;
      this.bucketBytes[idx] += bytes;
    }
  }
}
