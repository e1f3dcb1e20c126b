// The conntrack save file's container format: a header, a versioned list
// of sections, a trailer. Each section carries its own id, version, length
// and CRC-32, so a reader can tell a truncated or damaged file from a good
// one before it touches the table, and a later swd can add sections (the
// ALG helpers' expectation table, say) that an older one skips.
//
//   header  (72 bytes): 'SWDCTSAV', u32 format version, u32 section count,
//                       f64 wall ms, f64 monotonic ms, 36 bytes boot id,
//                       u32 CRC-32 of the 68 bytes before it
//   section (16 + n):   u32 id, u32 version, u32 length n, u32 CRC-32, n bytes
//   trailer (8 bytes):  'SWDCTEND'
//
// All integers little-endian. Pure functions over bytes; no table, no files.

import { crc32 } from 'node:zlib';

export const SAVE_MAGIC = 'SWDCTSAV';
export const SAVE_TRAILER = 'SWDCTEND';
export const SAVE_FORMAT_VERSION = 1;
export const HEADER_BYTES = 72;
export const SECTION_HEAD_BYTES = 16;
const BOOT_ID_BYTES = 36;

/** Section ids. New ones are appended; an id is never reused. */
export const SEC_TABLE_PARAMS = 1; // maxconns, default zone limit, seq check, next id, zone limits
export const SEC_POLICIES = 2; // timeout policies and the zones that use them
export const SEC_CONNS = 3; // the connection records
export const SEC_EXPECTATIONS = 4; // reserved: the ALG expectation table (src/conntrack/alg/)

export class CtSaveError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'CtSaveError';
  }
}

/** When the save was taken, by two clocks (see timeElapsedMs). */
export interface SaveClock {
  wallMs: number;
  monoMs: number;
  bootId: string;
}

export interface RawSection {
  id: number;
  version: number;
  payload: Uint8Array;
}

export interface ParsedSave {
  clock: SaveClock;
  sections: RawSection[];
}

/** The clocks now: wall (Date.now), CLOCK_MONOTONIC and this boot's id. */
export function clockNow(bootId: string): SaveClock {
  return { wallMs: Date.now(), monoMs: Number(process.hrtime.bigint() / 1000n) / 1000, bootId };
}

/** Time between a save and now. Within one boot CLOCK_MONOTONIC is shared by
 *  all processes and never jumps; across a reboot only the wall clock is
 *  left, and a clock that went backwards counts as no time at all. */
export function timeElapsedMs(saved: SaveClock, now: SaveClock): number {
  const d = saved.bootId !== '' && saved.bootId === now.bootId ? now.monoMs - saved.monoMs : now.wallMs - saved.wallMs;
  return d > 0 ? d : 0;
}

/** Serialise sections into chunks to be written in order. */
export function encodeSave(clock: SaveClock, sections: RawSection[]): Uint8Array[] {
  const head = Buffer.alloc(HEADER_BYTES);
  head.write(SAVE_MAGIC, 0, 'latin1');
  head.writeUInt32LE(SAVE_FORMAT_VERSION, 8);
  head.writeUInt32LE(sections.length, 12);
  head.writeDoubleLE(clock.wallMs, 16);
  head.writeDoubleLE(clock.monoMs, 24);
  head.write(clock.bootId.slice(0, BOOT_ID_BYTES).padEnd(BOOT_ID_BYTES, ' '), 32, 'latin1');
  head.writeUInt32LE(crc32(head.subarray(0, 68)), 68);
  const chunks: Uint8Array[] = [head];
  for (const s of sections) {
    const sh = Buffer.alloc(SECTION_HEAD_BYTES);
    sh.writeUInt32LE(s.id, 0);
    sh.writeUInt32LE(s.version, 4);
    sh.writeUInt32LE(s.payload.byteLength, 8);
    sh.writeUInt32LE(crc32(s.payload), 12);
    chunks.push(sh, s.payload);
  }
  chunks.push(Buffer.from(SAVE_TRAILER, 'latin1'));
  return chunks;
}

/** Check and split a save file. Throws CtSaveError (code ECTSAVE_CORRUPT or
 *  ECTSAVE_VERSION) on anything that is not a whole, undamaged file. */
export function parseSave(bytes: Uint8Array): ParsedSave {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const corrupt = (why: string) => new CtSaveError('ECTSAVE_CORRUPT', why);
  if (b.byteLength < HEADER_BYTES) throw corrupt(`truncated header (${b.byteLength} of ${HEADER_BYTES} bytes)`);
  if (b.toString('latin1', 0, 8) !== SAVE_MAGIC) throw corrupt('not a conntrack save file (bad magic)');
  if (b.readUInt32LE(68) !== crc32(b.subarray(0, 68))) throw corrupt('header checksum mismatch');
  const version = b.readUInt32LE(8);
  if (version !== SAVE_FORMAT_VERSION) {
    throw new CtSaveError('ECTSAVE_VERSION', `format version ${version}, this swd reads version ${SAVE_FORMAT_VERSION}`);
  }
  const count = b.readUInt32LE(12);
  const clock: SaveClock = {
    wallMs: b.readDoubleLE(16),
    monoMs: b.readDoubleLE(24),
    bootId: b.toString('latin1', 32, 32 + BOOT_ID_BYTES).trimEnd(),
  };
  const sections: RawSection[] = [];
  let at = HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    if (at + SECTION_HEAD_BYTES > b.byteLength) throw corrupt(`truncated in the head of section ${i + 1} of ${count}`);
    const id = b.readUInt32LE(at);
    const sv = b.readUInt32LE(at + 4);
    const len = b.readUInt32LE(at + 8);
    const crc = b.readUInt32LE(at + 12);
    at += SECTION_HEAD_BYTES;
    if (at + len > b.byteLength) throw corrupt(`truncated in section ${id} (${b.byteLength - at} of ${len} bytes)`);
    const payload = b.subarray(at, at + len);
    if (crc32(payload) !== crc) throw corrupt(`section ${id} checksum mismatch`);
    sections.push({ id, version: sv, payload });
    at += len;
  }
  if (at + 8 !== b.byteLength || b.toString('latin1', at, at + 8) !== SAVE_TRAILER) {
    throw corrupt(at + 8 > b.byteLength ? 'truncated before the trailer' : 'bad trailer');
  }
  return { clock, sections };
}
