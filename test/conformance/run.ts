// npm run conformance [-- [--ovs] [--record] [SCENARIO...]]
//
// Runs every scenario under test/conformance/ (or the named ones) through
// swd and compares each step with the expectations checked into the file.
// --ovs    also runs each scenario through a private OVS (ovs-ref.sh) and
//          compares OVS with the expectations too; every difference is
//          printed side by side.
// --record rewrites the expectations from OVS's run (implies --ovs), then
//          compares swd with them.
// A scenario marked `# known-difference: ...` is reported as such, never as
// a pass; the run fails on any other difference.

import { readdirSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { OvsDriver, runScenario, SwdDriver } from './drivers.ts';
import { formatScenario, formatStep, knownDifference, readScenario, type Scenario } from './scenario.ts';

const DIR = import.meta.dirname;

interface Diff {
  step: number;
  text: string[];
}

/** The steps where `got` differs from the expectations, side by side. */
export function compare(s: Scenario, got: string[][], who: string): Diff[] {
  const diffs: Diff[] = [];
  s.steps.forEach((st, i) => {
    const want = st.out, have = got[i] ?? [];
    if (want.length === have.length && want.every((l, j) => l === have[j])) return;
    const text = [`  step ${i + 1}: ${formatStep(st)}`];
    const n = Math.max(want.length, have.length);
    for (let j = 0; j < n; j++) {
      const a = want[j], b = have[j];
      if (a === b) text.push(`      = ${a}`);
      else {
        if (a !== undefined) text.push(`    expected: ${a}`);
        if (b !== undefined) text.push(`    ${who.padStart(8)}: ${b}`);
      }
    }
    diffs.push({ step: i + 1, text });
  });
  return diffs;
}

function scenarioFiles(args: string[]): string[] {
  if (args.length) return args.map((a) => resolve(a.endsWith('.scen') ? a : join(DIR, `${a}.scen`)));
  return readdirSync(DIR).filter((f) => f.endsWith('.scen')).sort().map((f) => join(DIR, f));
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const record = argv.includes('--record');
  const ovs = record || argv.includes('--ovs');
  const files = scenarioFiles(argv.filter((a) => !a.startsWith('--')));
  const tally = { pass: 0, fail: 0, known: 0, ovsPass: 0, ovsFail: 0 };
  for (const file of files) {
    try {
      await runOne(file);
    } catch (e) {
      tally.fail++;
      console.log(`${basename(file, '.scen')}: ERROR ${(e as Error).message.split('\n')[0]}`);
    }
  }
  console.log(
    `\n${files.length} scenarios: swd ${tally.pass} equal, ${tally.known} known differences, ${tally.fail} failed` +
      (ovs ? `; OVS ${tally.ovsPass} equal, ${tally.ovsFail} differ${record ? ' (recorded)' : ''}` : ''),
  );
  return tally.fail || tally.ovsFail ? 1 : 0;

  async function runOne(file: string): Promise<void> {
    const name = basename(file, '.scen');
    const s = readScenario(file);
    const report: string[] = [];
    if (ovs) {
      const got = await runScenario(new OvsDriver(), s);
      if (record) {
        s.steps.forEach((st, i) => (st.out = got[i]));
        writeFileSync(file, formatScenario(s));
      }
      const d = compare(s, got, 'OVS');
      if (d.length) {
        tally.ovsFail++;
        report.push(`  OVS differs from the expectations:`, ...d.flatMap((x) => x.text));
      } else tally.ovsPass++;
    }
    const diffs = compare(s, await runScenario(new SwdDriver(), s), 'swd');
    const known = knownDifference(s);
    let verdict: string;
    if (diffs.length === 0) {
      tally.pass++;
      verdict = known ? 'ok (marked known-difference, but none seen: remove the mark)' : 'ok';
    } else if (known) {
      tally.known++;
      verdict = `KNOWN DIFFERENCE (${known})`;
    } else {
      tally.fail++;
      verdict = 'FAIL';
    }
    if (diffs.length) report.push(...diffs.flatMap((x) => x.text));
    console.log(`${name}: swd ${verdict}${ovs ? `, OVS ${report[0]?.startsWith('  OVS') ? 'DIFFERS' : 'ok'}` : ''}`);
    for (const l of report) console.log(l);
  }
}

process.exitCode = await main();
