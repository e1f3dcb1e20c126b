// Flow mods per second through the real `ovs-ofctl -O OpenFlow13
// add-flows` (one FLOW_MOD and one barrier per flow, each waited for),
// against swd's br0.mgmt socket and against a private OVS
// (test/conformance/ovs-ref.sh, dummy datapath) in the same run; and the
// same file through `swctl add-flows` (one request: parse, apply, save).
// Each side starts empty for each size; the time is the whole command's
// run, and dump-aggregate afterwards must count every flow.
//
//   npm run bench -- flowmods                     (100,000 flows)
//   FLOWMODS_N=2000,100000 npm run bench -- flowmods   (several sizes, each
//                                                  against a fresh swd and OVS)
//   FLOWMODS_SWCTL=0 ...                          (leave out the swctl rows)

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SwdInstance } from '../test/e2e/harness.ts';
import type { BenchRow } from './run.ts';

const SIZES = String(process.env.FLOWMODS_N ?? 100_000).split(',').map(Number);
const WITH_SWCTL = process.env.FLOWMODS_SWCTL !== '0';
const SANDBOX = join(import.meta.dirname, '../test/conformance/ovs-ref.sh');
const SWCTL = join(import.meta.dirname, '../bin/swctl.js');

function flowFile(dir: string, n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(`table=0,priority=${100 + (i % 1000)},tcp,nw_dst=10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255},tp_dst=${80 + (i % 7)},actions=ct(commit,zone=${i % 16}),output:2`);
  const f = join(dir, `flows-${n}.txt`);
  writeFileSync(f, lines.join('\n') + '\n');
  return f;
}

interface Run { seconds: number; flows: number }

function timed(cmd: string, args: string[], env?: NodeJS.ProcessEnv): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', timeout: 600_000 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return seconds;
}

/** `ovs-ofctl add-flows TARGET FILE`, and the flow count dump-aggregate reports afterwards. */
function ofctlAddFlows(target: string, file: string, env?: NodeJS.ProcessEnv): Run {
  const seconds = timed('ovs-ofctl', ['-O', 'OpenFlow13', 'add-flows', target, file], env);
  return { seconds, flows: aggregateFlows(target, env) };
}

function aggregateFlows(target: string, env?: NodeJS.ProcessEnv): number {
  const agg = execFileSync('ovs-ofctl', ['-O', 'OpenFlow13', 'dump-aggregate', target], { env, encoding: 'utf8' });
  return Number(/flow_count=(\d+)/.exec(agg)?.[1] ?? -1);
}

async function onSwd<T>(fn: (swd: SwdInstance) => T): Promise<T> {
  const swd = new SwdInstance();
  await swd.start();
  try {
    return fn(swd);
  } finally {
    await swd.dispose();
  }
}

function onOvs(dir: string, file: string): Run {
  const ovsDir = join(dir, 'ovs');
  const env = { ...process.env, OVS_RUNDIR: ovsDir, OVS_LOGDIR: ovsDir, OVS_DBDIR: ovsDir, OVS_SYSCONFDIR: ovsDir };
  execFileSync(SANDBOX, ['start', ovsDir, '2'], { env, stdio: 'ignore' });
  try {
    return ofctlAddFlows('br0', file, env);
  } finally {
    execFileSync(SANDBOX, ['stop', ovsDir], { env, stdio: 'ignore' });
    rmSync(ovsDir, { recursive: true, force: true });
  }
}

export async function rows(): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'swd-bench-flowmods-'));
  const out: BenchRow[] = [];
  try {
    for (const n of SIZES) {
      const file = flowFile(dir, n);
      const s = await onSwd((swd) => ofctlAddFlows(`unix:${join(swd.rundir, 'br0.mgmt')}`, file));
      const o = onOvs(dir, file);
      const c = WITH_SWCTL
        ? await onSwd((swd): Run => {
          const seconds = timed(process.execPath, [SWCTL, '--socket', swd.socket, 'add-flows', 'br0', file]);
          return { seconds, flows: aggregateFlows(`unix:${join(swd.rundir, 'br0.mgmt')}`) };
        })
        : null;
      const runs: [string, Run][] = [['ovs-ofctl add-flows -> swd', s], ['ovs-ofctl add-flows -> OVS 3.1', o]];
      if (c) runs.push(['swctl add-flows -> swd', c]);
      for (const [who, r] of runs) {
        if (r.flows !== n) throw new Error(`${who} holds ${r.flows} flows after adding ${n}`);
        out.push({ bench: 'flowmods', case: `${who}, ${n} flows`, value: n / r.seconds, unit: 'flow_mods/s', note: `${r.seconds.toFixed(2)} s` });
      }
      out.push({ bench: 'flowmods', case: `swd / OVS (ovs-ofctl), ${n} flows`, value: o.seconds / s.seconds, unit: 'ratio', note: 'same run' });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
