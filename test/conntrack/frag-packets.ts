// Fragmented test datagrams: whole Ethernet + IPv4/IPv6 + UDP/ICMP packets
// with valid checksums, cut into fragments at given payload offsets, and
// an independent reassembler to check what a switch sent.

import { ipv4FromText, ipv6FromText } from '../../src/packet/addr.ts';
import { csumAdd, csumFinish, ipv4HeaderChecksum, pseudoHeaderSum, setIpv4HeaderChecksum } from '../../src/packet/checksum.ts';

const MACS = [0x50, 0x54, 0, 0, 0, 2, 0x50, 0x54, 0, 0, 0, 1];

export interface Datagram {
  src: string;
  dst: string;
  /** 17 (UDP) or 1 / 58 (ICMP echo request). */
  proto: number;
  sport?: number;
  dport?: number;
  /** Payload bytes after the L4 header. */
  size: number;
  id?: number;
  /** IPv6: extension headers before the fragment header (hop-by-hop, then destination options). */
  v6ExtBefore?: boolean;
}

/** The L4 bytes (header + payload) of a datagram, checksum filled for the given L3 pseudo-header. */
function l4Of(g: Datagram, v6: boolean, srcW: number[], dstW: number[]): Uint8Array {
  const b = new Uint8Array(8 + g.size);
  for (let i = 8; i < b.length; i++) b[i] = (i * 7 + 3) & 0xff;
  const dv = new DataView(b.buffer);
  if (g.proto === 17) {
    dv.setUint16(0, g.sport ?? 1000);
    dv.setUint16(2, g.dport ?? 53);
    dv.setUint16(4, b.length);
  } else {
    b[0] = g.proto === 1 ? 8 : 128;
    dv.setUint16(4, g.id ?? 7);
    dv.setUint16(6, 1);
  }
  // Checksum over a scratch pseudo-header packet.
  const hl = v6 ? 40 : 20;
  const tmp = new Uint8Array(hl + b.length);
  const tv = new DataView(tmp.buffer);
  if (v6) {
    tmp[0] = 0x60;
    tv.setUint16(4, b.length);
    tmp[6] = g.proto;
    srcW.forEach((w, i) => tv.setUint32(8 + i * 4, w >>> 0));
    dstW.forEach((w, i) => tv.setUint32(24 + i * 4, w >>> 0));
  } else {
    tmp[0] = 0x45;
    tmp[9] = g.proto;
    tv.setUint32(12, srcW[0] >>> 0);
    tv.setUint32(16, dstW[0] >>> 0);
  }
  tmp.set(b, hl);
  const co = g.proto === 17 ? 6 : 2;
  const pseudo = g.proto === 1 ? 0 : pseudoHeaderSum(tmp, 0, g.proto, b.length);
  const c = csumFinish(csumAdd(tmp, hl, tmp.length, pseudo));
  dv.setUint16(co, g.proto === 17 && c === 0 ? 0xffff : c);
  return b;
}

/**
 * The fragments of datagram g, cut at `cuts` (payload offsets, multiples of
 * 8, ascending), in the order given by `order` (indices; default in order).
 */
export function fragments(g: Datagram, cuts: number[], order?: number[]): Uint8Array[] {
  const v6 = g.src.includes(':');
  const srcW = v6 ? Array.from(ipv6FromText(g.src)!) : [ipv4FromText(g.src)!];
  const dstW = v6 ? Array.from(ipv6FromText(g.dst)!) : [ipv4FromText(g.dst)!];
  const l4 = l4Of(g, v6, srcW, dstW);
  const bounds = [0, ...cuts, l4.length];
  const out: Uint8Array[] = [];
  for (let n = 0; n + 1 < bounds.length; n++) {
    const start = bounds[n];
    const end = bounds[n + 1];
    const more = n + 2 < bounds.length;
    out.push(v6 ? frag6(g, srcW, dstW, l4, start, end, more) : frag4(g, srcW[0], dstW[0], l4, start, end, more));
  }
  return order ? order.map((i) => out[i]) : out;
}

function frag4(g: Datagram, src: number, dst: number, l4: Uint8Array, start: number, end: number, more: boolean): Uint8Array {
  const b = new Uint8Array(14 + 20 + end - start);
  b.set(MACS, 0);
  b[12] = 0x08;
  const dv = new DataView(b.buffer);
  b[14] = 0x45;
  dv.setUint16(16, 20 + end - start);
  dv.setUint16(18, g.id ?? 0x1234);
  dv.setUint16(20, (more ? 0x2000 : 0) | (start >> 3));
  b[22] = 64;
  b[23] = g.proto;
  dv.setUint32(26, src >>> 0);
  dv.setUint32(30, dst >>> 0);
  setIpv4HeaderChecksum(b, 14);
  b.set(l4.subarray(start, end), 34);
  return b;
}

function frag6(g: Datagram, src: number[], dst: number[], l4: Uint8Array, start: number, end: number, more: boolean): Uint8Array {
  const ext = g.v6ExtBefore ? 16 : 0;
  const b = new Uint8Array(14 + 40 + ext + 8 + end - start);
  b.set(MACS, 0);
  b[12] = 0x86;
  b[13] = 0xdd;
  const dv = new DataView(b.buffer);
  b[14] = 0x60;
  dv.setUint16(18, ext + 8 + end - start);
  b[20] = g.v6ExtBefore ? 0 : 44;
  b[21] = 64;
  src.forEach((w, i) => dv.setUint32(22 + i * 4, w >>> 0));
  dst.forEach((w, i) => dv.setUint32(38 + i * 4, w >>> 0));
  let p = 54;
  if (g.v6ExtBefore) {
    b[p] = 60; // hop-by-hop -> destination options
    b[p + 2] = 1; // PadN over the rest
    b[p + 3] = 4;
    b[p + 8] = 44; // destination options -> fragment
    b[p + 10] = 1;
    b[p + 11] = 4;
    p += 16;
  }
  b[p] = g.proto;
  dv.setUint16(p + 2, start | (more ? 1 : 0));
  dv.setUint32(p + 4, g.id ?? 0x1234);
  b.set(l4.subarray(start, end), p + 8);
  return b;
}

export interface Checked {
  /** Source and destination addresses of every fragment (text of the raw words). */
  addrs: string[];
  /** Every IPv4 fragment's header checksum is right. */
  ipCsumOk: boolean;
  /** The reassembled L4 bytes, and whether their checksum is right. */
  l4: Uint8Array;
  l4CsumOk: boolean;
}

/** Reassemble sent frames (hex or bytes) independently and check every checksum. */
export function checkFragments(frames: (string | Uint8Array)[]): Checked {
  const fs = frames.map((f) => (typeof f === 'string' ? Uint8Array.from(Buffer.from(f, 'hex')) : f));
  const v6 = fs[0][12] === 0x86;
  let ipCsumOk = true;
  const parts: { start: number; data: Uint8Array }[] = [];
  const addrs: string[] = [];
  let hdr: Uint8Array = new Uint8Array(0);
  let proto = 0;
  for (const f of fs) {
    const dv = new DataView(f.buffer, f.byteOffset);
    if (!v6) {
      if (ipv4HeaderChecksum(f, 14) !== dv.getUint16(24)) ipCsumOk = false;
      addrs.push(Buffer.from(f.subarray(26, 34)).toString('hex'));
      const off = (dv.getUint16(20) & 0x1fff) * 8;
      parts.push({ start: off, data: f.subarray(34, 14 + dv.getUint16(16)) });
      proto = f[23];
      if (off === 0) hdr = f.subarray(14, 34);
    } else {
      addrs.push(Buffer.from(f.subarray(22, 54)).toString('hex'));
      let next = f[20];
      let p = 54;
      while (next !== 44) {
        next = f[p];
        p += (f[p + 1] + 1) * 8;
      }
      proto = f[p];
      const off = dv.getUint16(p + 2) & 0xfff8;
      parts.push({ start: off, data: f.subarray(p + 8, 54 + dv.getUint16(18)) });
      if (off === 0) hdr = f.subarray(14, 54);
    }
  }
  const len = Math.max(...parts.map((p) => p.start + p.data.length));
  const l4 = new Uint8Array(len);
  for (const p of parts) l4.set(p.data, p.start);
  const hl = v6 ? 40 : 20;
  const whole = new Uint8Array(hl + len);
  whole.set(hdr.subarray(0, hl), 0);
  const wv = new DataView(whole.buffer);
  if (v6) {
    wv.setUint16(4, len);
    whole[6] = proto;
  } else wv.setUint16(2, hl + len);
  whole.set(l4, hl);
  const pseudo = proto === 1 ? 0 : pseudoHeaderSum(whole, 0, proto, len);
  const l4CsumOk = csumFinish(csumAdd(whole, hl, whole.length, pseudo)) === 0 || csumFinish(csumAdd(whole, hl, whole.length, pseudo)) === 0xffff;
  return { addrs, ipCsumOk, l4, l4CsumOk };
}
