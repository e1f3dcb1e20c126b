// IP fragment reassembly before conntrack, as OVS's lib/ipf.c: IPv4 and
// IPv6 fragments reaching a ct() action are held in lists keyed by (src,
// dst, id, protocol (v4), zone, recirc id); when a list is complete the
// datagram is built whole in the packet's own batch slot, so conntrack and
// NAT see the whole packet. The slot then carries the list's handle
// (PacketBatch.ipf): the datapath goes on with the whole packet (further
// actions, recirculation, a second ct()), and an output sends the ORIGINAL
// fragments instead (transmitFragments), each given the whole packet's
// current headers: L2, and addresses / TOS / TTL (v4, header checksum
// recomputed) or traffic class / flow label / hop limit / addresses (v6) in
// every fragment, and the L4 header — ports and the L4 checksum, which
// covers the whole datagram — in the first. The owner releases the list
// when the packet's processing has ended (counted "completed").
//
// What is not taken (not a fragment, family disabled, too small, overlap,
// bad header, list or pool full, list already complete) goes on to
// conntrack as it is, which marks a fragment +trk+inv — as OVS does.
//
// Limits: the held fragments of all threads together are at most
// max-nfrags (ipf-shared.ts, a shared count); lists expire 15 s after their
// first fragment; fragment buffers come from a per-thread pool that is
// bounded (a small class for MTU-size fragments, a few large ones), so a
// flood of first fragments that never complete holds at most max-nfrags
// buffers and is counted "expired" as it ages out.
//
// Threads: one Ipf per thread (its lists and buffers are its own); the
// configuration and counters are shared (IpfShared). Fragments of one
// datagram must reach one Ipf: the system ports' PACKET_FANOUT hash puts
// them on one thread (the kernel hashes a fragment on addresses and protocol),
// the main thread has its own. Allocation happens only when a buffer class
// grows for the first time; steady state reuses.

import { HEADROOM, type PacketBatch } from '../packet/batch.ts';
import { rd16, rd32 } from '../packet/bytes.ts';
import { setIpv4HeaderChecksum, ipv4HeaderChecksum } from '../packet/checksum.ts';
import { extractHeaders } from '../packet/extract.ts';
import {
  ETH_TYPE_IP, ETH_TYPE_IPV6, FK_ETH_TYPE, FK_NW_PROTO, FK_RECIRC_ID, FK_WORDS,
} from '../packet/flow-key.ts';
import { hashFinish, hashMix } from '../packet/hash.ts';
import { FragmentPool, l4HeaderLen, maxV4ListSize, prevNextHeader } from './ipf-frag.ts';
import {
  IPF_ACCEPTED, IPF_COMPLETED, IPF_EXPIRED, IPF_NFRAG_UBOUND, IPF_OVERLAP, IPF_PURGED, IPF_TOO_SMALL,
  IPF_LIST_TIMEOUT_MS, DIR_KEY, DIR_NFRAGS, DIR_STATE, type IpfShared,
} from './ipf-shared.ts';

/** preprocess(): not taken, the packet goes on to conntrack as it is. */
export const IPF_PASS = 0;
/** preprocess(): held; the packet's processing ends here (not a drop). */
export const IPF_HELD = 1;
/** preprocess(): the slot now holds the whole datagram; batch.ipf[idx] is its list. */
export const IPF_REASSEMBLED = 2;

/** What transmitFragments sends to (a datapath port). */
export interface FragmentSink {
  transmit(d: Uint8Array, start: number, len: number, nowMs: number, gso: number): void;
}

// List states, OVS's names (dump text).
const LS_FREE = 0;
const LS_OTHER = 1;
const LS_FIRST = 2;
const LS_LAST = 3;
const LS_FIRST_LAST = 4;
const LS_COMPLETE = 5;
const LS_FAIL = 6;

// List key words: src[4], dst[4], id, recirc, dl_type << 16 | zone, proto.
const KW = 12;
const K_ID = 8;
const K_RECIRC = 9;
const K_TYPE_ZONE = 10;
const K_PROTO = 11;

const NONE = -1;
const BUCKETS = 8192;
/** Lists expired per expire() call (bounded work per batch). */
const EXPIRE_BUDGET = 16;
const IPV4_MAX_PACKET = 65535;
const IPV6_FRAG_HDR = 44;

export class Ipf {
  // Fragments (capacity IPF_NFRAG_UBOUND): buffer, frame length, offsets of
  // L3 / payload / v6 fragment header inside it, data byte range [start,
  // end), more-fragments flag, next in the list (sorted by start).
  private readonly frBuf: (Uint8Array | null)[] = [];
  private readonly frLen = new Int32Array(IPF_NFRAG_UBOUND);
  private readonly frL3 = new Int32Array(IPF_NFRAG_UBOUND);
  private readonly frPay = new Int32Array(IPF_NFRAG_UBOUND);
  private readonly frFh = new Int32Array(IPF_NFRAG_UBOUND);
  private readonly frStart = new Int32Array(IPF_NFRAG_UBOUND);
  private readonly frEnd = new Int32Array(IPF_NFRAG_UBOUND);
  private readonly frNext = new Int32Array(IPF_NFRAG_UBOUND);
  private readonly frFree = new Int32Array(IPF_NFRAG_UBOUND);
  private frFreeN = IPF_NFRAG_UBOUND;
  // Lists.
  private readonly lsKey = new Int32Array(IPF_NFRAG_UBOUND * KW);
  private readonly lsState = new Uint8Array(IPF_NFRAG_UBOUND);
  private readonly lsV6 = new Uint8Array(IPF_NFRAG_UBOUND);
  private readonly lsN = new Int32Array(IPF_NFRAG_UBOUND);
  private readonly lsHave = new Int32Array(IPF_NFRAG_UBOUND);
  private readonly lsTotal = new Int32Array(IPF_NFRAG_UBOUND);
  private readonly lsHead = new Int32Array(IPF_NFRAG_UBOUND);
  private readonly lsHash = new Int32Array(IPF_NFRAG_UBOUND);
  private readonly lsChain = new Int32Array(IPF_NFRAG_UBOUND);
  private readonly lsExp = new Float64Array(IPF_NFRAG_UBOUND);
  private readonly lsPrev = new Int32Array(IPF_NFRAG_UBOUND);
  private readonly lsNextExp = new Int32Array(IPF_NFRAG_UBOUND);
  private readonly lsFree = new Int32Array(IPF_NFRAG_UBOUND);
  /** Each list's slot in the shared list directory (word index), -1 for none. */
  private readonly lsDir = new Int32Array(IPF_NFRAG_UBOUND);
  private lsFreeN = IPF_NFRAG_UBOUND;
  private readonly buckets = new Int32Array(BUCKETS).fill(NONE);
  private expHead = NONE;
  private expTail = NONE;
  /** Lists in use on this thread. */
  nLists = 0;
  private readonly pool: FragmentPool;
  private readonly k = new Int32Array(KW);
  private readonly tx: Uint8Array;
  private readonly seed: number;

  constructor(readonly shared: IpfShared, seed = (Math.random() * 0x100000000) | 0, txBytes = 65536 + 2 * HEADROOM) {
    this.seed = seed;
    this.tx = new Uint8Array(txBytes);
    this.pool = new FragmentPool(txBytes);
    for (let i = 0; i < IPF_NFRAG_UBOUND; i++) {
      this.frBuf.push(null);
      this.frFree[i] = IPF_NFRAG_UBOUND - 1 - i;
      this.lsFree[i] = IPF_NFRAG_UBOUND - 1 - i;
    }
  }

  /**
   * Take packet idx of b (a fragment, its key at key[k..]) for the ct() of
   * `zone`: IPF_PASS, IPF_HELD or IPF_REASSEMBLED (see above).
   */
  preprocess(b: PacketBatch, idx: number, key: Uint32Array, k: number, zone: number, nowMs: number): number {
    if (b.ipf[idx] >= 0) {
      // Whole already. OVS's ipf holds and reassembles the fragments again
      // at every further ct() (a new list: another recirc id), and counts
      // them again; so do the counters here.
      const l = b.ipf[idx];
      this.shared.count(this.lsV6[l], IPF_ACCEPTED, this.lsN[l]);
      this.shared.count(this.lsV6[l], IPF_COMPLETED, this.lsN[l]);
      return IPF_PASS;
    }
    const d = b.data[idx];
    const s = b.start[idx];
    const l3 = b.l3[idx];
    const et = key[k + FK_ETH_TYPE];
    if (l3 < 0 || (et !== ETH_TYPE_IP && et !== ETH_TYPE_IPV6)) return IPF_PASS;
    const v6 = et === ETH_TYPE_IPV6 ? 1 : 0;
    const sh = this.shared;
    if (!sh.enabled(v6)) return IPF_PASS;
    const kk = this.k;
    let more = 0;
    let start = 0;
    let payOff = 0;
    let fh = 0;
    let frameEnd = 0;
    if (v6 === 0) {
      const ihl = (d[l3] & 0x0f) * 4;
      const tot = rd16(d, l3 + 2);
      const off = rd16(d, l3 + 6);
      if ((off & 0x3fff) === 0 || ipv4HeaderChecksum(d, l3) !== rd16(d, l3 + 10)) return IPF_PASS;
      more = off & 0x2000;
      start = (off & 0x1fff) * 8;
      payOff = l3 + ihl;
      frameEnd = l3 + tot;
      if (more !== 0 && tot < sh.minFrag(0)) {
        sh.count(0, IPF_TOO_SMALL);
        return IPF_PASS;
      }
      if (start + tot - ihl > IPV4_MAX_PACKET - ihl) return IPF_PASS;
      kk[0] = rd32(d, l3 + 12);
      kk[1] = kk[2] = kk[3] = 0;
      kk[4] = rd32(d, l3 + 16);
      kk[5] = kk[6] = kk[7] = 0;
      kk[K_ID] = rd16(d, l3 + 4);
      kk[K_PROTO] = d[l3 + 9];
    } else {
      const pend = l3 + 40 + rd16(d, l3 + 4);
      let next = d[l3 + 6];
      let p = l3 + 40;
      // Walk the unfragmentable part to the fragment header (each step >= 8 bytes).
      while (next !== IPV6_FRAG_HDR) {
        if ((next !== 0 && next !== 43 && next !== 60) || p + 8 > pend) return IPF_PASS;
        next = d[p];
        p += (d[p + 1] + 1) * 8;
      }
      if (p + 8 > pend) return IPF_PASS;
      const off = rd16(d, p + 2);
      more = off & 1;
      start = off & 0xfff8;
      if (start === 0 && more === 0) return IPF_PASS; // an atomic fragment is a whole packet
      fh = p;
      payOff = p + 8;
      frameEnd = pend;
      if (more !== 0 && pend - l3 < sh.minFrag(1)) {
        sh.count(1, IPF_TOO_SMALL);
        return IPF_PASS;
      }
      if (start + pend - payOff > 0xffff - (p - l3 - 40)) return IPF_PASS;
      for (let i = 0; i < 4; i++) {
        kk[i] = rd32(d, l3 + 8 + i * 4);
        kk[4 + i] = rd32(d, l3 + 24 + i * 4);
      }
      kk[K_ID] = rd32(d, p + 4);
      kk[K_PROTO] = 0; // OVS keys v6 lists without the protocol
    }
    const payLen = frameEnd - payOff;
    if (payLen <= 0 || (more !== 0 && (payLen & 7) !== 0)) return IPF_PASS;
    const end = start + payLen;
    kk[K_RECIRC] = key[k + FK_RECIRC_ID];
    kk[K_TYPE_ZONE] = (et << 16) | (zone & 0xffff);

    let h = this.seed;
    for (let i = 0; i < KW; i++) h = hashMix(h, kk[i]);
    h = hashFinish(h);
    let l = this.lookup(h);
    if (l !== NONE) {
      const st = this.lsState[l];
      if (st === LS_COMPLETE || st === LS_FAIL) return IPF_PASS;
      for (let f = this.lsHead[l]; f !== NONE; f = this.frNext[f]) {
        if (start < this.frEnd[f] && end > this.frStart[f]) {
          sh.count(v6, IPF_OVERLAP);
          return IPF_PASS;
        }
      }
      if (v6 === 0 && this.lsN[l] >= maxV4ListSize(sh.minFrag(0))) return IPF_PASS;
    }
    if (this.frFreeN === 0 || (l === NONE && this.lsFreeN === 0)) return IPF_PASS;
    const frameLen = frameEnd - s;
    const buf = this.pool.take(frameLen);
    if (buf === null) return IPF_PASS;
    if (!sh.reserveFrag()) {
      this.pool.give(buf);
      return IPF_PASS;
    }
    if (l === NONE) l = this.newList(h, v6, nowMs);
    const f = this.frFree[--this.frFreeN];
    buf.set(d.subarray(s, frameEnd), 0);
    this.frBuf[f] = buf;
    this.frLen[f] = frameLen;
    this.frL3[f] = l3 - s;
    this.frPay[f] = payOff - s;
    this.frFh[f] = v6 ? fh - s : 0;
    this.frStart[f] = start;
    this.frEnd[f] = end;
    // Insert sorted by start.
    let prev = NONE;
    let cur = this.lsHead[l];
    while (cur !== NONE && this.frStart[cur] < start) {
      prev = cur;
      cur = this.frNext[cur];
    }
    this.frNext[f] = cur;
    if (prev === NONE) this.lsHead[l] = f;
    else this.frNext[prev] = f;
    this.lsN[l]++;
    this.lsHave[l] += payLen;
    sh.count(v6, IPF_ACCEPTED);
    let st = this.lsState[l];
    if (start === 0) st = st === LS_LAST || st === LS_FIRST_LAST ? LS_FIRST_LAST : LS_FIRST;
    if (more === 0) {
      this.lsTotal[l] = end;
      st = st === LS_FIRST || st === LS_FIRST_LAST ? LS_FIRST_LAST : LS_LAST;
    }
    this.lsState[l] = st;
    this.publish(l);
    if (st !== LS_FIRST_LAST || this.lsHave[l] !== this.lsTotal[l]) return IPF_HELD;
    this.unlinkExpiry(l);
    if (!this.reassembleInto(b, idx, key, k, l)) {
      this.lsState[l] = LS_FAIL;
      this.publish(l);
      this.linkExpiry(l);
      return IPF_HELD;
    }
    this.lsState[l] = LS_COMPLETE;
    this.publish(l);
    b.ipf[idx] = l;
    return IPF_REASSEMBLED;
  }

  /** Build list l's datagram in slot idx (headers of the first fragment, payloads in order) and parse it. */
  private reassembleInto(b: PacketBatch, idx: number, key: Uint32Array, k: number, l: number): boolean {
    const f0 = this.lsHead[l];
    const b0 = this.frBuf[f0]!;
    const v6 = this.lsV6[l];
    const hdrLen = v6 ? this.frFh[f0] : this.frPay[f0];
    const l3 = this.frL3[f0];
    const total = hdrLen + this.lsTotal[l];
    const out = b.data[idx];
    const os = HEADROOM;
    if (os + total > out.length) return false;
    if (v6 === 0 && total - l3 > IPV4_MAX_PACKET) return false;
    if (v6 !== 0 && total - l3 - 40 > 0xffff) return false;
    out.set(b0.subarray(0, hdrLen), os);
    for (let f = f0; f !== NONE; f = this.frNext[f]) {
      const buf = this.frBuf[f]!;
      out.set(buf.subarray(this.frPay[f], this.frLen[f]), os + hdrLen + this.frStart[f]);
    }
    const o3 = os + l3;
    if (v6 === 0) {
      const tot = total - l3;
      out[o3 + 2] = tot >>> 8;
      out[o3 + 3] = tot & 0xff;
      out[o3 + 6] &= 0x40; // keep DF, clear MF and the offset
      out[o3 + 7] = 0;
      setIpv4HeaderChecksum(out, o3);
    } else {
      const pl = total - l3 - 40;
      out[o3 + 4] = pl >>> 8;
      out[o3 + 5] = pl & 0xff;
      // The header that named the fragment header now names what it carried.
      out[os + prevNextHeader(b0, l3, this.frFh[f0])] = b0[this.frFh[f0]];
    }
    b.start[idx] = os;
    b.len[idx] = total;
    b.gso[idx] = 0;
    b.csum[idx] = 0; // what the port knew was about the last fragment (conntrack checks the datagram)
    extractHeaders(out, os, total, key, k, b.l3, b.l4, idx);
    return true;
  }

  /**
   * Send list l's fragments to `port`, each with the headers slot idx's
   * whole packet has now (see the top of the file).
   */
  transmitFragments(l: number, b: PacketBatch, idx: number, port: FragmentSink, nowMs: number): void {
    const rd = b.data[idx];
    const rs = b.start[idx];
    const rl3 = b.l3[idx];
    const rl4 = b.l4[idx];
    if (rl3 < 0 || this.lsState[l] !== LS_COMPLETE) return;
    const v6 = this.lsV6[l];
    const f0 = this.lsHead[l];
    const t = this.tx;
    const l2 = rl3 - rs;
    // Where the L4 header starts in the fragmentable part, and how long it is.
    const rPay = v6 ? rl3 + (this.frFh[f0] - this.frL3[f0]) : rl3 + (rd[rl3] & 0x0f) * 4;
    const l4At = rl4 >= 0 ? rl4 - rPay : 0;
    const l4Len = rl4 >= 0 ? l4HeaderLen(rd, rl4, b.keys[idx * FK_WORDS + FK_NW_PROTO]) : 0;
    for (let f = f0; f !== NONE; f = this.frNext[f]) {
      const buf = this.frBuf[f]!;
      const fl3 = this.frL3[f];
      const n = l2 + this.frLen[f] - fl3;
      if (n > t.length) continue;
      t.set(rd.subarray(rs, rl3), 0);
      t.set(buf.subarray(fl3, this.frLen[f]), l2);
      if (v6 === 0) {
        t[l2 + 1] = rd[rl3 + 1];
        t[l2 + 8] = rd[rl3 + 8];
        t.set(rd.subarray(rl3 + 12, rl3 + 20), l2 + 12);
        setIpv4HeaderChecksum(t, l2);
      } else {
        t.set(rd.subarray(rl3, rl3 + 4), l2);
        t[l2 + 7] = rd[rl3 + 7];
        t.set(rd.subarray(rl3 + 8, rl3 + 40), l2 + 8);
      }
      if (this.frStart[f] === 0 && l4Len > 0) {
        const at = l2 + this.frPay[f] - fl3 + l4At;
        const cnt = Math.min(l4Len, n - at);
        if (cnt > 0) t.set(rd.subarray(rl4, rl4 + cnt), at);
      }
      port.transmit(t, 0, n, nowMs, 0);
    }
  }

  /** End of a reassembled packet's processing: free list l (`sent`: counted completed, else purged). */
  release(l: number, sent: boolean): void {
    if (l < 0 || l >= IPF_NFRAG_UBOUND || this.lsState[l] === LS_FREE) return;
    this.freeList(l, sent ? IPF_COMPLETED : IPF_PURGED);
  }

  /** Free lists whose time is up (at most EXPIRE_BUDGET per call), counting their fragments expired. */
  expire(nowMs: number): number {
    let n = 0;
    while (this.expHead !== NONE && this.lsExp[this.expHead] <= nowMs && n < EXPIRE_BUDGET) {
      this.freeList(this.expHead, IPF_EXPIRED);
      n++;
    }
    return n;
  }

  /** How many fragments list l holds (the wire packets a reassembled datagram stands for). */
  fragments(l: number): number {
    return l >= 0 && l < IPF_NFRAG_UBOUND ? this.lsN[l] : 0;
  }

  /** Fragments this thread holds. */
  held(): number {
    return IPF_NFRAG_UBOUND - this.frFreeN;
  }

  /** The -m lines of ipf-get-status: every thread's lists (slow path). */
  dumpLists(): string[] {
    return this.shared.dumpLists();
  }

  // ------------------------------------------------------------- internals

  /** Copy list l's fragment count and state to its directory slot. */
  private publish(l: number): void {
    const at = this.lsDir[l];
    if (at < 0) return;
    Atomics.store(this.shared.w, at + DIR_NFRAGS, this.lsN[l]);
    Atomics.store(this.shared.w, at + DIR_STATE, this.lsState[l]);
  }

  private lookup(h: number): number {
    const kk = this.k;
    for (let l = this.buckets[h & (BUCKETS - 1)]; l !== NONE; l = this.lsChain[l]) {
      if (this.lsHash[l] !== (h | 0)) continue;
      let eq = true;
      for (let i = 0; i < KW; i++) {
        if (this.lsKey[l * KW + i] !== kk[i]) {
          eq = false;
          break;
        }
      }
      if (eq) return l;
    }
    return NONE;
  }

  private newList(h: number, v6: number, nowMs: number): number {
    const l = this.lsFree[--this.lsFreeN];
    this.lsKey.set(this.k, l * KW);
    const at = this.shared.claimDir(l);
    this.lsDir[l] = at;
    if (at >= 0) this.shared.w.set(this.k, at + DIR_KEY);
    this.lsHash[l] = h | 0;
    this.lsV6[l] = v6;
    this.lsState[l] = LS_OTHER;
    this.lsN[l] = 0;
    this.lsHave[l] = 0;
    this.lsTotal[l] = -1;
    this.lsHead[l] = NONE;
    this.lsExp[l] = nowMs + IPF_LIST_TIMEOUT_MS;
    const bk = h & (BUCKETS - 1);
    this.lsChain[l] = this.buckets[bk];
    this.buckets[bk] = l;
    this.linkExpiry(l);
    this.nLists++;
    return l;
  }

  private freeList(l: number, counter: number): void {
    let n = 0;
    for (let f = this.lsHead[l]; f !== NONE; ) {
      const next = this.frNext[f];
      this.pool.give(this.frBuf[f]!);
      this.frBuf[f] = null;
      this.frFree[this.frFreeN++] = f;
      n++;
      f = next;
    }
    this.shared.releaseFrags(n);
    this.shared.count(this.lsV6[l], counter, n);
    if (this.lsState[l] !== LS_COMPLETE) this.unlinkExpiry(l);
    const bk = this.lsHash[l] & (BUCKETS - 1);
    if (this.buckets[bk] === l) this.buckets[bk] = this.lsChain[l];
    else {
      let p = this.buckets[bk];
      while (p !== NONE && this.lsChain[p] !== l) p = this.lsChain[p];
      if (p !== NONE) this.lsChain[p] = this.lsChain[l];
    }
    this.lsState[l] = LS_FREE;
    this.shared.releaseDir(this.lsDir[l]);
    this.lsDir[l] = -1;
    this.lsFree[this.lsFreeN++] = l;
    this.nLists--;
  }

  // Lists are linked in creation order (their expiry order) while incomplete.
  private linkExpiry(l: number): void {
    this.lsPrev[l] = this.expTail;
    this.lsNextExp[l] = NONE;
    if (this.expTail !== NONE) this.lsNextExp[this.expTail] = l;
    else this.expHead = l;
    this.expTail = l;
  }

  private unlinkExpiry(l: number): void {
    const p = this.lsPrev[l];
    const n = this.lsNextExp[l];
    if (p !== NONE) this.lsNextExp[p] = n;
    else this.expHead = n;
    if (n !== NONE) this.lsPrev[n] = p;
    else this.expTail = p;
  }
}
