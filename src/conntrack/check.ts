// A consistency walker for the connection table (test/soak use, and a
// debugging aid): checks every invariant table.ts states, and returns the
// violations as text (none = consistent):
// - each index slot holds a live record's key, tagged with its hash, on the
//   probe path of its home bucket (stored R_BKT_*, the key's shard and hash;
//   no empty slot between), and no node is filed twice;
// - every live record has both keys in the index, and a lookup of each key
//   finds that record (no duplicate key shadowing it);
// - the counters agree: live records = H_NCONNS, per-zone live records =
//   the zone's count, live + free-list + never-used = capacity bookkeeping.
// It reads without locks: call it while no thread changes the table (a
// quiet datapath), or expect spurious reports.

import type { ConnTable } from './table.ts';
import {
  H_FREE_HEAD, H_NCONNS, K_META, KEY_WORDS, R_BKT_ORIG, R_BKT_REPLY, R_FLAGS, R_KEY_ORIG, R_KEY_REPLY, R_NEXT_ORIG,
  RF_IN_USE, REC_WORDS, NZONES,
} from './layout.ts';

export interface TableCheck {
  live: number;
  free: number;
  problems: string[];
}

const MAX_PROBLEMS = 20;

function sameKey(rec: Int32Array, a: number, b: number): boolean {
  for (let i = 0; i < KEY_WORDS; i++) if (rec[a + i] !== rec[b + i]) return false;
  return true;
}

export function checkTable(t: ConnTable): TableCheck {
  const problems: string[] = [];
  const bad = (s: string) => { if (problems.length < MAX_PROBLEMS) problems.push(s); };
  const rec = t.rec;
  const hw = t.highWater();
  const nbuckets = t.bkt.length;
  const seen = new Int32Array(hw * 2); // per node: the slot + 1 it is filed in
  const last = t.bucketsPerShard - 1;
  for (let b = 0; b < nbuckets; b++) {
    const v = t.bkt[b];
    if (v === 0) continue;
    const node = t.slotNode(v);
    const r = node >>> 1;
    const dir = node & 1;
    if (node < 0 || r >= hw) { bad(`slot ${b}: node ${node} beyond the high water ${hw}`); continue; }
    const base = r * REC_WORDS;
    if ((rec[base + R_FLAGS] & RF_IN_USE) === 0) bad(`slot ${b}: record ${r} is in the index but not in use`);
    if (seen[node] !== 0) bad(`slot ${b}: node ${node} filed twice`);
    seen[node] = b + 1;
    const kb = base + (dir === 0 ? R_KEY_ORIG : R_KEY_REPLY);
    const home = rec[base + (dir === 0 ? R_BKT_ORIG : R_BKT_REPLY)];
    const hash = t.hashKey(rec, kb);
    const want = t.bucketOf(t.shardOfKey(rec, kb), hash);
    if (want !== home) bad(`record ${r} key ${dir}: hashes to bucket ${want}, filed under ${home}`);
    if ((v & t.tagMask) !== (hash & t.tagMask)) bad(`slot ${b}: record ${r} key ${dir}: its tag is not its hash's`);
    // Its probe path: home .. b in the shard's region, no empty slot on the way.
    if (home >>> t.bucketShift !== b >>> t.bucketShift) { bad(`slot ${b}: record ${r} key ${dir} is filed outside its shard`); continue; }
    for (let i = home; i !== b; i = (i - (i & last)) + ((i + 1) & last)) {
      if (t.bkt[i] === 0) { bad(`slot ${b}: record ${r} key ${dir}: empty slot ${i} on its probe path`); break; }
    }
  }
  let live = 0;
  const zoneLive = new Map<number, number>();
  for (let r = 0; r < hw; r++) {
    const base = r * REC_WORDS;
    if ((rec[base + R_FLAGS] & RF_IN_USE) === 0) continue;
    live++;
    const zone = rec[base + R_KEY_ORIG + K_META] & 0xffff;
    zoneLive.set(zone, (zoneLive.get(zone) ?? 0) + 1);
    for (let dir = 0; dir < 2; dir++) {
      if (seen[r * 2 + dir] === 0) { bad(`record ${r}: its ${dir === 0 ? 'orig' : 'reply'} key is not in the index`); continue; }
      const kb = base + (dir === 0 ? R_KEY_ORIG : R_KEY_REPLY);
      const found = t.lookupLocked(rec, kb, rec[base + (dir === 0 ? R_BKT_ORIG : R_BKT_REPLY)], t.hashKey(rec, kb));
      // A connection of an address and port with themselves has the same key
      // both ways: a lookup finds its orig node (table.ts files it first).
      const same = dir === 1 && found === r * 2 && sameKey(rec, base + R_KEY_ORIG, base + R_KEY_REPLY);
      if (found !== r * 2 + dir && !same) bad(`record ${r}: a lookup of its ${dir === 0 ? 'orig' : 'reply'} key finds node ${found}`);
    }
  }
  const nconns = Atomics.load(t.hdr, H_NCONNS);
  if (nconns !== live) bad(`nconns is ${nconns}, ${live} records are live`);
  for (let z = 0; z < NZONES; z++) {
    const c = t.zoneCount(z);
    const l = zoneLive.get(z) ?? 0;
    if (c !== l) bad(`zone ${z}: count ${c}, ${l} records live`);
  }
  // The free list: ends, holds only unused records, and with the live ones
  // accounts for every record handed out.
  let free = 0;
  let f = Atomics.load(t.hdr, H_FREE_HEAD);
  while (f !== 0) {
    const r = f - 1;
    if (r >= hw || ++free > hw) { bad('free list does not end or leaves the slab'); break; }
    if ((rec[r * REC_WORDS + R_FLAGS] & RF_IN_USE) !== 0) bad(`record ${r} is free and in use`);
    f = rec[r * REC_WORDS + R_NEXT_ORIG];
  }
  if (live + free !== hw) bad(`${live} live + ${free} free records, ${hw} handed out (a leak)`);
  return { live, free, problems };
}
