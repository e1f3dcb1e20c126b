// Conntrack scenario scripts shared by the end-to-end test (run through swd
// and swctl) and the capture tool that records the expected lines from a
// real OVS (fixtures/conntrack/capture.ts). A script is a flow table plus
// steps; each step is a command and the lines it printed on OVS:
//
//   # comment
//   flows:
//   table=0,priority=1,actions=drop
//   (blank line ends the flow table)
//   > inject p1 in_port(1),eth(...),...      packet text or hex, as netdev-dummy/receive
//   > dump-conntrack -m
//   udp,orig=(...),...                       what OVS printed, normalised
//
// Commands are the dpctl ones swctl mirrors: inject, dump-conntrack,
// dump-dp-flows, del-dp-flows, flush-conntrack, ct-stats-show,
// ct-set-limits, ct-get-limits, ct-del-limits.

import { readFileSync } from 'node:fs';

export interface Step {
  /** The command line after '> ', split into command and arguments. */
  cmd: string;
  args: string[];
  /** The expected output lines (normalised). */
  out: string[];
  /** Comment lines written just before the step. */
  notes: string[];
}

export interface Script {
  comments: string[];
  flows: string[];
  steps: Step[];
}

/** Split a command line: words, with '...' quoting for flow text. */
function splitArgs(line: string): string[] {
  const out: string[] = [];
  const re = /'([^']*)'|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] ?? m[2]);
  return out;
}

export function parseScript(text: string): Script {
  const s: Script = { comments: [], flows: [], steps: [] };
  let mode: 'top' | 'flows' | 'steps' = 'top';
  let notes: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) {
      if (mode === 'top') s.comments.push(line);
      else if (mode === 'steps') notes.push(line);
      continue;
    }
    if (mode === 'top' && line === 'flows:') {
      mode = 'flows';
      continue;
    }
    if (mode === 'flows') {
      if (line.trim() === '') mode = 'steps';
      else s.flows.push(line);
      continue;
    }
    if (line.startsWith('> ')) {
      const [cmd, ...args] = splitArgs(line.slice(2));
      s.steps.push({ cmd, args, out: [], notes });
      notes = [];
      mode = 'steps';
    } else if (line.trim() !== '' && s.steps.length > 0) {
      s.steps[s.steps.length - 1].out.push(line);
    }
  }
  return s;
}

export function readScript(path: string): Script {
  return parseScript(readFileSync(path, 'utf8'));
}

function quote(a: string): string {
  return /[\s()']/.test(a) || a.includes(',') ? `'${a}'` : a;
}

export function formatScript(s: Script): string {
  const lines = [...s.comments, 'flows:', ...s.flows, ''];
  for (const st of s.steps) {
    lines.push(...st.notes);
    lines.push(`> ${[st.cmd, ...st.args.map(quote)].join(' ')}`);
    lines.push(...st.out);
  }
  return lines.join('\n') + '\n';
}

// ------------------------------------------------------------ normalising
// Only what legitimately differs between two runs (or two implementations
// with the same behaviour): times, connection ids, timeouts, the order of
// hash-table dumps and the values of recirculation ids.

/** dump-conntrack: id and timeout masked, lines sorted (OVS dumps in hash order). */
export function normConntrack(lines: string[]): string[] {
  return lines
    .map((l) => l.replace(/\),id=\d+/, '),id=X').replace(/\btimeout=\d+/, 'timeout=X'))
    .sort();
}

/**
 * dump-dp-flows: used: masked, lines sorted with recirc ids masked, then the
 * ids renumbered 0x1, 0x2, ... in order of appearance.
 */
export function normDpFlows(lines: string[]): string[] {
  const RE = /(recirc_id|recirc)\((0x[0-9a-f]+)\)/g;
  const rows = lines
    .filter((l) => !l.startsWith('flow-dump from'))
    .map((l) => l.replace(/used:[0-9.]+s/, 'used:X'))
    .map((l) => ({ l, key: l.replace(RE, '$1(N)') }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const ids = new Map<string, string>();
  return rows.map(({ l }) =>
    l.replace(RE, (_m, what: string, id: string) => {
      let n = ids.get(id);
      if (n === undefined) {
        n = `0x${(ids.size + 1).toString(16)}`;
        ids.set(id, n);
      }
      return `${what}(${n})`;
    }),
  );
}

export function normalise(cmd: string, lines: string[]): string[] {
  if (cmd === 'dump-conntrack') return normConntrack(lines);
  if (cmd === 'dump-dp-flows') return normDpFlows(lines);
  return lines;
}
