// Helpers of the fragment module (ipf.ts): the per-thread pool of
// fragment buffers and the header arithmetic reassembly and output share.
// The pool is bounded: small buffers (an MTU-size fragment) are at most one
// per held fragment (max-nfrags bounds them), large ones at most
// IPF_LARGE_BUFFERS; buffers are allocated once and reused.

import { IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP } from '../packet/flow-key.ts';

const SMALL_BYTES = 2048;
/** Large (> 2 KiB) fragment buffers a thread may hold at once. */
export const IPF_LARGE_BUFFERS = 64;
const IPV4_MAX_PACKET = 65535;
const IPV4_MAX_HDR = 60;

export class FragmentPool {
  private readonly smallFree: Uint8Array[] = [];
  private readonly largeFree: Uint8Array[] = [];
  private largeOut = 0;

  constructor(private readonly largeBytes: number) {}

  /** A buffer of at least len bytes, or null when the pool's bound is reached. */
  take(len: number): Uint8Array | null {
    if (len <= SMALL_BYTES) return this.smallFree.pop() ?? new Uint8Array(SMALL_BYTES);
    if (len > this.largeBytes) return null;
    if (this.largeOut >= IPF_LARGE_BUFFERS) return null;
    this.largeOut++;
    return this.largeFree.pop() ?? new Uint8Array(this.largeBytes);
  }

  give(buf: Uint8Array): void {
    if (buf.length === SMALL_BYTES) this.smallFree.push(buf);
    else {
      this.largeOut--;
      this.largeFree.push(buf);
    }
  }
}

/** OVS's per-list fragment limit for IPv4: what the minimum fragment size allows in 64 KiB. */
export function maxV4ListSize(minFrag: number): number {
  return Math.ceil((IPV4_MAX_PACKET - IPV4_MAX_HDR) / Math.max(1, minFrag - IPV4_MAX_HDR));
}

/** Offset (in buf) of the next-header byte that names the fragment header at fh. */
export function prevNextHeader(buf: Uint8Array, l3: number, fh: number): number {
  let at = l3 + 6;
  let p = l3 + 40;
  while (p < fh) {
    at = p;
    p += (buf[p + 1] + 1) * 8;
  }
  return at;
}

/** Bytes of the L4 header at l4 that travel in the first fragment (TCP with options). */
export function l4HeaderLen(d: Uint8Array, l4: number, proto: number): number {
  if (proto === IPPROTO_TCP) return (d[l4 + 12] >> 4) * 4;
  if (proto === IPPROTO_UDP || proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) return 8;
  if (proto === IPPROTO_SCTP) return 12;
  return 0;
}
