// The upcalls a PMD thread has in flight, and the packets waiting for them
// (OVS: a PMD hands a miss to a handler thread and goes on; here the main
// thread translates). On a miss the thread copies the packet in here and
// goes on with the rest of its traffic; a further packet with the same flow
// key joins the same upcall instead of making another one. When the reply
// comes, the thread installs the megaflow and takes the packets back out, in
// arrival order, to run them through the datapath from where they missed
// (their metadata words — recirc id, ct state, in_port — and recirculation
// depth are kept with them).
//
// Everything is bounded: at most `maxUpcalls` upcalls in flight, at most
// `maxPerUpcall` packets under one, and packet storage of `smallSlots`
// small and `largeSlots` full-size (64 KiB super-packet) buffers. A packet
// that finds no room is dropped and counted (`full`); an upcall whose reply
// never comes is given up after a timeout, its packets counted (`timedOut`).
//
// Single-threaded: one instance per PMD thread. Allocation happens only on a
// miss (the slow path); buffers are preallocated.

import { HEADROOM, SLOT_SIZE, type PacketBatch, BATCH_MAX } from '../../packet/batch.ts';
import { FK_HEADER_FIRST } from '../../packet/extract.ts';
import { FK_WORDS } from '../../packet/flow-key.ts';
import { hashFinish, hashMix } from '../../packet/hash.ts';

export const SMALL_SLOT_BYTES = 2048;

export interface UpcallQueueLimits {
  maxUpcalls: number;
  maxPerUpcall: number;
  smallSlots: number;
  largeSlots: number;
}

export const DEFAULT_LIMITS: UpcallQueueLimits = { maxUpcalls: 512, maxPerUpcall: 32, smallSlots: 1024, largeSlots: 16 };

/** One upcall in flight. */
export interface PendingUpcall {
  readonly seq: number;
  /** The flow key of the packet that missed (a private copy). */
  readonly key: Uint32Array;
  readonly hash: number;
  readonly createdMs: number;
  /** Packet records (indices into the queue's record arrays), in arrival order. */
  readonly packets: number[];
}

export interface UpcallQueueStats {
  /** Packets that waited for an upcall (the first of each included). */
  queued: number;
  /** Packets dropped: no room (too many upcalls, packets, or buffers). */
  full: number;
  /** Packets dropped because their upcall's reply did not come in time. */
  timedOut: number;
}

export type MissOutcome = 'new' | 'joined' | 'full';

export class UpcallQueue {
  readonly stats: UpcallQueueStats = { queued: 0, full: 0, timedOut: 0 };
  private readonly bySeq = new Map<number, PendingUpcall>();
  private readonly byHash = new Map<number, PendingUpcall[]>();
  private nextSeq = 1;
  /** The upcall `miss` created last (valid right after it returned 'new'). */
  last: PendingUpcall | null = null;

  // Packet records: buffer, length, gso word, recirculation depth, metadata words.
  private readonly small: Uint8Array[] = [];
  private readonly large: Uint8Array[] = [];
  private readonly freeSmall: number[] = [];
  private readonly freeLarge: number[] = [];
  private readonly freeRecords: number[] = [];
  private readonly recBuf: Int32Array; // >= 0: small slot, < 0: -(large slot) - 1
  private readonly recLen: Int32Array;
  private readonly recGso: Int32Array;
  private readonly recDepth: Uint8Array;
  private readonly recMeta: Uint32Array;
  /** The fragment list a reassembled packet owns (PacketBatch.ipf), -1 for none: it waits with the packet. */
  private readonly recIpf: Int32Array;
  /** Called with a waiting packet's fragment list when that packet is freed without running. */
  onDropFragments: ((list: number) => void) | null = null;
  /** The connection the packet carried (PacketBatch.ctConn*): 3 words. */
  private readonly recConn: Int32Array;

  constructor(readonly limits: UpcallQueueLimits = DEFAULT_LIMITS) {
    for (let i = limits.smallSlots - 1; i >= 0; i--) {
      this.small.push(new Uint8Array(SMALL_SLOT_BYTES));
      this.freeSmall.push(limits.smallSlots - 1 - i);
    }
    for (let i = limits.largeSlots - 1; i >= 0; i--) {
      this.large.push(new Uint8Array(SLOT_SIZE));
      this.freeLarge.push(limits.largeSlots - 1 - i);
    }
    const records = limits.smallSlots + limits.largeSlots;
    for (let i = records - 1; i >= 0; i--) this.freeRecords.push(i);
    this.recBuf = new Int32Array(records);
    this.recLen = new Int32Array(records);
    this.recGso = new Int32Array(records);
    this.recDepth = new Uint8Array(records);
    this.recMeta = new Uint32Array(records * FK_HEADER_FIRST);
    this.recIpf = new Int32Array(records).fill(-1);
    this.recConn = new Int32Array(records * 3);
  }

  /** Upcalls in flight. */
  get inFlight(): number {
    return this.bySeq.size;
  }

  /** Packets waiting. */
  get waiting(): number {
    let n = 0;
    for (const u of this.bySeq.values()) n += u.packets.length;
    return n;
  }

  /**
   * A miss for packet `i` of `b` whose flow key is `key` (FK_WORDS words at
   * `keyOfs`): 'new' when an upcall must be sent (`last` is it, the packet
   * queued under it), 'joined' when the packet waits under an upcall already
   * in flight for the same key, 'full' when it was dropped (counted).
   */
  miss(key: Uint32Array, keyOfs: number, b: PacketBatch, i: number, depth: number, nowMs: number): MissOutcome {
    const h = hashKey(key, keyOfs);
    const chain = this.byHash.get(h);
    let u: PendingUpcall | null = null;
    if (chain) for (const c of chain) if (sameKey(c.key, key, keyOfs)) u = c;
    if (u !== null) {
      if (u.packets.length >= this.limits.maxPerUpcall || !this.store(u, b, i, depth, key, keyOfs)) {
        this.stats.full++;
        return 'full';
      }
      return 'joined';
    }
    if (this.bySeq.size >= this.limits.maxUpcalls) {
      this.stats.full++;
      return 'full';
    }
    u = { seq: this.nextSeq++, key: key.slice(keyOfs, keyOfs + FK_WORDS), hash: h, createdMs: nowMs, packets: [] };
    if (!this.store(u, b, i, depth, key, keyOfs)) {
      this.stats.full++;
      return 'full';
    }
    this.bySeq.set(u.seq, u);
    if (chain) chain.push(u);
    else this.byHash.set(h, [u]);
    this.last = u;
    return 'new';
  }

  private store(u: PendingUpcall, b: PacketBatch, i: number, depth: number, key: Uint32Array, keyOfs: number): boolean {
    const len = b.len[i];
    const rec = this.freeRecords.pop();
    if (rec === undefined) return false;
    let buf: Uint8Array;
    if (len <= SMALL_SLOT_BYTES) {
      const s = this.freeSmall.pop();
      if (s === undefined) return this.unpop(rec);
      this.recBuf[rec] = s;
      buf = this.small[s];
    } else {
      const s = this.freeLarge.pop();
      if (s === undefined || len > SLOT_SIZE) {
        if (s !== undefined) this.freeLarge.push(s);
        return this.unpop(rec);
      }
      this.recBuf[rec] = -s - 1;
      buf = this.large[s];
    }
    buf.set(b.data[i].subarray(b.start[i], b.start[i] + len), 0);
    this.recLen[rec] = len;
    this.recGso[rec] = b.gso[i];
    this.recDepth[rec] = depth;
    this.recIpf[rec] = b.ipf[i];
    b.ipf[i] = -1; // the waiting packet owns the list now
    const m = rec * FK_HEADER_FIRST;
    for (let w = 0; w < FK_HEADER_FIRST; w++) this.recMeta[m + w] = key[keyOfs + w];
    this.recConn[rec * 3] = b.ctConn[i];
    this.recConn[rec * 3 + 1] = b.ctConnId[i];
    this.recConn[rec * 3 + 2] = b.ctConnMd[i];
    u.packets.push(rec);
    this.stats.queued++;
    return true;
  }

  private unpop(rec: number): false {
    this.freeRecords.push(rec);
    return false;
  }

  /** The upcall a reply answers, removed from the queue (undefined: unknown or given up). */
  take(seq: number): PendingUpcall | undefined {
    const u = this.bySeq.get(seq);
    if (u === undefined) return undefined;
    this.bySeq.delete(seq);
    const chain = this.byHash.get(u.hash)!;
    const at = chain.indexOf(u);
    if (at >= 0) chain.splice(at, 1);
    if (chain.length === 0) this.byHash.delete(u.hash);
    return u;
  }

  /** Upcalls older than `timeoutMs`, removed; their packets are freed and counted as timed out. */
  expire(nowMs: number, timeoutMs: number): number {
    let n = 0;
    for (const u of [...this.bySeq.values()]) {
      if (nowMs - u.createdMs < timeoutMs) continue;
      this.take(u.seq);
      this.stats.timedOut += u.packets.length;
      this.discard(u);
      n++;
    }
    return n;
  }

  /** Free the packets of a taken upcall without running them. */
  discard(u: PendingUpcall): void {
    for (const r of u.packets) {
      if (this.recIpf[r] >= 0) this.onDropFragments?.(this.recIpf[r]);
      this.free(r);
    }
    u.packets.length = 0;
  }

  /**
   * Move up to BATCH_MAX of a taken upcall's packets, oldest first, into the
   * empty batch `b`, with their metadata words in `meta` (FK_HEADER_FIRST
   * per packet) and depths in `depth`; returns how many. Call again while
   * the upcall still has packets.
   */
  drainInto(u: PendingUpcall, b: PacketBatch, meta: Uint32Array, depth: Uint8Array): number {
    const n = Math.min(u.packets.length, BATCH_MAX - b.count);
    for (let k = 0; k < n; k++) {
      const r = u.packets[k];
      const buf = this.recBuf[r] >= 0 ? this.small[this.recBuf[r]] : this.large[-this.recBuf[r] - 1];
      const i = b.count;
      const slot = b.data[i];
      const len = this.recLen[r];
      slot.set(buf.subarray(0, len), HEADROOM);
      b.commit(len);
      b.gso[i] = this.recGso[r];
      b.ipf[i] = this.recIpf[r];
      depth[i] = this.recDepth[r];
      const m = r * FK_HEADER_FIRST;
      for (let w = 0; w < FK_HEADER_FIRST; w++) meta[i * FK_HEADER_FIRST + w] = this.recMeta[m + w];
      b.ctConn[i] = this.recConn[r * 3];
      b.ctConnId[i] = this.recConn[r * 3 + 1];
      b.ctConnMd[i] = this.recConn[r * 3 + 2];
      this.free(r);
    }
    u.packets.splice(0, n);
    return n;
  }

  private free(r: number): void {
    const s = this.recBuf[r];
    if (s >= 0) this.freeSmall.push(s);
    else this.freeLarge.push(-s - 1);
    this.recIpf[r] = -1;
    this.freeRecords.push(r);
  }
}

function hashKey(key: Uint32Array, ofs: number): number {
  let h = 0;
  for (let w = 0; w < FK_WORDS; w++) h = hashMix(h, key[ofs + w]);
  return hashFinish(h);
}

function sameKey(a: Uint32Array, key: Uint32Array, ofs: number): boolean {
  for (let w = 0; w < FK_WORDS; w++) if (a[w] !== key[ofs + w]) return false;
  return true;
}
