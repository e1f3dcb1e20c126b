// Conntrack end to end, through swd and swctl only: the scenarios of seed 001
// (stateful ACL), seed 003 (zones), marks and labels, ICMP, flushing and zone
// limits. Each script under fixtures/conntrack/ holds a flow table, the
// packets and commands, and the lines a real OVS 3.1 printed for them
// (recorded once with fixtures/conntrack/capture.ts). swd must print the
// same whole lines; only times, ids, timeouts, dump order and recirculation
// id values are normalised (ct-script.ts).

import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalise, readScript, type Step } from './ct-script.ts';
import { path, SwdInstance } from './harness.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures/conntrack');

/** Run one script step through swctl; output lines, or `error: ...`. */
function runStep(swd: SwdInstance, st: Step): string[] {
  const args = st.cmd === 'inject' ? ['inject', 'br0', ...st.args] : [st.cmd, ...st.args];
  const r = swd.ctl(args);
  if (r.code !== 0) return [`error: ${r.stderr.split('\n')[0].replace(/^swctl: /, '')}`];
  return normalise(st.cmd, r.stdout.split('\n').filter((l) => l.length > 0));
}

const scripts = readdirSync(FIXTURES).filter((f) => f.endsWith('.txt')).sort();

describe.each(scripts)('conntrack scenario %s: swd prints what OVS printed', (file) => {
  const script = readScript(join(FIXTURES, file));
  const swd = new SwdInstance();
  beforeAll(async () => {
    await swd.start();
    // The OVS sandbox the lines come from has dummy ports p1..p3.
    swd.ok(['add-port', 'br0', 'p3', 'type=dummy', 'ofport=3']);
    writeFileSync(path(swd, 'flows.txt'), script.flows.join('\n') + '\n');
    swd.ok(['add-flows', 'br0', path(swd, 'flows.txt')]);
  });
  afterAll(() => swd.dispose());

  it(script.comments[0]?.replace(/^#\s*/, '') ?? file, () => {
    script.steps.forEach((st, i) => {
      const where = `${file} step ${i + 1}: > ${st.cmd} ${st.args.join(' ')}`;
      expect(runStep(swd, st), where).toEqual(st.out);
    });
  });
});
