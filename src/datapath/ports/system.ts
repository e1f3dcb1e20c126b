// A system port: an existing Linux interface through AF_PACKET.
//
// Receive: one socket with a TPACKET_V2 memory-mapped ring of fixed-size
// frames, one packet each (a frame is ours while its status has
// TP_STATUS_USER and goes back to the kernel when we set it to
// TP_STATUS_KERNEL after copying the packet into the batch). V2 and not V3:
// a V3 block reaches user space (and wakes poll(2)) only when it is full or
// its retire timer fires, a jiffies-granular timer of at least 1 ms, so
// every packet of a quiet flow waited that long in each direction; a V2
// frame is ours, and poll(2) wakes, as soon as the kernel has written it.
// Frames are 2 KiB (a thousand of them, so that a burst waits in the ring
// while the thread is descheduled); a packet that does not fit — a GSO/GRO
// super-packet of up to 64 KiB, a jumbo frame — is also queued whole on the
// socket (PACKET_COPY_THRESH) and its frame says TP_STATUS_COPY: it is read
// from there with read(2), in ring order (the socket queue holds only those
// packets, in the order their frames were filled). Behind a backlog, a
// lone packet of a flow with nothing else waiting is read first, in a
// batch of its own (rx-sparse.ts). The socket
// puts the interface in promiscuous mode through PACKET_ADD_MEMBERSHIP,
// which the kernel undoes when the socket closes, so the interface is left
// as it was however swd ends. PACKET_IGNORE_OUTGOING (and the
// PACKET_OUTGOING packet type, for older kernels) keeps the frames the
// interface sends — ours included — out of the ring. PACKET_VNET_HDR gives
// each packet a virtio_net_hdr: a partial checksum is completed here, a
// GSO/GRO super-packet is marked for segmentation on output (offload.ts).
// The kernel's drop count (PACKET_STATISTICS) becomes rx_dropped. Several
// PMD threads reading one interface each open a socket in one PACKET_FANOUT
// group (symmetric flow hash: both directions of a connection meet in the
// same thread). The group does not ask the kernel to defragment
// (PACKET_FANOUT_FLAG_DEFRAG): swd reassembles before conntrack itself and
// sends the original fragments (src/conntrack/ipf.ts). The kernel's
// symmetric fanout hash of a fragment covers its addresses and IP protocol
// only (the flow dissector stops at a fragment header, first fragment
// included), so all fragments of one datagram reach one thread's
// reassembly state.
//
// Transmit: a second socket, bound with protocol 0 (it receives nothing),
// with a TPACKET_V2 TX ring: transmit() writes frames into the ring and
// flush() hands them all to the kernel with one send().
//
// One instance per thread; not thread-safe.

import { CSUM_L4_GOOD, HEADROOM, type PacketBatch } from '../../packet/batch.ts';
import {
  AF_PACKET, bindPacket, closeFd, ETH_P_ALL, getsockoptBytes, ifNameToIndex, mmapShared, munmap, NativeError,
  PACKET_ADD_MEMBERSHIP, PACKET_COPY_THRESH, PACKET_FANOUT, PACKET_FANOUT_HASH,
  PACKET_IGNORE_OUTGOING, PACKET_LOSS, PACKET_MR_PROMISC, PACKET_OUTGOING, PACKET_RX_RING, PACKET_STATISTICS,
  PACKET_TX_RING, PACKET_VERSION, PACKET_VNET_HDR, readFd, send, setsockoptBytes, setsockoptInt, SO_ERROR, SO_RCVBUF,
  SO_RCVBUFFORCE, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_RAW, socket, SOL_PACKET, SOL_SOCKET, TP_STATUS_COPY,
  TP_STATUS_KERNEL, TP_STATUS_SEND_REQUEST, TP_STATUS_USER, TP_STATUS_WRONG_FORMAT, TPACKET_V2, MSG_DONTWAIT,
  type Mapping,
} from '../native/native.ts';
import { PortError, type PortCounters, type RxBackend } from '../port.ts';
import { rxTrace, traceNow } from '../rx/rx-trace.ts';
import { frameFlowHash, SPARSE_ON, SparseScan } from './rx-sparse.ts';
import {
  completeChecksum, gsoWord, segment, VIRTIO_NET_HDR_F_DATA_VALID, VIRTIO_NET_HDR_F_NEEDS_CSUM, VNET_HDR_LEN, type FrameSink,
} from './offload.ts';

// RX ring geometry: 1024 frames of 2 KiB (an MTU-sized frame fits after
// the tpacket2 header, sockaddr_ll and virtio_net_hdr, about 90 bytes) in
// 16 blocks of 128 KiB; larger packets take the socket queue, whose limit
// (SO_RCVBUF) RX_COPY_RCVBUF sets. Both bound the queue in front of a busy
// thread: deep enough for a burst while the thread is descheduled, not so
// deep that a TCP stream keeps a standing queue every other packet waits
// behind. Measured (ping beside an iperf3 stream through the ACL, 1 PMD
// thread, 2 cores at load 16, one run each): 2048 frames 0.81 Gbps, ping
// p50 4.1 ms; 1024 frames 0.97 Gbps, 0.34 ms; 512 frames 0.58 Gbps, 0.24 ms.
const RX_FRAME_SIZE = 2048;
const RX_BLOCK_SIZE = 1 << 17;
const RX_FRAMES_PER_BLOCK = RX_BLOCK_SIZE / RX_FRAME_SIZE;
/** SWD_RX_RING_FRAMES (a multiple of 64) overrides the frame count, for measurements. */
const RX_BLOCK_NR = Math.max(1, Math.round(Number(process.env.SWD_RX_RING_FRAMES ?? 1024) / RX_FRAMES_PER_BLOCK)) || 16;
const RX_FRAME_NR = RX_FRAMES_PER_BLOCK * RX_BLOCK_NR;
const RX_COPY_RCVBUF = 1 << 19;
/** SWD_RX_EARLY_ALONE=0: packets taken early share their batch with the backlog (the old way, for measurements). */
const EARLY_ALONE = process.env.SWD_RX_EARLY_ALONE !== '0';
// TX ring: 256 frames of 16 KiB (header + a jumbo frame; larger frames are
// GSO super-packets, cut before they reach the ring).
const TX_FRAME_SIZE = 1 << 14;
const TX_FRAME_NR = 256;
const TX_BLOCK_SIZE = 1 << 16;
const TX_DATA_OFS = 32; // TPACKET2_HDRLEN - sizeof(struct sockaddr_ll)
const TX_MAX_DATA = TX_FRAME_SIZE - TX_DATA_OFS;

// struct tpacket2_hdr offsets (then struct sockaddr_ll at TPACKET_ALIGN(32))
const H2_STATUS = 0;
const H2_LEN = 4;
const H2_SNAPLEN = 8;
const H2_MAC = 12;
const H2_SEC = 16;
const H2_NSEC = 20;
const H2_VLAN_TCI = 24;
const H2_VLAN_TPID = 26;
const H2_SLL = 32;
const SLL_PKTTYPE = 10;
const TP_STATUS_VLAN_VALID = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID = 1 << 6;

export interface SystemPortOptions {
  /** Open the receive side (false: transmit only). */
  rx: boolean;
  /** PACKET_FANOUT group id (16 bits) when several threads read this interface. */
  fanoutGroup?: number;
}

export class SystemBackend implements RxBackend, FrameSink {
  readonly type = 'system';
  readonly ifindex: number;
  readonly rxFd: number = -1;
  private txFd = -1;
  private rxRing: Mapping | null = null;
  private txRing: Mapping | null = null;
  private rxView: DataView | null = null;
  private txView: DataView | null = null;
  /** Next RX frame to look at, and where each frame starts in the ring. */
  private rxFrame = 0;
  private readonly rxFrameOfs = rxFrameOffsets();
  private txSlot = 0;
  private txQueued = 0;
  private readonly scratch = new Uint8Array(65536 + 256);
  /** A packet read from the socket queue (TP_STATUS_COPY): virtio_net_hdr, then the frame. */
  private readonly rxCopy = new Uint8Array(VNET_HDR_LEN + 65536 + 256);
  private readonly rxCopyView = new DataView(this.rxCopy.buffer);
  private readonly statsBuf = new Uint8Array(12);
  private readonly errBuf = new Uint8Array(4);
  /** Sparse flows first (rx-sparse.ts): null when off or transmit-only. */
  private readonly sparse: SparseScan | null;
  private readonly frameReady = (f: number): boolean =>
    (this.rxView!.getUint32(this.rxFrameOfs[f] + H2_STATUS, true) & TP_STATUS_USER) !== 0;
  private readonly frameHash = (f: number): number => {
    const v = this.rxView!;
    const p = this.rxFrameOfs[f];
    const h = frameFlowHash(this.rxRing!.bytes, v, p + v.getUint16(p + H2_MAC, true), v.getUint32(p + H2_SNAPLEN, true));
    const st = v.getUint32(p + H2_STATUS, true);
    return st & TP_STATUS_COPY || this.rxRing!.bytes[p + H2_SLL + SLL_PKTTYPE] === PACKET_OUTGOING ? ~h : h;
  };
  /** Frames the TX ring refused (bad format) or had no room for. */
  txErrors = 0;
  /** Super-packets that could not be segmented. */
  gsoDrops = 0;

  constructor(readonly ifname: string, opts: SystemPortOptions) {
    try {
      this.ifindex = ifNameToIndex(ifname);
    } catch (e) {
      throw new PortError('ENODEV', `no network interface named '${ifname}' (${(e as Error).message})`);
    }
    this.sparse = opts.rx && SPARSE_ON ? new SparseScan(RX_FRAME_NR) : null;
    try {
      if (opts.rx) this.rxFd = this.openRx(opts.fanoutGroup);
      this.txFd = this.openTx();
    } catch (e) {
      this.close();
      if (e instanceof NativeError) throw new PortError(e.code, `cannot attach to '${ifname}': ${e.message}`);
      throw e;
    }
  }

  private openRx(fanoutGroup: number | undefined): number {
    const fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    (this as { rxFd: number }).rxFd = fd;
    setsockoptInt(fd, SOL_PACKET, PACKET_VERSION, TPACKET_V2, 'PACKET_VERSION');
    setsockoptInt(fd, SOL_PACKET, PACKET_VNET_HDR, 1, 'PACKET_VNET_HDR');
    try {
      setsockoptInt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1, 'PACKET_IGNORE_OUTGOING');
    } catch {
      // Linux < 4.20: outgoing frames are skipped by their packet type instead.
    }
    // Packets larger than a frame are queued on the socket too (any non-zero threshold turns that on).
    setsockoptInt(fd, SOL_PACKET, PACKET_COPY_THRESH, 1, 'PACKET_COPY_THRESH');
    try {
      setsockoptInt(fd, SOL_SOCKET, SO_RCVBUFFORCE, RX_COPY_RCVBUF, 'SO_RCVBUFFORCE');
    } catch {
      setsockoptInt(fd, SOL_SOCKET, SO_RCVBUF, RX_COPY_RCVBUF, 'SO_RCVBUF'); // capped by net.core.rmem_max
    }
    const req = new Uint32Array([RX_BLOCK_SIZE, RX_BLOCK_NR, RX_FRAME_SIZE, RX_FRAME_NR]);
    setsockoptBytes(fd, SOL_PACKET, PACKET_RX_RING, new Uint8Array(req.buffer), 'PACKET_RX_RING');
    this.rxRing = mmapShared(fd, RX_BLOCK_SIZE * RX_BLOCK_NR);
    this.rxView = new DataView(this.rxRing.bytes.buffer);
    bindPacket(fd, ETH_P_ALL, this.ifindex);
    const mreq = new Uint8Array(16);
    const mv = new DataView(mreq.buffer);
    mv.setInt32(0, this.ifindex, true);
    mv.setUint16(4, PACKET_MR_PROMISC, true);
    setsockoptBytes(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq, 'PACKET_ADD_MEMBERSHIP');
    if (fanoutGroup !== undefined) {
      const v = (fanoutGroup & 0xffff) | (PACKET_FANOUT_HASH << 16);
      setsockoptInt(fd, SOL_PACKET, PACKET_FANOUT, v, 'PACKET_FANOUT');
    }
    getsockoptBytes(fd, SOL_PACKET, PACKET_STATISTICS, this.statsBuf, 'PACKET_STATISTICS'); // reset the counters
    return fd;
  }

  private openTx(): number {
    const fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    this.txFd = fd;
    setsockoptInt(fd, SOL_PACKET, PACKET_VERSION, TPACKET_V2, 'PACKET_VERSION');
    // A frame the kernel refuses (longer than the MTU, say) is skipped, not
    // left blocking the ring as TP_STATUS_WRONG_FORMAT.
    setsockoptInt(fd, SOL_PACKET, PACKET_LOSS, 1, 'PACKET_LOSS');
    const req = new Uint32Array([TX_BLOCK_SIZE, (TX_FRAME_NR * TX_FRAME_SIZE) / TX_BLOCK_SIZE, TX_FRAME_SIZE, TX_FRAME_NR]);
    setsockoptBytes(fd, SOL_PACKET, PACKET_TX_RING, new Uint8Array(req.buffer), 'PACKET_TX_RING');
    this.txRing = mmapShared(fd, TX_FRAME_NR * TX_FRAME_SIZE);
    this.txView = new DataView(this.txRing.bytes.buffer);
    bindPacket(fd, 0, this.ifindex);
    return fd;
  }

  // ------------------------------------------------------------ receive

  receive(b: PacketBatch, max: number, stats: PortCounters): number {
    const v = this.rxView;
    if (v === null) return 0;
    const ring = this.rxRing!.bytes;
    const ofs = this.rxFrameOfs;
    const first = b.count;
    let f = this.rxFrame;
    const sp = this.sparse;
    // A backlog beyond this batch: its lone packets first (rx-sparse.ts), in
    // a batch of their own. The batch's transmit is flushed only once all of
    // it is processed: a ping that shared its batch with 31 of a TCP
    // stream's frames waited for all of them (about half a millisecond when
    // the thread is busy) in each direction. Many lone flows at once (a
    // burst of new connections) still make full batches.
    if (sp !== null && (sp.backlog > 0 || this.frameReady((f + max) % RX_FRAME_NR))) {
      sp.scan(f, RX_FRAME_NR, this.frameReady, this.frameHash);
      const alone = EARLY_ALONE;
      for (let k = 0; (alone || k < 4) && b.count < max; k++) {
        const e = sp.takeEarly(f, alone ? 0 : max - (b.count - first));
        if (e < 0) break;
        this.takePacket(v, ring, ofs[e], b, stats);
      }
      if (b.count > first && alone) {
        if (rxTrace.on && rxTrace.readUs === 0) rxTrace.readUs = traceNow();
        return b.count - first;
      }
    }
    while (b.count < max) {
      const p = ofs[f];
      if ((v.getUint32(p + H2_STATUS, true) & TP_STATUS_USER) === 0) break;
      if (sp !== null && sp.read(f)) {
        // Taken early: only given back now, in ring order.
        v.setUint32(p + H2_STATUS, TP_STATUS_KERNEL, true);
        f = f + 1 === RX_FRAME_NR ? 0 : f + 1;
        continue;
      }
      if (rxTrace.on && rxTrace.kernelUs === 0) rxTrace.kernelUs = v.getUint32(p + H2_SEC, true) * 1e6 + v.getUint32(p + H2_NSEC, true) / 1e3;
      this.takePacket(v, ring, p, b, stats);
      v.setUint32(p + H2_STATUS, TP_STATUS_KERNEL, true);
      f = f + 1 === RX_FRAME_NR ? 0 : f + 1;
    }
    this.rxFrame = f;
    if (rxTrace.on && rxTrace.readUs === 0 && b.count > first) rxTrace.readUs = traceNow();
    return b.count - first;
  }

  /** Packets read ahead of a backlog so far (rx-sparse.ts). */
  get earlyTaken(): number {
    return this.sparse === null ? 0 : this.sparse.taken;
  }

  /** Whether the next RX frame holds a packet (a look at the ring, no system call). */
  rxReady(): boolean {
    const v = this.rxView;
    return v !== null && (v.getUint32(this.rxFrameOfs[this.rxFrame] + H2_STATUS, true) & TP_STATUS_USER) !== 0;
  }

  /** Copy one ring packet into the batch (completing offloads); false when it was skipped or dropped. */
  private takePacket(v: DataView, ring: Uint8Array, p: number, b: PacketBatch, stats: PortCounters): boolean {
    const status = v.getUint32(p + H2_STATUS, true);
    let src = ring;
    let sv = v;
    let mac = p + v.getUint16(p + H2_MAC, true);
    let snap = v.getUint32(p + H2_SNAPLEN, true);
    let wire = v.getUint32(p + H2_LEN, true);
    if (status & TP_STATUS_COPY) {
      // The frame holds the first bytes only; the whole packet waits on the socket.
      const n = readFd(this.rxFd, this.rxCopy);
      if (n <= VNET_HDR_LEN) {
        stats.rxDropped++;
        return false;
      }
      src = this.rxCopy;
      sv = this.rxCopyView;
      mac = VNET_HDR_LEN;
      snap = wire = n - VNET_HDR_LEN;
    }
    if (ring[p + H2_SLL + SLL_PKTTYPE] === PACKET_OUTGOING) return false;
    if (snap < wire || snap < 14 || snap + 4 > b.slotRoom()) {
      stats.rxDropped++; // truncated by the ring or too large for a slot
      return false;
    }
    const vh = mac - VNET_HDR_LEN;
    const flags = src[vh];
    const gsoType = src[vh + 1];
    const gsoSize = sv.getUint16(vh + 4, true);
    let csumStart = sv.getUint16(vh + 6, true);
    const csumOffset = sv.getUint16(vh + 8, true);
    const slot = b.data[b.count];
    let len = snap;
    // The kernel hands a hardware-accelerated VLAN tag beside the frame; put it back in.
    if (status & TP_STATUS_VLAN_VALID) {
      const tpid = status & TP_STATUS_VLAN_TPID_VALID ? v.getUint16(p + H2_VLAN_TPID, true) : 0x8100;
      slot.set(src.subarray(mac, mac + 12), HEADROOM);
      slot[HEADROOM + 12] = tpid >> 8;
      slot[HEADROOM + 13] = tpid & 0xff;
      const tci = v.getUint16(p + H2_VLAN_TCI, true);
      slot[HEADROOM + 14] = tci >> 8;
      slot[HEADROOM + 15] = tci & 0xff;
      slot.set(src.subarray(mac + 12, mac + snap), HEADROOM + 16);
      len += 4;
      csumStart += 4;
    } else slot.set(src.subarray(mac, mac + snap), HEADROOM);
    if (flags & VIRTIO_NET_HDR_F_NEEDS_CSUM && !completeChecksum(slot, HEADROOM, len, csumStart, csumOffset)) {
      stats.rxDropped++;
      return false;
    }
    const i = b.commit(len);
    if (gsoType !== 0) b.gso[i] = gsoWord(gsoType, gsoSize);
    // Completed here or validated by the kernel: conntrack need not sum it again (src/conntrack/csum.ts).
    if (flags & (VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID)) b.csum[i] = CSUM_L4_GOOD;
    stats.rxPackets++;
    stats.rxBytes += len;
    return true;
  }

  takeError(): number {
    if (this.rxFd < 0) return 0;
    try {
      getsockoptBytes(this.rxFd, SOL_SOCKET, SO_ERROR, this.errBuf, 'SO_ERROR');
    } catch {
      return 0;
    }
    return new DataView(this.errBuf.buffer).getInt32(0, true);
  }

  kernelDrops(): number {
    if (this.rxFd < 0) return 0;
    try {
      getsockoptBytes(this.rxFd, SOL_PACKET, PACKET_STATISTICS, this.statsBuf, 'PACKET_STATISTICS');
    } catch {
      return 0;
    }
    return new DataView(this.statsBuf.buffer).getUint32(4, true);
  }

  // ------------------------------------------------------------ transmit

  transmit(d: Uint8Array, start: number, len: number, _nowMs: number, gso: number): boolean {
    // A super-packet is cut whatever its size: even a short one exceeds the MTU.
    if (gso !== 0) {
      const n = segment(d, start, len, gso, this, this.scratch);
      if (n < 0) this.gsoDrops++;
      return n > 0;
    }
    return this.queue(d, start, len);
  }

  /** FrameSink: one segment built by segment(). */
  sendFrame(f: Uint8Array, len: number): void {
    this.queue(f, 0, len);
  }

  private queue(d: Uint8Array, start: number, len: number): boolean {
    const v = this.txView;
    if (v === null || len > TX_MAX_DATA) return false;
    let frame = this.txSlot * TX_FRAME_SIZE;
    let st = v.getUint32(frame + H2_STATUS, true);
    if (st === TP_STATUS_WRONG_FORMAT) {
      this.txErrors++;
      v.setUint32(frame + H2_STATUS, 0, true);
      st = 0;
    }
    if (st !== 0) {
      // The kernel still owns this frame: push what is queued and look again.
      this.flush();
      st = v.getUint32(frame + H2_STATUS, true);
      if (st !== 0 && st !== TP_STATUS_WRONG_FORMAT) return false;
      frame = this.txSlot * TX_FRAME_SIZE;
    }
    this.txRing!.bytes.set(d.subarray(start, start + len), frame + TX_DATA_OFS);
    v.setUint32(frame + H2_LEN, len, true);
    v.setUint32(frame + H2_STATUS, TP_STATUS_SEND_REQUEST, true);
    this.txSlot = (this.txSlot + 1) % TX_FRAME_NR;
    if (++this.txQueued >= 64) this.flush();
    return true;
  }

  flush(): void {
    if (this.txQueued === 0 || this.txFd < 0) return;
    this.txQueued = 0;
    if (rxTrace.on) {
      if (rxTrace.kickStartUs === 0) rxTrace.kickStartUs = traceNow();
      send(this.txFd, null, 0, MSG_DONTWAIT);
      rxTrace.kickEndUs = traceNow();
      return;
    }
    send(this.txFd, null, 0, MSG_DONTWAIT);
  }

  close(): void {
    if (this.rxRing) munmap(this.rxRing);
    if (this.txRing) munmap(this.txRing);
    this.rxRing = this.txRing = null;
    this.rxView = this.txView = null;
    if (this.rxFd >= 0) closeFd(this.rxFd);
    if (this.txFd >= 0) closeFd(this.txFd);
    (this as { rxFd: number }).rxFd = -1;
    this.txFd = -1;
  }
}


function rxFrameOffsets(): Uint32Array {
  const o = new Uint32Array(RX_FRAME_NR);
  for (let i = 0; i < RX_FRAME_NR; i++) {
    o[i] = Math.floor(i / RX_FRAMES_PER_BLOCK) * RX_BLOCK_SIZE + (i % RX_FRAMES_PER_BLOCK) * RX_FRAME_SIZE;
  }
  return o;
}
