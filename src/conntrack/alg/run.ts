// The helpers on the packet path: the glue execute.ts calls for a
// connection with a helper (R_HELPER) and for a new connection that may be
// expected. One AlgPath per PacketPath (per thread): it holds the scratch
// the helpers and the expectation table work in, so nothing is allocated
// per packet. Every method is called with the connection's home shard lock
// held; the expectation table's lock is a leaf below it (expect.ts).
//
// Per packet of a helper connection, in this order:
//   beforeTrackLocked: under NAT, move back the ack for the other
//     direction's sequence adjustment, so the TCP tracker sees one numbering;
//   (the L4 tracker, the NAT header rewrite)
//   inspectLocked: the helper reads the payload, announces expectations,
//     and under NAT rewrites it; a length change fixes the IP length, the
//     checksums and the packet length, and records a sequence adjustment;
//     then, under NAT, the segment's own seq is adjusted.

import { K_META, K_SRC, K_DST, K_PORTS, KEY_WORDS } from '../../packet/tuple.ts';
import { rd16, rd32, wr16 } from '../../packet/bytes.ts';
import { setIpv4HeaderChecksum, setL4Checksum } from '../../packet/checksum.ts';
import type { PacketBatch } from '../../packet/batch.ts';
import type { ConnTable } from '../table.ts';
import {
  REC_WORDS, R_HELPER, R_PARENT_ID, R_ID, R_MARK, R_LABEL, R_KEY_ORIG, H_CNT_EXP_CREATED, H_CNT_EXP_EXPIRED,
  H_CNT_ALG_MALFORMED, H_CNT_EXP_MATCHED, H_CNT_INVALID,
} from '../layout.ts';
import {
  EXP_WORDS, EXP_TIMEOUT_MS, E_FLAGS, E_F_SRC_WC, E_KEY, E_TSRC, E_TDST, E_TDPORT, E_PARENT_ID, E_MARK, E_LABEL,
  E_PARENT_KEY,
} from './expect.ts';
import { ALG_FTP, ALG_INVALID, ALG_PASS, ALG_TFTP, type AlgHelper, type AlgHost, type AlgPkt } from './helper.ts';
import { ftpHelper } from './ftp.ts';
import { tftpHelper } from './tftp.ts';
import { seqAdjAckLocked, seqAdjRecordLocked, seqAdjSeqLocked } from './seqadj.ts';
import { EV_EXP_NEW } from '../event-ring.ts';

const IPPROTO_TCP = 6;

function helperFor(id: number): AlgHelper | null {
  if (id === ALG_FTP) return ftpHelper;
  if (id === ALG_TFTP) return tftpHelper;
  return null;
}

export class AlgPath implements AlgHost {
  readonly rec: Int32Array;
  base = 0;
  /** The expectation the last lookupLocked() found (EXP_WORDS). */
  readonly found = new Int32Array(EXP_WORDS);
  private readonly scratch = new Int32Array(EXP_WORDS);
  private readonly expired = new Int32Array(1);
  private readonly p: AlgPkt = {
    data: new Uint8Array(0), l3: 0, l4: 0, payload: 0, end: 0, v6: 0, reply: false, nat: false, room: 0, delta: 0,
  };
  private nowMs = 0;

  constructor(readonly table: ConnTable) {
    this.rec = table.rec;
    // ct-events: `[DESTROY]` when an expectation ends (matched, timed out,
    // its master gone, flushed), through this thread's rings. Not per packet.
    table.exp.onEndLocked = (m, f64, eb, nowMs) => table.events?.postExpectationEnd(m, f64, eb, nowMs);
  }

  /** AlgHost.expect: build the expectation in scratch and add it. */
  expect(src: ArrayLike<number>, so: number, dst: ArrayLike<number>, dso: number, dport: number,
    tsrc: ArrayLike<number>, tso: number, tdst: ArrayLike<number>, tdo: number, tdport: number, srcWildcard: boolean): void {
    const e = this.scratch;
    const rec = this.rec;
    const b = this.base;
    e.fill(0);
    e[E_FLAGS] = srcWildcard ? E_F_SRC_WC : 0;
    e[E_KEY + K_META] = rec[b + R_KEY_ORIG + K_META];
    for (let i = 0; i < 4; i++) {
      e[E_KEY + K_SRC + i] = srcWildcard ? 0 : src[so + i];
      e[E_KEY + K_DST + i] = dst[dso + i];
      e[E_TSRC + i] = tsrc[tso + i];
      e[E_TDST + i] = tdst[tdo + i];
      e[E_LABEL + i] = rec[b + R_LABEL + i];
    }
    e[E_KEY + K_PORTS] = dport & 0xffff;
    e[E_TDPORT] = tdport & 0xffff;
    e[E_PARENT_ID] = rec[b + R_ID];
    e[E_MARK] = rec[b + R_MARK];
    for (let i = 0; i < KEY_WORDS; i++) e[E_PARENT_KEY + i] = rec[b + R_KEY_ORIG + i];
    const expiry = this.nowMs + EXP_TIMEOUT_MS;
    const id = this.table.exp.add(e, expiry);
    if (id > 0) {
      Atomics.add(this.table.hdr, H_CNT_EXP_CREATED, 1);
      // ct-events: `[NEW]` as conntrack -E expect prints it (nothing posted without a listener).
      this.table.events?.postExpectation(EV_EXP_NEW, rec, b / REC_WORDS, e, E_KEY, id, expiry, this.nowMs);
    }
  }

  /** Before the TCP tracker: under NAT, undo the other direction's
   *  sequence adjustment in this segment's ack. */
  beforeTrackLocked(r: number, reply: boolean, nat: boolean, batch: PacketBatch, idx: number, proto: number): void {
    const base = r * REC_WORDS;
    if (!nat || proto !== IPPROTO_TCP || this.rec[base + R_HELPER] === 0) return;
    const l4 = batch.l4[idx];
    if (l4 < 0) return;
    seqAdjAckLocked(this.rec, base, reply, batch.data[idx], l4);
  }

  /**
   * Run connection r's helper on packet idx (direction `reply`; `nat`: this
   * ct() pass translates). Returns ALG_INVALID for a malformed control
   * message (counted), else ALG_PASS.
   */
  inspectLocked(r: number, reply: boolean, nat: boolean, batch: PacketBatch, idx: number, proto: number,
    nowMs: number): number {
    const rec = this.rec;
    const base = r * REC_WORDS;
    // A related (data) connection may carry the helper's name, as in OVS,
    // but its payload is never read as control messages.
    const h = rec[base + R_PARENT_ID] === 0 ? helperFor(rec[base + R_HELPER]) : null;
    if (h === null) return ALG_PASS;
    const d = batch.data[idx];
    const l3 = batch.l3[idx];
    const l4 = batch.l4[idx];
    if (l3 < 0 || l4 < 0) return ALG_PASS;
    const v6 = d[l3] >>> 4 === 6 ? 1 : 0;
    const pend = batch.start[idx] + batch.len[idx];
    let end = v6 === 0 ? l3 + rd16(d, l3 + 2) : l3 + 40 + rd16(d, l3 + 4);
    if (end > pend) end = pend;
    const tcp = proto === IPPROTO_TCP;
    const payload = tcp ? l4 + ((d[l4 + 12] >>> 4) << 2) : l4 + 8;
    if (payload < end) {
      const p = this.p;
      p.data = d; p.l3 = l3; p.l4 = l4; p.payload = payload; p.end = end; p.v6 = v6;
      p.reply = reply; p.nat = nat; p.room = d.length - end; p.delta = 0;
      this.base = base;
      this.nowMs = nowMs;
      if (h.inspect(p, this) === ALG_INVALID) {
        Atomics.add(this.table.hdr, H_CNT_ALG_MALFORMED, 1);
        Atomics.add(this.table.hdr, H_CNT_INVALID, 1);
        return ALG_INVALID;
      }
      if (p.delta !== 0) {
        if (v6 === 0) {
          wr16(d, l3 + 2, rd16(d, l3 + 2) + p.delta);
          setIpv4HeaderChecksum(d, l3);
        } else {
          wr16(d, l3 + 4, rd16(d, l3 + 4) + p.delta);
        }
        batch.len[idx] = p.end - batch.start[idx];
        setL4Checksum(d, l3, l4, p.end, proto);
        if (tcp) seqAdjRecordLocked(rec, base, reply, rd32(d, l4 + 4), p.delta);
      }
    }
    if (nat && tcp) seqAdjSeqLocked(rec, base, reply, d, l4);
    return ALG_PASS;
  }

  /** Is a new connection with key k (at ofs) expected? Fills `found`.
   *  With `take` the expectation is consumed (the connection is committed). */
  lookupLocked(k: Int32Array, ofs: number, nowMs: number, take: boolean): boolean {
    const x = this.expired;
    x[0] = 0;
    const hit = this.table.exp.lookup(k, ofs, nowMs, take, this.found, x);
    if (x[0] !== 0) Atomics.add(this.table.hdr, H_CNT_EXP_EXPIRED, x[0]);
    if (hit && take) Atomics.add(this.table.hdr, H_CNT_EXP_MATCHED, 1);
    return hit;
  }

  /**
   * The reply key of a new related connection committed under NAT, from
   * the expectation in `found`: the data connection is translated as its
   * parent's announcement said. Writes rk; returns the NF_* style bits
   * (1 = source changes, 2 = destination changes).
   */
  relatedReplyKey(k: Int32Array, rk: Int32Array): number {
    const e = this.found;
    let nf = 0;
    rk[K_META] = k[K_META];
    for (let i = 0; i < 4; i++) {
      rk[K_SRC + i] = e[E_TDST + i];
      rk[K_DST + i] = e[E_TSRC + i];
      if (e[E_TSRC + i] !== k[K_SRC + i]) nf |= 1;
      if (e[E_TDST + i] !== k[K_DST + i]) nf |= 2;
    }
    if ((e[E_TDPORT] & 0xffff) !== (k[K_PORTS] & 0xffff)) nf |= 2;
    rk[K_PORTS] = ((e[E_TDPORT] & 0xffff) << 16) | (k[K_PORTS] >>> 16);
    return nf;
  }
}

/** Remove the expectations of connection r (it is being removed). Caller
 *  holds its shard locks. */
export function removeExpectationsLocked(t: ConnTable, r: number): void {
  const base = r * REC_WORDS;
  if (t.rec[base + R_HELPER] === 0) return;
  const n = t.exp.removeByParent(t.rec[base + R_ID]);
  if (n !== 0) Atomics.add(t.hdr, H_CNT_EXP_EXPIRED, n);
}
