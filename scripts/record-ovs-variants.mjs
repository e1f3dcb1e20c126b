#!/usr/bin/env node
// Variants of the corpus lines (test/ofproto/fixtures/ovs-corpus.jsonl),
// answered by the installed `ovs-ofctl parse-flows` (Debian's 3.1) as the
// corpus is: lines OVS's sources do not have, so that swd's parse-flows is
// measured on its rules (usable protocols, prerequisites, action checks,
// field order) rather than on the harvested lines alone. Generated with a
// fixed seed, so the file changes only when the corpus does:
//
//   - "variant: drop field"   a corpus line without one of its match fields;
//   - "variant: drop action"  a corpus line without one of its actions;
//   - "variant: cross"        one line's match with another line's actions;
//   - "variant: mix"          1-4 match fields and 1-4 actions of random lines.
//
// Lines with port names (refused offline alike by both) are left out.
//
//   test/ofproto/fixtures/ovs-variants.jsonl   {"src": "variant: cross", "flow": "...", "ovs": "..."}
//
// Usage: node scripts/record-ovs-variants.mjs

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ovsParseFlow } from './ovs-parse-flow.mjs';

const FIX = resolve(import.meta.dirname, '../test/ofproto/fixtures');
const corpus = readFileSync(join(FIX, 'ovs-corpus.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

// mulberry32: a small seeded generator, so that the variants are the same on every run.
let seed = 0x5eed13;
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (a) => a[Math.floor(rand() * a.length)];

/** Split at top-level commas. */
function topLevel(s) {
  const out = [];
  let depth = 0, cur = '';
  for (const c of s) {
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  out.push(cur.trim());
  return out.filter(Boolean);
}

/** [match fields, actions] of a flow line, or null. */
function split(flow) {
  const i = flow.indexOf('action');
  if (i < 0) return null;
  const eq = flow.indexOf('=', i);
  if (eq < 0) return null;
  return [flow.slice(0, i).split(/[\s,]+/).filter(Boolean), topLevel(flow.slice(eq + 1))];
}

const parts = corpus.map((c) => split(c.flow)).filter((p) => p !== null);
const fields = [...new Set(parts.flatMap((p) => p[0]))].sort();
const actions = [...new Set(parts.flatMap((p) => p[1]))].sort();
const line = (m, a) => `${m.join(',')}${m.length ? ',' : ''}actions=${a.join(',')}`;
const known = new Set(corpus.map((c) => c.flow));
const out = new Map();
const add = (src, flow) => {
  if (!known.has(flow) && !out.has(flow)) out.set(flow, { src, flow });
};

for (let n = 0; n < 500; n++) {
  const [m, a] = pick(parts);
  if (m.length > 1) {
    const k = Math.floor(rand() * m.length);
    add('variant: drop field', line(m.filter((_, i) => i !== k), a));
  }
  if (a.length > 1) {
    const k = Math.floor(rand() * a.length);
    add('variant: drop action', line(m, a.filter((_, i) => i !== k)));
  }
}
for (let n = 0; n < 600; n++) add('variant: cross', line(pick(parts)[0], pick(parts)[1]));
for (let n = 0; n < 900; n++) {
  const m = [...new Set(Array.from({ length: 1 + Math.floor(rand() * 4) }, () => pick(fields)))];
  const a = [...new Set(Array.from({ length: 1 + Math.floor(rand() * 4) }, () => pick(actions)))];
  add('variant: mix', line(m, a));
}

const tmp = mkdtempSync(join(tmpdir(), 'ovs-variants-'));
const file = join(tmp, 'flow.txt');
const rows = [];
for (const e of out.values()) {
  e.ovs = ovsParseFlow(file, e.flow);
  // Port names are refused offline by both; they measure nothing.
  if (/invalid or unknown port|unknown port/.test(e.ovs)) continue;
  rows.push(e);
}
rmSync(tmp, { recursive: true, force: true });
writeFileSync(join(FIX, 'ovs-variants.jsonl'), rows.map((e) => JSON.stringify(e)).join('\n') + '\n');
const ok = rows.filter((e) => !e.ovs.startsWith('error: ')).length;
console.log(`${rows.length} variant lines (${ok} accepted by ovs-ofctl, ${rows.length - ok} refused) -> ${join(FIX, 'ovs-variants.jsonl')}`);
