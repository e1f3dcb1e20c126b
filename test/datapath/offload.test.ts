// What a system port does to packets the kernel handed over unfinished
// (src/datapath/ports/offload.ts): a partial transport checksum is
// completed, and a GSO super-packet is cut into wire-sized segments with
// their own lengths, ids and checksums; hostile metadata is refused.

import { describe, expect, it } from 'vitest';
import {
  csumAdd, csumFold, ipv4HeaderChecksum, pseudoHeaderSum, setIpv4HeaderChecksum, setL4Checksum, verifyL4Checksum,
} from '../../src/packet/checksum.ts';
import { rd16, rd32, wr16, wr32 } from '../../src/packet/bytes.ts';
import {
  completeChecksum, gsoWord, segment, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_UDP_L4, type FrameSink,
} from '../../src/datapath/ports/offload.ts';

const L3 = 14;
const L4 = 34;

/** An Ethernet + IPv4 + TCP (or UDP) frame with `payload` bytes of counting data and valid checksums. */
function frame(proto: 6 | 17, payload: number, tcpFlags = 0x18): Uint8Array {
  const l4h = proto === 6 ? 20 : 8;
  const d = new Uint8Array(L4 + l4h + payload);
  d.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00], 0);
  d[L3] = 0x45;
  wr16(d, L3 + 2, 20 + l4h + payload);
  wr16(d, L3 + 4, 0x1234);
  d[L3 + 8] = 64;
  d[L3 + 9] = proto;
  d.set([10, 0, 0, 1, 10, 0, 0, 2], L3 + 12);
  setIpv4HeaderChecksum(d, L3);
  wr16(d, L4, 40000);
  wr16(d, L4 + 2, 80);
  if (proto === 6) {
    wr32(d, L4 + 4, 0xfffffc00); // wraps during the segments
    wr32(d, L4 + 8, 7);
    d[L4 + 12] = 5 << 4;
    d[L4 + 13] = tcpFlags;
    wr16(d, L4 + 14, 65535);
  } else wr16(d, L4 + 4, 8 + payload);
  for (let i = 0; i < payload; i++) d[L4 + l4h + i] = i & 0xff;
  setL4Checksum(d, L3, L4, d.length, proto);
  return d;
}

class Sink implements FrameSink {
  frames: Uint8Array[] = [];
  sendFrame(d: Uint8Array, len: number): void {
    this.frames.push(d.slice(0, len));
  }
}

describe('checksum offload completion', () => {
  it('turns a partial checksum (pseudo-header sum only) into the full one, as the kernel would', () => {
    for (const proto of [6, 17] as const) {
      const d = frame(proto, 333);
      const ofs = proto === 6 ? 16 : 6;
      const good = rd16(d, L4 + ofs);
      // What a sender with checksum offload leaves: the folded pseudo-header sum, not complemented.
      wr16(d, L4 + ofs, csumFold(pseudoHeaderSum(d, L3, proto, d.length - L4)));
      expect(verifyL4Checksum(d, L3, L4, d.length, proto)).toBe(false);
      expect(completeChecksum(d, 0, d.length, L4, ofs)).toBe(true);
      expect(rd16(d, L4 + ofs)).toBe(good);
    }
  });

  it('refuses offsets outside the frame (hostile metadata) and leaves the frame alone', () => {
    const d = frame(6, 10);
    const copy = d.slice();
    expect(completeChecksum(d, 0, d.length, d.length - 1, 16)).toBe(false);
    expect(completeChecksum(d, 0, d.length, 2, 0)).toBe(false);
    expect(d).toEqual(copy);
    void csumAdd;
  });
});

describe('GSO segmentation', () => {
  it('cuts a TCP super-packet into MSS segments: seq advances, PSH only on the last, lengths, ids and checksums right', () => {
    const d = frame(6, 2500, 0x18);
    const sink = new Sink();
    expect(segment(d, 0, d.length, gsoWord(VIRTIO_NET_HDR_GSO_TCPV4, 1000), sink, new Uint8Array(70000))).toBe(3);
    const sizes = sink.frames.map((f) => f.length - 54);
    expect(sizes).toEqual([1000, 1000, 500]);
    sink.frames.forEach((f, i) => {
      expect(rd16(f, L3 + 2)).toBe(40 + sizes[i]);
      expect(rd16(f, L3 + 4)).toBe(0x1234 + i);
      expect(ipv4HeaderChecksum(f, L3)).toBe(rd16(f, L3 + 10));
      expect(verifyL4Checksum(f, L3, L4, f.length, 6)).toBe(true);
      expect(rd32(f, L4 + 4)).toBe((0xfffffc00 + i * 1000) >>> 0);
      expect(f[L4 + 13]).toBe(i === 2 ? 0x18 : 0x10);
      expect(f[54]).toBe((i * 1000) & 0xff); // the payload continues where the last segment ended
    });
  });

  it('cuts a UDP GSO packet into datagrams, each with its own length and checksum', () => {
    const d = frame(17, 3000);
    const sink = new Sink();
    expect(segment(d, 0, d.length, gsoWord(VIRTIO_NET_HDR_GSO_UDP_L4, 1400), sink, new Uint8Array(70000))).toBe(3);
    expect(sink.frames.map((f) => rd16(f, L4 + 4))).toEqual([1408, 1408, 208]);
    for (const f of sink.frames) expect(verifyL4Checksum(f, L3, L4, f.length, 17)).toBe(true);
  });

  it('refuses what it cannot cut (a GSO type that does not match the packet, a truncated header)', () => {
    const sink = new Sink();
    const udp = frame(17, 3000);
    expect(segment(udp, 0, udp.length, gsoWord(VIRTIO_NET_HDR_GSO_TCPV4, 1000), sink, new Uint8Array(70000))).toBe(-1);
    expect(segment(udp, 0, 20, gsoWord(VIRTIO_NET_HDR_GSO_UDP_L4, 1000), sink, new Uint8Array(70000))).toBe(-1);
    expect(sink.frames).toEqual([]);
  });
});
