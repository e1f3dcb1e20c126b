// The connection a packet carries from one ct() to the next (OVS:
// pkt->md.conn): PacketBatch.ctConn/ctConnId/ctConnMd, written by the
// packet path (execute.ts) after each ct(), cleared by ct_clear and when
// the batch slot takes another packet. The next ct() in the same zone
// (without force) uses it instead of a lookup:
// - found by a ct() without nat: used as it is, no tracking nor counting
//   (ct(table=N) then ct(commit); OVS's process_one_fast);
// - found by a ct() with nat: the packet may carry translated addresses
//   that no key of the connection matches, so it is tracked again on that
//   record without a lookup, as OVS finds a translated packet by its reverse
//   key; still counted once.
// A second nat() on a packet already translated in the zone is ignored (OVS's
// handle_nat()). Hook for ALG helpers: a helper connection (R_HELPER) must
// take the full path, so that the helper sees its control packets.
//
// The record is only an index: it may have been removed and reused since,
// so it is trusted only with its home shard held and its id unchanged.

import { CONN_MD_NAT, CONN_MD_REPLY, type PacketBatch } from '../packet/batch.ts';
import { CS_DST_NAT, CS_SRC_NAT, FK_CT_LABEL, FK_CT_MARK, FK_CT_STATE } from '../packet/flow-key.ts';
import { K_META, REC_WORDS, R_ID, R_KEY_ORIG, R_KEY_REPLY, R_LABEL, R_MARK } from './layout.ts';
import type { ConnTable } from './table.ts';

// execute.ts's MarkSet, LabelSet and CtExec, as far as read here (that
// module imports this one).
interface MarkSet { value: number; mask: number }
interface LabelSet { value: Uint32Array; mask: Uint32Array }
interface CarriedCt { commit: boolean; mark: MarkSet | null; label: LabelSet | null; nat: object | null }

/** What the carried path needs of the packet path (execute.ts's PacketPath). */
export interface CarriedHost {
  readonly table: ConnTable;
  /** The packet's conntrack key scratch (only K_META is read for a rewrite). */
  readonly k: Int32Array;
  natPacketLocked(r: number, reply: boolean, related: boolean, batch: PacketBatch, idx: number, key: Uint32Array, o: number): number;
  applyMarkLabelLocked(r: number, setMark: MarkSet | null, setLabel: LabelSet | null): void;
}

/** The packet carries connection r on. Caller holds r's home shard. */
export function carryConn(batch: PacketBatch, idx: number, t: ConnTable, r: number, zone: number, reply: boolean, viaNat: boolean): void {
  batch.ctConn[idx] = r + 1;
  batch.ctConnId[idx] = t.rec[r * REC_WORDS + R_ID];
  batch.ctConnMd[idx] = zone | (reply ? CONN_MD_REPLY : 0) | (viaNat ? CONN_MD_NAT : 0);
}

/**
 * Lock the carried record's home shard: its index when it is still the
 * same connection (the shard stays held), else -1 with nothing held.
 * homeShard() is read unlocked: when the record was reused meanwhile the
 * id differs, whichever shard was taken.
 */
export function lockCarried(t: ConnTable, batch: PacketBatch, idx: number): number {
  const r = batch.ctConn[idx] - 1;
  const shard = t.homeShard(r);
  t.lockShard(shard);
  if (t.isInUse(r) && t.rec[r * REC_WORDS + R_ID] === batch.ctConnId[idx]) return r;
  t.unlockShard(shard);
  return -1;
}

/**
 * A ct() on a connection carried from a ct() without nat: mark and label
 * with commit, the NAT rewrite when the packet is not translated yet;
 * ct_state stays as the first ct() set it. False when the record went away
 * (the caller looks the packet up).
 */
export function executeCarried(h: CarriedHost, batch: PacketBatch, idx: number, key: Uint32Array, keyOfs: number, a: CarriedCt): boolean {
  const t = h.table;
  const r = lockCarried(t, batch, idx);
  if (r < 0) return false;
  const rec = t.rec;
  const base = r * REC_WORDS;
  const reply = (batch.ctConnMd[idx] & CONN_MD_REPLY) !== 0;
  if (a.commit) h.applyMarkLabelLocked(r, a.mark, a.label);
  let state = key[keyOfs + FK_CT_STATE];
  if (a.nat !== null) {
    if ((state & (CS_SRC_NAT | CS_DST_NAT)) === 0) {
      h.k[K_META] = rec[base + (reply ? R_KEY_REPLY : R_KEY_ORIG) + K_META];
      state |= h.natPacketLocked(r, reply, false, batch, idx, key, keyOfs);
    }
    batch.ctConnMd[idx] |= CONN_MD_NAT;
  }
  key[keyOfs + FK_CT_STATE] = state;
  key[keyOfs + FK_CT_MARK] = rec[base + R_MARK];
  for (let i = 0; i < 4; i++) key[keyOfs + FK_CT_LABEL + i] = rec[base + R_LABEL + i];
  t.unlockShard(t.homeShard(r));
  return true;
}
