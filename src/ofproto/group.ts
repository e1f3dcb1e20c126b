// OpenFlow groups (ovs-ofctl(8) "Group Syntax", ovs-actions(7) "group"):
// group text -> GroupSpec and back as ovs-ofctl prints it, the installed
// Group with its packet counters, and bucket selection (select groups hash
// the packet, fast_failover groups take the first live bucket).
//
// Slow path only: translation (xlate.ts) calls the selection functions once
// per upcall; the datapath never sees a group, only the actions of the
// bucket translation chose, under a megaflow mask that covers every field
// the choice read (the hashed fields), so one connection always takes one
// bucket.

import {
  ETH_TYPE_IP, ETH_TYPE_IPV6, FK_ETH_DST_HI, FK_ETH_DST_LO, FK_ETH_SRC_HI, FK_ETH_SRC_LO, FK_ETH_TYPE,
  FK_IPV6_DST, FK_IPV6_SRC, FK_NW_DST, FK_NW_PROTO, FK_NW_SRC, FK_TP_DST, FK_TP_SRC, IPPROTO_SCTP, IPPROTO_TCP,
} from '../packet/flow-key.ts';
import type { OfAction } from './actions.ts';
import { OFPP_MAX, OFPP_NONE } from './actions.ts';
import { fail, type TextPos } from './errors.ts';
import { allFields, fieldKeyMask, lookupField, readField, type FieldDef } from './fields.ts';
import { formatActions } from './format-actions.ts';
import { portLabel } from './format-flow.ts';
import { parseActions } from './parse-actions.ts';
import { parseFieldValue, parsePort } from './parse-flow.ts';
import { ipv4Str, ipv6Str, macStr } from '../packet/odp-format.ts';
import { hashFinish as fin, hashMix as mix } from '../packet/hash.ts';

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

// ------------------------------------------------------------ parsing

interface Kv {
  key: string;
  value: string;
  /** Offsets (in the text handed to the scanner) of the key and the value. */
  at: number;
  valueAt: number;
  end: number;
}

/**
 * OVS's key-value scanner (ofputil_parse_key_value): pairs separated by
 * commas or white space, written `key=value`, `key:value` or `key(value)`
 * (parentheses nest), or a bare `key`.
 */
function scanKv(text: string, base: number, pos: TextPos): Kv[] {
  const out: Kv[] = [];
  let i = 0;
  const n = text.length;
  const isSep = (c: string) => c === ',' || c === ' ' || c === '\t' || c === '\r' || c === '\n';
  while (i < n) {
    while (i < n && isSep(text[i])) i++;
    if (i >= n) break;
    const at = i;
    while (i < n && !isSep(text[i]) && text[i] !== '=' && text[i] !== ':' && text[i] !== '(') i++;
    const key = text.slice(at, i);
    let value = '';
    let valueAt = i;
    if (i < n && text[i] === '(') {
      let depth = 1;
      valueAt = ++i;
      while (i < n && depth > 0) {
        if (text[i] === '(') depth++;
        else if (text[i] === ')') depth--;
        i++;
      }
      if (depth > 0) fail(pos, base + valueAt - 1, 'EPAREN', "unbalanced parentheses: '(' without ')'");
      value = text.slice(valueAt, i - 1);
    } else if (i < n && (text[i] === '=' || text[i] === ':')) {
      valueAt = ++i;
      let depth = 0;
      while (i < n && (depth > 0 || !isSep(text[i]))) {
        if (text[i] === '(') depth++;
        else if (text[i] === ')') depth--;
        i++;
      }
      value = text.slice(valueAt, i);
    }
    out.push({ key, value, at: base + at, valueAt: base + valueAt, end: base + i });
  }
  return out;
}

function u32(s: string, pos: TextPos, at: number, what: string): number {
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(s)) fail(pos, at, 'EVALUE', `invalid numeric format ${s}`);
  const v = Number(BigInt(s));
  if (v > 0xffffffff) fail(pos, at, 'ERANGE', `${what} ${s} is out of range`);
  return v;
}

function parseGroupType(v: string, pos: TextPos, at: number): GroupType {
  switch (v) {
    case 'all': return 'all';
    case 'select': return 'select';
    case 'indirect': return 'indirect';
    case 'ff': case 'fast_failover': return 'ff';
  }
  return fail(pos, at, 'EGROUPTYPE', `invalid group type ${v}`);
}

/**
 * Parse one group as `ovs-ofctl add-group`/`mod-group`/`del-groups` take it.
 * `pos` locates `text` for error positions. Errors are OVS's messages.
 */
export function parseGroupText(text: string, command: GroupCommand, pos: TextPos): GroupSpec {
  const spec: GroupSpec = { groupId: OFPG_ANY, type: 'all', selectionMethod: '', selectionMethodParam: 0n, fields: [], buckets: [] };
  const needType = command !== 'delete';
  if (command === 'delete' && text.trim() === '') {
    spec.groupId = OFPG_ALL;
    return spec;
  }
  // Buckets come last: the group's type sets their defaults.
  const firstBucket = text.indexOf('bucket=');
  const head = firstBucket < 0 ? text : text.slice(0, firstBucket);
  if (firstBucket >= 0 && !needType) fail(pos, firstBucket, 'EGROUP', 'bucket is not needed');
  let hadType = false;
  let fieldsAt = -1;
  for (const kv of scanKv(head, 0, pos)) {
    switch (kv.key) {
      case 'group_id':
        if (kv.value === 'all') spec.groupId = OFPG_ALL;
        else {
          spec.groupId = u32(kv.value, pos, kv.valueAt, 'group id');
          if (spec.groupId > OFPG_MAX) fail(pos, kv.valueAt, 'EGROUPID', `invalid group id ${spec.groupId}`);
        }
        break;
      case 'type':
        if (!needType) fail(pos, kv.at, 'EGROUP', 'type is not needed');
        spec.type = parseGroupType(kv.value, pos, kv.valueAt);
        hadType = true;
        break;
      case 'selection_method':
        if (!needType) fail(pos, kv.at, 'EGROUP', 'selection method is not needed');
        if (kv.value !== 'hash' && kv.value !== 'dp_hash') {
          fail(pos, kv.valueAt, 'ESELECTION', `selection method '${kv.value}' is not supported (expected hash or dp_hash)`);
        }
        spec.selectionMethod = kv.value;
        break;
      case 'selection_method_param':
        if (!needType) fail(pos, kv.at, 'EGROUP', 'selection method param is not needed');
        if (!/^(0x[0-9a-f]+|\d+)$/i.test(kv.value) || BigInt(kv.value) >> 64n) fail(pos, kv.valueAt, 'EVALUE', `invalid numeric format ${kv.value}`);
        spec.selectionMethodParam = BigInt(kv.value);
        break;
      case 'fields':
        if (!needType) fail(pos, kv.at, 'EGROUP', 'fields are not needed');
        spec.fields = parseHashFields(kv.value, kv.valueAt, pos);
        fieldsAt = kv.at;
        break;
      default:
        fail(pos, kv.at, 'EGROUPKEY', `unknown keyword ${kv.key}`);
    }
  }
  if (spec.groupId === OFPG_ANY) fail(pos, 0, 'ENOGROUPID', 'must specify a group_id');
  if (needType && !hadType) fail(pos, 0, 'ENOTYPE', 'must specify a type');
  if (spec.selectionMethod !== 'hash' && spec.fields.length) {
    fail(pos, fieldsAt, 'ESELECTION', 'fields may only be specified with "selection_method=hash"');
  }
  if (spec.selectionMethod === '' && spec.selectionMethodParam !== 0n) {
    fail(pos, head.indexOf('selection_method_param'), 'ESELECTION', 'selection_method_param is only allowed with "selection_method"');
  }
  if (firstBucket < 0) return spec;
  // Each bucket runs to the next "bucket=" (as OVS splits them, textually).
  const starts: number[] = [];
  for (let i = firstBucket; i >= 0; i = text.indexOf('bucket=', i + 1)) starts.push(i);
  for (let b = 0; b < starts.length; b++) {
    const from = starts[b] + 'bucket='.length;
    const to = b + 1 < starts.length ? starts[b + 1] : text.length;
    const bucket = parseBucket(text.slice(from, to), from, spec.type, pos);
    if (spec.type !== 'select' && bucket.weight) fail(pos, starts[b], 'EWEIGHT', 'Only select groups can have bucket weights.');
    spec.buckets.push(bucket);
  }
  if (spec.type === 'indirect' && spec.buckets.length > 1) fail(pos, starts[1], 'EINDIRECT', 'Indirect groups can have at most one bucket.');
  assignBucketIds(spec.buckets);
  return spec;
}

const UNSET = -1;

function parseBucket(text: string, base: number, type: GroupType, pos: TextPos): Bucket {
  const bucket: Bucket = { bucketId: UNSET, weight: type === 'select' ? DEFAULT_SELECT_WEIGHT : 0, watchPort: null, watchGroup: null, actions: [] };
  // The actions are what is left once the bucket's own keys are blanked
  // out: blanking (not cutting) keeps every action at its column for errors.
  const acts = text.split('');
  const blank = (from: number, to: number) => {
    for (let i = from; i < to; i++) if (acts[i] !== ',') acts[i] = ' ';
  };
  let hasActions = false;
  for (const kv of scanKv(text, 0, { ...pos, col: pos.col + base })) {
    const key = kv.key.toLowerCase();
    const vat = base + kv.valueAt;
    switch (key) {
      case 'weight': {
        if (!/^\d+$/.test(kv.value) || Number(kv.value) > 0xffff) fail(pos, vat, 'EWEIGHT', `invalid weight "${kv.value}"`);
        bucket.weight = Number(kv.value);
        blank(kv.at, kv.end);
        break;
      }
      case 'watch_port': {
        let p: number;
        try {
          p = parsePort(kv.value, pos, vat);
        } catch {
          p = -1;
        }
        if (p < 0 || (p >= OFPP_MAX && p !== OFPP_NONE)) fail(pos, vat, 'EWATCH', `${kv.value}: invalid watch_port`);
        bucket.watchPort = p === OFPP_NONE ? null : p;
        blank(kv.at, kv.end);
        break;
      }
      case 'watch_group': {
        const g = u32(kv.value, pos, vat, 'watch_group');
        if (g > OFPG_MAX) fail(pos, vat, 'EWATCH', `invalid watch_group id ${g}`);
        bucket.watchGroup = g;
        blank(kv.at, kv.end);
        break;
      }
      case 'bucket_id': {
        const id = u32(kv.value, pos, vat, 'bucket_id');
        if (id > OFPG15_BUCKET_MAX) fail(pos, vat, 'EBUCKETID', `invalid bucket_id id ${id}`);
        bucket.bucketId = id;
        blank(kv.at, kv.end);
        break;
      }
      case 'action': case 'actions':
        blank(kv.at, kv.valueAt);
        hasActions = true;
        break;
      default:
        hasActions = true;
    }
  }
  if (!hasActions) fail(pos, base, 'ENOACTIONS', 'bucket must specify actions');
  if (type === 'ff' && bucket.watchPort === null && bucket.watchGroup === null) {
    fail(pos, base, 'EWATCH', 'fast failover bucket requires watch_port or watch_group');
  }
  bucket.actions = parseActions(acts.join('').replace(/[\s,]+$/, ''), { ...pos, col: pos.col + base });
  return bucket;
}

/**
 * Buckets without a bucket_id get one as ovs-ofctl gives them: the lowest
 * id not used by a later bucket nor handed out already, counting up.
 */
function assignBucketIds(buckets: Bucket[]): void {
  const first = buckets.findIndex((b) => b.bucketId === UNSET);
  if (first < 0) return;
  const used = new Set<number>();
  for (let i = first + 1; i < buckets.length; i++) if (buckets[i].bucketId !== UNSET) used.add(buckets[i].bucketId);
  let next = 0;
  for (const b of buckets) {
    if (b.bucketId !== UNSET) continue;
    while (used.has(next)) next++;
    b.bucketId = next;
    used.add(next);
  }
}

/** `fields(ip_src,tcp_dst)` or `fields=ip_src`; a value is the field's mask. */
function parseHashFields(text: string, base: number, pos: TextPos): HashField[] {
  const out: HashField[] = [];
  for (const kv of scanKv(text, base, pos)) {
    const f = lookupField(kv.key);
    if (!f || f.name === 'in_port' || f.name === 'recirc_id') fail(pos, kv.at, 'EFIELD', `${text}: unknown field ${kv.key}`);
    if (out.some((h) => h.field === f.name)) fail(pos, kv.at, 'EFIELD', `${kv.key}: duplicate field`);
    const full = (1n << BigInt(f.bits)) - 1n;
    let mask = full;
    if (kv.value !== '') {
      [mask] = parseFieldValue(f, kv.value, pos, kv.valueAt, false);
      if (mask === 0n) fail(pos, kv.valueAt, 'EFIELD', `${kv.value}: values are wildcards here and must not be all-zeros`);
    }
    out.push({ field: f.name, mask });
  }
  // OVS keeps (and prints) them in its field order.
  out.sort((a, b) => fieldRank(a.field) - fieldRank(b.field));
  return out;
}

/** OVS's names for fields where swd's canonical name differs (mf_field names). */
const OVS_FIELD_NAME: Record<string, string> = { nw_src: 'ip_src', nw_dst: 'ip_dst', tp_src: 'tcp_src', tp_dst: 'tcp_dst', dl_vlan: 'dl_vlan' };

function fieldRank(name: string): number {
  const alias = OVS_FIELD_NAME[name];
  const canon = alias && lookupField(alias) ? lookupField(alias)!.name : name;
  return allFields().findIndex((f) => f.name === canon);
}

/** A group file as `add-groups` reads it: one group a line, `#` comments, all or nothing. */
export function parseGroupFile(text: string, file: string, command: GroupCommand): { spec: GroupSpec; line: number }[] {
  const out: { spec: GroupSpec; line: number }[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].replace(/\r$/, '');
    const hash = raw.indexOf('#');
    const body = hash >= 0 ? raw.slice(0, hash) : raw;
    const lead = body.length - body.trimStart().length;
    const t = body.trim();
    if (t === '') continue;
    out.push({ spec: parseGroupText(t, command, { file, line: i + 1, col: lead }), line: i + 1 });
  }
  return out;
}

// ------------------------------------------------------------ formatting

function formatMaskValue(f: FieldDef, m: bigint): string {
  switch (f.kind) {
    case 'ipv4': return ipv4Str(Number(m));
    case 'ipv6': return ipv6Str([0, 1, 2, 3].map((i) => Number((m >> BigInt(96 - 32 * i)) & 0xffffffffn)));
    case 'mac': return macStr(Number(m >> 32n), Number(m & 0xffffffffn));
    case 'hex': return `0x${m.toString(16)}`;
    default: return m.toString();
  }
}

function formatHashField(h: HashField): string {
  const f = lookupField(h.field)!;
  const name = OVS_FIELD_NAME[f.name] ?? f.name;
  const full = (1n << BigInt(f.bits)) - 1n;
  return h.mask === full ? name : `${name}=${formatMaskValue(f, h.mask)}`;
}

/** A group as `ovs-ofctl dump-groups` prints it (without the leading space). */
export function formatGroup(g: GroupSpec): string {
  let s = `group_id=${g.groupId},type=${g.type}`;
  if (g.selectionMethod) {
    s += `,selection_method=${g.selectionMethod}`;
    if (g.selectionMethodParam) s += `,selection_method_param=${g.selectionMethodParam}`;
    if (g.fields.length === 1) s += `,fields=${formatHashField(g.fields[0])}`;
    else if (g.fields.length > 1) s += `,fields(${g.fields.map(formatHashField).join(',')})`;
  }
  for (const b of g.buckets) {
    s += `,bucket=bucket_id:${b.bucketId},`;
    if (b.weight !== (g.type === 'select' ? DEFAULT_SELECT_WEIGHT : 0)) s += `weight:${b.weight},`;
    if (b.watchPort !== null) s += `watch_port:${portLabel(b.watchPort)},`;
    if (b.watchGroup !== null) s += `watch_group:${b.watchGroup},`;
    s += `actions=${formatActions(b.actions)}`;
  }
  return s;
}

// ------------------------------------------------------------ installed groups

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

/** One dump-group-stats line (without the leading space), as ovs-ofctl prints it. */
export function formatGroupStats(g: Group, refCount: number, nowMs: number): string {
  const dur = Math.max(0, nowMs - g.createdMs) / 1000;
  let s = `group_id=${g.id},duration=${dur.toFixed(3)}s,ref_count=${refCount},packet_count=${g.nPackets},byte_count=${g.nBytes}`;
  for (let i = 0; i < g.bucketPackets.length; i++) s += `,bucket${i}:packet_count=${g.bucketPackets[i]},byte_count=${g.bucketBytes[i]}`;
  return s;
}

// ------------------------------------------------------------ selection

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

