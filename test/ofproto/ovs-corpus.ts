// The corpus of OVS's own flow lines (fixtures/ovs-corpus.jsonl, harvested
// and answered by Debian's ovs-ofctl 3.1 through
// scripts/harvest-ovs-corpus.mjs) and how swd's parse-flows answers each
// line: the same text, or a refusal where OVS refuses (naming OVS's error
// code where OVS printed one).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ParseError } from '../../src/ofproto/errors.ts';
import { formatParseFlows } from '../../src/ofproto/parse-flows-cmd.ts';
import { parseFlowFile } from '../../src/ofproto/parse-flow.ts';

export const FIX = join(import.meta.dirname, 'fixtures');

export interface CorpusLine {
  src: string;
  flow: string;
  /** parse-flows' stdout, or "error: MESSAGE". */
  ovs: string;
}

export function loadCorpus(): CorpusLine[] {
  return readFileSync(join(FIX, 'ovs-corpus.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as CorpusLine);
}

/**
 * Variants of the corpus lines (a field or an action dropped, one line's
 * match with another's actions, random mixes), answered by the same
 * ovs-ofctl (scripts/record-ovs-variants.mjs): swd's rules measured beyond
 * the harvested lines.
 */
export function loadVariants(): CorpusLine[] {
  return readFileSync(join(FIX, 'ovs-variants.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as CorpusLine);
}

/** Listed differences: flow -> reason. */
export function loadKnown(): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of readFileSync(join(FIX, 'ovs-corpus.known-differences.jsonl'), 'utf8').split('\n').filter(Boolean)) {
    const { flow, reason } = JSON.parse(l) as { flow: string; reason: string };
    m.set(flow, reason);
  }
  return m;
}

/** swd's answer, in the corpus's terms. */
export function swdAnswer(flow: string): string {
  try {
    return formatParseFlows(parseFlowFile(flow + '\n', 'flow.txt', 'add'));
  } catch (e) {
    if (e instanceof ParseError) return `error: ${e.detail}`;
    return `crash: ${(e as Error).stack}`;
  }
}

/** Whether swd's answer agrees with OVS's. */
export function agrees(ovs: string, swd: string): boolean {
  if (!ovs.startsWith('error: ')) return swd === ovs;
  if (!swd.startsWith('error: ')) return false;
  const code = /\b(OFP[A-Z]+_[A-Z_]+)\b/.exec(ovs);
  return code === null || swd.includes(code[1]);
}
