// Bounds-checked reading and growing writing of big-endian OpenFlow bytes.
// A Reader never reads past its window: running out is the error the caller
// names (a truncated message is OFPBRC_BAD_LEN, a truncated action
// OFPBAC_BAD_LEN, ...). Slow path only: these allocate freely.

import { OfError } from './errors.ts';

export class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start = 0,
    readonly end = buf.length,
    /** The error to throw when the window runs out. */
    private readonly short: () => OfError,
  ) {
    this.pos = start;
  }

  get left(): number {
    return this.end - this.pos;
  }

  need(n: number): void {
    if (n < 0 || this.pos + n > this.end) throw this.short();
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  /** An unsigned big-endian integer of n bytes. */
  uint(n: number): bigint {
    this.need(n);
    let v = 0n;
    for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(this.buf[this.pos + i]);
    this.pos += n;
    return v;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const b = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return b;
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  /** A sub-reader over the next n bytes (which this reader skips). */
  sub(n: number, short: () => OfError = this.short): Reader {
    this.need(n);
    const r = new Reader(this.buf, this.pos, this.pos + n, short);
    this.pos += n;
    return r;
  }
}

export class Writer {
  private buf = Buffer.alloc(256);
  len = 0;

  private grow(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const b = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(b, 0, 0, this.len);
    this.buf = b;
  }

  u8(v: number): this {
    this.grow(1);
    this.buf[this.len++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.grow(2);
    this.buf.writeUInt16BE(v & 0xffff, this.len);
    this.len += 2;
    return this;
  }

  u32(v: number): this {
    this.grow(4);
    this.buf.writeUInt32BE(v >>> 0, this.len);
    this.len += 4;
    return this;
  }

  u64(v: bigint): this {
    this.grow(8);
    this.buf.writeBigUInt64BE(BigInt.asUintN(64, v), this.len);
    this.len += 8;
    return this;
  }

  uint(v: bigint, n: number): this {
    this.grow(n);
    for (let i = n - 1; i >= 0; i--) {
      this.buf[this.len + i] = Number(v & 0xffn);
      v >>= 8n;
    }
    this.len += n;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.grow(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  zeros(n: number): this {
    this.grow(n);
    this.buf.fill(0, this.len, this.len + n);
    this.len += n;
    return this;
  }

  /** Zero-pad to a multiple of `align` counted from `from`. */
  pad(align: number, from = 0): this {
    const r = (this.len - from) % align;
    return r ? this.zeros(align - r) : this;
  }

  /** Overwrite a 16-bit value written earlier (a length field). */
  put16(at: number, v: number): void {
    this.buf.writeUInt16BE(v & 0xffff, at);
  }

  put32(at: number, v: number): void {
    this.buf.writeUInt32BE(v >>> 0, at);
  }

  done(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}
