// Big-endian (network order) reads and writes of 16- and 32-bit words in a
// packet buffer: the one place every parser, tracker and rewriter takes
// them from. rd32 is unsigned; `rd32(d, o) | 0` gives the signed word.

/** The 16-bit word at o. */
export function rd16(d: Uint8Array, o: number): number {
  return (d[o] << 8) | d[o + 1];
}

export function wr16(d: Uint8Array, o: number, v: number): void {
  d[o] = (v >> 8) & 0xff;
  d[o + 1] = v & 0xff;
}

/** The 32-bit word at o, unsigned. */
export function rd32(d: Uint8Array, o: number): number {
  return ((d[o] << 24) | (d[o + 1] << 16) | (d[o + 2] << 8) | d[o + 3]) >>> 0;
}

export function wr32(d: Uint8Array, o: number, v: number): void {
  d[o] = v >>> 24;
  d[o + 1] = (v >>> 16) & 0xff;
  d[o + 2] = (v >>> 8) & 0xff;
  d[o + 3] = v & 0xff;
}
