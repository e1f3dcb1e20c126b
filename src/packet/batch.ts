// A batch of up to BATCH_MAX packets, the unit of work on the fast path:
// ports receive and transmit a batch at a time and flow-key extraction runs
// over the whole batch; megaflow lookup and action execution then take the
// packets one by one (a recirculated packet re-enters alone), with the
// transmits gathered per port and flushed once per batch.
// Each packet owns one preallocated slot buffer; its bytes live at
// data[i][start[i] .. start[i] + len[i]). HEADROOM bytes before the start let
// push_vlan and friends grow the packet in place. Nothing here allocates per
// packet: a batch is created once per port/thread and reused.
//
// Header offsets written by the extractor (src/packet/extract.ts) are absolute
// offsets into data[i]; -1 means "no such header".

import { FK_WORDS } from './flow-key.ts';

export const BATCH_MAX = 32;
export const HEADROOM = 64;
/** PacketBatch.ctConnMd: the zone in the low 16 bits, and the packet's direction. */
export const CONN_MD_ZONE = 0xffff;
export const CONN_MD_REPLY = 0x10000;
/** ...found by a ct() with nat: the packet may carry translated addresses. */
export const CONN_MD_NAT = 0x20000;
/** PacketBatch.csum: the IPv4 header checksum is known right. */
export const CSUM_L3_GOOD = 0x1;
/** ...the TCP/UDP/ICMP checksum is known right (checked, completed or validated by the kernel). */
export const CSUM_L4_GOOD = 0x2;
/** Room for a 64 KiB GSO/GRO segment plus headroom. */
export const SLOT_SIZE = 65536 + HEADROOM * 2;

export class PacketBatch {
  count = 0;
  /** Each slot's buffer; a slot keeps its buffer for the batch's life (views[i] is over it). */
  readonly data: readonly Uint8Array[];
  /** A DataView over each slot's buffer, for parsers that read big-endian words (extract-fast.ts). */
  readonly views: readonly DataView[];
  readonly start = new Int32Array(BATCH_MAX);
  readonly len = new Int32Array(BATCH_MAX);
  /** Offsets of the L3 and L4 headers, set by extract; -1 when absent. */
  readonly l3 = new Int32Array(BATCH_MAX);
  readonly l4 = new Int32Array(BATCH_MAX);
  /** Flow keys, packet i at i * FK_WORDS. */
  readonly keys = new Uint32Array(BATCH_MAX * FK_WORDS);
  /** Per-packet "drop me" marks set by actions (1 = dropped). */
  readonly dropped = new Uint8Array(BATCH_MAX);
  /**
   * Segmentation offload of a packet from a real interface, 0 for a normal
   * packet: (gso type << 16) | segment size (virtio_net_hdr's gso_type and
   * gso_size). Such a packet travels the datapath whole; a port that must
   * put it on a wire cuts it into segments (src/datapath/ports/offload.ts).
   */
  readonly gso = new Int32Array(BATCH_MAX);
  /**
   * -1, or the fragment list (src/conntrack/ipf.ts) whose datagram this slot
   * holds reassembled: outputs send that list's fragments instead.
   */
  readonly ipf = new Int32Array(BATCH_MAX).fill(-1);
  /**
   * The connection a ct() found for the packet (OVS: pkt->md.conn), so the
   * next ct() in the same zone uses it instead of looking the packet up
   * again: record index + 1 (0 = none), the record's id when it was found
   * (a record reused since then no longer matches), and CONN_MD_* (zone,
   * direction). Written by conntrack, cleared by ct_clear and by commit().
   */
  readonly ctConn = new Int32Array(BATCH_MAX);
  readonly ctConnId = new Int32Array(BATCH_MAX);
  readonly ctConnMd = new Int32Array(BATCH_MAX);
  /**
   * CSUM_* bits: which of the packet's checksums are known right, so that
   * conntrack (src/conntrack/csum.ts) does not sum them again. Set by a port
   * that completed or was told the checksum (system.ts), and by conntrack
   * after checking; 0 for a packet nobody looked at. Cleared by commit().
   */
  readonly csum = new Uint8Array(BATCH_MAX);

  constructor(slotSize = SLOT_SIZE) {
    const data: Uint8Array[] = [];
    for (let i = 0; i < BATCH_MAX; i++) data.push(new Uint8Array(slotSize));
    this.data = data;
    this.views = data.map((d) => new DataView(d.buffer, d.byteOffset, d.byteLength));
  }

  /** Append a copy of `bytes`; returns the packet index, or -1 when full or too large. */
  push(bytes: Uint8Array, ofs = 0, length = bytes.length - ofs): number {
    const i = this.count;
    if (i >= BATCH_MAX || length > this.data[i].length - HEADROOM * 2) return -1;
    this.data[i].set(bytes.subarray(ofs, ofs + length), HEADROOM);
    return this.commit(length);
  }

  /**
   * Append a packet its producer writes straight into slot `count` (at
   * HEADROOM, at most slotRoom() bytes): call after writing `length` bytes.
   */
  commit(length: number): number {
    const i = this.count;
    this.start[i] = HEADROOM;
    this.len[i] = length;
    this.l3[i] = -1;
    this.l4[i] = -1;
    this.dropped[i] = 0;
    this.gso[i] = 0;
    this.ipf[i] = -1;
    this.ctConn[i] = 0;
    this.csum[i] = 0;
    this.count = i + 1;
    return i;
  }

  /** Bytes a producer may write at HEADROOM into the next slot. */
  slotRoom(): number {
    return this.data[0].length - HEADROOM * 2;
  }

  /** The bytes of packet i as a view (slow path: allocates a view object). */
  bytes(i: number): Uint8Array {
    return this.data[i].subarray(this.start[i], this.start[i] + this.len[i]);
  }

  clear(): void {
    this.count = 0;
  }
}
