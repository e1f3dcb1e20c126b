// Conntrack's side of the datapath flowtable (src/datapath/flowtable.ts, as
// nf_flowtable): which connections may be offloaded, the RF_OFFLOAD status
// bit, and the per-packet accounting of offloaded packets, so that a
// connection's counters and timeout stay what the full path would make them.
//
// Threads: every call takes the record's home shard lock (table.ts) and
// trusts the record only while it is in use with the same id. RF_OFFLOAD is
// set by any thread that creates an entry and cleared by teardown; a
// cleared bit makes every thread's entries for the connection invalid, which
// is how one thread invalidates another's.

import {
  K_META, REC_WORDS, R_BYTES_ORIG, R_BYTES_REPLY, R_EXPIRY, R_FLAGS, R_ID, R_KEY_ORIG, R_LABEL, R_MARK,
  R_PKTS_ORIG, R_PKTS_REPLY, R_TCP_STATES, RF_OFFLOAD, R_SEQLO_ORIG, R_SEQLO_REPLY, R_MAXWIN_ORIG, R_MAXWIN_REPLY,
  R_SEQHI_ORIG, R_SEQHI_REPLY, R_HELPER, R_PARENT_ID, R_SEQADJ_ORIG, R_SEQADJ_REPLY,
} from './layout.ts';
import { getClass } from './l4.ts';
import type { ConnTable } from './table.ts';
import { TCPS_ESTABLISHED, WS_FLAG } from './tcp.ts';
import { timeoutSec } from './timeouts.ts';

const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

/** Words of OffloadConn.state: the mark and label an entry was made under. */
export const OFF_MARK = 0;
export const OFF_LABEL = 1; // 4 words
export const OFF_WORDS = 5;

/** Lock r's home shard; true (held) when r is still connection `id`, else false (nothing held). */
function lockValid(t: ConnTable, r: number, id: number): boolean {
  const s = t.homeShard(r); // read unlocked: a reused record fails the id check, whichever shard was taken
  t.lockShard(s);
  if (t.isInUse(r) && t.rec[r * REC_WORDS + R_ID] === id) return true;
  t.unlockShard(s);
  return false;
}

function established(rec: Int32Array, base: number): boolean {
  const proto = (rec[base + R_KEY_ORIG + K_META] >>> 16) & 0xff;
  if (proto === IPPROTO_TCP) {
    const st = rec[base + R_TCP_STATES];
    return (st & 0xff) === TCPS_ESTABLISHED && ((st >>> 8) & 0xff) === TCPS_ESTABLISHED;
  }
  return proto === IPPROTO_UDP;
}

/**
 * May connection r (id) be offloaded? TCP established in both directions,
 * UDP that has seen both directions; not a helper's control connection nor
 * one with a TCP sequence offset from an ALG rewrite (as nf_flowtable
 * refuses helper connections: the helper must read every packet). A related
 * data connection, which only carries the helper's name, may be. Sets RF_OFFLOAD and copies mark and label into
 * `state` (OFF_*) on success.
 */
export function offloadBegin(t: ConnTable, r: number, id: number, state: Int32Array): boolean {
  if (!lockValid(t, r, id)) return false;
  const rec = t.rec;
  const base = r * REC_WORDS;
  const f64 = t.f64;
  const helperCtl = rec[base + R_HELPER] !== 0 && rec[base + R_PARENT_ID] === 0;
  const seqAdjusted = rec[base + R_SEQADJ_ORIG + 1] !== 0 || rec[base + R_SEQADJ_ORIG + 2] !== 0
    || rec[base + R_SEQADJ_REPLY + 1] !== 0 || rec[base + R_SEQADJ_REPLY + 2] !== 0;
  let ok = !helperCtl && !seqAdjusted && established(rec, base)
    && f64[(base + R_PKTS_ORIG) >>> 1] > 0 && f64[(base + R_PKTS_REPLY) >>> 1] > 0;
  if (ok) {
    state[OFF_MARK] = rec[base + R_MARK];
    for (let i = 0; i < 4; i++) state[OFF_LABEL + i] = rec[base + R_LABEL + i];
    Atomics.or(rec, base + R_FLAGS, RF_OFFLOAD);
  }
  t.unlockShard(t.homeShard(r));
  return ok;
}

/**
 * An offloaded packet of r in direction `reply`: still the same connection,
 * still offloaded, established and with the mark and label the entry was
 * made under? Then count it and push the expiry out as the full path would
 * (so an offloaded connection never expires under its traffic, and an idle
 * one expires its normal timeout after its last packet). False: the entry
 * is stale (the caller drops it and takes the full path).
 */
export function offloadHit(t: ConnTable, r: number, id: number, reply: boolean, len: number, nowMs: number, state: Int32Array,
  data: Uint8Array, l4: number, l4Len: number): boolean {
  if (!lockValid(t, r, id)) return false;
  const rec = t.rec;
  const base = r * REC_WORDS;
  let ok = (rec[base + R_FLAGS] & RF_OFFLOAD) !== 0 && established(rec, base) && rec[base + R_MARK] === state[OFF_MARK];
  for (let i = 0; i < 4 && ok; i++) ok = rec[base + R_LABEL + i] === state[OFF_LABEL + i];
  if (ok) {
    const f64 = t.f64;
    f64[(base + (reply ? R_PKTS_REPLY : R_PKTS_ORIG)) >>> 1] += 1;
    f64[(base + (reply ? R_BYTES_REPLY : R_BYTES_ORIG)) >>> 1] += len;
    const zone = rec[base + R_KEY_ORIG + K_META] & 0xffff;
    f64[(base + R_EXPIRY) >>> 1] = nowMs + timeoutSec(t, zone, getClass(rec, base)) * 1000;
    if (l4 >= 0 && l4Len >= 20 && ((rec[base + R_KEY_ORIG + K_META] >>> 16) & 0xff) === IPPROTO_TCP) tcpFollowLocked(rec, base, data, l4, l4Len, reply);
  } else Atomics.and(rec, base + R_FLAGS, ~RF_OFFLOAD);
  t.unlockShard(t.homeShard(r));
  return ok;
}

/**
 * The rest of a run of offloaded packets of r in direction `reply` (the
 * flowtable's packets after the first of a run, which offloadHit checked
 * and counted): `packets` and `bytes` added, the expiry pushed out, and for
 * TCP each segment's words (TCP_SEG_WORDS each, tcpSegWords) followed, all
 * under one lock. The packets were already forwarded: they are counted as
 * long as r is still the same connection.
 */
export function offloadCredit(t: ConnTable, r: number, id: number, reply: boolean, packets: number, bytes: number, nowMs: number,
  segs: Int32Array, nSegs: number): void {
  if (!lockValid(t, r, id)) return;
  const rec = t.rec;
  const base = r * REC_WORDS;
  const f64 = t.f64;
  f64[(base + (reply ? R_PKTS_REPLY : R_PKTS_ORIG)) >>> 1] += packets;
  f64[(base + (reply ? R_BYTES_REPLY : R_BYTES_ORIG)) >>> 1] += bytes;
  const zone = rec[base + R_KEY_ORIG + K_META] & 0xffff;
  f64[(base + R_EXPIRY) >>> 1] = nowMs + timeoutSec(t, zone, getClass(rec, base)) * 1000;
  if (((rec[base + R_KEY_ORIG + K_META] >>> 16) & 0xff) === IPPROTO_TCP) {
    for (let j = 0; j < nSegs; j++) {
      const o = j * TCP_SEG_WORDS;
      tcpFollowWords(rec, base, segs[o], segs[o + 1], segs[o + 2], segs[o + 3], segs[o + 4], reply);
    }
  }
  t.unlockShard(t.homeShard(r));
}

/** Words per TCP segment in offloadCredit's `segs`: sequence, ack, window, end sequence, flags. */
export const TCP_SEG_WORDS = 5;

/**
 * Segment `j`'s words for offloadCredit, from the TCP header at `l4` of
 * `l4Len` bytes (false, nothing written, when it is shorter than a header).
 */
export function tcpSegWords(segs: Int32Array, j: number, d: Uint8Array, l4: number, l4Len: number): boolean {
  if (l4 < 0 || l4Len < 20) return false;
  const o = j * TCP_SEG_WORDS;
  const hlen = (d[l4 + 12] >>> 4) * 4;
  const seq = ((d[l4 + 4] << 24) | (d[l4 + 5] << 16) | (d[l4 + 6] << 8) | d[l4 + 7]) | 0;
  segs[o] = seq;
  segs[o + 1] = ((d[l4 + 8] << 24) | (d[l4 + 9] << 16) | (d[l4 + 10] << 8) | d[l4 + 11]) | 0;
  segs[o + 2] = (d[l4 + 14] << 8) | d[l4 + 15];
  segs[o + 3] = (seq + (l4Len > hlen ? l4Len - hlen : 0)) | 0;
  segs[o + 4] = d[l4 + 13];
  return true;
}

/**
 * Keep the TCP window bookkeeping moving with offloaded segments (the highest
 * sequence sent, the peer's window edge, the largest window), without
 * checking them: so that the FIN or RST that ends the offload, which takes
 * the full path, is inside the window conntrack knows (nf_flowtable marks
 * such connections "be liberal" instead).
 */
function tcpFollowLocked(rec: Int32Array, base: number, d: Uint8Array, l4: number, l4Len: number, reply: boolean): void {
  tcpSegWords(oneSeg, 0, d, l4, l4Len);
  tcpFollowWords(rec, base, oneSeg[0], oneSeg[1], oneSeg[2], oneSeg[3], oneSeg[4], reply);
}

/** offloadHit's one segment (module state: one per thread). */
const oneSeg = new Int32Array(TCP_SEG_WORDS);

function tcpFollowWords(rec: Int32Array, base: number, seq: number, ack: number, win: number, end: number, f: number, reply: boolean): void {
  const states = rec[base + R_TCP_STATES];
  const sWs = (states >>> (reply ? 24 : 16)) & 0xff;
  const dWs = (states >>> (reply ? 16 : 24)) & 0xff;
  const sws = (sWs & WS_FLAG) !== 0 && (dWs & WS_FLAG) !== 0 ? sWs & 0x0f : 0;
  const sLo = base + (reply ? R_SEQLO_REPLY : R_SEQLO_ORIG);
  const sWin = base + (reply ? R_MAXWIN_REPLY : R_MAXWIN_ORIG);
  const dHi = base + (reply ? R_SEQHI_ORIG : R_SEQHI_REPLY);
  if (win > rec[sWin]) rec[sWin] = win;
  if (((end - rec[sLo]) | 0) > 0) rec[sLo] = end;
  if ((f & 0x10) !== 0) {
    const sw = win << sws;
    const edge = (ack + (sw > 1 ? sw : 1)) | 0;
    if (((edge - rec[dHi]) | 0) > 0) rec[dHi] = edge;
  }
}

/** The connection's entries are gone (teardown, idle, flush): clear RF_OFFLOAD. */
export function offloadEnd(t: ConnTable, r: number, id: number): void {
  if (!lockValid(t, r, id)) return;
  Atomics.and(t.rec, r * REC_WORDS + R_FLAGS, ~RF_OFFLOAD);
  t.unlockShard(t.homeShard(r));
}


