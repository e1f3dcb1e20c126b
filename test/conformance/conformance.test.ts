// The swd side of the conformance suite: every scenario under
// test/conformance/ runs through a fresh swd (swctl only) and each step must
// print exactly the lines recorded from a real OVS 3.1, after the
// normalisation in normalise.ts. A scenario marked `# known-difference:`
// keeps the reason and, for each step where swd differs on purpose, swd's
// own expected lines beside OVS's (scenario.ts): swd must print exactly
// those, so a known difference still fails on any other change (a crash
// included). `npm run conformance -- --ovs` runs OVS as well.

import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runScenario, SwdDriver } from './drivers.ts';
import { formatStep, knownDifference, readScenario, swdExpected, title } from './scenario.ts';

const DIR = import.meta.dirname;

/** The wire scenarios (`ofctl` / `monitor` steps) need the real ovs-ofctl (Debian's openvswitch-common). */
function missingOfctl(): string | undefined {
  if (spawnSync('ovs-ofctl', ['--version']).status === 0) return undefined;
  if (process.env.CI === 'true') throw new Error('wire scenarios need ovs-ofctl: CI installs it and must not skip');
  return 'needs ovs-ofctl (Debian package openvswitch-common)';
}
const noOfctl = missingOfctl();
const files = readdirSync(DIR).filter((f) => f.endsWith('.scen')).sort();

// Two scenarios at a time (a 2-core CI machine): each is one swd and a
// series of swctl processes, mostly waiting on process start-up. vitest's
// timeout would count the time a test waits for its slot, so it is set to
// cover the whole file and each scenario gets its own bound once it runs.
const SCENARIO_MS = 240_000;
let running = 0;
const waiting: (() => void)[] = [];
async function slot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= 2) await new Promise<void>((r) => waiting.push(r));
  running++;
  let timer: NodeJS.Timeout | undefined;
  try {
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`scenario still running after ${SCENARIO_MS / 1000} s`)), SCENARIO_MS);
    });
    return await Promise.race([fn(), bound]);
  } finally {
    clearTimeout(timer);
    running--;
    waiting.shift()?.();
  }
}

describe.concurrent('conformance with OVS: swd prints what OVS printed', { timeout: 60 * 60_000 }, () => {
  for (const file of files) {
    const s = readScenario(join(DIR, file));
    const known = knownDifference(s);
    const name = `${file}: ${title(s, file)}`;
    const own = s.steps.filter((st) => st.swdOut !== null);
    const wire = s.steps.some((st) => st.cmd === 'ofctl' || st.cmd === 'monitor');
    it.skipIf(wire && noOfctl !== undefined)(`${known ? `${name} [known difference: ${known}]` : name}${wire && noOfctl ? ` (skipped: ${noOfctl})` : ''}`, async () => {
      // A known difference names the steps where it shows, and only those differ.
      expect(own.length > 0, `${file}: a known difference records swd's own lines ('= swd') for the steps where it shows, and only then`).toBe(known !== null);
      for (const st of own) expect(st.swdOut, `${file}: ${formatStep(st)}: swd's own lines equal OVS's, drop the block`).not.toEqual(st.out);
      const got = await slot(() => runScenario(new SwdDriver(), s));
      s.steps.forEach((st, i) => {
        expect(got[i], `${file} step ${i + 1}: ${formatStep(st)}`).toEqual(swdExpected(st));
      });
    });
  }
});
