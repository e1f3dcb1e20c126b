// Writes test/ofproto/fixtures/ovs-corpus.known-differences.jsonl: every
// corpus line on which swd's parse-flows and ovs-ofctl's disagree, with the
// reason (the corpus and its recorded variants), and prints the agreement
// figures (overall and per source file).
// Reasons come from the kind of difference (an action or field swd does not
// parse yet, a refusal where OVS accepts, ...); review the output before
// committing it. Usage: node --import tsx scripts/ovs-corpus-known.ts

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agrees, FIX, loadCorpus, loadVariants, swdAnswer } from '../test/ofproto/ovs-corpus.ts';

const PART3 = ['learn', 'conjunction', 'clone', 'exit', 'multipath', 'bundle', 'bundle_load', 'check_pkt_larger', 'fin_timeout',
  'set_queue', 'pop_queue', 'enqueue', 'sample', 'push_mpls', 'pop_mpls', 'encap', 'decap', 'meter', 'write_actions',
  'set_mpls_label', 'set_mpls_tc', 'set_mpls_ttl', 'dec_mpls_ttl', 'resubmit', 'set_tunnel', 'set_tunnel64', 'stack_push', 'stack_pop',
  'push', 'pop', 'controller', 'output', 'debug_recirc', 'debug_slow', 'set_field', 'ct', 'nat', 'mod_nw_ecn', 'delete_field'];

function reason(ovs: string, swd: string): string {
  const act = /^error: unknown action '([a-z_0-9]+)'/.exec(swd);
  if (act && !ovs.startsWith('error: ')) {
    return PART3.includes(act[1])
      ? `action ${act[1]} is not parsed by swd yet (issue 13 part 3: learn/conjunction/clone/multipath/bundle/meters/MPLS/NSH actions)`
      : `action ${act[1]} is not parsed by swd yet`;
  }
  const field = /^error: unknown field '([A-Za-z_0-9]+)'/.exec(swd);
  if (field && !ovs.startsWith('error: ')) return `field ${field[1]} is not known to swd yet`;
  if (swd.startsWith('error: ') && !ovs.startsWith('error: ')) return `swd refuses a line ovs-ofctl accepts: ${swd.slice(7, 140)}`;
  if (!swd.startsWith('error: ') && ovs.startsWith('error: ')) return `swd accepts a line ovs-ofctl refuses (${ovs.slice(7, 120)})`;
  if (swd.startsWith('error: ')) return `both refuse, but swd's message lacks OVS's error code (${ovs.slice(7, 100)})`;
  const o = ovs.split('\n'), s = swd.split('\n');
  const i = o.findIndex((l, k) => l !== s[k]);
  if (i < 2) return `swd chooses other OpenFlow protocols: ovs "${o[i]}", swd "${s[i]}"`;
  return `swd prints the flow differently: ovs "${o[i]}", swd "${s[i]}"`;
}

const corpus = loadCorpus();
const rows: string[] = [];
const perSrc = new Map<string, [number, number]>();
let ok = 0;
for (const c of corpus) {
  const swd = swdAnswer(c.flow);
  const src = c.src.replace(/ \(dump-flows output\)$/, '');
  const t = perSrc.get(src) ?? [0, 0];
  t[1]++;
  if (agrees(c.ovs, swd)) {
    ok++;
    t[0]++;
  } else rows.push(JSON.stringify({ flow: c.flow, src: c.src, reason: reason(c.ovs, swd) }));
  perSrc.set(src, t);
}
let vok = 0;
const variants = loadVariants();
for (const c of variants) {
  const swd = swdAnswer(c.flow);
  if (agrees(c.ovs, swd)) vok++;
  else rows.push(JSON.stringify({ flow: c.flow, src: c.src, reason: reason(c.ovs, swd) }));
}
writeFileSync(join(FIX, 'ovs-corpus.known-differences.jsonl'), rows.join('\n') + (rows.length ? '\n' : ''));
console.log(`agree: ${ok}/${corpus.length} (${((100 * ok) / corpus.length).toFixed(1)} %)`);
console.log(`variants agree: ${vok}/${variants.length}`);
for (const [src, [a, n]] of [...perSrc].sort((x, y) => y[1][1] - x[1][1])) console.log(`| ${src} | ${a} / ${n} |`);
