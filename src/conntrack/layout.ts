// Byte layout of everything conntrack keeps in SharedArrayBuffers. Every
// thread that attaches to the table reads and writes these words, so the
// offsets here are a contract between threads: test/conntrack/layout.test.ts
// pins them. Words are 32 bits; f64 fields sit at even word offsets so that
// a Float64Array over the same buffer can address them.

// --- connection key: KEY_WORDS words, one per direction ---
// The tuple layout that NAT shares (src/packet/tuple.ts), part of this contract.
export { AF_V4, AF_V6, K_DST, K_META, K_PORTS, K_SRC, KEY_WORDS } from '../packet/tuple.ts';

// --- connection record: REC_WORDS words in the slab ---
// 256 bytes, four 64-byte lines, ordered by what a packet touches: line 0
// holds all a lookup of an orig-direction key reads (flags, id, expiry, the
// key, its home bucket, the mark), line 1 what such a packet then updates
// or reports (its direction's counters, the label, helper, parent, TCP
// states); line 2 the reply key and the reply direction's counters; line 3
// TCP window tracking and the ALG sequence adjustment.
// Format version 1 of the saved table had another order (SAVED_V1_WORDS,
// save.ts converts).
export const R_FLAGS = 0; // RF_* bits | timeout class << 8 | l4 state << 16 | NAT flags << 24
export const R_ID = 1; // connection id (unique while the table lives, wraps at 2^32)
export const R_EXPIRY = 2; // f64: absolute expiry in the caller's ms clock (words 2..3)
export const R_KEY_ORIG = 4; // KEY_WORDS
export const R_BKT_ORIG = 14; // home bucket of the orig key (its shard = bucket >>> shardShift)
export const R_MARK = 15;
// line 1
export const R_PKTS_ORIG = 16; // f64
export const R_BYTES_ORIG = 18; // f64
export const R_LABEL = 20; // 4 words, most significant first (as FK_CT_LABEL)
// ALG helpers (src/conntrack/alg): the connection's helper, its parent
// (a related connection created from an expectation) and the TCP sequence
// adjustment left by payload rewrites, per direction (as Linux's
// nf_ct_seqadj: correction position, offset before, offset after).
export const R_HELPER = 24; // ALG_* of the connection (0 = none); set at commit, then constant
export const R_PARENT_ID = 25; // R_ID of the parent connection (0 = not related)
export const R_TCP_STATES = 26; // state_orig | state_reply << 8 | wscale_orig << 16 | wscale_reply << 24
export const R_NEXT_ORIG = 27; // free list link of a free record (record + 1, 0 = end)
export const R_NAT_INFO = 28; // NAT: reserved (the NAT flags live in R_FLAGS, NF_* << RF_NAT_SHIFT)
export const R_NAT_INFO2 = 29;
export const R_RESERVED = 30; // 2 words: future use
// line 2
export const R_KEY_REPLY = 32; // KEY_WORDS; with NAT this is the translated (un-NAT) tuple
export const R_BKT_REPLY = 42; // home bucket of the reply key
export const R_NEXT_REPLY = 43; // unused (was a hash chain link)
export const R_PKTS_REPLY = 44; // f64
export const R_BYTES_REPLY = 46; // f64
// line 3
export const R_SEQLO_ORIG = 48; // TCP peer (orig): highest seq sent + 1
export const R_SEQHI_ORIG = 49; // TCP peer (orig): highest seq the other side allows
export const R_MAXWIN_ORIG = 50;
export const R_SEQLO_REPLY = 51;
export const R_SEQHI_REPLY = 52;
export const R_MAXWIN_REPLY = 53;
export const R_SEQADJ_ORIG = 54; // 3 words: correction pos, offset before, offset after (orig-direction seq)
export const R_SEQADJ_REPLY = 57; // 3 words, reply direction
export const R_RESERVED2 = 60; // 4 words: future use
export const REC_WORDS = 64;
export const REC_BYTES = REC_WORDS * 4;

/** The record of saved-table format version 1 (60 words): where each of
 *  today's words was (old offset per new word, -1 = none). */
export const SAVED_V1_WORDS = 60;
export function savedV1Offset(w: number): number {
  // old layout: FLAGS 0, ID 1, EXPIRY 2, MARK 4, LABEL 5, KEY_ORIG 9, KEY_REPLY 19, NEXT 29/30,
  // BKT 31/32, TCP_STATES 33, SEQLO/SEQHI/MAXWIN orig 34-36, reply 37-39, NAT_INFO 40-41,
  // reserved 42-43, PKTS 44/46, BYTES 48/50, HELPER 52, PARENT_ID 53, SEQADJ 54/57.
  if (w < 4) return w;
  if (w < 14) return 9 + (w - 4);
  if (w === R_BKT_ORIG) return 31;
  if (w === R_MARK) return 4;
  if (w === R_PKTS_ORIG || w === R_PKTS_ORIG + 1) return 44 + (w - R_PKTS_ORIG);
  if (w === R_BYTES_ORIG || w === R_BYTES_ORIG + 1) return 48 + (w - R_BYTES_ORIG);
  if (w >= R_LABEL && w < R_LABEL + 4) return 5 + (w - R_LABEL);
  if (w === R_HELPER) return 52;
  if (w === R_PARENT_ID) return 53;
  if (w === R_TCP_STATES) return 33;
  if (w === R_NAT_INFO || w === R_NAT_INFO2) return 40 + (w - R_NAT_INFO);
  if (w >= R_KEY_REPLY && w < R_KEY_REPLY + 10) return 19 + (w - R_KEY_REPLY);
  if (w === R_PKTS_REPLY || w === R_PKTS_REPLY + 1) return 46 + (w - R_PKTS_REPLY);
  if (w === R_BYTES_REPLY || w === R_BYTES_REPLY + 1) return 50 + (w - R_BYTES_REPLY);
  if (w >= R_SEQLO_ORIG && w < R_RESERVED2) return 34 + (w - R_SEQLO_ORIG) + (w >= R_SEQADJ_ORIG ? 14 : 0);
  return -1; // links, buckets, reserved words: not carried over
}

// R_FLAGS bits
export const RF_IN_USE = 0x1;
/** The datapath's flowtable (src/datapath/flowtable.ts) holds entries for this connection. */
export const RF_OFFLOAD = 0x2;
export const RF_CLASS_SHIFT = 8; // timeout class (TM_*), 8 bits
export const RF_L4_SHIFT = 16; // udp/other and icmp state, 8 bits
export const RF_NAT_SHIFT = 24; // NAT flags (NF_*), 8 bits; set before the record is linked, then constant

// NAT flags of a connection: which side of the tuple its translation changes.
export const NF_SRC = 0x1; // source NAT: +snat on orig-direction packets, +dnat on replies
export const NF_DST = 0x2; // destination NAT: +dnat on orig-direction packets, +snat on replies

// --- header: control words, locks, per-zone arrays (Int32Array) ---
export const H_MAGIC = 0;
export const H_SEED = 1;
export const H_CAPACITY = 2; // records in the slab
export const H_NBUCKETS = 3;
export const H_NSHARDS = 4;
export const H_NCONNS = 5; // committed connections (Atomics)
export const H_MAXCONNS = 6; // global limit
export const H_NEXT_ID = 7;
export const H_SEQ_CHK = 8; // 1 = TCP sequence checking on
export const H_ALLOC_LOCK = 9;
export const H_FREE_HEAD = 10; // record index + 1; 0 = empty (guarded by H_ALLOC_LOCK)
export const H_HIGH_WATER = 11; // records ever handed out (guarded by H_ALLOC_LOCK)
export const H_SWEEP_CURSOR = 12;
export const H_DEFAULT_ZONE_LIMIT = 13; // 0 = unlimited
export const H_CNT_INVALID = 14; // packets given +inv
export const H_CNT_FULL = 15; // commits refused: global limit
export const H_CNT_ZONE_FULL = 16; // commits refused: zone limit
export const H_CNT_EXPIRED = 17; // connections removed by the sweep
export const H_CNT_COMMITS = 18;
export const H_CNT_RELATED = 19;
export const H_NPOLICIES = 20;
export const H_CNT_NAT_EXHAUSTED = 21; // packets dropped: no free NAT tuple
export const H_CNT_NAT_CONNS = 22; // NATed connections committed (ever)
// events (ct-events, event-ring.ts): 29..31
export const H_EV_LISTENERS = 29; // event subscribers; 0 = producers post nothing (one load per event point)
export const H_EV_POSTED = 30; // events written into a ring (all threads)
export const H_EV_LOST = 31; // events dropped because their thread's ring was full
export const H_CNT_EXP_CREATED = 23; // ALG expectations created
export const H_CNT_EXP_MATCHED = 24; // expectations a new connection matched
export const H_CNT_EXP_EXPIRED = 25; // expectations timed out or removed with their parent
export const H_CNT_ALG_MALFORMED = 26; // helper control messages that did not parse (+inv)
// ctfast (32..35)
export const H_CNT_BAD_CSUM = 32; // packets given +inv for a wrong IPv4 header or L4 checksum (csum.ts)
// Fixed words end here; the lock array after them starts on a 64-byte line.
export const H_WORDS_FIXED = 48;
export const MAGIC = 0x73776463; // 'swdc'

export const LOCK_STRIDE = 16; // one lock per 64-byte line: no false sharing between shards
export const NZONES = 65536;
export const MAX_POLICIES = 64; // timeout policies (slot 0 = default)
export const POLICY_WORDS = 16; // seconds per timeout class

export interface HeaderLayout {
  locks: number; // word offset of shard lock 0
  zoneCount: number; // Int32 per zone
  zoneLimit: number; // Int32 per zone: -1 = use the default
  zonePolicy: number; // Int32 per zone: policy slot, 0 = default
  policies: number; // MAX_POLICIES * POLICY_WORDS
  natExhausted: number; // Int32 per zone: packets dropped for want of a free NAT tuple
  words: number;
}

export function headerLayout(nshards: number): HeaderLayout {
  const locks = H_WORDS_FIXED;
  const zoneCount = locks + nshards * LOCK_STRIDE;
  const zoneLimit = zoneCount + NZONES;
  const zonePolicy = zoneLimit + NZONES;
  const policies = zonePolicy + NZONES;
  const natExhausted = policies + MAX_POLICIES * POLICY_WORDS;
  return { locks, zoneCount, zoneLimit, zonePolicy, policies, natExhausted, words: natExhausted + NZONES };
}
