// Datapath meters, as OVS's dpif-netdev runs them (dp_netdev_run_meter): one
// token bucket per band, in shared memory, so that every PMD thread and the
// main thread drain the SAME buckets — a megaflow that passes a meter in two
// threads still meets one rate.
//
// Units (OVS's): a kbps band's bucket holds bits and fills by rate bits per
// millisecond (kbit/s = bit/ms); a pktps band's holds 1/1000 packets and
// fills by rate per millisecond. A bucket holds at most burst_size * 1000
// and starts full. A packet takes its size in bits (kbps) or 1000 (pktps)
// from every band's bucket that has enough; when a band's bucket has not,
// the packet exceeds that band, and of the bands it exceeds the one with the
// highest rate fires: its counters count the packet and the packet is
// dropped (drop is the only band type the datapath runs).
//
// Layout: one SharedArrayBuffer: a lock word per meter (Int32, Atomics:
// lock.ts), the number of configured meters (Int32, Atomics; 8 bytes), then
// METER_F64 doubles per meter (config, counters, buckets).
// Every read and write of a meter's doubles happens with its lock held; the
// control thread (set, remove, stats) takes the same lock, so a packet
// never sees half a configuration. A meter with no bands is absent: packets
// pass it untouched (OVS: an unknown meter id does nothing). Datapath meter
// ids (slots) are chosen by the control thread only (alloc/free), lowest
// free first, as OVS's id pool. Hot path: run() allocates nothing.

import { lockWord, unlockWord } from '../conntrack/lock.ts';

/** How many meters a datapath holds (OVS's dpif-netdev: 1 << 18; swd keeps the shared block small). */
export const MAX_DP_METERS = 4096;
/** Bands per meter (OVS's MAX_BANDS). */
export const MAX_DP_BANDS = 8;
/** Meter flags, OpenFlow 1.3's OFPMF13_* values. */
export const DP_METER_KBPS = 1;
export const DP_METER_PKTPS = 2;
export const DP_METER_BURST = 4;
export const DP_METER_STATS = 8;

// doubles of a meter
const M_USED = 0; // ms of the last packet (or of the set)
const M_PACKETS = 1;
const M_BYTES = 2;
const M_FLAGS = 3;
const M_NBANDS = 4;
const M_MAX_DELTA = 5; // ms that fill every bucket: a longer pause counts as this long
const M_BAND0 = 8;
// doubles of a band
const B_RATE = 0;
const B_BURST = 1;
const B_BUCKET = 2;
const B_PACKETS = 3;
const B_BYTES = 4;
const BAND_F64 = 5;
export const METER_F64 = M_BAND0 + MAX_DP_BANDS * BAND_F64;
const LOCK_BYTES = MAX_DP_METERS * 4;
/** After the locks: an Int32 count of configured meters (Atomics), padded to 8 bytes. */
const COUNT_BYTES = 8;
export const METER_SAB_BYTES = LOCK_BYTES + COUNT_BYTES + MAX_DP_METERS * METER_F64 * 8;

/** A band as the datapath runs it: rate (kbps or pktps by the meter's flags), burst (0: the rate). */
export interface DpMeterBand {
  rate: number;
  burstSize: number;
}

export interface DpMeterConfig {
  flags: number;
  bands: DpMeterBand[];
}

export interface DpMeterStats {
  packets: number;
  bytes: number;
  bands: { packets: number; bytes: number }[];
}

export class MeterTable {
  private readonly locks: Int32Array;
  private readonly f: Float64Array;
  private readonly count: Int32Array;
  /** Slots handed out (control thread only). */
  private readonly used = new Uint8Array(MAX_DP_METERS);
  /** runBatch's scratch (this thread's): 1 for a band that could not pay for the whole run. */
  private readonly shortBand = new Uint8Array(MAX_DP_BANDS);

  constructor(buf?: SharedArrayBuffer) {
    const sab = buf ?? new SharedArrayBuffer(METER_SAB_BYTES);
    if (sab.byteLength !== METER_SAB_BYTES) throw new RangeError(`meter table: ${sab.byteLength} bytes, expected ${METER_SAB_BYTES}`);
    this.locks = new Int32Array(sab, 0, MAX_DP_METERS);
    this.count = new Int32Array(sab, LOCK_BYTES, 1);
    this.f = new Float64Array(sab, LOCK_BYTES + COUNT_BYTES, MAX_DP_METERS * METER_F64);
  }

  /** Whether any meter is configured (any thread; one atomic load): a datapath without meters skips meter-batch.ts. */
  get any(): boolean {
    return Atomics.load(this.count, 0) > 0;
  }

  /** The shared block, for the PMD threads (new MeterTable(buffer) attaches). */
  get buffer(): SharedArrayBuffer {
    return this.locks.buffer as SharedArrayBuffer;
  }

  /** A free datapath meter id (lowest first), or -1 when all are taken. Control thread only. */
  alloc(): number {
    for (let i = 0; i < MAX_DP_METERS; i++) {
      if (this.used[i] === 0) {
        this.used[i] = 1;
        return i;
      }
    }
    return -1;
  }

  /** Give back id (its meter removed first). */
  free(id: number): void {
    this.remove(id);
    if (id >= 0 && id < MAX_DP_METERS) this.used[id] = 0;
  }

  /**
   * Configure meter `id` (replacing what it was: counters restart, buckets
   * start full, as OVS's dpif_netdev_meter_set). The caller has checked the
   * config (flags, 1..MAX_DP_BANDS bands, non-zero rates).
   */
  set(id: number, c: DpMeterConfig, nowMs: number): void {
    const f = this.f;
    const o = id * METER_F64;
    lockWord(this.locks, id);
    if (f[o + M_NBANDS] === 0 && c.bands.length > 0) Atomics.add(this.count, 0, 1);
    else if (f[o + M_NBANDS] > 0 && c.bands.length === 0) Atomics.sub(this.count, 0, 1);
    f.fill(0, o, o + METER_F64);
    f[o + M_USED] = nowMs;
    f[o + M_FLAGS] = c.flags;
    let maxDelta = 0;
    for (let b = 0; b < c.bands.length && b < MAX_DP_BANDS; b++) {
      const bo = o + M_BAND0 + b * BAND_F64;
      const burst = c.bands[b].burstSize || c.bands[b].rate;
      f[bo + B_RATE] = c.bands[b].rate;
      f[bo + B_BURST] = burst;
      f[bo + B_BUCKET] = burst * 1000;
      maxDelta = Math.max(maxDelta, Math.floor((burst * 1000) / c.bands[b].rate));
    }
    f[o + M_MAX_DELTA] = maxDelta;
    f[o + M_NBANDS] = Math.min(c.bands.length, MAX_DP_BANDS);
    unlockWord(this.locks, id);
  }

  /** Remove meter `id`: packets then pass it untouched. */
  remove(id: number): void {
    if (id < 0 || id >= MAX_DP_METERS) return;
    const o = id * METER_F64;
    lockWord(this.locks, id);
    if (this.f[o + M_NBANDS] > 0) Atomics.sub(this.count, 0, 1);
    this.f.fill(0, o, o + METER_F64);
    unlockWord(this.locks, id);
  }

  /** Meter `id`'s counters, or null when it has no meter. */
  stats(id: number): DpMeterStats | null {
    if (id < 0 || id >= MAX_DP_METERS) return null;
    const f = this.f;
    const o = id * METER_F64;
    lockWord(this.locks, id);
    const n = f[o + M_NBANDS];
    const s: DpMeterStats | null = n === 0 ? null : { packets: f[o + M_PACKETS], bytes: f[o + M_BYTES], bands: [] };
    for (let b = 0; s !== null && b < n; b++) {
      const bo = o + M_BAND0 + b * BAND_F64;
      s.bands.push({ packets: f[bo + B_PACKETS], bytes: f[bo + B_BYTES] });
    }
    unlockWord(this.locks, id);
    return s;
  }

  /**
   * Whole milliseconds since meter `o`'s last packet, at most its max delta
   * (the bucket refill), and `nowMs` made its last packet's time. A thread
   * that lost the race for the lock with a later packet sees a negative
   * time: none passed. Meter lock held.
   */
  private elapsedLocked(o: number, nowMs: number): number {
    const f = this.f;
    let delta = Math.floor(nowMs) - Math.floor(f[o + M_USED]);
    if (delta < 0) delta = 0;
    const maxDelta = f[o + M_MAX_DELTA];
    if (delta > maxDelta) delta = maxDelta;
    f[o + M_USED] = nowMs;
    return delta;
  }

  /**
   * Pass a packet of `len` bytes through meter `id` at `nowMs`: true when it
   * may go on, false when a band dropped it (counted in that band). Fast
   * path: any thread; takes the meter's lock for the few loads and stores.
   */
  run(id: number, len: number, nowMs: number): boolean {
    if (id < 0 || id >= MAX_DP_METERS) return true;
    const f = this.f;
    const o = id * METER_F64;
    lockWord(this.locks, id);
    const nBands = f[o + M_NBANDS];
    if (nBands === 0) {
      unlockWord(this.locks, id);
      return true;
    }
    const delta = this.elapsedLocked(o, nowMs);
    f[o + M_PACKETS] += 1;
    f[o + M_BYTES] += len;
    const volume = (f[o + M_FLAGS] & DP_METER_PKTPS) !== 0 ? 1000 : len * 8;
    let fired = -1;
    let firedRate = 0;
    for (let b = 0; b < nBands; b++) {
      const bo = o + M_BAND0 + b * BAND_F64;
      const rate = f[bo + B_RATE];
      const max = f[bo + B_BURST] * 1000;
      let bucket = f[bo + B_BUCKET] + delta * rate;
      if (bucket > max) bucket = max;
      if (bucket >= volume) bucket -= volume;
      else if (rate > firedRate) {
        firedRate = rate;
        fired = b;
      }
      f[bo + B_BUCKET] = bucket;
    }
    if (fired >= 0) {
      const bo = o + M_BAND0 + fired * BAND_F64;
      f[bo + B_PACKETS] += 1;
      f[bo + B_BYTES] += len;
    }
    unlockWord(this.locks, id);
    return fired < 0;
  }

  /**
   * Pass packets idx[0..n) of a batch (lengths in `lens`) through meter `id`
   * at once, as OVS's dp_netdev_run_meter does a flow's batch: one lock, one
   * refill; a band whose bucket holds the whole run's volume pays it in one
   * step, else packet by packet as run() would. pass[idx[j]] is set to 1 for
   * a packet that may go on, 0 for one a band dropped. The outcome and the
   * counters are exactly those of run() on each packet in turn at `nowMs`.
   */
  runBatch(id: number, lens: Int32Array, idx: Int32Array, n: number, nowMs: number, pass: Uint8Array): void {
    for (let j = 0; j < n; j++) pass[idx[j]] = 1;
    if (id < 0 || id >= MAX_DP_METERS || n === 0) return;
    const f = this.f;
    const o = id * METER_F64;
    lockWord(this.locks, id);
    const nBands = f[o + M_NBANDS];
    if (nBands === 0) {
      unlockWord(this.locks, id);
      return;
    }
    const delta = this.elapsedLocked(o, nowMs);
    let bytes = 0;
    for (let j = 0; j < n; j++) bytes += lens[idx[j]];
    f[o + M_PACKETS] += n;
    f[o + M_BYTES] += bytes;
    const pktps = (f[o + M_FLAGS] & DP_METER_PKTPS) !== 0;
    const total = pktps ? n * 1000 : bytes * 8;
    // Bands that cannot pay for the whole run: the packets run() would find short, band by band.
    const shortBand = this.shortBand;
    let short = 0;
    for (let b = 0; b < nBands; b++) {
      const bo = o + M_BAND0 + b * BAND_F64;
      const max = f[bo + B_BURST] * 1000;
      let bucket = f[bo + B_BUCKET] + delta * f[bo + B_RATE];
      if (bucket > max) bucket = max;
      shortBand[b] = bucket >= total ? 0 : 1;
      if (bucket >= total) f[bo + B_BUCKET] = bucket - total;
      else {
        f[bo + B_BUCKET] = bucket;
        short++;
      }
    }
    if (short > 0) this.runShortLocked(o, nBands, pktps, lens, idx, n, pass);
    unlockWord(this.locks, id);
  }

  /**
   * runBatch's packet-by-packet part, meter lock held: the bands whose bucket
   * (already refilled) could not pay for the whole run charge each packet in
   * turn; a packet short in any of them is dropped by the highest-rate one.
   */
  private runShortLocked(o: number, nBands: number, pktps: boolean, lens: Int32Array, idx: Int32Array, n: number, pass: Uint8Array): void {
    const f = this.f;
    for (let j = 0; j < n; j++) {
      const len = lens[idx[j]];
      const volume = pktps ? 1000 : len * 8;
      let fired = -1;
      let firedRate = 0;
      for (let b = 0; b < nBands; b++) {
        const bo = o + M_BAND0 + b * BAND_F64;
        // (A band that paid for the whole run has nothing more to charge.)
        if (this.shortBand[b] === 0) continue;
        const rate = f[bo + B_RATE];
        const bucket = f[bo + B_BUCKET];
        if (bucket >= volume) f[bo + B_BUCKET] = bucket - volume;
        else if (rate > firedRate) {
          firedRate = rate;
          fired = b;
        }
      }
      if (fired >= 0) {
        const bo = o + M_BAND0 + fired * BAND_F64;
        f[bo + B_PACKETS] += 1;
        f[bo + B_BYTES] += len;
        pass[idx[j]] = 0;
      }
    }
  }
}
