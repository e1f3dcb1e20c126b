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
//   - "variant: mix"          1-4 match fields and 1-4 actions of random lines;
//   - "variant: written"      lines written for a rule the corpus says little about
//                             (masked set_field keeps its value, actset_output,
//                             writes into read-only fields).
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

// Written by hand (after the random ones, which the seed keeps as they were).
const WRITTEN = [
  // A masked set_field keeps the value written: OpenFlow 1.0's mod_* shows it whole, a load only the masked bits.
  'ip,actions=set_field:10.0.0.1/255.0.0.0->ip_dst',
  'ip,actions=set_field:10.1.2.3/16->ip_src,output:2',
  'actions=set_field:00:11:22:33:44:55/ff:ff:00:00:00:00->eth_dst',
  'actions=set_field:00:11:22:33:44:55/00:00:00:ff:ff:ff->eth_src',
  'actions=set_field:0x1234/0xff->reg0',
  'actions=set_field:0x12345678/0xffff0000->reg5',
  'actions=set_field:0x123456789/0xff00ff00->metadata',
  'actions=set_field:0x1/0x1->xxreg0',
  'ipv6,actions=set_field:2001:db8::1/64->ipv6_src',
  'ipv6,actions=set_field:2001:db8::1/ffff::->ipv6_dst',
  'tcp,actions=set_field:0x1234/0xff00->tcp_dst',
  'udp,actions=set_field:0x1234/0x00ff->udp_src',
  'actions=set_field:0x1234/0x0fff->vlan_tci',
  'actions=set_field:0x1234/0xff00->pkt_mark',
  'ip,actions=ct(commit,exec(set_field:0x13/0x3->ct_mark))',
  'ip,actions=ct(commit,exec(set_field:0x13/0xf0->ct_label))',
  'actions=set_field:0x13/0xf0->tun_id',
  'actions=set_field:0x13/0xf0->tun_metadata0',
  'actions=set_field:0x10/0xf0->tun_metadata0',
  'ip,actions=clone(set_field:10.0.0.1/8->ip_dst)',
  // actset_output: matched, read, never written.
  'actset_output=unset,actions=drop',
  'actset_output=LOCAL,actions=output:OXM_OF_ACTSET_OUTPUT[0..15]',
  'actset_output=2,actions=move:ONFOXM_ET_ACTSET_OUTPUT[0..31]->OXM_OF_PKT_REG0[0..31]',
  'actions=push:OXM_OF_ACTSET_OUTPUT[]',
  'actions=set_field:1->actset_output',
  'actions=move:reg0[]->OXM_OF_ACTSET_OUTPUT[]',
  // Read-only destinations: move, pop, learn and bundle_load are checked as they are parsed, load when decoded.
  'actions=move:reg0[0..15]->NXM_OF_ETH_TYPE[]',
  'ip,actions=move:reg0[0..7]->NXM_OF_IP_PROTO[]',
  'actions=pop:NXM_NX_CONJ_ID[]',
  'actions=learn(load:1->NXM_NX_CT_STATE[0])',
  'actions=bundle_load(eth_src,0,hrw,ofport,NXM_NX_CT_STATE[0..7],members:1)',
  'actions=set_field:0x1->conj_id',
  'actions=load:1->NXM_NX_CT_STATE[0]',
  'actions=load:0x800->NXM_OF_ETH_TYPE[]',
  'ip,actions=load:6->NXM_OF_IP_PROTO[]',
  'actions=load:1->OXM_OF_ACTSET_OUTPUT[]',
  // vlan_vid's mask: OpenFlow 1.0 sends set_vlan_vid with the id as written, the mask dropped.
  'vlan_tci=0x1000/0x1000,actions=set_field:0x1234/0xff00->vlan_vid',
  'vlan_tci=0x1000/0x1000,actions=set_field:0x1005/0xfff->vlan_vid',
  'dl_vlan=5,actions=set_field:0x0033/0x00ff->vlan_vid,output:1',
  'actions=set_field:0x1234/0xff00->vlan_vid',
];
for (const flow of WRITTEN) add('variant: written', flow);

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
