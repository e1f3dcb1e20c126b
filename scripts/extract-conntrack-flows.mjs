#!/usr/bin/env node
// Extracts the flow tables of OVS's `conntrack - *` system tests
// (tests/system-traffic.at) into test/ofproto/fixtures/conntrack/, one
// NN-name.flows per test (m4 quoting undone), with the normalised dump that
// Debian's `ovs-ofctl parse-flows` gives for it in NN-name.expected.
// Usage: node scripts/extract-conntrack-flows.mjs path/to/system-traffic.at
// Port names are numbered 1, 2, ... in order of appearance, as the test's
// bridge numbers them (`# ports:` header); parse-flows itself refuses names.
import { readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const src = readFileSync(process.argv[2], 'utf8').split('\n');
const out = resolve(import.meta.dirname, '../test/ofproto/fixtures/conntrack');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const unquote = (s) => s.replace(/\[\[/g, '[').replace(/\]\]/g, ']').replace(/@<:@/g, '[').replace(/@:>@/g, ']');
let test = null;
const tests = [];
for (let i = 0; i < src.length; i++) {
  const l = src[i];
  const setup = /^AT_SETUP\(\[(.*)\]\)/.exec(l);
  if (setup) {
    test = setup[1].startsWith('conntrack - ') ? { name: setup[1], lines: [] } : null;
    if (test) tests.push(test);
    continue;
  }
  if (!test) continue;
  const data = /^AT_DATA\(\[flows\.txt\], \[(.*)$/.exec(l);
  if (data) {
    let body = data[1];
    const lines = [];
    if (body) lines.push(body);
    while (!/\]\)\s*$/.test(src[i]) || i === src.indexOf(l)) {
      i++;
      if (/^\]\)\s*$/.test(src[i])) break;
      lines.push(src[i]);
    }
    for (const x of lines) if (!/^dnl\b/.test(x)) test.lines.push(unquote(x).replace(/\s+dnl\b.*$/, ''));
    continue;
  }
  const add = /ovs-ofctl (?:-O \S+ )?add-flow br0 ["'](.*)["']\]\)/.exec(l);
  if (add) test.lines.push(unquote(add[1]));
  // Groups the flows send to are added first (NN-name.groups).
  const group = /ovs-ofctl (?:-O \S+ )?(?:-vwarn )?add-group br0 ["'](.*)["']\]\)/.exec(l);
  if (group) (test.groups ??= []).push(unquote(group[1]));
}
let n = 0;
for (const t of tests) {
  // Lines that need the shell ($var) cannot be taken as they are.
  if (!t.lines.length || t.lines.some((x) => x.includes('$'))) continue;
  const slug = t.name.slice('conntrack - '.length).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  const base = join(out, `${String(++n).padStart(2, '0')}-${slug}`);
  // Port names (in_port=ovs-p0, output:ovs-p1, a bare ovs-p1 in actions) get the numbers 1, 2, ...
  // in order of appearance; the header records them so that the test creates the same ports.
  const names = [];
  const nameRe = /(in_port=|output:|resubmit\(|[=,]\s*)(ovs-[a-z0-9-]+|p[0-9])(?=[,\s)]|$)/gm;
  for (const l of t.lines) for (const m of l.matchAll(nameRe)) if (!names.includes(m[2])) names.push(m[2]);
  const ports = names.length ? `# ports: ${names.map((x, i) => `${x}=${i + 1}`).join(' ')}\n` : '';
  const text = `# ${t.name}\n${ports}${t.lines.join('\n')}\n`;
  writeFileSync(`${base}.flows`, text);
  if (t.groups) writeFileSync(`${base}.groups`, `${t.groups.join('\n')}\n`);
  // ovs-ofctl parse-flows refuses port names: give it the numbers.
  const numbered = text.replace(nameRe, (all, k, x) => (names.includes(x) ? `${k}${names.indexOf(x) + 1}` : all));
  writeFileSync('/tmp/ct-flows.txt', numbered);
  const r = spawnSync('ovs-ofctl', ['parse-flows', '/tmp/ct-flows.txt'], { encoding: 'utf8' });
  writeFileSync(`${base}.expected`, r.status === 0 ? r.stdout : `ERROR ${r.stderr.split('\n').filter((x) => x.startsWith('ovs-ofctl:')).join('\n')}\n`);
}
console.log(`${n} flow tables written to ${out}`);
