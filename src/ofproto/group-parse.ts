// Group text as ovs-ofctl add-group(s)/mod-group/del-groups take it
// (ovs-ofctl(8) "Group Syntax") -> GroupSpec, with OVS's error messages.

import { OFPP_MAX, OFPP_NONE } from './actions.ts';
import { fail, type TextPos } from './errors.ts';
import { allFields, lookupField } from './fields.ts';
import {
  DEFAULT_SELECT_WEIGHT, OFPG15_BUCKET_MAX, OFPG_ALL, OFPG_ANY, OFPG_MAX, OVS_FIELD_NAME,
  type Bucket, type GroupCommand, type GroupSpec, type GroupType, type HashField,
} from './group.ts';
import { parseActions } from './parse-actions.ts';
import { parseFieldValue, parsePort } from './field-text.ts';

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
