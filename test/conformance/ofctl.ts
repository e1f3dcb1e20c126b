// The `ofctl` and `monitor` steps of the conformance scenarios: the real
// ovs-ofctl (OpenFlow 1.3 unless the step says `-O ...`) against swd's
// br0.mgmt socket and against OVS's br0, so that the same client sees the
// same answers from both switches over the wire.
//
//   > ofctl dump-flows                      ovs-ofctl -O OpenFlow13 dump-flows TARGET
//   > ofctl -O OpenFlow15 dump-flows --names
//   > ofctl --bundle add-flows lines:'FLOW ; FLOW'   (lines: becomes a file)
//   > monitor 65534 -P nxt_packet_in2       starts `ovs-ofctl monitor TARGET ...`
//   > monitor -O OpenFlow15                 (options first: ovs-ofctl -O OpenFlow15 monitor TARGET)
//   > monitor-lines                         what it printed since, and stops it
//
// Output is normalised as dump-flows' (durations and ages), port addresses
// are masked (each switch makes up its own), group and meter dumps are sorted by id.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { normFlows, normGroups, normMeterDump } from './normalise.ts';

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** The ovs-ofctl argument list for a step: options, the subcommand, the switch, the rest. */
export function ofctlArgv(args: string[], target: string, dir: string): string[] {
  const opts: string[] = [];
  let i = 0;
  for (; i < args.length && args[i].startsWith('-'); i++) {
    opts.push(args[i]);
    if (args[i] === '-O' && i + 1 < args.length) opts.push(args[++i]);
  }
  if (!opts.includes('-O') && !opts.some((o) => o.startsWith('--protocols'))) opts.unshift('-O', 'OpenFlow13');
  const rest = args.slice(i + 1).map((a, k) => {
    if (!a.startsWith('lines:')) return a;
    const f = join(dir, `ofctl-${process.pid}-${k}-${Date.now()}.txt`);
    writeFileSync(f, a.slice(6).split(' ; ').join('\n') + '\n');
    return f;
  });
  return [...opts, args[i], target, ...rest];
}

export function runOfctl(argv: string[], env?: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((res) => {
    execFile('ovs-ofctl', argv, { encoding: 'utf8', env, timeout: 30_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      res({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** ovs-ofctl's output for a step, normalised. */
export function normOfctl(args: string[], lines: string[]): string[] {
  const sub = args.find((a, i) => !a.startsWith('-') && args[i - 1] !== '-O') ?? '';
  // FLOW_REMOVED (monitor) prints its duration as `duration1.234s`.
  const masked = normFlows(lines).map((l) => l.replace(/\baddr:[0-9a-f:]{17}/, 'addr:X').replace(/ duration[0-9.]+s /, ' durationX '));
  if (sub === 'dump-groups' || sub === 'dump-group-stats') return normGroups(masked);
  if (sub === 'dump-meters' || sub === 'meter-stats') return normMeterDump(masked);
  return masked;
}

/** A background `ovs-ofctl monitor`. */
export class Monitor {
  private child: ChildProcess | null = null;
  private out = '';

  start(args: string[], target: string, env?: NodeJS.ProcessEnv): Promise<void> {
    // Options first (`> monitor -O OpenFlow15 ...`), then monitor and its arguments.
    let i = 0;
    while (i < args.length && args[i].startsWith('-')) i += args[i] === '-O' ? 2 : 1;
    const argv = ofctlArgv([...args.slice(0, i), 'monitor', ...args.slice(i)], target, '/tmp');
    this.out = '';
    this.child = spawn('ovs-ofctl', argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d) => (this.out += d.toString()));
    this.child.stderr!.on('data', (d) => (this.out += d.toString()));
    // Give it time to connect and send its configuration before the next step.
    return new Promise((r) => setTimeout(r, 500));
  }

  async lines(): Promise<string[]> {
    // Packet-ins of the last step may still be on their way.
    await new Promise((r) => setTimeout(r, 500));
    this.stop();
    // Stopping it may make ovs-ofctl log its SIGTERM (with a timestamp): not part of what it saw.
    return this.out.split('\n').filter((l) => l.length > 0 && !/\|fatal_signal\|WARN\|terminating with signal 15/.test(l));
  }

  stop(): void {
    this.child?.kill();
    this.child = null;
  }
}
