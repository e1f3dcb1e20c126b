// The OpenFlow classifier: tuple-space search. Rules are grouped into
// subtables by mask; each subtable is a hash table from masked key to the
// rules with that masked value (highest priority first). Lookup visits
// subtables in decreasing order of their highest priority and stops as soon
// as no remaining subtable can beat the best match found, so a lookup does
// not scan every rule.
//
// Megaflow correctness: `lookup` ORs into `wc` the mask of every subtable it
// visited. Any key that agrees with the looked-up key on those bits visits
// the same subtables with the same outcome, so the result holds for the whole
// megaflow.
//
// Conjunctive matches (OVS's conjunction(id,k/n) and conj_id, ovs-fields(7)):
// a rule whose actions are only conjunction() is a "soft" rule, inserted with
// its clauses. A lookup that meets soft rules above its best ordinary ("hard")
// match checks whether, at the highest soft priority, every clause 1..n of
// some conjunction id matched; if so it looks up again with conj_id=id (soft
// rules off) and returns that result, else it drops to the next lower soft
// priority — OVS's classifier_lookup__ loop. Rules matching conj_id live in a
// nested classifier per conj_id value, consulted only for that id (packets
// carry conj_id=0). Tables without soft or conj_id rules take the plain path.

import { FK_ETH_SRC_HI, FK_NW_SRC, FK_TP_SRC, FK_WORDS } from '../packet/flow-key.ts';
import { OF_WORDS, type Match } from './match.ts';

export interface ClsRule<T> {
  readonly match: Match;
  readonly priority: number;
  readonly data: T;
  /** Clauses of a soft (conjunction-only) rule; null for an ordinary rule. */
  readonly conj: ConjClause[] | null;
}

/** One conjunction(id,k/n) action of a soft rule; `clause` is k-1 (0-based). */
export interface ConjClause {
  id: number;
  clause: number;
  nClauses: number;
}

/** A soft match found during lookup: the rule, its bucket list and index (to step to lower-priority twins). */
interface SoftMatch<T> {
  rule: ClsRule<T>;
  list: ClsRule<T>[];
  idx: number;
}

interface Subtable<T> {
  mask: Uint32Array;
  /** Words with a non-zero mask, to skip the rest when hashing and comparing. */
  words: Int32Array;
  /** Staged lookup: index into `words` where each non-final stage ends, and
   *  how many rules have each prefix hash at that stage. */
  stageEnds: number[];
  stageCounts: Map<number, number>[];
  maxPriority: number;
  buckets: Map<number, ClsRule<T>[]>;
  count: number;
}

// Lookup stages, as OVS's staged lookup: metadata, L2, L3, L4. A packet that
// fails to match any rule of a subtable on an early stage leaves the later
// stages' fields wildcarded in the megaflow. The OpenFlow flow's
// translation-only words (match.ts) are metadata: a subtable lists them
// first, then the datapath key's words in order.
const STAGE_STARTS = [FK_ETH_SRC_HI, FK_NW_SRC, FK_TP_SRC];

function stageEndsOf(words: Int32Array): number[] {
  const ends: number[] = [];
  for (const start of STAGE_STARTS) {
    let i = 0;
    while (i < words.length && (words[i] < start || words[i] >= FK_WORDS)) i++;
    if (i > 0 && i < words.length && (ends.length === 0 || ends[ends.length - 1] !== i)) ends.push(i);
  }
  return ends;
}

function prefixHash(key: Uint32Array, ofs: number, mask: Uint32Array, words: Int32Array, end: number): number {
  let h = 0x9e3779b9;
  for (let i = 0; i < end; i++) {
    const w = words[i];
    h = Math.imul(h ^ ((key[ofs + w] & mask[w]) >>> 0), 0x01000193);
    h ^= h >>> 15;
  }
  return h >>> 0;
}

/** The subtable key of a mask: its non-zero words as "index:value" (a few words, not all FK_WORDS of them). */
function maskKey(mask: Uint32Array): string {
  let k = '';
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) k += `${i}:${mask[i]},`;
  return k;
}

function hashMasked(key: Uint32Array, ofs: number, st: { mask: Uint32Array; words: Int32Array }): number {
  let h = 0x9e3779b9;
  const words = st.words;
  const mask = st.mask;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    h = Math.imul(h ^ ((key[ofs + w] & mask[w]) >>> 0), 0x01000193);
    h ^= h >>> 15;
  }
  return h >>> 0;
}

/**
 * Staged lookup in subtable st: stop at the first stage no rule of st
 * matches, and unwildcard in `wc` the words looked at up to there. True
 * when every stage matched (the full lookup may go on).
 */
function passesStages<T>(st: Subtable<T>, key: Uint32Array, ofs: number, wc: Uint32Array | null): boolean {
  const words = st.words;
  let reached = words.length;
  for (let g = 0; g < st.stageEnds.length; g++) {
    if (!st.stageCounts[g].has(prefixHash(key, ofs, st.mask, words, st.stageEnds[g]))) {
      reached = st.stageEnds[g];
      break;
    }
  }
  if (wc !== null) {
    for (let i = 0; i < reached; i++) {
      const w = words[i];
      wc[w] = (wc[w] | st.mask[w]) >>> 0;
    }
  }
  return reached === words.length;
}

function equalMasked(key: Uint32Array, ofs: number, value: Uint32Array, st: Subtable<unknown>): boolean {
  const words = st.words;
  const mask = st.mask;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (((key[ofs + w] & mask[w]) >>> 0) !== value[w]) return false;
  }
  return true;
}

function sameValue(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class Classifier<T> {
  private readonly subtables = new Map<string, Subtable<T>>();
  /** Subtables sorted by maxPriority, descending; rebuilt lazily after changes. */
  private order: Subtable<T>[] = [];
  private dirty = false;
  count = 0;
  /** Soft (conjunction) rules in this classifier; 0 keeps lookup on the plain path. */
  private nSoft = 0;
  /** Rules that match conj_id, by conj_id value (nested classifiers hold no further level). */
  private readonly conjLevel = new Map<number, Classifier<T>>();

  constructor(private readonly isConjLevel = false) {}

  insert(match: Match, priority: number, data: T, conj: ConjClause[] | null = null): ClsRule<T> {
    if (!this.isConjLevel && match.conjId !== undefined) {
      let sub = this.conjLevel.get(match.conjId);
      if (!sub) this.conjLevel.set(match.conjId, (sub = new Classifier<T>(true)));
      const had = sub.count;
      const r = sub.insert(match, priority, data, conj);
      this.count += sub.count - had;
      return r;
    }
    const existing = this.find(match, priority);
    if (existing) this.remove(existing);
    const k = maskKey(match.mask);
    let st = this.subtables.get(k);
    if (!st) {
      const words: number[] = [];
      for (let i = FK_WORDS; i < OF_WORDS; i++) if (match.mask[i] !== 0) words.push(i);
      for (let i = 0; i < FK_WORDS; i++) if (match.mask[i] !== 0) words.push(i);
      const w = Int32Array.from(words);
      const stageEnds = stageEndsOf(w);
      st = { mask: Uint32Array.from(match.mask), words: w, stageEnds, stageCounts: stageEnds.map(() => new Map()), maxPriority: -1, buckets: new Map(), count: 0 };
      this.subtables.set(k, st);
    }
    const rule: ClsRule<T> = { match, priority, data, conj };
    if (conj !== null) this.nSoft++;
    const h = hashMasked(match.value, 0, st);
    let list = st.buckets.get(h);
    if (!list) st.buckets.set(h, (list = []));
    // Keep each bucket list in decreasing priority so the first match wins.
    let i = 0;
    while (i < list.length && list[i].priority >= priority) i++;
    list.splice(i, 0, rule);
    st.count++;
    for (let i = 0; i < st.stageEnds.length; i++) {
      const ph = prefixHash(match.value, 0, st.mask, st.words, st.stageEnds[i]);
      st.stageCounts[i].set(ph, (st.stageCounts[i].get(ph) ?? 0) + 1);
    }
    if (priority > st.maxPriority) st.maxPriority = priority;
    this.count++;
    this.dirty = true;
    return rule;
  }

  /** The rule with exactly this match and priority, if any. */
  find(match: Match, priority: number): ClsRule<T> | null {
    if (!this.isConjLevel && match.conjId !== undefined) return this.conjLevel.get(match.conjId)?.find(match, priority) ?? null;
    const st = this.subtables.get(maskKey(match.mask));
    if (!st) return null;
    const list = st.buckets.get(hashMasked(match.value, 0, st));
    if (!list) return null;
    for (const r of list) if (r.priority === priority && equalMasked(match.value, 0, r.match.value, st)) return r;
    return null;
  }

  remove(rule: ClsRule<T>): boolean {
    if (!this.isConjLevel && rule.match.conjId !== undefined) {
      const sub = this.conjLevel.get(rule.match.conjId);
      if (!sub || !sub.remove(rule)) return false;
      this.count--;
      if (sub.count === 0) this.conjLevel.delete(rule.match.conjId);
      return true;
    }
    const k = maskKey(rule.match.mask);
    const st = this.subtables.get(k);
    if (!st) return false;
    const h = hashMasked(rule.match.value, 0, st);
    const list = st.buckets.get(h);
    if (!list) return false;
    const i = list.indexOf(rule);
    if (i < 0) return false;
    list.splice(i, 1);
    if (rule.conj !== null) this.nSoft--;
    if (list.length === 0) st.buckets.delete(h);
    st.count--;
    for (let j = 0; j < st.stageEnds.length; j++) {
      const ph = prefixHash(rule.match.value, 0, st.mask, st.words, st.stageEnds[j]);
      const c = (st.stageCounts[j].get(ph) ?? 1) - 1;
      if (c === 0) st.stageCounts[j].delete(ph);
      else st.stageCounts[j].set(ph, c);
    }
    this.count--;
    if (st.count === 0) this.subtables.delete(k);
    else if (rule.priority === st.maxPriority) {
      let max = -1;
      for (const l of st.buckets.values()) if (l[0].priority > max) max = l[0].priority;
      st.maxPriority = max;
    }
    this.dirty = true;
    return true;
  }

  private sorted(): Subtable<T>[] {
    if (this.dirty) {
      this.order = [...this.subtables.values()].sort((a, b) => b.maxPriority - a.maxPriority);
      this.dirty = false;
    }
    return this.order;
  }

  /**
   * Highest-priority rule matching the OpenFlow flow key[ofs..ofs+OF_WORDS). When `wc` is
   * given, the masks of all subtables visited are ORed into it.
   */
  lookup(key: Uint32Array, ofs: number, wc: Uint32Array | null): ClsRule<T> | null {
    if (this.nSoft === 0 && this.conjLevel.size === 0) return this.lookupPlain(key, ofs, wc);
    return this.lookupConjunctive(key, ofs, wc);
  }

  private lookupPlain(key: Uint32Array, ofs: number, wc: Uint32Array | null): ClsRule<T> | null {
    let best: ClsRule<T> | null = null;
    const order = this.sorted();
    for (let s = 0; s < order.length; s++) {
      const st = order[s];
      if (best !== null && st.maxPriority <= best.priority) break;
      if (!passesStages(st, key, ofs, wc)) continue;
      const list = st.buckets.get(hashMasked(key, ofs, st));
      if (list === undefined) continue;
      for (let i = 0; i < list.length; i++) {
        const r = list[i];
        if (best !== null && r.priority <= best.priority) break;
        if (equalMasked(key, ofs, r.match.value, st)) {
          best = r;
          break;
        }
      }
    }
    return best;
  }

  /**
   * The main loop of OVS's lookup with soft rules: the best hard match and,
   * when `soft` is given, each subtable's best match that is soft. With
   * `soft` null (the conj_id lookup) soft matches are skipped.
   */
  private lookupHardSoft(key: Uint32Array, ofs: number, wc: Uint32Array | null, soft: SoftMatch<T>[] | null): ClsRule<T> | null {
    let hard: ClsRule<T> | null = null;
    for (const st of this.sorted()) {
      if (hard !== null && st.maxPriority <= hard.priority) break;
      if (!passesStages(st, key, ofs, wc)) continue;
      const list = st.buckets.get(hashMasked(key, ofs, st));
      if (list === undefined) continue;
      const idx = list.findIndex((r) => equalMasked(key, ofs, r.match.value, st));
      if (idx < 0 || (hard !== null && list[idx].priority <= hard.priority)) continue;
      if (list[idx].conj === null) hard = list[idx];
      else if (soft !== null) soft.push({ rule: list[idx], list, idx });
    }
    return hard;
  }

  /** Best of this level's hard match and the rules matching conj_id=`conjId`. */
  private lookupWithConjId(key: Uint32Array, ofs: number, wc: Uint32Array | null, conjId: number, soft: SoftMatch<T>[] | null): ClsRule<T> | null {
    const hard = this.lookupHardSoft(key, ofs, wc, soft);
    const c = this.conjLevel.get(conjId)?.lookupHardSoft(key, ofs, wc, null) ?? null;
    return c !== null && (hard === null || c.priority > hard.priority) ? c : hard;
  }

  private lookupConjunctive(key: Uint32Array, ofs: number, wc: Uint32Array | null): ClsRule<T> | null {
    const soft: SoftMatch<T>[] = [];
    let hard = this.lookupWithConjId(key, ofs, wc, 0, soft);
    for (;;) {
      const hardPri = hard === null ? -1 : hard.priority;
      for (let i = soft.length - 1; i >= 0; i--) if (soft[i].rule.priority <= hardPri) soft.splice(i, 1);
      if (soft.length === 0) return hard;
      let softPri = -1, nSoftPri = 0;
      for (const s of soft) {
        if (s.rule.priority > softPri) {
          softPri = s.rule.priority;
          nSoftPri = 1;
        } else if (s.rule.priority === softPri) nSoftPri++;
      }
      // Clauses seen per conjunction id at softPri; complete when every one of 1..n matched.
      const seen = new Map<number, bigint>();
      for (const s of soft) {
        if (s.rule.priority !== softPri) continue;
        for (const c of s.rule.conj!) {
          if (c.nClauses > nSoftPri) continue;
          const all = (1n << BigInt(c.nClauses)) - 1n;
          const got = (seen.get(c.id) ?? 0n) | (1n << BigInt(c.clause));
          seen.set(c.id, got);
          if ((got & all) !== all) continue;
          const rule = this.lookupWithConjId(key, ofs, wc, c.id, null);
          if (rule !== null) return rule;
        }
      }
      // No conjunction at softPri: a lower-priority rule with the same match may still match.
      for (let i = soft.length - 1; i >= 0; i--) {
        const s = soft[i];
        if (s.rule.priority !== softPri) continue;
        let j = s.idx + 1;
        while (j < s.list.length && !sameValue(s.list[j].match.value, s.rule.match.value)) j++;
        if (j >= s.list.length) {
          soft.splice(i, 1);
          continue;
        }
        const next = s.list[j];
        if (next.conj === null) {
          soft.splice(i, 1);
          if (next.priority > hardPri) hard = next;
        } else soft[i] = { rule: next, list: s.list, idx: j };
      }
    }
  }

  *rules(): IterableIterator<ClsRule<T>> {
    for (const st of this.subtables.values()) for (const list of st.buckets.values()) yield* list;
    for (const sub of this.conjLevel.values()) yield* sub.rules();
  }

  get subtableCount(): number {
    return this.subtables.size;
  }
}
