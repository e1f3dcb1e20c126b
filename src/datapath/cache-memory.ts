// Memory for the flow caches' tables that a hit reads at random: the
// subtables' cells (subtable.ts), the EMC's (emc.ts), the megaflow
// counters (megaflow.ts). Two things the allocator does not give:
// - Cache-line alignment. A large ArrayBuffer from Node's allocator starts
//   16 bytes into a line, so a 64-byte cell spans two lines and a hit reads
//   two (a second, dependent cache miss once the table outgrows the CPU's
//   caches). The view here starts on a line: a cell of 16 words is one line.
// - Huge pages, for tables of HUGE_MIN_BYTES or more: at 100,000 megaflows
//   the subtable is 16 MiB, and with 4 KB pages every random cell is also a
//   TLB miss and a page walk (two-dimensional in a VM). The view starts on
//   a 2 MB boundary, advised MADV_HUGEPAGE before first touch, as conntrack's
//   tables (src/conntrack/memory.ts).
// Both need the buffer's address, from the native layer; where it cannot
// load (no koffi), the arrays are plain ones and everything works as before.
// The slack before the aligned start is never touched, so costs no memory.
//
// Any thread; each array belongs to the cache that made it.

import { adviseHugePages, bufferAddress, nativeAvailable } from './native/native.ts';

export const CACHE_LINE = 64;
/** Tables from this size ask for huge pages (a 2 MB page for less would be mostly waste). */
export const HUGE_MIN_BYTES = 4 << 20;
const HUGE_PAGE = 2 << 20;

let native: boolean | null = null;

/** A zeroed ArrayBuffer region of `bytes`, as [buffer, byteOffset]: line-aligned, huge-page aligned and advised when large. */
function region(bytes: number): [ArrayBuffer, number] {
  native ??= process.env.SWD_CACHE_PLAIN_MEMORY !== '1' && nativeAvailable();
  if (!native) return [new ArrayBuffer(bytes), 0];
  const huge = bytes >= HUGE_MIN_BYTES;
  const align = huge ? HUGE_PAGE : CACHE_LINE;
  const buf = new ArrayBuffer(bytes + align);
  let ofs = 0;
  try {
    const addr = bufferAddress(buf);
    ofs = Number((BigInt(align) - (addr % BigInt(align))) % BigInt(align));
  } catch {
    return [buf, 0];
  }
  if (huge) adviseHugePages(buf);
  return [buf, ofs];
}

/** `n` zeroed int32 words whose element 0 starts a cache line. */
export function lineAlignedInt32(n: number): Int32Array {
  const [buf, ofs] = region(n * 4);
  return new Int32Array(buf, ofs, n);
}

/** `n` zeroed float64 words whose element 0 starts a cache line. */
export function lineAlignedFloat64(n: number): Float64Array {
  const [buf, ofs] = region(n * 8);
  return new Float64Array(buf, ofs, n);
}
