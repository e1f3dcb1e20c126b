// Corpus fidelity: every flow line harvested from OVS's own sources at
// v3.1.0 (tests, documentation, man pages) gets from swd's parse-flows what
// Debian's `ovs-ofctl parse-flows` (3.1) gave it — the same text, or a
// refusal (with OVS's error code where OVS printed one). The lines that still
// differ are listed, each with its reason, in
// fixtures/ovs-corpus.known-differences.jsonl; this test fails when a line
// outside the list differs or a listed line starts to agree, so the list
// only shrinks (regenerate it with scripts/ovs-corpus-known.ts).

import { describe, expect, it } from 'vitest';
import { withPortNames } from '../../src/ofproto/field-text.ts';
import { formatFlow } from '../../src/ofproto/format-flow.ts';
import { parseFlowFile } from '../../src/ofproto/parse-flow.ts';
import { agrees, loadCorpus, loadKnown, loadVariants, swdAnswer } from './ovs-corpus.ts';

describe("OVS's own flow lines, as ovs-ofctl parse-flows answers them", () => {
  const corpus = loadCorpus();
  const known = loadKnown();
  const answers = corpus.map((c) => ({ ...c, swd: swdAnswer(c.flow) }));

  it('the corpus holds well over 2,000 distinct lines from tests, documentation and man pages', () => {
    expect(new Set(corpus.map((c) => c.flow)).size).toBe(corpus.length);
    expect(corpus.length).toBeGreaterThan(2000);
    expect(corpus.some((c) => c.src.startsWith('Documentation/'))).toBe(true);
    expect(corpus.some((c) => c.src.startsWith('utilities/'))).toBe(true);
  });

  it('swd never crashes on a line: it answers with a flow or a ParseError', () => {
    expect(answers.filter((a) => a.swd.startsWith('crash: ')).map((a) => a.flow)).toEqual([]);
  });

  it('every line outside the known-differences list agrees with ovs-ofctl', () => {
    const bad = answers.filter((a) => !known.has(a.flow) && !agrees(a.ovs, a.swd));
    expect(bad.map((a) => `${a.src}: ${a.flow}\n  ovs: ${a.ovs.trim()}\n  swd: ${a.swd.trim()}`)).toEqual([]);
  });

  it('every line a switch accepts dumps as text that reads back as the same flow (the database keeps flows as text)', () => {
    const forSwitch = (text: string) => withPortNames(new Map(), () => parseFlowFile(text, 'f', 'add'));
    let accepted = 0;
    const changed: string[] = [];
    for (const c of corpus) {
      let spec;
      try {
        spec = forSwitch(c.flow)[0];
      } catch {
        continue;
      }
      accepted++;
      const text = formatFlow(spec).trim();
      const again = formatFlow(forSwitch(text)[0]).trim();
      if (again !== text) changed.push(`${c.flow}\n  dumped: ${text}\n  reread: ${again}`);
    }
    expect(accepted).toBeGreaterThan(1400);
    expect(changed).toEqual([]);
  });

  it('every variant of the corpus lines outside the list agrees with ovs-ofctl too', () => {
    const variants = loadVariants().map((c) => ({ ...c, swd: swdAnswer(c.flow) }));
    expect(variants.length).toBeGreaterThan(1500);
    const bad = variants.filter((a) => !known.has(a.flow) && !agrees(a.ovs, a.swd));
    expect(bad.map((a) => `${a.src}: ${a.flow}\n  ovs: ${a.ovs.trim()}\n  swd: ${a.swd.trim()}`)).toEqual([]);
  });

  it('every listed line still differs (the list only shrinks) and has a reason', () => {
    const inCorpus = new Set([...corpus, ...loadVariants()].map((c) => c.flow));
    expect([...known.keys()].filter((f) => !inCorpus.has(f))).toEqual([]);
    const all = [...answers, ...loadVariants().map((c) => ({ ...c, swd: swdAnswer(c.flow) }))];
    expect(all.filter((a) => known.has(a.flow) && agrees(a.ovs, a.swd)).map((a) => a.flow)).toEqual([]);
    expect([...known.values()].filter((r) => r.trim().length < 10)).toEqual([]);
  });
});
