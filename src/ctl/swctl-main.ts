// `swctl`: the command line for a running swd. Each command is one JSON-RPC
// call; text output is the OVS-style text the daemon returns (`lines` or
// `text`), `--json` prints the whole result. Errors: one line on stderr
// (`swctl: ...`), exit 1; usage errors exit 2. `parse-flows` works offline,
// without a daemon.
//
// Start-up time matters (every command is a new process): this module loads
// only commander and the socket client; anything heavier is imported by the
// command that needs it.

import { existsSync, readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { call } from './rpc-client.ts';
import { resolveSocket } from './rundir.ts';
import { VERSION } from './version.ts';

interface Globals {
  socket?: string;
  rundir?: string;
  json?: boolean;
  timeout: string;
}

type Result = Record<string, unknown>;
type Printer = (r: Result) => void;

export class UsageError extends Error {}

const out = (lines: string[]) => process.stdout.write(lines.map((l) => l + '\n').join(''));

/** Default text output: the daemon's `lines`, else its `text`, else nothing (OVS prints nothing on success). */
function printDefault(r: Result): void {
  if (Array.isArray(r.lines)) out(r.lines as string[]);
  else if (typeof r.text === 'string') process.stdout.write(r.text.endsWith('\n') || r.text === '' ? r.text : r.text + '\n');
}

const quiet: Printer = () => {};

/** Flow text from FILE, or stdin for `-`; `file` names it in error messages. */
export function readFlowsArg(arg: string): { text: string; file: string } {
  if (arg === '-') return { text: readFileSync(0, 'utf8'), file: '-' };
  try {
    return { text: readFileSync(arg, 'utf8'), file: arg };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`cannot read ${arg}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (e as Error).message}`);
  }
}

/** A FLOW argument that may instead name a file of flows (or `-` for stdin), as ovs-ofctl allows. */
export function flowOrFile(arg: string): { text: string; file: string } {
  if (arg === '-' || (!arg.includes('=') && !arg.includes(',') && existsSync(arg))) return readFlowsArg(arg);
  return { text: arg, file: '(command line)' };
}

/** `add-port` arguments: type=X ofport=N options:k=v[,k=v] (options: may repeat). */
export function parsePortArgs(args: string[]): { type?: string; ofport?: number; options: Record<string, string> } {
  const res: { type?: string; ofport?: number; options: Record<string, string> } = { options: {} };
  for (const a of args) {
    if (a.startsWith('options:')) {
      for (const kv of a.slice('options:'.length).split(',')) {
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new UsageError(`bad option '${kv}' (expected options:key=value)`);
        res.options[kv.slice(0, eq)] = kv.slice(eq + 1);
      }
    } else if (a.startsWith('type=')) {
      res.type = a.slice('type='.length);
    } else if (a.startsWith('ofport=')) {
      res.ofport = posInt(a.slice('ofport='.length), 'ofport');
    } else {
      throw new UsageError(`unknown port argument '${a}' (expected type=, ofport= or options:key=value)`);
    }
  }
  return res;
}

function posInt(s: string, what: string): number {
  if (!/^\d+$/.test(s) || Number(s) < 1 || !Number.isSafeInteger(Number(s))) throw new UsageError(`bad ${what} '${s}' (expected a positive integer)`);
  return Number(s);
}

function zoneArg(z: string | undefined): number | undefined {
  if (z === undefined) return undefined;
  const m = /^(?:zone=)?(\d+)$/.exec(z);
  if (!m || Number(m[1]) > 0xffff) throw new UsageError(`bad zone '${z}' (expected zone=N, N from 0 to 65535)`);
  return Number(m[1]);
}

/** A group id argument: N, group_id=N, or all / nothing for every group. */
function groupArg(g: string | undefined): number | undefined {
  if (g === undefined) return undefined;
  const m = /^(?:group_id=)?(\d+|all|any)$/i.exec(g.trim());
  if (!m || (/^\d+$/.test(m[1]) && Number(m[1]) > 0xffffffff)) throw new UsageError(`bad group '${g}' (expected N or group_id=N)`);
  return /^\d+$/.test(m[1]) ? Number(m[1]) : undefined;
}

function buildProgram(run: (method: string, params: Result, print?: Printer) => void): Command {
  const program = new Command('swctl')
    .description('control a running swd (OVS-style text output; --json for JSON)')
    .usage('[options] COMMAND [ARGS...]')
    .version(VERSION, '-V, --version', 'print the swctl version')
    .option('--socket <path>', 'swd control socket (default: $SWD_SOCKET, else <rundir>/swd.sock)')
    .option('--rundir <dir>', 'swd run directory to find the socket in (default: as swd chooses it)')
    .option('--json', 'print results as JSON')
    .addOption(new Option('--timeout <secs>', 'give up waiting for swd after SECS seconds').default('30'))
    .exitOverride()
    .configureOutput({ outputError: (s, write) => write(s.replace(/^error: /, 'swctl: ')) })
    .showHelpAfterError('(run swctl --help for the list of commands)');

  // bridges and ports
  program
    .command('show [bridge]')
    .description('a bridge and its ports, like ovs-ofctl show (every bridge when BRIDGE is left out)')
    .action((br?: string) => run('show', { bridge: br }));
  program.command('add-br <bridge>').description('create a bridge').action((br) => run('add-br', { bridge: br }, quiet));
  program.command('del-br <bridge>').description('delete a bridge and its ports').action((br) => run('del-br', { bridge: br }, quiet));
  program.command('list-br').description('list bridges').action(() => run('list-br', {}, (r) => out(r.bridges as string[])));
  program
    .command('add-port <bridge> <port> [args...]')
    .description('add a port: [type=dummy|pcap|system|tap] [ofport=N] [options:rx_pcap=FILE,tx_pcap=FILE]; system attaches to the Linux interface PORT, tap creates the TAP device PORT')
    .action((br, port, args: string[]) => run('add-port', { bridge: br, port, ...parsePortArgs(args) }, quiet));
  program.command('del-port <bridge> <port>').description('remove a port').action((br, port) => run('del-port', { bridge: br, port }, quiet));
  program
    .command('dump-ports <bridge> [port]')
    .description('port counters, like ovs-ofctl dump-ports')
    .action((br, port) => run('dump-ports', { bridge: br, port }));

  // flows
  program
    .command('add-flow <bridge> <flow>')
    .description('add one flow (ovs-ofctl syntax; - reads flows from stdin)')
    .option('--bundle', 'all or nothing (swd always is)')
    .action((br, flow) => run('add-flows', { bridge: br, ...(flow === '-' ? readFlowsArg('-') : { text: flow, file: '(command line)' }) }, quiet));
  program
    .command('add-flows <bridge> <file>')
    .description('add the flows in FILE (- for stdin; lines may start with add, modify, modify_strict, delete, delete_strict); all or nothing')
    .option('--bundle', 'all or nothing (swd always is)')
    .action((br, file) => run('add-flows', { bridge: br, ...readFlowsArg(file) }, quiet));
  program
    .command('replace-flows <bridge> <file>')
    .description("make the bridge's flows those in FILE with the fewest changes (unchanged flows keep their counters)")
    .option('--bundle', 'all or nothing (swd always is)')
    .action((br, file) => run('replace-flows', { bridge: br, ...readFlowsArg(file) }, quiet));
  program
    .command('diff-flows <bridge> <file>')
    .description("print how the bridge's flows differ from FILE (-: only/as in the bridge, +: only/as in FILE); exit 2 if they differ")
    .option('--names', 'print ports by name')
    .action((br, file, o) =>
      run('diff-flows', { bridge: br, ...readFlowsArg(file), names: !!o.names }, (r) => {
        out(r.lines as string[]);
        if (r.differ) process.exitCode = 2;
      }));
  program
    .command('mod-flows <bridge> <flow>')
    .description('change the actions of matching flows (FLOW, a file of flows, or - for stdin)')
    .option('--strict', 'match priority and fields exactly')
    .option('--bundle', 'all or nothing (swd always is)')
    .action((br, flow, o) => run('mod-flows', { bridge: br, ...flowOrFile(flow), strict: !!o.strict }, quiet));
  program
    .command('del-flows <bridge> [match]')
    .description('delete flows (all, or those matching MATCH)')
    .option('--strict', 'match priority and fields exactly')
    .action((br, match, o) => run('del-flows', { bridge: br, match, strict: !!o.strict }, quiet));
  program
    .command('dump-flows <bridge> [match]')
    .description('print flows, like ovs-ofctl dump-flows')
    .option('--no-stats', 'leave out the statistics')
    .option('--names', 'print ports by name (in_port=p1, output:p2)')
    .option('--no-names', 'print ports by number (the default)')
    .action((br, match, o) => run('dump-flows', { bridge: br, match, noStats: o.stats === false, names: o.names === true }));
  program
    .command('parse-flows <file>')
    .description('print the flows in FILE normalised as ovs-ofctl parse-flows does (offline, no daemon)')
    .action(async (file: string) => {
      let mod: { parseFlowsCommand(path: string): { ok: true; text: string } | { ok: false; error: string } };
      try {
        mod = await import('../ofproto/parse-flows-cmd.ts');
      } catch (e) {
        throw new Error(`parse-flows is not available: ${(e as Error).message}`);
      }
      const r = mod.parseFlowsCommand(file);
      if (!r.ok) throw new Error(r.error);
      process.stdout.write(r.text);
    });

  // groups
  program
    .command('add-group <bridge> <group>')
    .description("add one group: 'group_id=N,type=all|select|indirect|ff,bucket=ACTIONS,...' (- reads groups from stdin)")
    .action((br, group) => run('add-groups', { bridge: br, ...(group === '-' ? readFlowsArg('-') : { text: group, file: '(command line)' }) }, quiet));
  program
    .command('add-groups <bridge> <file>')
    .description('add the groups in FILE (- for stdin), one a line; all or nothing')
    .action((br, file) => run('add-groups', { bridge: br, ...readFlowsArg(file) }, quiet));
  program
    .command('mod-group <bridge> <group>')
    .description('replace a group (GROUP, a file of groups, or - for stdin)')
    .option('--may-create', 'add the group when it does not exist')
    .action((br, group, o) => run('mod-groups', { bridge: br, ...flowOrFile(group), mayCreate: !!o.mayCreate }, quiet));
  program
    .command('del-groups <bridge> [group]')
    .description('delete groups (all, or group_id=N) and the flows that send to them')
    .action((br, group) => run('del-groups', { bridge: br, match: group }, quiet));
  program
    .command('dump-groups <bridge> [group]')
    .description('print groups, like ovs-ofctl dump-groups (GROUP: N or group_id=N)')
    .action((br, group) => run('dump-groups', { bridge: br, groupId: groupArg(group) }));
  program
    .command('dump-group-stats <bridge> [group]')
    .description('per-group and per-bucket packet and byte counts, like ovs-ofctl dump-group-stats')
    .action((br, group) => run('dump-group-stats', { bridge: br, groupId: groupArg(group) }));

  // packets
  program
    .command('inject <bridge> <port> <packet>')
    .description('receive PACKET (hex bytes or datapath-flow text) on a dummy port')
    .option('--count <n>', 'inject N copies', '1')
    .action((br, port, packet, o) => run('inject', { bridge: br, port, packet, count: posInt(o.count, 'count') }, quiet));
  program
    .command('pcap-replay <bridge> <port>')
    .description("replay a pcap port's rx_pcap file")
    .action((br, port) => run('pcap-replay', { bridge: br, port }, (r) => out([`${r.replayed} packets`])));
  program
    .command('trace <bridge> <flow>')
    .description('show how a packet would be handled, like ofproto/trace')
    .action((br, flow) => run('trace', { bridge: br, flow }));

  // datapath
  program
    .command('dump-dp-flows')
    .description('print datapath megaflows, like dpctl/dump-flows')
    .option('-m, --more', 'print the full key with masks')
    .action((o) => run('dump-dp-flows', { verbose: !!o.more }));
  program.command('del-dp-flows').description('delete all datapath megaflows').action(() => run('del-dp-flows', {}, quiet));
  program.command('fdb-show <bridge>').description('MAC learning table, like fdb/show').action((br) => run('fdb-show', { bridge: br }));

  // connection tracking
  program
    .command('pmd-stats-show')
    .description('per datapath thread: packets, batches, megaflow hits and misses, busy and idle time (like dpif-netdev/pmd-stats-show)')
    .action(() => run('pmd-stats-show', {}));
  program
    .command('pmd-set-threads <n>')
    .description('run the datapath of system and tap ports in N threads (1-64) from now on')
    .action((n: string) => run('pmd-set-threads', { threads: Number(n) }, quiet));
  program
    .command('dump-conntrack [zone]')
    .description('print connections, like dpctl/dump-conntrack (zone=N to filter)')
    .option('-m, --more', 'verbose output')
    .action((zone, o) => run('dump-conntrack', { zone: zoneArg(zone), verbose: !!o.more }));
  program
    .command('flush-conntrack [args...]')
    .description("delete connections: [zone=N] ['ct_nw_src=..,ct_nw_dst=..,ct_nw_proto=..,ct_tp_src=..,ct_tp_dst=..']")
    .action((args: string[]) => {
      let zone: number | undefined;
      const tuple: string[] = [];
      for (const a of args) {
        if (/^zone=/.test(a)) zone = zoneArg(a);
        else tuple.push(a);
      }
      run('flush-conntrack', { zone, tuple: tuple.length ? tuple.join(' ') : undefined }, quiet);
    });
  program
    .command('ct-stats-show [zone]')
    .description('connection counts per protocol, like dpctl/ct-stats-show')
    .option('-m, --more', 'verbose output')
    .action((zone, o) => run('ct-stats-show', { zone: zoneArg(zone), verbose: !!o.more }));
  program.command('ct-set-maxconns <n>').description('set the connection limit').action((n) => run('ct-set-maxconns', { maxconns: posInt(n, 'maxconns') }));
  program.command('ct-get-maxconns').description('print the connection limit').action(() => run('ct-get-maxconns', {}));
  program.command('ct-get-nconns').description('print the number of connections').action(() => run('ct-get-nconns', {}));
  program.command('ct-set-limits [args...]').description('per-zone limits: [default=N] [zone=N,limit=M]...').action((a: string[]) => run('ct-set-limits', { args: a.join(' ') }));
  program.command('ct-get-limits [args...]').description('print per-zone limits: [zone=N[,M]...]').action((a: string[]) => run('ct-get-limits', { args: a.join(' ') }));
  program.command('ct-del-limits [args...]').description('remove per-zone limits: zone=N[,M]...').action((a: string[]) => run('ct-del-limits', { args: a.join(' ') }));
  program.command('ct-enable-tcp-seq-chk').description('check TCP sequence numbers').action(() => run('ct-set-tcp-seq-chk', { enabled: true }));
  program.command('ct-disable-tcp-seq-chk').description('do not check TCP sequence numbers').action(() => run('ct-set-tcp-seq-chk', { enabled: false }));
  program.command('ct-get-tcp-seq-chk').description('print whether TCP sequence numbers are checked').action(() => run('ct-get-tcp-seq-chk', {}));
  program
    .command('ct-set-timeout-policy <args...>')
    .description('per-zone timeouts: zone=N tcp_established=S udp_single=S ...')
    .action((a: string[]) => run('ct-set-timeout-policy', { args: a.join(' ') }));
  program
    .command('ct-get-timeout-policy [zone]')
    .description('print the timeouts of a zone')
    .action((zone) => run('ct-get-timeout-policy', { zone: zoneArg(zone) ?? 0 }));

  program.command('version').description('print the version of the running swd').action(() => run('version', {}, (r) => out([`swd ${r.version}`])));
  return program;
}

export async function main(argv = process.argv): Promise<void> {
  // Commands register one call; main makes it after parsing, so that usage
  // errors never reach the daemon.
  let request: { method: string; params: Result; print?: Printer } | null = null;
  const program = buildProgram((method, params, print) => {
    request = { method, params, print };
  });

  try {
    await program.parseAsync(argv);
    const req = request as { method: string; params: Result; print?: Printer } | null;
    if (!req) return;
    const g = program.opts<Globals>();
    const timeoutSec = Number(g.timeout);
    if (!(timeoutSec > 0)) throw new UsageError(`bad --timeout '${g.timeout}' (expected seconds > 0)`);
    const sock = resolveSocket(g.socket, g.rundir);
    const ask = async (method: string, params: Result) => ((await call(sock, method, params, timeoutSec * 1000)) ?? {}) as Result;

    if (req.method === 'show' && !req.params.bridge) {
      // `show` without a bridge: every bridge, one after the other.
      const { bridges } = (await ask('list-br', {})) as { bridges: string[] };
      const shown: Result[] = [];
      for (const bridge of bridges) shown.push(await ask('show', { bridge }));
      if (g.json) process.stdout.write(JSON.stringify({ bridges: shown }, null, 2) + '\n');
      else for (const r of shown) printDefault(r);
      return;
    }
    const res = await ask(req.method, req.params);
    if (g.json) process.stdout.write(JSON.stringify(res, null, 2) + '\n');
    else (req.print ?? printDefault)(res);
  } catch (e) {
    process.exitCode = reportError(e);
  }
}

/** One line on stderr; the exit status. */
function reportError(e: unknown): number {
  if (e instanceof CommanderError) {
    // commander has printed its message (or the help) already.
    return e.exitCode === 0 ? 0 : 2;
  }
  if (e instanceof UsageError) {
    process.stderr.write(`swctl: ${e.message}\n`);
    return 2;
  }
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`swctl: ${msg.split('\n')[0]}\n`);
  return 1;
}
