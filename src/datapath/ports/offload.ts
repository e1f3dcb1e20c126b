// What a real interface hands over with offloads on, made valid for the wire
// (DESIGN.md "Ports"): packets whose transport checksum the sender left to
// the hardware (virtio_net_hdr NEEDS_CSUM / TP_STATUS_CSUMNOTREADY: the field
// holds only the pseudo-header sum) and GSO/GRO super-packets (one IP packet
// of up to 64 KiB standing for many MSS-sized segments).
//
// Policy: a system port completes the checksum on receive, before conntrack
// and NAT see the packet, so every later stage works with valid packets. A
// super-packet travels the datapath whole (conntrack sees one large
// segment, which TCP window tracking accepts) and a port that puts it on a
// wire cuts it into segments here, each with its headers and checksums
// recomputed, as the kernel's GSO would (TCP: seq advances, FIN/PSH only on
// the last segment, CWR only on the first; IPv4 id increments).
//
// Pure functions over bytes; no allocation per packet (callers pass scratch).

import { csumAdd, csumFinish, setIpv4HeaderChecksum, setL4Checksum } from '../../packet/checksum.ts';
import { rd16, rd32, wr16, wr32 } from '../../packet/bytes.ts';

// virtio_net_hdr (include/uapi/linux/virtio_net.h)
export const VNET_HDR_LEN = 10;
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
/** The kernel validated the packet's checksum (CHECKSUM_UNNECESSARY). */
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;
export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
export const VIRTIO_NET_HDR_GSO_UDP = 3;
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
export const VIRTIO_NET_HDR_GSO_UDP_L4 = 5;
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;

const ETH_HLEN = 14;
const ETH_TYPE_IP = 0x0800;
const ETH_TYPE_IPV6 = 0x86dd;
const ETH_TYPE_VLAN = 0x8100;
const ETH_TYPE_QINQ = 0x88a8;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const TCP_FIN = 0x01;
const TCP_PSH = 0x08;
const TCP_CWR = 0x80;

/** gso word of PacketBatch: (type << 16) | size. */
export function gsoWord(type: number, size: number): number {
  return ((type & 0x7f) << 16) | (size & 0xffff);
}

/**
 * Complete a partial transport checksum: the 16-bit field at
 * csumStart + csumOffset (offsets from the frame start s) holds the
 * pseudo-header sum; fold the sum of d[s+csumStart .. s+len) and store its
 * complement there (what the kernel's skb_checksum_help does). Returns false
 * when the offsets do not fit the frame (a hostile or truncated packet).
 */
export function completeChecksum(d: Uint8Array, s: number, len: number, csumStart: number, csumOffset: number): boolean {
  const field = csumStart + csumOffset;
  if (csumStart < ETH_HLEN || field + 2 > len) return false;
  let c = csumFinish(csumAdd(d, s + csumStart, s + len));
  // A UDP checksum that computes to 0 is sent as 0xffff (0 means "none").
  if (csumOffset === 6 && c === 0) c = 0xffff;
  wr16(d, s + field, c);
  return true;
}

/** Where a frame's L3 and L4 headers are: out[0] = l3, out[1] = l4, out[2] = protocol, out[3] = 4 or 6. */
export function locateL4(d: Uint8Array, s: number, len: number, out: Int32Array): boolean {
  let o = s + 12;
  const end = s + len;
  let type = rd16(d, o);
  while ((type === ETH_TYPE_VLAN || type === ETH_TYPE_QINQ) && o + 6 <= end) {
    o += 4;
    type = rd16(d, o);
  }
  const l3 = o + 2;
  if (type === ETH_TYPE_IP) {
    if (l3 + 20 > end || d[l3] >> 4 !== 4) return false;
    const ihl = (d[l3] & 0xf) * 4;
    if (ihl < 20 || l3 + ihl > end) return false;
    if ((rd16(d, l3 + 6) & 0x3fff) !== 0) return false; // a fragment: no L4 header to segment
    out[0] = l3;
    out[1] = l3 + ihl;
    out[2] = d[l3 + 9];
    out[3] = 4;
    return true;
  }
  if (type === ETH_TYPE_IPV6) {
    if (l3 + 40 > end || d[l3] >> 4 !== 6) return false;
    out[0] = l3;
    out[1] = l3 + 40;
    out[2] = d[l3 + 6]; // extension headers are not segmented (GSO does not produce them here)
    out[3] = 6;
    return true;
  }
  return false;
}

/** Receives the frames segment() cuts. */
export interface FrameSink {
  sendFrame(d: Uint8Array, len: number): void;
}

const loc = new Int32Array(4);

/**
 * Cut super-packet d[s .. s+len) into segments of at most `size` payload
 * bytes and hand each to sink (built in scratch, which must hold headers +
 * size bytes). Returns the number of segments, or -1 when the packet cannot
 * be segmented (unknown type, bad headers): the caller counts it dropped.
 */
export function segment(d: Uint8Array, s: number, len: number, gso: number, sink: FrameSink, scratch: Uint8Array): number {
  const type = (gso >>> 16) & 0x7f;
  const size = gso & 0xffff;
  if (size === 0 || !locateL4(d, s, len, loc)) return -1;
  const l3 = loc[0] - s;
  const l4 = loc[1] - s;
  const proto = loc[2];
  const v4 = loc[3] === 4;
  let hdr: number;
  if ((type === VIRTIO_NET_HDR_GSO_TCPV4 || type === VIRTIO_NET_HDR_GSO_TCPV6) && proto === IPPROTO_TCP) {
    if (l4 + 20 > len) return -1;
    hdr = l4 + (d[s + l4 + 12] >> 4) * 4;
  } else if (type === VIRTIO_NET_HDR_GSO_UDP_L4 && proto === IPPROTO_UDP) {
    hdr = l4 + 8;
  } else return -1;
  if (hdr > len || hdr + size > scratch.length) return -1;
  const payload = len - hdr;
  if (payload <= size) {
    // Nothing to cut: still make sure the checksums are whole.
    scratch.set(d.subarray(s, s + len), 0);
    fixHeaders(scratch, l3, l4, hdr, payload, proto, v4);
    sink.sendFrame(scratch, len);
    return 1;
  }
  scratch.set(d.subarray(s, s + hdr), 0);
  const seq0 = proto === IPPROTO_TCP ? rd32(d, s + l4 + 4) : 0;
  const flags0 = proto === IPPROTO_TCP ? d[s + l4 + 13] : 0;
  const id0 = v4 ? rd16(d, s + l3 + 4) : 0;
  let n = 0;
  for (let off = 0; off < payload; off += size, n++) {
    const seg = Math.min(size, payload - off);
    scratch.set(d.subarray(s + hdr + off, s + hdr + off + seg), hdr);
    if (proto === IPPROTO_TCP) {
      wr32(scratch, l4 + 4, (seq0 + off) >>> 0);
      let f = flags0;
      if (off + seg < payload) f &= ~(TCP_FIN | TCP_PSH);
      if (off > 0) f &= ~TCP_CWR;
      scratch[l4 + 13] = f;
    }
    if (v4) wr16(scratch, l3 + 4, (id0 + n) & 0xffff);
    fixHeaders(scratch, l3, l4, hdr, seg, proto, v4);
    sink.sendFrame(scratch, hdr + seg);
  }
  return n;
}

/** Lengths and checksums of one segment built at the start of f. */
function fixHeaders(f: Uint8Array, l3: number, l4: number, hdr: number, seg: number, proto: number, v4: boolean): void {
  if (v4) {
    wr16(f, l3 + 2, hdr - l3 + seg);
    setIpv4HeaderChecksum(f, l3);
  } else wr16(f, l3 + 4, hdr - l3 - 40 + seg);
  if (proto === IPPROTO_UDP) wr16(f, l4 + 4, 8 + seg);
  f[l4 + (proto === IPPROTO_TCP ? 16 : 6)] = 0;
  f[l4 + (proto === IPPROTO_TCP ? 17 : 7)] = 0;
  setL4Checksum(f, l3, l4, hdr + seg, proto);
}
