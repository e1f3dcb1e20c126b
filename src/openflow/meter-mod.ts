// OFPT_METER_MOD and the meter multipart bodies (METER stats, METER_CONFIG,
// which OpenFlow 1.5 calls METER_DESC, and METER_FEATURES) of OpenFlow 1.3,
// 1.4 and 1.5 (the same bytes in all three) <-> the meter model of
// src/ofproto/meter.ts, the objects the meter-text parser builds. What the
// decoder refuses, and with which error, is what OVS's decoder refuses
// (lib/ofp-meter.c): a band whose length is not 16 or bytes left over after
// the last band (OFPBRC_BAD_LEN), a band type other than drop and
// dscp_remark (OFPMMFC_BAD_BAND), both kbps and pktps (OFPMMFC_BAD_FLAGS),
// an unknown command (OFPMMFC_BAD_COMMAND). Checks that need the switch
// (ids, what the datapath runs) are the meter commands' (meter-commands.ts).

import {
  OFPMBT13_DSCP_REMARK, OFPMF13_KBPS, OFPMF13_PKTPS,
  type MeterBand, type MeterCommand, type MeterConfig, type MeterFeatures, type MeterMod, type MeterStats,
} from '../ofproto/meter.ts';
import { Reader, Writer } from './buffer.ts';
import { badLen, OFPET_METER_MOD_FAILED, OfError } from './errors.ts';
import { bodyReader, finishMsg, OFPT_METER_MOD, startMsg } from './header.ts';

export const OFPMMFC_UNKNOWN = 0;
export const OFPMMFC_METER_EXISTS = 1;
export const OFPMMFC_INVALID_METER = 2;
export const OFPMMFC_UNKNOWN_METER = 3;
export const OFPMMFC_BAD_COMMAND = 4;
export const OFPMMFC_BAD_FLAGS = 5;
export const OFPMMFC_BAD_RATE = 6;
export const OFPMMFC_BAD_BURST = 7;
export const OFPMMFC_BAD_BAND = 8;
export const OFPMMFC_BAD_BAND_VALUE = 9;
export const OFPMMFC_OUT_OF_METERS = 10;
export const OFPMMFC_OUT_OF_BANDS = 11;

/** OFPMMFC_* by name, as the meter commands' SwitchError codes carry them. */
export const METER_MOD_CODES: Record<string, number> = {
  OFPMMFC_UNKNOWN, OFPMMFC_METER_EXISTS, OFPMMFC_INVALID_METER, OFPMMFC_UNKNOWN_METER, OFPMMFC_BAD_COMMAND,
  OFPMMFC_BAD_FLAGS, OFPMMFC_BAD_RATE, OFPMMFC_BAD_BURST, OFPMMFC_BAD_BAND, OFPMMFC_BAD_BAND_VALUE,
  OFPMMFC_OUT_OF_METERS, OFPMMFC_OUT_OF_BANDS,
};

export const meterError = (code: number, msg: string) => new OfError(OFPET_METER_MOD_FAILED, code, msg);

/**
 * The OpenFlow error for a meter command's refusal, whose code is an
 * OFPMMFC_* name; ENOTSUP (a virtual meter swd does not run) is
 * OFPMMFC_INVALID_METER. Null for any other code.
 */
export function meterModError(code: string, message: string): OfError | null {
  if (code === 'ENOTSUP') return meterError(OFPMMFC_INVALID_METER, message);
  const n = METER_MOD_CODES[code];
  return n === undefined ? null : meterError(n, message);
}

/** OFPMC13_ADD, _MODIFY, _DELETE in wire order. */
const COMMANDS: MeterCommand[] = ['add', 'modify', 'delete'];
/** Every band (drop, dscp_remark, experimenter) is 16 bytes on the wire. */
export const METER_BAND_LEN = 16;
const METER_STATS_LEN = 40;
const BAND_STATS_LEN = 16;

function putBands(w: Writer, bands: MeterBand[]): void {
  // OVS writes every band as the dscp_remark layout: prec_level is 0 for the others.
  for (const b of bands) w.u16(b.type).u16(METER_BAND_LEN).u32(b.rate).u32(b.burstSize).u8(b.precLevel).zeros(3);
}

/** Bands until the reader's end (ofputil_pull_bands). */
function pullBands(r: Reader): MeterBand[] {
  const out: MeterBand[] = [];
  while (r.left >= METER_BAND_LEN) {
    const type = r.u16(), len = r.u16();
    if (len !== METER_BAND_LEN) throw badLen(`meter band length ${len}`);
    if (type !== 1 && type !== OFPMBT13_DSCP_REMARK) throw meterError(OFPMMFC_BAD_BAND, `meter band type ${type}`);
    const rate = r.u32(), burstSize = r.u32(), prec = r.u8();
    r.skip(3);
    out.push({ type, rate, burstSize, precLevel: type === OFPMBT13_DSCP_REMARK ? prec : 0 });
  }
  if (r.left) throw badLen(`${r.left} bytes after the meter bands`);
  return out;
}

export function decodeMeterMod(msg: Buffer): MeterMod {
  const r = bodyReader(msg);
  // ofp13_meter_mod, then bands in 8-byte units (OVS's framing check).
  if (r.left < 8 || r.left % 8) throw badLen('meter_mod');
  const cmd = r.u16(), flags = r.u16(), meterId = r.u32();
  const command = COMMANDS[cmd];
  if (command === undefined) throw meterError(OFPMMFC_BAD_COMMAND, `meter_mod command ${cmd}`);
  if (command === 'delete') return { command, meter: { meterId, flags: 0, bands: [] } };
  if ((flags & OFPMF13_KBPS) && (flags & OFPMF13_PKTPS)) throw meterError(OFPMMFC_BAD_FLAGS, 'a meter is either kbps or pktps');
  return { command, meter: { meterId, flags, bands: pullBands(r) } };
}

export function encodeMeterMod(version: number, xid: number, mm: MeterMod): Buffer {
  const w = startMsg(version, OFPT_METER_MOD, xid);
  const del = mm.command === 'delete';
  w.u16(COMMANDS.indexOf(mm.command)).u16(del ? 0 : mm.meter.flags).u32(mm.meter.meterId);
  if (!del) putBands(w, mm.meter.bands);
  return finishMsg(w);
}

// ------------------------------------------------------------ multipart

/** The body of a METER or METER_CONFIG request: the meter (OFPM13_ALL for every one), then 4 pad bytes. */
export function decodeMeterRequest(r: Reader): number {
  if (r.left !== 8) throw badLen('meter multipart request');
  const id = r.u32();
  r.skip(4);
  return id;
}

export function encodeMeterRequest(meterId: number): Buffer {
  return new Writer().u32(meterId).zeros(4).done();
}

/** A METER_FEATURES request has no body. */
export function checkMeterFeaturesRequest(r: Reader): void {
  if (r.left !== 0) throw badLen('meter features request');
}

/** One ofp13_meter_config (a METER_CONFIG reply entry). */
export function encodeMeterConfig(c: MeterConfig): Buffer {
  const w = new Writer();
  w.u16(8 + METER_BAND_LEN * c.bands.length).u16(c.flags).u32(c.meterId);
  putBands(w, c.bands);
  return w.done();
}

/** A METER_CONFIG reply's entries (ofputil_decode_meter_config). */
export function decodeMeterConfigs(r: Reader): MeterConfig[] {
  const out: MeterConfig[] = [];
  while (r.left > 0) {
    if (r.left < 8) throw badLen('meter config entry');
    const len = r.u16(), flags = r.u16(), meterId = r.u32();
    if (len < 8) throw badLen(`meter config length ${len}`);
    out.push({ meterId, flags, bands: pullBands(r.sub(len - 8)) });
  }
  return out;
}

/** One ofp13_meter_stats (a METER reply entry). */
export function encodeMeterStats(s: MeterStats): Buffer {
  const w = new Writer();
  w.u32(s.meterId).u16(METER_STATS_LEN + BAND_STATS_LEN * s.bands.length).zeros(6);
  w.u32(s.flowCount).u64(BigInt(s.packetInCount)).u64(BigInt(s.byteInCount)).u32(s.durationSec).u32(s.durationNsec);
  for (const b of s.bands) w.u64(BigInt(b.packetCount)).u64(BigInt(b.byteCount));
  return w.done();
}

/** A METER reply's entries (ofputil_decode_meter_stats). Counters beyond 2^53 lose their low bits. */
export function decodeMeterStats(r: Reader): MeterStats[] {
  const out: MeterStats[] = [];
  while (r.left > 0) {
    if (r.left < METER_STATS_LEN) throw badLen('meter stats entry');
    const meterId = r.u32(), len = r.u16();
    r.skip(6);
    const flowCount = r.u32(), packetInCount = Number(r.u64()), byteInCount = Number(r.u64());
    const durationSec = r.u32(), durationNsec = r.u32();
    if (len < METER_STATS_LEN || (len - METER_STATS_LEN) % BAND_STATS_LEN) throw badLen(`meter stats length ${len}`);
    const b = r.sub(len - METER_STATS_LEN);
    const bands: MeterStats['bands'] = [];
    while (b.left) bands.push({ packetCount: Number(b.u64()), byteCount: Number(b.u64()) });
    out.push({ meterId, flowCount, packetInCount, byteInCount, durationSec, durationNsec, bands });
  }
  return out;
}

export function encodeMeterFeatures(f: MeterFeatures): Buffer {
  return new Writer().u32(f.maxMeters).u32(f.bandTypes).u32(f.capabilities).u8(f.maxBands).u8(f.maxColor).zeros(2).done();
}

export function decodeMeterFeatures(r: Reader): MeterFeatures {
  if (r.left !== 16) throw badLen('meter features');
  const maxMeters = r.u32(), bandTypes = r.u32(), capabilities = r.u32(), maxBands = r.u8(), maxColor = r.u8();
  r.skip(2);
  return { maxMeters, bandTypes, capabilities, maxBands, maxColor };
}

/** OpenFlow 1.5 renamed METER_CONFIG (multipart type 10) METER_DESC; the bytes are the same (OVS prints METER_CONFIG for every version). */
export { OFPMP_METER_CONFIG as OFPMP_METER_DESC } from './multipart.ts';
