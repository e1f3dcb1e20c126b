// npm run conformance [-- [--ovs] [--record] [--record-swd] [SCENARIO...]]
//
// Runs every scenario under test/conformance/ (or the named ones) through
// swd and compares each step with the expectations checked into the file.
// --ovs    also runs each scenario through a private OVS (ovs-ref.sh) and
//          compares OVS with the expectations too; every difference is
//          printed side by side.
// --record rewrites the expectations from OVS's run (implies --ovs), then
//          compares swd with them.
// --record-swd rewrites, in scenarios marked `# known-difference: ...`,
//          swd's own expected lines (`= swd` blocks) for the steps where
//          swd's run differs from OVS's lines; review the diff before
//          committing it.
// swd is compared with its own lines where a step has them (scenario.ts),
// else with OVS's; a scenario marked known-difference is reported as such
// when swd prints exactly its own lines. The run fails on any other
// difference.

import { readdirSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { OvsDriver, runScenario, SwdDriver } from './drivers.ts';
import { formatScenario, formatStep, knownDifference, readScenario, swdExpected, type Scenario, type Step } from './scenario.ts';

const DIR = import.meta.dirname;

interface Diff {
  step: number;
  text: string[];
}

function sameLines(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((l, j) => l === b[j]);
}

/** The steps where `got` differs from the expectations (`expected` picks a step's lines), side by side. */
export function compare(s: Scenario, got: string[][], who: string, expected: (st: Step) => string[] = (st) => st.out): Diff[] {
  const diffs: Diff[] = [];
  s.steps.forEach((st, i) => {
    const want = expected(st), have = got[i] ?? [];
    if (sameLines(want, have)) return;
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
  const recordSwd = argv.includes('--record-swd');
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
    const swdGot = await runScenario(new SwdDriver(), s);
    const known = knownDifference(s);
    if (recordSwd && known) {
      s.steps.forEach((st, i) => (st.swdOut = sameLines(st.out, swdGot[i] ?? []) ? null : swdGot[i] ?? []));
      writeFileSync(file, formatScenario(s));
    }
    const diffs = compare(s, swdGot, 'swd', swdExpected);
    const own = s.steps.some((st) => st.swdOut !== null);
    let verdict: string;
    if (diffs.length) {
      tally.fail++;
      verdict = 'FAIL';
    } else if (known && own) {
      tally.known++;
      verdict = `ok, KNOWN DIFFERENCE (${known})`;
    } else if (known || own) {
      tally.fail++;
      verdict = known ? 'FAIL (marked known-difference, but no step records swd\'s own lines)' : 'FAIL (swd\'s own lines without a known-difference mark)';
    } else {
      tally.pass++;
      verdict = 'ok';
    }
    if (diffs.length) report.push(...diffs.flatMap((x) => x.text));
    console.log(`${name}: swd ${verdict}${ovs ? `, OVS ${report[0]?.startsWith('  OVS') ? 'DIFFERS' : 'ok'}` : ''}`);
    for (const l of report) console.log(l);
  }
}

process.exitCode = await main();
