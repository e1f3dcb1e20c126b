// Huge pages against 4 KB pages for conntrack lookups, in one process:
// two tables of N connections built alike, one with the huge-page advice
// (conntrack/memory.ts) and one without, then rounds of random-order
// lookups through the datapath's ct() hook taking turns, so that load from
// elsewhere falls on both alike. Prints each variant's best and median
// round and their ratio.
// `node --import tsx bench/ct-pages.ts [N=3000000] [rounds=5] [lookups=1000000]`

import { lookupRate, newConns } from './conntrack.bench.ts';

const n = Number(process.argv[2] ?? 3_000_000);
const rounds = Number(process.argv[3] ?? 5);
const lookups = Number(process.argv[4] ?? 1_000_000);
const huge = newConns(n, true).ct;
const small = newConns(n, false).ct;
const warm = newConns(1000, true).ct;
lookupRate(warm, 1000, 1_000_000);
const base = lookupRate(warm, 1000, lookups);
const a: number[] = [];
const b: number[] = [];
for (let i = 0; i < rounds; i++) {
  a.push(lookupRate(huge, n, lookups));
  b.push(lookupRate(small, n, lookups));
}
const med = (x: number[]) => [...x].sort((p, q) => p - q)[x.length >> 1];
const f = (v: number) => Math.round(v).toLocaleString('en-US');
console.log(`table of 1,000: ${f(base)} lookups/s`);
console.log(`table of ${n.toLocaleString('en-US')}, huge pages: best ${f(Math.max(...a))}, median ${f(med(a))} lookups/s; cost x${(base / Math.max(...a)).toFixed(2)} of 1,000`);
console.log(`table of ${n.toLocaleString('en-US')}, 4 KB pages: best ${f(Math.max(...b))}, median ${f(med(b))} lookups/s; cost x${(base / Math.max(...b)).toFixed(2)} of 1,000`);
console.log(`huge / 4 KB: best ${(Math.max(...a) / Math.max(...b)).toFixed(2)}, median ${(med(a) / med(b)).toFixed(2)}`);
