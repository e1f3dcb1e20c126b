// A process's CPU time from /proc, for the benches' "switch CPU" figures.

import { readFileSync } from 'node:fs';

/** USER_HZ: /proc reports CPU time in these ticks (100 on Linux x86 and arm64). */
const CLOCK_TICKS = 100;

/** User + system CPU seconds of `pid` so far (undefined when it cannot be read). */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the command name (which may hold spaces): utime is 14th, stime 15th of the whole line.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
