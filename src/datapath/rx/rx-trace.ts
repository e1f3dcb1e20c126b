// Where a packet's time goes between the kernel and swd's transmit, for
// measurement only (bench/e2e/probe.ts): with SWD_RX_TRACE=<dir> in the
// environment, each PMD thread records, per pollPort() call that found
// packets, the kernel's receive time of its first packet (the ring frame's
// tp_sec/tp_nsec), when poll(2) returned, when the thread started reading,
// when the read was done, the first conntrack call's start and the last
// one's end, the first transmit kick's start and the last one's end, and
// when it was done — all CLOCK_REALTIME microseconds — and writes them to
// <dir>/pmd-<thread>.f64 (Float64 records of REC_WORDS) now and then.
// Off (the default) it costs one boolean test per batch and per flush.
//
// One instance per thread (module state); not shared.

import { appendFileSync, writeFileSync } from 'node:fs';
import { GCProfiler } from 'node:v8';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { realtimeUs } from '../native/native.ts';

/**
 * port, packets, kernel rx, poll(2) returned (0: no sleep before), start, first kick start, last kick end, end,
 * read done, first conntrack start, last conntrack end (0: none).
 */
export const REC_WORDS = 11;
const MAX_RECS = 100_000;

const dir = process.env.SWD_RX_TRACE;

export const rxTrace = {
  on: dir !== undefined && dir !== '',
  /** Kernel receive time of the first packet read since begin() (0: none yet). */
  kernelUs: 0,
  kickStartUs: 0,
  kickEndUs: 0,
  readUs: 0,
  ctStartUs: 0,
  ctEndUs: 0,
};

const recs = rxTrace.on ? new Float64Array(MAX_RECS * REC_WORDS) : new Float64Array(0);
let n = 0;
let written = 0;
let startUs = 0;
/** The thread's garbage collections, listed in <dir>/gc-<pid>-<thread>.jsonl at each write. */
const gc = rxTrace.on ? new GCProfiler() : null;
gc?.start();

/**
 * CLOCK_REALTIME microseconds from performance.now() (a cheap call, where a
 * native clock_gettime through koffi costs microseconds when cold and so
 * inflated what it measured): its offset from the real-time clock is taken
 * again at each write, about once a second.
 */
let offsetUs = clockOffsetUs();

/** realtime − performance.now(), µs: of 5 tries, the one bracketed most tightly. */
function clockOffsetUs(): number {
  let best = Infinity;
  let off = 0;
  for (let i = 0; i < 5; i++) {
    const a = performance.now() * 1000;
    const r = realtimeUs();
    const b = performance.now() * 1000;
    if (b - a < best) {
      best = b - a;
      off = r - (a + b) / 2;
    }
  }
  return off;
}

export function traceNow(): number {
  return performance.now() * 1000 + offsetUs;
}

export function traceBegin(): void {
  rxTrace.kernelUs = 0;
  rxTrace.kickStartUs = 0;
  rxTrace.kickEndUs = 0;
  rxTrace.readUs = 0;
  rxTrace.ctStartUs = 0;
  rxTrace.ctEndUs = 0;
  startUs = traceNow();
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
  recs[o + 7] = traceNow();
  recs[o + 8] = rxTrace.readUs;
  recs[o + 9] = rxTrace.ctStartUs;
  recs[o + 10] = rxTrace.ctEndUs;
}

/** Write what was recorded (when anything new was). */
export function traceWrite(): void {
  if (!rxTrace.on) return;
  offsetUs = clockOffsetUs();
  const g = gc!.stop() as { statistics?: { gcType: string; cost: number }[] } | undefined;
  gc!.start();
  if (g?.statistics?.length) {
    appendFileSync(join(dir!, `gc-${process.pid}-${threadId}.jsonl`), g.statistics.map((e) => `{"type":"${e.gcType}","us":${e.cost},"s":${(performance.now() / 1000).toFixed(1)}}\n`).join(''));
  }
  if (n === written) return;
  written = n;
  writeFileSync(join(dir!, `pmd-${process.pid}-${threadId}.f64`), recs.subarray(0, n * REC_WORDS));
}

/** A conntrack hook whose execute() is timed into the record (the others pass through). */
export function tracedHook<H extends { execute: (...a: never[]) => void }>(h: H): H {
  if (!rxTrace.on) return h;
  const inner = h.execute;
  const execute = (...a: Parameters<H['execute']>): void => {
    if (rxTrace.ctStartUs === 0) rxTrace.ctStartUs = traceNow();
    (inner as (...x: unknown[]) => void)(...a);
    rxTrace.ctEndUs = traceNow();
  };
  return { ...h, execute };
}
