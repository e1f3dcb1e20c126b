// The two drivers that run a scenario: swd (a real daemon on a temporary
// run directory, driven only through the swctl command line) and OVS (a
// private ovs-vswitchd with the dummy datapath, test/conformance/ovs-ref.sh,
// driven through ovs-ofctl, ovs-vsctl and ovs-appctl). Each gets a fresh
// switch per scenario, so no state (connections, zone limits, learned MACs,
// megaflows) leaks from one scenario to the next. Every port writes a
// tx_pcap file; after each step the driver returns the command's output
// lines followed by the `tx PORT ...` lines of what the ports sent.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SwdInstance } from '../e2e/harness.ts';
import { NatNormaliser } from './nat-norm.ts';
import { normalise } from './normalise.ts';
import type { Scenario, Step } from './scenario.ts';
import { TxWatcher } from './tx.ts';
import { Monitor, normOfctl, ofctlArgv, runOfctl } from './ofctl.ts';

export interface Driver {
  readonly name: string;
  start(s: Scenario): Promise<void>;
  /** Run one step: normalised output lines, then the tx lines. */
  step(st: Step): Promise<string[]>;
  stop(): Promise<void>;
}

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function exec(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((res) => {
    execFile(cmd, args, { encoding: 'utf8', env, timeout: 30_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      res({ code, stdout, stderr });
    });
  });
}

const lines = (s: string) => s.split('\n').filter((l) => l.length > 0);

/**
 * What both drivers do around a step: NAT symbols in the arguments replaced
 * by this run's values (nat-norm.ts), then the output normalised and the
 * sent frames described, translated values masked once checked.
 */
class StepNormaliser {
  constructor(private readonly nat: NatNormaliser, private readonly tx: TxWatcher) {}

  args(st: Step): Step {
    const args = this.nat.substitute(st.args);
    if (st.cmd === 'inject') this.nat.injecting(args[1] ?? '');
    return { ...st, args };
  }

  output(st: Step, r: Ran): string[] {
    let out: string[];
    // diff-flows exits 2 when the tables differ, after printing the difference (ovs-ofctl's convention).
    if (st.cmd === 'diff-flows' && r.code === 2 && r.stderr.trim() === '') out = [...lines(r.stdout), 'exit status 2'];
    else if (r.code !== 0) out = errorLine(r);
    else {
      let raw = lines(r.stdout);
      if (st.cmd === 'dump-conntrack') raw = this.nat.conntrack(raw);
      out = st.cmd === 'ofctl' || st.cmd === 'monitor-lines' ? normOfctl(st.args, raw) : normalise(st.cmd, raw);
    }
    const sent = this.tx.takeFrames().map((f) => this.nat.txLine(f.port, f.data));
    if (st.cmd === 'inject') this.nat.injecting('');
    return [...out, ...sent];
  }
}

/** The first line of an error, without the program's name. */
function errorLine(r: Ran): string[] {
  const first = lines(r.stderr)[0] ?? `exit status ${r.code}`;
  return [`error: ${first.replace(/^(swctl|ovs-vswitchd|ovs-ofctl|ovs-appctl): /, '')}`];
}

/**
 * Meters and the action set are OpenFlow 1.3: ovs-ofctl speaks it for meter commands and for flows that use
 * a meter or the action set (through OpenFlow 1.0 with NXM, ovs-ofctl would drop write_actions from the flow).
 */
const OF13 = ['-O', 'OpenFlow13'];
const of13If = (flows: string[]) => (flows.some((f) => /\bmeter:|\bwrite_actions|\bclear_actions|\bactset_output/.test(f)) ? OF13 : []);

/** A step's FLOW arguments as a flows file (replace-flows, diff-flows). */
function flowsFile(dir: string, flows: string[]): string {
  const f = join(dir, 'step-flows.txt');
  writeFileSync(f, flows.join('\n') + '\n');
  return f;
}

function portNumber(p: string): number {
  return Number(p.slice(1));
}

// ------------------------------------------------------------------ swd

const ROOT = resolve(import.meta.dirname, '../..');
const SWCTL = join(ROOT, 'bin/swctl.js');

export class SwdDriver implements Driver {
  readonly name = 'swd';
  private swd = new SwdInstance();
  private norm: StepNormaliser | null = null;

  private ctl(args: string[]): Promise<Ran> {
    return exec(process.execPath, [SWCTL, '--socket', this.swd.socket, ...args]);
  }

  private async ok(args: string[]): Promise<string[]> {
    const r = await this.ctl(args);
    if (r.code !== 0) throw new Error(`swctl ${args.join(' ')} failed: ${r.stderr}`);
    return lines(r.stdout);
  }

  async start(s: Scenario): Promise<void> {
    await this.swd.start(['--max-idle', String(MAX_IDLE_MS)]);
    // swd starts with br0 and dummy ports p1, p2; re-add them with tx_pcap.
    await Promise.all([this.ok(['del-port', 'br0', 'p1']), this.ok(['del-port', 'br0', 'p2'])]);
    const files = new Map<string, string>();
    for (const p of s.ports) {
      const f = join(this.swd.dir, `${p}-tx.pcap`);
      files.set(p, f);
      await this.ok(['add-port', 'br0', p, 'type=dummy', `ofport=${portNumber(p)}`, `options:tx_pcap=${f}`]);
    }
    for (const m of s.meters) await this.ok(['add-meter', 'br0', m]);
    if (s.groups.length) {
      const groups = join(this.swd.dir, 'groups.txt');
      writeFileSync(groups, s.groups.join('\n') + '\n');
      await this.ok(['add-groups', 'br0', groups]);
    }
    const flows = join(this.swd.dir, 'flows.txt');
    writeFileSync(flows, s.flows.join('\n') + '\n');
    await this.ok(['add-flows', 'br0', flows]);
    this.norm = new StepNormaliser(new NatNormaliser(s.flows), new TxWatcher(files));
  }

  private command(st: Step): string[] {
    switch (st.cmd) {
      case 'inject': {
        // Several packets in one step arrive together (netdev-dummy/receive takes a list): swctl sends copies.
        const [port, ...pkts] = st.args;
        if (pkts.length > 1 && pkts.every((p) => p === pkts[0])) return ['inject', 'br0', port, pkts[0], '--count', String(pkts.length)];
        return ['inject', 'br0', ...st.args];
      }
      case 'dump-flows': return ['dump-flows', 'br0', ...st.args];
      case 'trace': return ['trace', 'br0', ...st.args];
      case 'add-group': case 'mod-group': case 'del-groups': case 'dump-groups': case 'dump-group-stats':
      case 'add-flow': case 'add-meter': case 'mod-meter': case 'del-meters': case 'dump-meters': case 'meter-stats':
        return [st.cmd, 'br0', ...st.args];
      case 'replace-flows': case 'diff-flows': return [st.cmd, 'br0', flowsFile(this.swd.dir, st.args)];
      default: return [st.cmd, ...st.args];
    }
  }

  private monitor = new Monitor();

  async step(given: Step): Promise<string[]> {
    const st = this.norm!.args(given);
    const target = `unix:${join(this.swd.rundir, 'br0.mgmt')}`;
    if (st.cmd === 'ofctl') return this.norm!.output(st, await runOfctl(ofctlArgv(st.args, target, this.swd.dir)));
    if (st.cmd === 'monitor') {
      // ovs-ofctl monitor opens its control socket in OVS_RUNDIR.
      await this.monitor.start(st.args, target, { ...process.env, OVS_RUNDIR: this.swd.dir });
      return [];
    }
    if (st.cmd === 'monitor-lines') return this.norm!.output(st, { code: 0, stdout: (await this.monitor.lines()).join('\n'), stderr: '' });
    return this.norm!.output(st, await this.ctl(this.command(st)));
  }

  async stop(): Promise<void> {
    this.monitor.stop();
    await this.swd.dispose();
  }
}

// ------------------------------------------------------------------ OVS

const SANDBOX = process.env.OVS_SANDBOX ?? join(import.meta.dirname, 'ovs-ref.sh');
/** Datapath flows outlive any pause between steps, on both switches. */
export const MAX_IDLE_MS = 600_000;

export class OvsDriver implements Driver {
  readonly name = 'OVS';
  private dir = mkdtempSync(join(tmpdir(), 'swd-conf-ovs-'));
  private env: NodeJS.ProcessEnv = {
    ...process.env, OVS_RUNDIR: this.dir, OVS_LOGDIR: this.dir, OVS_DBDIR: this.dir, OVS_SYSCONFDIR: this.dir,
  };
  private norm: StepNormaliser | null = null;
  private started = false;

  private run(cmd: string, args: string[]): Promise<Ran> {
    return exec(cmd, args, this.env);
  }

  private async ok(cmd: string, args: string[]): Promise<string[]> {
    const r = await this.run(cmd, args);
    if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
    return lines(r.stdout);
  }

  async start(s: Scenario): Promise<void> {
    const n = Math.max(...s.ports.map(portNumber));
    await this.ok(SANDBOX, ['start', this.dir, String(n)]);
    this.started = true;
    const files = new Map<string, string>();
    const vsctl: string[] = [];
    for (let i = 1; i <= n; i++) {
      const p = `p${i}`;
      if (!s.ports.includes(p)) {
        vsctl.push('--', 'del-port', 'br0', p);
        continue;
      }
      const f = join(this.dir, `${p}-tx.pcap`);
      files.set(p, f);
      vsctl.push('--', 'set', 'interface', p, `options:tx_pcap=${f}`);
    }
    await this.ok('ovs-vsctl', vsctl.slice(1));
    for (const m of s.meters) await this.ok('ovs-ofctl', [...OF13, 'add-meter', 'br0', m]);
    if (s.groups.length) {
      const groups = join(this.dir, 'groups.txt');
      writeFileSync(groups, s.groups.join('\n') + '\n');
      await this.ok('ovs-ofctl', ['add-groups', 'br0', groups]);
    }
    const flows = join(this.dir, 'flows.txt');
    writeFileSync(flows, s.flows.join('\n') + '\n');
    await this.ok('ovs-ofctl', [...of13If(s.flows), 'add-flows', 'br0', flows]);
    this.norm = new StepNormaliser(new NatNormaliser(s.flows), new TxWatcher(files));
  }

  private command(st: Step): [string, string[]] {
    const a = st.args;
    switch (st.cmd) {
      case 'inject': return ['ovs-appctl', ['netdev-dummy/receive', ...a]];
      case 'dump-flows': return ['ovs-ofctl', ['dump-flows', 'br0', ...a]];
      case 'trace': return ['ovs-appctl', ['ofproto/trace', 'br0', ...a]];
      case 'dump-dp-flows': return ['ovs-appctl', ['dpctl/dump-flows', ...a]];
      case 'del-dp-flows': return ['ovs-appctl', ['dpctl/del-flows', ...a]];
      case 'fdb-show': return ['ovs-appctl', ['fdb/show', 'br0', ...a]];
      case 'add-group': case 'mod-group': case 'del-groups':
        return ['ovs-ofctl', [st.cmd, 'br0', ...a]];
      case 'dump-groups': case 'dump-group-stats': return ['ovs-ofctl', [st.cmd, 'br0', ...a]];
      case 'add-flow': return ['ovs-ofctl', [...of13If(a), st.cmd, 'br0', ...a]];
      case 'replace-flows': case 'diff-flows': return ['ovs-ofctl', [...of13If(a), st.cmd, 'br0', flowsFile(this.dir, a)]];
      case 'add-meter': case 'mod-meter': case 'del-meters': case 'dump-meters': case 'meter-stats':
        return ['ovs-ofctl', [...OF13, st.cmd, 'br0', ...a]];
      case 'dump-conntrack': case 'flush-conntrack': case 'ct-stats-show':
      case 'ct-set-limits': case 'ct-get-limits': case 'ct-del-limits':
      case 'ct-get-nconns': case 'ct-set-maxconns': case 'ct-get-maxconns':
      case 'ipf-get-status': case 'ipf-set-enabled': case 'ipf-set-disabled':
      case 'ipf-set-min-frag': case 'ipf-set-max-nfrags':
        return ['ovs-appctl', [`dpctl/${st.cmd}`, ...a]];
      default: throw new Error(`unknown step command '${st.cmd}'`);
    }
  }

  private monitor = new Monitor();

  async step(given: Step): Promise<string[]> {
    const st = this.norm!.args(given);
    if (st.cmd === 'ofctl') {
      const sub = st.args.find((a) => /^dump-(flows|aggregate|ports|tables|group-stats)/.test(a));
      if (sub) await this.ok('ovs-appctl', ['revalidator/wait']);
      return this.norm!.output(st, await runOfctl(ofctlArgv(st.args, 'br0', this.dir), this.env));
    }
    if (st.cmd === 'monitor') {
      await this.monitor.start(st.args, 'br0', this.env);
      return [];
    }
    if (st.cmd === 'monitor-lines') return this.norm!.output(st, { code: 0, stdout: (await this.monitor.lines()).join('\n'), stderr: '' });
    const [cmd, args] = this.command(st);
    // OVS credits OpenFlow rules with the packets of cached megaflows only
    // when a revalidator round pushes the datapath's counters; wait for one
    // so that n_packets is current, as swd's always is.
    if (st.cmd === 'dump-flows' || st.cmd === 'dump-group-stats') await this.ok('ovs-appctl', ['revalidator/wait']);
    const before = st.cmd === 'inject' ? await this.dpStats() : '';
    const r = await this.run(cmd, args);
    if (st.cmd === 'inject' && r.code === 0) await this.settle(before);
    return this.norm!.output(st, r);
  }

  /** Datapath lookup and port counters (dpctl/show -s). */
  private async dpStats(): Promise<string> {
    return (await this.ok('ovs-appctl', ['dpctl/show', '-s'])).join('\n');
  }

  /**
   * netdev-dummy/receive only queues the packet; the datapath handles it
   * afterwards. Wait until the counters have moved and then stay still, so
   * that the packets sent and the connections made belong to this step.
   */
  private async settle(before: string): Promise<void> {
    let last = before;
    let still = 0;
    for (let i = 0; i < 100 && still < 2; i++) {
      await new Promise((r) => setTimeout(r, 15));
      const now = await this.dpStats();
      if (now === last && now !== before) still++;
      else still = 0;
      last = now;
    }
  }

  async stop(): Promise<void> {
    this.monitor.stop();
    if (this.started) await this.run(SANDBOX, ['stop', this.dir]);
    // ovs-vswitchd exits asynchronously; give it a moment before removing its files.
    await new Promise((r) => setTimeout(r, 100));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Run a whole scenario through one driver: the lines of every step. */
export async function runScenario(d: Driver, s: Scenario): Promise<string[][]> {
  try {
    await d.start(s);
    const res: string[][] = [];
    for (const st of s.steps) res.push(await d.step(st));
    return res;
  } finally {
    await d.stop();
  }
}
