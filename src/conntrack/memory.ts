// How the table's large buffers (the record slab, the index) are backed.
// Conntrack makes no kernel calls itself: the datapath's native layer
// (src/datapath/native/native.ts, loaded by the daemon's dpif.ts)
// registers an adviser when it loads, which asks the kernel for transparent
// huge pages on a buffer (madvise MADV_HUGEPAGE). A lookup in a table of
// millions of connections touches a random record and index line; with 4 KB
// pages each is also a TLB miss and a page walk, with 2 MB pages the whole
// 3M-connection slab fits the TLB. Without an adviser (unit tests, other
// platforms) the buffers are plain SharedArrayBuffers, as before.
//
// The advice must come before the first touch (the buffer's pages are then
// faulted in as huge pages); the buffers stay lazily committed, in 2 MB
// steps instead of 4 KB.

/** Advise huge pages for `buf`; true when the kernel took the advice. */
export type MemoryAdviser = (buf: SharedArrayBuffer) => boolean;

/** Buffers below this are left alone (a 2 MB page would be mostly waste). */
export const HUGE_MIN_BYTES = 8 << 20;

let adviser: MemoryAdviser | null = null;

export function setMemoryAdviser(a: MemoryAdviser | null): void {
  adviser = a;
}

/** A new zeroed SharedArrayBuffer of `bytes`, backed by huge pages when
 *  `huge`, an adviser is registered and the buffer is large enough. */
export function tableBuffer(bytes: number, huge: boolean): SharedArrayBuffer {
  const buf = new SharedArrayBuffer(bytes);
  if (huge && adviser !== null && bytes >= HUGE_MIN_BYTES) adviser(buf);
  return buf;
}
