// Conformance scenarios: the text format shared by the runner (run.ts), its
// two drivers (drivers.ts) and the vitest file. One scenario per .scen file:
//
//   # What the scenario shows (the first comment line is its title).
//   # known-difference: why swd deliberately prints something else
//   ports: p1 p2 p3                          dummy ports, ofport = N of pN
//   groups:                                  (optional) ovs-ofctl add-group syntax,
//   group_id=1,type=select,bucket=output:2   one per line, added before the flows
//   (blank line ends the groups)
//   meters:                                  (optional) ovs-ofctl add-meter syntax,
//   meter=1 pktps bands=type=drop rate=1     one per line, added before groups and flows
//   (blank line ends the meters)
//   flows:
//   table=0,priority=1,actions=drop          ovs-ofctl syntax, one per line
//   (blank line ends the flow table)
//   # a note on the next step
//   > inject p1 'in_port(1),eth(...),...'    datapath-flow text or hex
//   tx p2 eth(src=..,dst=..),eth_type(0x0800),ipv4(...),udp(...) len=106 sha1=...
//   > dump-conntrack -m
//   udp,orig=(...),...                       the output lines, normalised
//
// After each step come the lines the command printed (an error as
// `error: <first line>`) and then one `tx PORT ...` line per packet a port
// sent during the step (tx.ts decodes them). The expected lines are what a
// real OVS printed (`npm run conformance -- --record`).
//
// A scenario marked `# known-difference:` records, for each step where swd
// prints something else on purpose, swd's own lines after OVS's, below a
// line `= swd` (an empty block: swd prints nothing there). swd must print
// exactly those; OVS is still compared with its own lines
// (`npm run conformance -- --record-swd` rewrites the swd blocks of the
// scenarios marked known-difference from swd's run).
//
// Commands: inject PORT PACKET, dump-conntrack [-m] [zone=N],
// dump-dp-flows, del-dp-flows, dump-flows [MATCH], trace FLOW,
// flush-conntrack [zone=N] [TUPLE], ct-stats-show, ct-set-limits ...,
// ct-get-limits ..., ct-del-limits ..., ct-get-nconns, ct-set-maxconns N,
// add-group GROUP, mod-group GROUP, del-groups [group_id=N], dump-groups [N],
// dump-group-stats [group_id=N], add-flow FLOW, replace-flows FLOW...,
// diff-flows FLOW... (each FLOW a line of the file given to the command),
// add-meter METER, mod-meter METER, del-meters [meter=N], dump-meters
// [meter=N], meter-stats [meter=N];
// over the wire (ofctl.ts): ofctl ARGS
// (ovs-ofctl -O OpenFlow13 ARGS against swd's br0.mgmt / OVS's br0),
// monitor ARGS, monitor-lines.

import { readFileSync } from 'node:fs';

export interface Step {
  cmd: string;
  args: string[];
  /** Expected lines: the command's output, then the `tx PORT ...` lines. */
  out: string[];
  /** Comment lines written just before the step. */
  notes: string[];
  /** swd's own expected lines where it differs from OVS on purpose (after `= swd`); null: swd prints `out`. */
  swdOut: string[] | null;
}

/** The line that starts a step's block of swd's own expected lines. */
export const SWD_MARK = '= swd';

export interface Scenario {
  comments: string[];
  ports: string[];
  /** Groups (add-group syntax), added before the flows that may send to them. */
  groups: string[];
  /** Meters (add-meter syntax), added before the groups and flows that may use them. */
  meters: string[];
  flows: string[];
  steps: Step[];
}

export const DEFAULT_PORTS = ['p1', 'p2', 'p3'];

export class ScenarioError extends Error {
  readonly code = 'ESCENARIO';
  constructor(readonly file: string, readonly line: number, message: string) {
    super(`${file}:${line}: ${message}`);
  }
}

/** Split a command line into words; '...' quotes flow text. */
export function splitArgs(line: string): string[] {
  const out: string[] = [];
  const re = /'([^']*)'|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] ?? m[2]);
  return out;
}

export function parseScenario(text: string, file = '(scenario)'): Scenario {
  const s: Scenario = { comments: [], ports: [...DEFAULT_PORTS], groups: [], meters: [], flows: [], steps: [] };
  let mode: 'top' | 'groups' | 'meters' | 'flows' | 'steps' = 'top';
  let notes: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.startsWith('#')) {
      if (mode === 'top') s.comments.push(line);
      else if (mode === 'steps') notes.push(line);
      return;
    }
    if (mode === 'top' && line.startsWith('ports:')) {
      s.ports = line.slice(6).trim().split(/\s+/).filter(Boolean);
      if (!s.ports.every((p) => /^p\d+$/.test(p))) throw new ScenarioError(file, i + 1, 'ports must be named pN');
      return;
    }
    if (mode === 'top' && line === 'groups:') {
      mode = 'groups';
      return;
    }
    if (mode === 'groups') {
      if (line.trim() === '') mode = 'top';
      else s.groups.push(line);
      return;
    }
    if (mode === 'top' && line === 'meters:') {
      mode = 'meters';
      return;
    }
    if (mode === 'meters') {
      if (line.trim() === '') mode = 'top';
      else s.meters.push(line);
      return;
    }
    if (mode === 'top' && line === 'flows:') {
      mode = 'flows';
      return;
    }
    if (mode === 'flows') {
      if (line.trim() === '') mode = 'steps';
      else s.flows.push(line);
      return;
    }
    if (line.startsWith('> ')) {
      const [cmd, ...args] = splitArgs(line.slice(2));
      s.steps.push({ cmd, args, out: [], notes, swdOut: null });
      notes = [];
      mode = 'steps';
    } else if (line === SWD_MARK) {
      const st = s.steps[s.steps.length - 1];
      if (!st || st.swdOut !== null) throw new ScenarioError(file, i + 1, `'${SWD_MARK}' must follow a step's expected lines, once`);
      st.swdOut = [];
    } else if (line.trim() !== '') {
      if (s.steps.length === 0) throw new ScenarioError(file, i + 1, `expected 'flows:' or a '> ' step, got '${line}'`);
      const st = s.steps[s.steps.length - 1];
      (st.swdOut ?? st.out).push(line);
    }
  });
  return s;
}

export function readScenario(path: string): Scenario {
  return parseScenario(readFileSync(path, 'utf8'), path);
}

function quote(a: string): string {
  return /[\s()'|]/.test(a) || a.includes(',') ? `'${a}'` : a;
}

export function formatStep(st: Step): string {
  return `> ${[st.cmd, ...st.args.map(quote)].join(' ')}`;
}

export function formatScenario(s: Scenario): string {
  const lines = [...s.comments];
  if (s.ports.join(' ') !== DEFAULT_PORTS.join(' ')) lines.push(`ports: ${s.ports.join(' ')}`);
  if (s.meters.length) lines.push('meters:', ...s.meters, '');
  if (s.groups.length) lines.push('groups:', ...s.groups, '');
  lines.push('flows:', ...s.flows, '');
  for (const st of s.steps) {
    lines.push(...st.notes, formatStep(st), ...st.out);
    if (st.swdOut !== null) lines.push(SWD_MARK, ...st.swdOut);
  }
  return lines.join('\n') + '\n';
}

/** The title (first comment line) of a scenario. */
export function title(s: Scenario, fallback: string): string {
  return s.comments[0]?.replace(/^#\s*/, '') ?? fallback;
}

/** The reason given by a `# known-difference: ...` comment, if any. */
export function knownDifference(s: Scenario): string | null {
  for (const c of s.comments) {
    const m = /^#\s*known-difference:\s*(.*)$/.exec(c);
    if (m) return m[1];
  }
  return null;
}

/** What swd must print for a step: its own recorded lines where it differs on purpose, else OVS's. */
export function swdExpected(st: Step): string[] {
  return st.swdOut ?? st.out;
}
