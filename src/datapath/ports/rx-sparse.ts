// Sparse flows first, for a system port's receive ring (system.ts). When
// the ring holds a backlog — more than the next batch, as a bulk TCP stream
// keeps it — a packet of a flow that has no other packet waiting (a ping, a
// DNS query, a TCP handshake beside the stream) is taken into the next batch
// ahead of the backlog instead of waiting behind hundreds of the stream's
// frames: fq_codel's "new flows first", on the ring itself.
//
// Order within a flow is kept. Every frame of the backlog is looked at once
// (scan) and counted under a hash of its flow (addresses, IP protocol, and
// the ports of an unfragmented TCP/UDP/SCTP packet; all fragments of a
// datagram share a bucket); a frame is taken early only when its bucket
// counts no other frame still in the ring, so no older packet of its flow is
// left behind it. A hash collision only makes a flow look busy (it waits in
// order). Frames whose packet waits on the socket queue (TP_STATUS_COPY) are
// never taken early: that queue must be read in ring order.
//
// A frame taken early stays the user's (its status is not given back)
// until the in-order reader reaches it and skips it, so the kernel never
// writes a newer packet into the middle of the backlog.
//
// One instance per ring; single-threaded.

const BUCKETS = 256;
const CAND_MAX = 64;

/** SWD_RX_SPARSE=0 turns it off (for measurements). */
export const SPARSE_ON = process.env.SWD_RX_SPARSE !== '0';

export class SparseScan {
  /** Per frame: its flow bucket + 1 while it is scanned and in the ring (0: not scanned, or read). */
  private readonly bucketOf: Uint16Array;
  /** Per frame: 1 when it was taken early (the in-order reader skips it). */
  private readonly early: Uint8Array;
  private readonly count = new Uint16Array(BUCKETS);
  /** Frames that were alone in their bucket when scanned, oldest first (a ring). */
  private readonly cand = new Int32Array(CAND_MAX);
  private candHead = 0;
  private candLen = 0;
  /** Scanned frames still in the ring: [reader, scanFrame). */
  private scanned = 0;
  private scanFrame = 0;
  /** Packets taken early so far (the PMD loop ends a port's turn on one; tests). */
  taken = 0;

  constructor(private readonly frames: number) {
    this.bucketOf = new Uint16Array(frames);
    this.early = new Uint8Array(frames);
  }

  /** Frames scanned and still waiting (the backlog seen so far). */
  get backlog(): number {
    return this.scanned;
  }

  /**
   * Look at the frames the kernel filled since the last scan, up to `limit`
   * of them. `ready(f)` says whether frame f holds a packet; `hash(f)` is
   * its flow hash (≥ 0), or the hash's complement (~h, < 0) when the frame
   * must not be taken early — it still counts in its bucket. Both are made
   * once by the ring's owner, not per call.
   */
  scan(reader: number, limit: number, ready: (f: number) => boolean, hash: (f: number) => number): void {
    if (this.scanned === 0) this.scanFrame = reader;
    let f = this.scanFrame;
    for (let k = 0; k < limit && this.scanned < this.frames; k++) {
      if (!ready(f)) break;
      const h = hash(f);
      const bkt = (h < 0 ? ~h : h) & (BUCKETS - 1);
      this.bucketOf[f] = bkt + 1;
      if (++this.count[bkt] === 1 && h >= 0 && this.candLen < CAND_MAX) {
        this.cand[(this.candHead + this.candLen) % CAND_MAX] = f;
        this.candLen++;
      }
      this.scanned++;
      f = f + 1 === this.frames ? 0 : f + 1;
    }
    this.scanFrame = f;
  }

  /**
   * A frame to take now ahead of the in-order reader at `reader` (whose next
   * `skip` frames are read in this batch anyway), or -1. The frame is marked
   * taken: the caller copies its packet and leaves its status alone.
   */
  takeEarly(reader: number, skip: number): number {
    while (this.candLen > 0) {
      const f = this.cand[this.candHead];
      const b = this.bucketOf[f];
      const dist = f >= reader ? f - reader : f + this.frames - reader;
      // Read in order already, or no longer alone in its bucket: it waits its turn.
      if (b === 0 || this.early[f] !== 0 || this.count[b - 1] !== 1 || dist >= this.scanned) {
        this.popCand();
        continue;
      }
      if (dist < skip) return -1; // comes in this batch anyway; look again next time
      this.popCand();
      this.early[f] = 1;
      this.count[b - 1]--;
      this.taken++;
      return f;
    }
    return -1;
  }

  private popCand(): void {
    this.candHead = this.candHead + 1 === CAND_MAX ? 0 : this.candHead + 1;
    this.candLen--;
  }

  /**
   * The in-order reader is at frame `f` (which holds a packet); true when it
   * was taken early and is only to be given back to the kernel.
   */
  read(f: number): boolean {
    if (this.scanned === 0) {
      this.scanFrame = f + 1 === this.frames ? 0 : f + 1;
      return false;
    }
    this.scanned--;
    const b = this.bucketOf[f];
    this.bucketOf[f] = 0;
    if (this.early[f] !== 0) {
      this.early[f] = 0;
      return true;
    }
    if (b !== 0) this.count[b - 1]--;
    return false;
  }
}

/**
 * The flow hash of the Ethernet frame at `m` (`len` bytes captured) in
 * `d`/`v`: addresses and protocol, ports when the packet is an unfragmented
 * TCP, UDP or SCTP one. Non-IP frames hash by their EtherType.
 */
export function frameFlowHash(d: Uint8Array, v: DataView, m: number, len: number): number {
  if (len < 14) return 0;
  const et = (d[m + 12] << 8) | d[m + 13];
  let h = et;
  let l4 = -1;
  let proto = 0;
  if (et === 0x0800 && len >= 34) {
    proto = d[m + 23];
    h = Math.imul(v.getUint32(m + 26) ^ 0x9e3779b9, 0x85ebca6b) ^ v.getUint32(m + 30) ^ proto;
    if ((v.getUint16(m + 20) & 0x3fff) === 0) l4 = m + 14 + (d[m + 14] & 15) * 4;
  } else if (et === 0x86dd && len >= 54) {
    proto = d[m + 20];
    h = proto;
    for (let o = m + 22; o < m + 54; o += 4) h = Math.imul(h ^ v.getUint32(o), 0x85ebca6b);
    l4 = m + 54;
  }
  if (l4 >= 0 && (proto === 6 || proto === 17 || proto === 132) && l4 + 4 <= m + len) h ^= Math.imul(v.getUint32(l4), 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x45d9f3b);
  h ^= h >>> 15;
  return h & 0x7fffffff;
}
