// Where a packet's time goes between the kernel and swd's transmit, for
// measurement only (bench/e2e/probe.ts): with SWD_RX_TRACE=<dir> in the
// environment, each PMD thread records, per pollPort() call that found
// packets, the kernel's receive time of its first packet (the ring frame's
// tp_sec/tp_nsec), when poll(2) returned, when the thread started reading,
// the first transmit kick's start and the last one's end, and when it was
// done — all CLOCK_REALTIME microseconds — and writes them to
// <dir>/pmd-<thread>.f64 (Float64 records of REC_WORDS) now and then.
// Off (the default) it costs one boolean test per batch and per flush.
//
// One instance per thread (module state); not shared.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { realtimeUs } from '../native/native.ts';

/** port, packets, kernel rx, poll(2) returned (0: no sleep before), start, first kick start, last kick end, end. */
export const REC_WORDS = 8;
const MAX_RECS = 100_000;

const dir = process.env.SWD_RX_TRACE;

export const rxTrace = {
  on: dir !== undefined && dir !== '',
  /** Kernel receive time of the first packet read since begin() (0: none yet). */
  kernelUs: 0,
  kickStartUs: 0,
  kickEndUs: 0,
};

const recs = rxTrace.on ? new Float64Array(MAX_RECS * REC_WORDS) : new Float64Array(0);
let n = 0;
let written = 0;
let startUs = 0;

export function traceNow(): number {
  return realtimeUs();
}

export function traceBegin(): void {
  rxTrace.kernelUs = 0;
  rxTrace.kickStartUs = 0;
  rxTrace.kickEndUs = 0;
  startUs = realtimeUs();
}

export function traceEnd(port: number, packets: number, wakeUs: number): void {
  if (packets === 0 || n >= MAX_RECS) return;
  const o = n++ * REC_WORDS;
  recs[o] = port;
  recs[o + 1] = packets;
  recs[o + 2] = rxTrace.kernelUs;
  recs[o + 3] = wakeUs;
  recs[o + 4] = startUs;
  recs[o + 5] = rxTrace.kickStartUs;
  recs[o + 6] = rxTrace.kickEndUs;
  recs[o + 7] = realtimeUs();
}

/** Write what was recorded (when anything new was). */
export function traceWrite(): void {
  if (!rxTrace.on || n === written) return;
  written = n;
  writeFileSync(join(dir!, `pmd-${process.pid}-${threadId}.f64`), recs.subarray(0, n * REC_WORDS));
}
