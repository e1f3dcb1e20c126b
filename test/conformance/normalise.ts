// Normalising command output before comparing swd with OVS. Only what
// legitimately differs between two runs or two implementations with the same
// behaviour is hidden: times (used:, duration=, idle_age=, hard_age=,
// timeout=), connection ids, the order of hash-table dumps, the values
// of recirculation ids (renumbered 0x1, 0x2, ... in order of appearance),
// and the order within a run of consecutive outputs to plain ports in
// datapath actions (NORMAL floods in OVS's bundle hash order, which changes
// from one OVS run to the next; the order of outputs to different ports is
// not visible on any port).
// NAT choices (the translated address/port that a hash seeded per process
// picks) are masked by nat-norm.ts, each checked against the flow table's
// range and the connection first. Nothing else is touched.

const RECIRC_RE = /(recirc_id\(|recirc\(|recirc_id=)(0x[0-9a-f]+)/g;

/** Renumber non-zero recirculation ids in order of appearance. */
export function renumberRecirc(lines: string[]): string[] {
  const ids = new Map<string, string>();
  return lines.map((l) =>
    l.replace(RECIRC_RE, (_m, what: string, id: string) => {
      if (/^0x0+$/.test(id)) return `${what}${id}`;
      let n = ids.get(id);
      if (n === undefined) {
        n = `0x${(ids.size + 1).toString(16)}`;
        ids.set(id, n);
      }
      return `${what}${n}`;
    }),
  );
}

function sortBy(lines: string[], key: (l: string) => string): string[] {
  return lines
    .map((l) => ({ l, k: key(l) }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
    .map((r) => r.l);
}

/** dump-conntrack: id and timeout masked, lines sorted (OVS dumps in hash order). */
export function normConntrack(lines: string[]): string[] {
  return lines.map((l) => l.replace(/\),id=\d+/, '),id=X').replace(/\btimeout=\d+/, 'timeout=X')).sort();
}

/** Split datapath actions at top-level commas (not those inside parentheses). */
function splitActions(text: string): string[] {
  const out: string[] = [];
  let depth = 0, start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}

/** Sort each run of consecutive plain port outputs ("3,100,4,2" -> "2,3,4,100"). */
export function sortOutputRuns(actions: string): string {
  const items = splitActions(actions);
  const isPort = (a: string) => /^\d+$/.test(a);
  for (let i = 0; i < items.length; ) {
    if (!isPort(items[i])) {
      i++;
      continue;
    }
    let j = i;
    while (j < items.length && isPort(items[j])) j++;
    const run = items.slice(i, j).sort((a, b) => Number(a) - Number(b));
    items.splice(i, run.length, ...run);
    i = j;
  }
  return items.join(',');
}

function normTrace(lines: string[]): string[] {
  return renumberRecirc(lines).map((l) => {
    const m = /^(Datapath actions: )(.*)$/.exec(l);
    return m ? m[1] + sortOutputRuns(m[2]) : l;
  });
}

/** dump-dp-flows: used: masked, sorted with recirc ids hidden, then renumbered. */
export function normDpFlows(lines: string[]): string[] {
  const rows = lines
    .filter((l) => !l.startsWith('flow-dump from'))
    .map((l) => l.replace(/used:[0-9.]+s/, 'used:X').replace(/(, actions:)(.*)$/, (_m, a: string, acts: string) => a + sortOutputRuns(acts)));
  return renumberRecirc(sortBy(rows, (l) => l.replace(RECIRC_RE, '$1N')));
}

/** dump-flows: duration and ages masked. */
export function normFlows(lines: string[]): string[] {
  return lines.map((l) =>
    l
      .replace(/\bduration=[0-9.]+s/, 'duration=X')
      .replace(/\bidle_age=\d+/, 'idle_age=X')
      .replace(/\bhard_age=\d+/, 'hard_age=X'),
  );
}

/** dump-groups / dump-group-stats: durations masked, groups sorted by id (OVS dumps in hash order). */
export function normGroups(lines: string[]): string[] {
  const [head, ...rows] = lines;
  const id = (l: string) => Number(/group_id=(\d+)/.exec(l)?.[1] ?? 0);
  return [head, ...rows.map((l) => l.replace(/\bduration=[0-9.]+s/, 'duration=X')).sort((a, b) => id(a) - id(b))].filter((l) => l !== undefined);
}

/**
 * [ofmeter] ovs-ofctl's dump-meters / meter-stats over the wire: meters
 * sorted by id (OVS replies in hash order), blank lines dropped, durations
 * masked. A meter's entry is its `meter=N` / `meter:N` line and the band
 * lines after it.
 */
export function normMeterDump(lines: string[]): string[] {
  const [head, ...rows] = lines.filter((l) => l.length > 0);
  if (head === undefined) return [];
  const entries: string[][] = [];
  for (const l of normMeterStats(rows)) {
    if (/^meter[=:]/.test(l) || entries.length === 0) entries.push([l]);
    else entries[entries.length - 1].push(l);
  }
  const id = (e: string[]) => Number(/^meter[=:](\d+)/.exec(e[0])?.[1] ?? Number.MAX_SAFE_INTEGER);
  return [head, ...entries.sort((a, b) => id(a) - id(b)).flat()];
}

/** meter-stats: durations masked. */
export function normMeterStats(lines: string[]): string[] {
  return lines.map((l) => l.replace(/\bduration:[0-9.]+s/, 'duration:X'));
}

export function normalise(cmd: string, lines: string[]): string[] {
  switch (cmd) {
    case 'meter-stats': return normMeterStats(lines);
    case 'dump-groups': case 'dump-group-stats': return normGroups(lines);
    case 'dump-conntrack': return normConntrack(lines);
    case 'dump-dp-flows': return normDpFlows(lines);
    case 'dump-flows': return normFlows(lines);
    case 'trace': return normTrace(lines);
    default: return lines;
  }
}
