// bench/cold-after-sleep.ts: what a sleep costs the next few microseconds
// of work on this machine, with no swd in it. After each sleep of GAP ms it
// times one clock read (process.hrtime.bigint(), then Date.now()), 64
// cache lines of one buffer read in order, and keepWarm()'s synthetic echo
// through a PMD thread's private datapath (src/datapath/pmd/self-warm.ts);
// medians of ROUNDS sleeps per gap. On a VM whose caches are taken by
// others while it sleeps, everything after a 10 ms sleep is several times
// slower than after none: that is what a request after an idle pause pays
// in swd's PMD thread (bench/e2e/probe.ts PROBE_TRACE=1 PROBE_GAP_MS=N).
//
//   node --import tsx bench/cold-after-sleep.ts [GAP_MS ...]   (default 0 1 2 5 10 20)

import { keepWarm, selfWarm } from '../src/datapath/pmd/self-warm.ts';

const ROUNDS = Number(process.env.COLD_ROUNDS ?? 200);
const gaps = process.argv.slice(2).map(Number);
const sab = new Int32Array(new SharedArrayBuffer(4));
const lines = new Uint8Array(1 << 20).fill(1);

function read64Lines(): number {
  let s = 0;
  for (let i = 0; i < 64; i++) s += lines[i * 64];
  return s;
}

const median = (a: number[]): number => a.sort((x, y) => x - y)[a.length >> 1] * 1000;

selfWarm(250);
for (let i = 0; i < 20_000; i++) read64Lines();
console.log(`# cold after sleep: medians of ${ROUNDS} sleeps per gap, µs`);
console.log('| sleep | hrtime.bigint() | Date.now() | 64 cache lines | keepWarm() echo + reply |');
console.log('| ---: | ---: | ---: | ---: | ---: |');
for (const gap of gaps.length > 0 ? gaps : [0, 1, 2, 5, 10, 20]) {
  const r: number[][] = [[], [], [], []];
  for (let i = 0; i < ROUNDS; i++) {
    if (gap > 0) Atomics.wait(sab, 0, 0, gap);
    const a = performance.now();
    process.hrtime.bigint();
    const b = performance.now();
    Date.now();
    const c = performance.now();
    read64Lines();
    const d = performance.now();
    if (gap > 0) Atomics.wait(sab, 0, 0, gap);
    const e = performance.now();
    keepWarm();
    const f = performance.now();
    r[0].push(b - a); r[1].push(c - b); r[2].push(d - c); r[3].push(f - e);
  }
  console.log(`| ${gap} ms | ${r.map((x) => median(x).toFixed(2)).join(' | ')} |`);
}
