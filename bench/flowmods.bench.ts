// Flow mods per second through the real `ovs-ofctl -O OpenFlow13
// add-flows` of 100,000 flows, against swd's br0.mgmt socket and against a
// private OVS (test/conformance/ovs-ref.sh, dummy datapath) in the same run.
// Each side starts empty; the time is the whole ovs-ofctl run (it sends the
// flow mods and a barrier, and returns once the switch has answered), and
// dump-aggregate afterwards must count all 100,000 flows.
//
//   npm run bench -- flowmods        (FLOWMODS_N=... for another count)

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SwdInstance } from '../test/e2e/harness.ts';
import type { BenchRow } from './run.ts';

const N = Number(process.env.FLOWMODS_N ?? 100_000);
const SANDBOX = join(import.meta.dirname, '../test/conformance/ovs-ref.sh');

function flowFile(dir: string): string {
  const lines: string[] = [];
  for (let i = 0; i < N; i++) lines.push(`table=0,priority=${100 + (i % 1000)},tcp,nw_dst=10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255},tp_dst=${80 + (i % 7)},actions=ct(commit,zone=${i % 16}),output:2`);
  const f = join(dir, 'flows.txt');
  writeFileSync(f, lines.join('\n') + '\n');
  return f;
}

/** Seconds for `ovs-ofctl add-flows TARGET FILE`, and the flow count dump-aggregate reports afterwards. */
function addFlows(target: string, file: string, env?: NodeJS.ProcessEnv): { seconds: number; flows: number } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('ovs-ofctl', ['-O', 'OpenFlow13', 'add-flows', target, file], { env, encoding: 'utf8', timeout: 600_000 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`ovs-ofctl add-flows ${target} failed: ${r.stderr}`);
  const agg = execFileSync('ovs-ofctl', ['-O', 'OpenFlow13', 'dump-aggregate', target], { env, encoding: 'utf8' });
  return { seconds, flows: Number(/flow_count=(\d+)/.exec(agg)?.[1] ?? -1) };
}

export async function rows(): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'swd-bench-flowmods-'));
  const file = flowFile(dir);
  const out: BenchRow[] = [];
  try {
    const swd = new SwdInstance();
    await swd.start();
    let s: { seconds: number; flows: number };
    try {
      s = addFlows(`unix:${join(swd.rundir, 'br0.mgmt')}`, file);
    } finally {
      await swd.dispose();
    }
    const ovsDir = join(dir, 'ovs');
    const env = { ...process.env, OVS_RUNDIR: ovsDir, OVS_LOGDIR: ovsDir, OVS_DBDIR: ovsDir, OVS_SYSCONFDIR: ovsDir };
    execFileSync(SANDBOX, ['start', ovsDir, '2'], { env });
    let o: { seconds: number; flows: number };
    try {
      o = addFlows('br0', file, env);
    } finally {
      execFileSync(SANDBOX, ['stop', ovsDir], { env });
    }
    for (const [who, r] of [['swd', s], ['OVS 3.1', o]] as const) {
      if (r.flows !== N) throw new Error(`${who} holds ${r.flows} flows after adding ${N}`);
      out.push({ bench: 'flowmods', case: `ovs-ofctl add-flows ${N} flows -> ${who}`, value: N / r.seconds, unit: 'flow_mods/s', note: `${r.seconds.toFixed(2)} s` });
    }
    out.push({ bench: 'flowmods', case: 'swd / OVS', value: (N / s.seconds) / (N / o.seconds), unit: 'ratio', note: 'same run' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
