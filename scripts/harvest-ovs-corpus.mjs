#!/usr/bin/env node
// Harvests flow lines from Open vSwitch's own sources (the tree of the
// version of Debian's ovs-ofctl, v3.1.0): add-flow arguments, flows*.txt
// data blocks, add-flows heredocs, bundle-file flows, echo'ed flow files and
// parse-flow arguments of tests/*.at (and the flows of its dump-flows
// expected output, statistics removed), add-flow commands in Documentation/ and in the
// man pages. m4 quoting is undone; lines that need the shell ($var,
// backticks) are dropped; duplicates are dropped. Each line is then given to
// the installed `ovs-ofctl parse-flows` alone, and its answer is recorded:
//
//   test/ofproto/fixtures/ovs-corpus.jsonl   {"src": "tests/ofproto.at", "flow": "...", "ovs": "..."}
//
// where "ovs" is parse-flows' stdout, or "error: MESSAGE" (MESSAGE without
// the "ovs-ofctl: FILE:LINE: " prefix; for a flow OVS could not decode,
// the OpenFlow error name, e.g. "error: OFPBMC_BAD_PREREQ").
//
// Usage: node scripts/harvest-ovs-corpus.mjs OVS_SOURCE_TREE
//   (e.g. git -C ovs archive v3.1.0 tests Documentation utilities | tar -x -C /tmp/ovs-3.1.0)

import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { ovsParseFlow } from './ovs-parse-flow.mjs';

const root = process.argv[2];
if (!root) {
  console.error('usage: harvest-ovs-corpus.mjs OVS_SOURCE_TREE');
  process.exit(2);
}
const OUT = resolve(import.meta.dirname, '../test/ofproto/fixtures/ovs-corpus.jsonl');

const unquoteM4 = (s) => s.replace(/@<:@/g, '[').replace(/@:>@/g, ']').replace(/\[\[/g, '[').replace(/\]\]/g, ']');

/** The argument after `add-flow BR` on a command line: '...', "..." or one word. */
function addFlowArg(line) {
  const m = /ovs-ofctl\b.*?\badd-flow\s+(?:--\S+\s+)*\S+\s+(?:--\S+\s+)*('([^']*)'|"([^"]*)"|([^\s'"\])]+))/.exec(line);
  if (!m) return null;
  return m[2] ?? m[3] ?? m[4];
}

/** A dump-flows line without its statistics (and with ", " as ","), which is a flow line. */
function stripStats(l) {
  return l.replace(/\b(duration=[\d.]+s|n_packets=\d+|n_bytes=\d+|idle_age=\d+|hard_age=\d+|importance=\d+), /g, '').replace(/, /g, ',').trim();
}

function* walk(dir) {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) yield* walk(p);
    else yield p;
  }
}

const seen = new Set();
const out = [];
function take(src, raw) {
  const flow = raw.replace(/\s+dnl\b.*$/, '').trim();
  if (!flow || flow.startsWith('#') || /^dnl\b/.test(flow)) return;
  if (/[$`\\]/.test(flow)) return; // needs the shell
  if (flow === '-' || /\.txt$/.test(flow)) return; // a file name, not a flow
  if (seen.has(flow)) return;
  seen.add(flow);
  out.push({ src, flow });
}

// tests/*.at: add-flow arguments and flow-file data blocks.
for (const f of readdirSync(join(root, 'tests')).filter((x) => x.endsWith('.at')).sort()) {
  const src = `tests/${f}`;
  const lines = readFileSync(join(root, 'tests', f), 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    const data = /AT_DATA\(\[(flows[^\]]*\.txt)\], \[(.*)$/.exec(l);
    if (data) {
      const body = [];
      if (data[2] && !/^dnl\b/.test(data[2])) body.push(data[2].replace(/\]\)\s*$/, ''));
      if (!/\]\)\s*$/.test(l)) {
        while (++i < lines.length && !/^\]\)\s*$/.test(lines[i])) {
          const x = lines[i];
          body.push(x.replace(/\]\)\s*$/, ''));
          if (/\]\)\s*$/.test(x)) break;
        }
      }
      for (const b of body) take(src, unquoteM4(b));
      continue;
    }
    // add-flows BR - <<EOF ... EOF
    if (/ovs-ofctl\b.*\badd-flows\s+\S+\s+-\s*<<\s*'?EOF'?/.test(l)) {
      while (++i < lines.length && !/^\s*EOF\s*$/.test(lines[i])) take(src, unquoteM4(lines[i]));
      continue;
    }
    // bundle files: "flow [COMMAND] FLOW" lines
    const bundle = /^flow (.*)$/.exec(l);
    if (bundle) {
      take(src, unquoteM4(bundle[1]));
      continue;
    }
    // echo "FLOW" > flows.txt, and ovs-ofctl parse-flow "FLOW"
    const echo = /echo ["']([^"']*)["']\)?\s*>>?\s*flows[^\s]*\.txt/.exec(l) ?? /ovs-ofctl\b.*?\bparse-flow\s+["']([^"']*)["']/.exec(l);
    if (echo) take(src, unquoteM4(echo[1]));
    const arg = addFlowArg(l);
    if (arg !== null) take(src, unquoteM4(arg));
    // Flows as dump-flows printed them in expected output (" table=1, priority=5,arp actions=NORMAL"),
    // statistics removed: OVS's own normalised text, itself a flow line.
    if (/^ [a-z].* actions=/.test(l) && !/\b(echo|ovs-ofctl|AT_CHECK)\b/.test(l)) {
      take(`${src} (dump-flows output)`, stripStats(unquoteM4(l)));
    }
  }
}

// Documentation and man pages: add-flow commands.
for (const dir of ['Documentation', 'utilities']) {
  for (const p of walk(join(root, dir))) {
    if (!/\.(rst|in|txt)$/.test(p)) continue;
    const src = relative(root, p);
    // Shell continuation lines are joined; heredocs after add-flows are flow files.
    const lines = readFileSync(p, 'utf8').replace(/\\-/g, '-').replace(/\\\n\s*/g, ' ').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i];
      if (/ovs-ofctl\b.*\badd-flows\s+\S+\s+-\s*<<\s*'?EOF'?/.test(l)) {
        while (++i < lines.length && !/^\s*EOF\s*$/.test(lines[i])) take(src, lines[i]);
        continue;
      }
      const arg = addFlowArg(l);
      if (arg !== null) take(src, arg);
      else if (/^\s+(cookie=|table=|priority=|in_port=|ip,|arp,|tcp,|udp,).* actions=/.test(l) && !/\bovs-|\$/.test(l)) {
        take(`${src} (dump-flows output)`, stripStats(l));
      }
    }
  }
}

// Ask ovs-ofctl about each line alone.
const tmp = mkdtempSync(join(tmpdir(), 'ovs-corpus-'));
const file = join(tmp, 'flow.txt');
for (const e of out) {
  e.ovs = ovsParseFlow(file, e.flow);
}
rmSync(tmp, { recursive: true, force: true });
writeFileSync(OUT, out.map((e) => JSON.stringify(e)).join('\n') + '\n');
const ok = out.filter((e) => !e.ovs.startsWith('error: ')).length;
console.log(`${out.length} distinct flow lines (${ok} accepted by ovs-ofctl, ${out.length - ok} refused) -> ${OUT}`);
