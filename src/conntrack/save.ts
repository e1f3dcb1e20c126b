// Saving the connection table and restoring it into a new one (swd stop /
// restart / SIGTERM, then the next start), in the container format of
// save-format.ts.
//
// What travels: every live record, all REC_WORDS words of it copied as they
// are (keys of both directions with the NAT / un-NAT tuple, TCP window
// state, mark, label, zone, counters and whatever words later features add),
// the limits (maxconns, default and per-zone), the TCP sequence check and the
// timeout policies. The connections section is version 2 (the 64-word
// record of layout.ts); version 1 files (60-word records in the order before
// it) are still read, each word moved to its place (connWords). What does
// not: the hash index (its slots)
// — the new table has its own random seed, so every record is re-inserted
// by its keys, never copied bucket for bucket — and the process-lifetime
// counters. NAT needs nothing more: a translation's port is "taken" because
// its reply key is in the index (src/nat/select.ts probes the table), so the
// restored reply keys keep every mapping and new commits avoid them.
//
// Time: expiry is absolute in the daemon's ms clock (Date.now, on the main
// thread and in the PMD threads), which means nothing to the next process.
// A record is saved with the time it had left; on restore it gets that time
// less the time the daemon was stopped (timeElapsedMs), and one whose time
// ran out meanwhile is not restored.
//
// Threads: saveTable locks one home shard at a time, so it may run beside
// PMD threads (the daemon calls it after they stopped, for a quiet table);
// restoreTable must run before any thread uses the table (it is the first
// thing a start does, before ports open).

import type { ConnTable } from './table.ts';
import {
  K_META, KEY_WORDS, REC_WORDS, R_BKT_ORIG, R_BKT_REPLY, R_EXPIRY, R_FLAGS, R_ID, R_KEY_ORIG, R_KEY_REPLY,
  R_NEXT_ORIG, R_NEXT_REPLY, RF_IN_USE, SAVED_V1_WORDS, savedV1Offset, H_NCONNS, H_NEXT_ID, H_NPOLICIES, MAX_POLICIES, NZONES, POLICY_WORDS,
} from './layout.ts';
import {
  CtSaveError, encodeSave, parseSave, timeElapsedMs, SEC_CONNS, SEC_POLICIES, SEC_TABLE_PARAMS,
  type RawSection, type SaveClock,
} from './save-format.ts';

/** What a restore did, for the log and `swctl ct-save-show`. */
export interface RestoreReport {
  restored: number;
  /** Saved connections whose time ran out while swd was stopped. */
  expired: number;
  /** Records whose key was already in the table (a damaged save). */
  duplicates: number;
  /** Records that found no free slot. */
  noRoom: number;
  elapsedMs: number;
  /** Section ids this swd does not know, skipped. */
  skippedSections: number[];
}

/** One section kind: how to write it, check it and apply it. Other modules
 *  (the expectation table) add their own through the `extra` options. */
export interface SaveSection {
  id: number;
  version: number;
  encode(t: ConnTable, nowMs: number): Uint8Array;
  /** What is wrong with a payload of `version`, or null. Nothing is applied before every section checked out. */
  check(payload: Uint8Array, version: number): string | null;
  /** `ctx.version`: the payload's section version (check() accepted it). */
  apply(payload: Uint8Array, t: ConnTable, ctx: { nowMs: number; elapsedMs: number; report: RestoreReport; version: number }): void;
}

const I32 = (n: number) => new Int32Array(n);

/** An Int32Array over a payload, copied when it is not 4-byte aligned. */
function words(p: Uint8Array): Int32Array {
  if (p.byteOffset % 4 === 0) return new Int32Array(p.buffer, p.byteOffset, p.byteLength >>> 2);
  return new Int32Array(p.slice().buffer, 0, p.byteLength >>> 2);
}

const bytesOf = (w: Int32Array) => new Uint8Array(w.buffer, w.byteOffset, w.byteLength);

// f64 <-> two words without alignment requirements
const f64Scratch = new Float64Array(1);
const f64Words = new Int32Array(f64Scratch.buffer);

// --- table parameters: maxconns, default zone limit, seq check, next id, zone limits

const paramsSection: SaveSection = {
  id: SEC_TABLE_PARAMS,
  version: 1,
  encode(t) {
    const zones: number[] = [];
    for (let z = 0; z < NZONES; z++) {
      const l = t.zoneLimitRaw(z);
      if (l >= 0) zones.push(z, l);
    }
    const w = I32(5 + zones.length);
    w[0] = t.maxConns();
    w[1] = t.defaultZoneLimit();
    w[2] = t.seqCheck() ? 1 : 0;
    w[3] = Atomics.load(t.hdr, H_NEXT_ID);
    w[4] = zones.length / 2;
    w.set(zones, 5);
    return bytesOf(w);
  },
  check(p, version) {
    if (version !== 1) return `table parameters version ${version}, expected 1`;
    if (p.byteLength < 20 || p.byteLength % 4 !== 0) return 'table parameters: bad length';
    const w = words(p);
    if (p.byteLength !== 20 + w[4] * 8) return 'table parameters: zone count does not match the length';
    for (let i = 0; i < w[4]; i++) if (w[5 + i * 2] >>> 0 >= NZONES || w[6 + i * 2] < 0) return 'table parameters: bad zone limit';
    return null;
  },
  apply(p, t) {
    const w = words(p);
    t.setMaxConns(w[0]);
    t.setDefaultZoneLimit(w[1]);
    t.setSeqCheck(w[2] !== 0);
    // Keep the saved ids (helpers refer to a parent connection by id).
    Atomics.store(t.hdr, H_NEXT_ID, w[3]);
    for (let i = 0; i < w[4]; i++) t.setZoneLimit(w[5 + i * 2], w[6 + i * 2]);
  },
};

// --- timeout policies: the slots and which zone uses which

const policiesSection: SaveSection = {
  id: SEC_POLICIES,
  version: 1,
  encode(t) {
    const zones: number[] = [];
    for (let z = 0; z < NZONES; z++) {
      const slot = t.hdr[t.layout.zonePolicy + z];
      if (slot !== 0) zones.push(z, slot);
    }
    const n = MAX_POLICIES * POLICY_WORDS;
    const w = I32(4 + n + zones.length);
    w[0] = t.hdr[H_NPOLICIES];
    w[1] = MAX_POLICIES;
    w[2] = POLICY_WORDS;
    w[3] = zones.length / 2;
    w.set(t.hdr.subarray(t.layout.policies, t.layout.policies + n), 4);
    w.set(zones, 4 + n);
    return bytesOf(w);
  },
  check(p, version) {
    if (version !== 1) return `timeout policies version ${version}, expected 1`;
    if (p.byteLength < 16 || p.byteLength % 4 !== 0) return 'timeout policies: bad length';
    const w = words(p);
    if (w[1] !== MAX_POLICIES || w[2] !== POLICY_WORDS) return `timeout policies: ${w[1]} x ${w[2]} words, this swd has ${MAX_POLICIES} x ${POLICY_WORDS}`;
    const n = MAX_POLICIES * POLICY_WORDS;
    if (p.byteLength !== (4 + n + w[3] * 2) * 4) return 'timeout policies: zone count does not match the length';
    if (w[0] < 1 || w[0] > MAX_POLICIES) return 'timeout policies: bad policy count';
    for (let i = 0; i < w[3]; i++) {
      const z = w[4 + n + i * 2] >>> 0;
      const slot = w[5 + n + i * 2];
      if (z >= NZONES || slot < 1 || slot >= MAX_POLICIES) return 'timeout policies: bad zone entry';
    }
    return null;
  },
  apply(p, t) {
    const w = words(p);
    const n = MAX_POLICIES * POLICY_WORDS;
    t.hdr.set(w.subarray(4, 4 + n), t.layout.policies);
    t.hdr[H_NPOLICIES] = w[0];
    for (let i = 0; i < w[3]; i++) Atomics.store(t.hdr, t.layout.zonePolicy + w[4 + n + i * 2], w[5 + n + i * 2]);
  },
};

// --- connections: u32 REC_WORDS, u32 KEY_WORDS, u32 count, u32 0, then the records

const CONN_HEAD_WORDS = 4;

/**
 * The section's words in today's record layout. Version 1 (before the
 * record was ordered by cache line, layout.ts) held SAVED_V1_WORDS-word
 * records: each is moved word by word into today's places. A header of
 * another size is passed on unchanged, for check() to refuse.
 */
function connWords(p: Uint8Array, version: number): Int32Array {
  const w = words(p);
  if (version !== 1 || w[0] !== SAVED_V1_WORDS || w[1] !== KEY_WORDS) return w;
  const n = w[2];
  if (w.length !== CONN_HEAD_WORDS + n * SAVED_V1_WORDS) return w; // check() reports the length
  const out = I32(CONN_HEAD_WORDS + n * REC_WORDS);
  out.set(w.subarray(0, CONN_HEAD_WORDS));
  out[0] = REC_WORDS;
  for (let i = 0; i < n; i++) {
    const from = CONN_HEAD_WORDS + i * SAVED_V1_WORDS;
    const to = CONN_HEAD_WORDS + i * REC_WORDS;
    for (let k = 0; k < REC_WORDS; k++) {
      const old = savedV1Offset(k);
      if (old >= 0) out[to + k] = w[from + old];
    }
  }
  return out;
}

const connsSection: SaveSection = {
  id: SEC_CONNS,
  version: 2,
  encode(t, nowMs) {
    const hw = t.highWater();
    const out = I32(CONN_HEAD_WORDS + Math.min(hw, t.nconns() + 1024) * REC_WORDS);
    let buf = out;
    let n = 0;
    for (let r = 0; r < hw; r++) {
      if (!t.isInUse(r)) continue;
      const s = t.homeShard(r);
      t.lockShard(s);
      if (t.isInUse(r) && t.homeShard(r) === s) {
        const base = r * REC_WORDS;
        const left = t.f64[(base + R_EXPIRY) >>> 1] - nowMs;
        if (left > 0) {
          if (CONN_HEAD_WORDS + (n + 1) * REC_WORDS > buf.length) {
            const bigger = I32(buf.length * 2);
            bigger.set(buf);
            buf = bigger;
          }
          const o = CONN_HEAD_WORDS + n * REC_WORDS;
          buf.set(t.rec.subarray(base, base + REC_WORDS), o);
          f64Scratch[0] = left;
          buf[o + R_EXPIRY] = f64Words[0];
          buf[o + R_EXPIRY + 1] = f64Words[1];
          // The index is rebuilt on restore; links mean nothing outside this table.
          buf[o + R_NEXT_ORIG] = 0;
          buf[o + R_NEXT_REPLY] = 0;
          buf[o + R_BKT_ORIG] = 0;
          buf[o + R_BKT_REPLY] = 0;
          n++;
        }
      }
      t.unlockShard(s);
    }
    buf[0] = REC_WORDS;
    buf[1] = KEY_WORDS;
    buf[2] = n;
    return bytesOf(buf.subarray(0, CONN_HEAD_WORDS + n * REC_WORDS));
  },
  check(p, version) {
    if (version !== 1 && version !== 2) return `connections version ${version}, expected 1 or 2`;
    if (p.byteLength < CONN_HEAD_WORDS * 4 || p.byteLength % 4 !== 0) return 'connections: bad length';
    const w = connWords(p, version);
    if (w[0] !== REC_WORDS || w[1] !== KEY_WORDS) {
      throw new CtSaveError('ECTSAVE_VERSION', `connection records of ${w[0]} words (keys ${w[1]}), this swd has ${REC_WORDS} (keys ${KEY_WORDS})`);
    }
    if (w.length !== CONN_HEAD_WORDS + w[2] * REC_WORDS) return 'connections: count does not match the length';
    for (let i = 0; i < w[2]; i++) {
      const o = CONN_HEAD_WORDS + i * REC_WORDS;
      if ((w[o + R_FLAGS] & RF_IN_USE) === 0) return `connection ${i}: not a live record`;
      if ((w[o + R_KEY_ORIG + K_META] & 0xffff) !== (w[o + R_KEY_REPLY + K_META] & 0xffff)) return `connection ${i}: keys of different zones`;
    }
    return null;
  },
  apply(p, t, ctx) {
    const w = connWords(p, ctx.version);
    const n = w[2];
    const rep = ctx.report;
    for (let i = 0; i < n; i++) {
      const o = CONN_HEAD_WORDS + i * REC_WORDS;
      f64Words[0] = w[o + R_EXPIRY];
      f64Words[1] = w[o + R_EXPIRY + 1];
      const left = f64Scratch[0] - ctx.elapsedMs;
      if (!(left > 0)) { rep.expired++; continue; }
      const res = insertSaved(t, w, o, ctx.nowMs + left);
      if (res === INSERTED) rep.restored++;
      else if (res === NO_ROOM) rep.noRoom++;
      else rep.duplicates++;
    }
  },
};

const INSERTED = 0;
const DUPLICATE = 1;
const NO_ROOM = 2;

/** Put saved record words[o..] into the table under both of its keys. */
function insertSaved(t: ConnTable, w: Int32Array, o: number, expiryMs: number): number {
  const so = t.shardOfKey(w, o + R_KEY_ORIG);
  const sr = t.shardOfKey(w, o + R_KEY_REPLY);
  const ho = t.hashKey(w, o + R_KEY_ORIG);
  const hr = t.hashKey(w, o + R_KEY_REPLY);
  const bo = t.bucketOf(so, ho);
  const br = t.bucketOf(sr, hr);
  t.lockPair(so, sr);
  try {
    if (t.lookupLocked(w, o + R_KEY_ORIG, bo, ho) >= 0 || t.lookupLocked(w, o + R_KEY_REPLY, br, hr) >= 0) return DUPLICATE;
    const r = t.allocRecord();
    if (r < 0) return NO_ROOM;
    const base = r * REC_WORDS;
    t.rec.set(w.subarray(o, o + REC_WORDS), base);
    t.rec[base + R_FLAGS] = w[o + R_FLAGS] & ~RF_IN_USE;
    t.f64[(base + R_EXPIRY) >>> 1] = expiryMs;
    if (!t.insertLocked(r, bo, ho, br, hr)) {
      t.freeRecord(r);
      return NO_ROOM;
    }
    Atomics.add(t.hdr, t.layout.zoneCount + (w[o + R_KEY_ORIG + K_META] & 0xffff), 1);
    Atomics.add(t.hdr, H_NCONNS, 1);
    Atomics.or(t.rec, base + R_FLAGS, RF_IN_USE);
    if ((w[o + R_ID] >>> 0) >= (Atomics.load(t.hdr, H_NEXT_ID) >>> 0)) Atomics.store(t.hdr, H_NEXT_ID, w[o + R_ID]);
    return INSERTED;
  } finally {
    t.unlockPair(so, sr);
  }
}

export const CORE_SECTIONS: readonly SaveSection[] = [paramsSection, policiesSection, connsSection];

export interface SaveOptions {
  /** Sections of other modules, written after the core ones. */
  extra?: SaveSection[];
}

/** The table as save-file chunks (to be written in order). */
export function saveTable(t: ConnTable, nowMs: number, clock: SaveClock, opts: SaveOptions = {}): { chunks: Uint8Array[]; conns: number } {
  const all = [...CORE_SECTIONS, ...(opts.extra ?? [])];
  const sections: RawSection[] = all.map((s) => ({ id: s.id, version: s.version, payload: s.encode(t, nowMs) }));
  const c = sections.find((s) => s.id === SEC_CONNS)!;
  const conns = new Int32Array(c.payload.buffer, c.payload.byteOffset, 4)[2];
  return { chunks: encodeSave(clock, sections), conns };
}

/**
 * Restore a save file's bytes into `t` (a fresh table nobody uses yet).
 * Every section is checked before anything is applied: a damaged or
 * mismatched file throws CtSaveError and leaves the table as it was.
 */
export function restoreTable(t: ConnTable, bytes: Uint8Array, nowMs: number, clock: SaveClock, opts: SaveOptions = {}): RestoreReport {
  const parsed = parseSave(bytes);
  const known = new Map([...CORE_SECTIONS, ...(opts.extra ?? [])].map((s) => [s.id, s]));
  const report: RestoreReport = {
    restored: 0, expired: 0, duplicates: 0, noRoom: 0, elapsedMs: timeElapsedMs(parsed.clock, clock), skippedSections: [],
  };
  const seen = new Set<number>();
  for (const s of parsed.sections) {
    if (seen.has(s.id)) throw new CtSaveError('ECTSAVE_CORRUPT', `section ${s.id} appears twice`);
    seen.add(s.id);
    const h = known.get(s.id);
    if (!h) { report.skippedSections.push(s.id); continue; }
    const why = h.check(s.payload, s.version);
    if (why !== null) throw new CtSaveError(s.version !== h.version ? 'ECTSAVE_VERSION' : 'ECTSAVE_CORRUPT', why);
  }
  for (const id of [SEC_TABLE_PARAMS, SEC_POLICIES, SEC_CONNS]) {
    if (!seen.has(id)) throw new CtSaveError('ECTSAVE_CORRUPT', `section ${id} is missing`);
  }
  // Limits and policies first, then the connections, then the others in file order.
  const order = [...parsed.sections].sort((a, b) => rank(a.id) - rank(b.id));
  for (const s of order) known.get(s.id)?.apply(s.payload, t, { nowMs, elapsedMs: report.elapsedMs, report, version: s.version });
  return report;
}

const rank = (id: number) => (id <= SEC_CONNS ? id : SEC_CONNS + 1);
