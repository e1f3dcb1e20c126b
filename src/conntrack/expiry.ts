// Expiry and removal: the sweep that frees expired connections in small
// steps (a shared cursor, so PMD threads sweep different slices of the
// slab), and the removal of one record under the lock rules of table.ts
// (both of its shards held, taken in ascending order). Flushes use the same
// removal.

import type { ConnTable } from './table.ts';
import { EV_DESTROY } from './event-ring.ts';
import { removeExpectationsLocked } from './alg/run.ts';
import { H_CNT_EXPIRED, H_SWEEP_CURSOR, K_META, R_EXPIRY, R_KEY_ORIG, REC_WORDS } from './layout.ts';

/** Unlink, uncount and free r, and drop its ALG expectations. Caller
 *  holds the shards of both its keys. */
export function removeLocked(t: ConnTable, r: number): void {
  removeExpectationsLocked(t, r);
  const zone = t.rec[r * REC_WORDS + R_KEY_ORIG + K_META] & 0xffff;
  if (t.events !== null) t.events.postConn(EV_DESTROY, t.rec, r, 0);
  t.unlinkLocked(r);
  t.unreserve(zone);
  t.freeRecord(r);
}

/** Lock both shards of r (ascending), re-check that it is live and still
 *  satisfies `pred`, and remove it. Slow path. */
export function removeIf(t: ConnTable, r: number, pred: (r: number) => boolean): boolean {
  for (;;) {
    const a = t.homeShard(r);
    const b = t.replyShard(r);
    t.lockPair(a, b);
    if (!t.isInUse(r)) { t.unlockPair(a, b); return false; }
    if (t.homeShard(r) !== a || t.replyShard(r) !== b) { t.unlockPair(a, b); continue; }
    const ok = pred(r);
    if (ok) removeLocked(t, r);
    t.unlockPair(a, b);
    return ok;
  }
}

/**
 * Remove expired connections among the next `budget` slab slots (a shared
 * cursor, so threads sweep different slices). Returns how many it removed.
 * Each record is locked on its own: never holds a lock for long.
 */
export function sweep(t: ConnTable, nowMs: number, budget: number): number {
  const hw = t.highWater();
  if (hw === 0) return 0;
  let start = Atomics.add(t.hdr, H_SWEEP_CURSOR, budget) % hw;
  if (start < 0) start += hw;
  let removed = 0;
  const n = budget < hw ? budget : hw;
  for (let i = 0; i < n; i++) {
    const r = (start + i) % hw;
    if (!t.isInUse(r) || t.f64[(r * REC_WORDS + R_EXPIRY) >>> 1] > nowMs) continue;
    if (removeIf(t, r, (rr) => t.f64[(rr * REC_WORDS + R_EXPIRY) >>> 1] <= nowMs)) removed++;
  }
  if (removed > 0) Atomics.add(t.hdr, H_CNT_EXPIRED, removed);
  return removed;
}

/** Remove r, whose home shard `shard` is held. A NATed record's reply
 *  key may sit in another shard: taken in order when higher, by try-lock
 *  when lower; when busy, r is marked expired and left to the sweep,
 *  which takes both locks in order. */
export function removeIfSingleShardLocked(t: ConnTable, r: number, shard: number): void {
  const other = t.replyShard(r) === shard ? t.homeShard(r) : t.replyShard(r);
  if (other === shard) {
    removeLocked(t, r);
    return;
  }
  if (other > shard ? (t.lockShard(other), true) : t.tryLockShard(other)) {
    removeLocked(t, r);
    t.unlockShard(other);
    return;
  }
  t.f64[(r * REC_WORDS + R_EXPIRY) >>> 1] = -Infinity;
}
