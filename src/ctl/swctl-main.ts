// `swctl`: the command line for a running swd. Each command is one JSON-RPC
// call; text output is the OVS-style text the daemon returns (`lines`),
// `--json` prints the whole result. Errors: one line on stderr, exit 1
// (2 for usage errors). `parse-flows` works offline, without a daemon.

import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { call, ConnectError, RpcCallError } from './rpc-client.ts';
import { resolveSocket } from './rundir.ts';
import { VERSION } from './version.ts';

interface Globals {
  socket?: string;
  rundir?: string;
  json?: boolean;
  timeout: string;
}

class UsageError extends Error {}

function readFlowsArg(arg: string): { text: string; file: string } {
  if (arg === '-') return { text: readFileSync(0, 'utf8'), file: '-' };
  try {
    return { text: readFileSync(arg, 'utf8'), file: arg };
  } catch (e) {
    throw new Error(`cannot read ${arg}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

/** `add-port` arguments: type=X ofport=N options:k=v[,k=v] (also repeated options:k=v). */
export function parsePortArgs(args: string[]): { type?: string; ofport?: number; options: Record<string, string> } {
  const out: { type?: string; ofport?: number; options: Record<string, string> } = { options: {} };
  for (const a of args) {
    if (a.startsWith('options:')) {
      for (const kv of a.slice('options:'.length).split(',')) {
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new UsageError(`bad option '${kv}' (expected options:key=value)`);
        out.options[kv.slice(0, eq)] = kv.slice(eq + 1);
      }
    } else if (a.startsWith('type=')) out.type = a.slice(5);
    else if (a.startsWith('ofport=')) {
      const n = Number(a.slice(7));
      if (!Number.isInteger(n)) throw new UsageError(`bad ofport '${a.slice(7)}'`);
      out.ofport = n;
    } else throw new UsageError(`unknown port argument '${a}' (expected type=, ofport= or options:k=v)`);
  }
  return out;
}

export async function main(argv = process.argv): Promise<void> {
  const program = new Command('swctl')
    .description('control a running swd (OVS-style output; --json for JSON)')
    .version(VERSION)
    .option('--socket <path>', 'swd control socket (default: $SWD_SOCKET or <rundir>/swd.sock)')
    .option('--rundir <dir>', 'swd run directory to find the socket in')
    .option('--json', 'print results as JSON')
    .option('--timeout <ms>', 'give up after this many milliseconds', '30000')
    .exitOverride()
    .showHelpAfterError(false);

  let pending: Promise<void> = Promise.resolve();
  const run = (method: string, params: Record<string, unknown>, print?: (r: Record<string, unknown>) => void) => {
    const g = program.opts<Globals>();
    const sock = resolveSocket(g.socket, g.rundir);
    pending = call(sock, method, params, Number(g.timeout)).then((r) => {
      const res = (r ?? {}) as Record<string, unknown>;
      if (g.json) process.stdout.write(JSON.stringify(res, null, 2) + '\n');
      else if (print) print(res);
      else if (Array.isArray(res.lines)) process.stdout.write((res.lines as string[]).map((l) => l + '\n').join(''));
    });
  };

  program.command('show <bridge>').description('ports of a bridge, like ovs-ofctl show').action((br) => run('show', { bridge: br }));
  program.command('add-br <bridge>').description('create a bridge').action((br) => run('add-br', { bridge: br }));
  program.command('del-br <bridge>').description('delete a bridge and its ports').action((br) => run('del-br', { bridge: br }));
  program.command('list-br').description('list bridges').action(() =>
    run('list-br', {}, (r) => process.stdout.write((r.bridges as string[]).map((b) => b + '\n').join(''))),
  );
  program
    .command('add-port <bridge> <port> [args...]')
    .description('add a port: [type=dummy|pcap] [ofport=N] [options:rx_pcap=FILE,tx_pcap=FILE]')
    .action((br, port, args: string[]) => run('add-port', { bridge: br, port, ...parsePortArgs(args) }, () => {}));
  program.command('del-port <bridge> <port>').description('remove a port').action((br, port) => run('del-port', { bridge: br, port }));
  program.command('dump-ports <bridge> [port]').description('port counters, like ovs-ofctl dump-ports').action((br, port) => run('dump-ports', { bridge: br, port }));

  program.command('add-flow <bridge> <flow>').description('add one flow (ovs-ofctl syntax)').action((br, flow) => run('add-flows', { bridge: br, text: flow, file: '(command line)' }, () => {}));
  program
    .command('add-flows <bridge> <file>')
    .description('add the flows of FILE (- for stdin); all or nothing')
    .action((br, file) => run('add-flows', { bridge: br, ...readFlowsArg(file) }, () => {}));
  program
    .command('mod-flows <bridge> <flow>')
    .description('modify actions of matching flows (FLOW, or a file of flows)')
    .option('--strict', 'match priority and fields exactly')
    .action((br, flow, o) => {
      let src = { text: flow as string, file: '(command line)' };
      if (flow === '-' || (!flow.includes('=') && !flow.includes('actions'))) src = readFlowsArg(flow);
      run('mod-flows', { bridge: br, ...src, strict: !!o.strict }, () => {});
    });
  program
    .command('del-flows <bridge> [match]')
    .description('delete flows (all, or those matching MATCH)')
    .option('--strict', 'match priority and fields exactly')
    .action((br, match, o) => run('del-flows', { bridge: br, match, strict: !!o.strict }, () => {}));
  program
    .command('dump-flows <bridge> [match]')
    .description('print flows, like ovs-ofctl dump-flows')
    .option('--no-stats', 'leave out the statistics')
    .action((br, match, o) => run('dump-flows', { bridge: br, match, noStats: o.stats === false }));
  program
    .command('parse-flows <file>')
    .description('print each flow of FILE normalised as ovs-ofctl parse-flows does (offline)')
    .action(async (file) => {
      const { parseFlowsCommand } = await import('../ofproto/parse-flows-cmd.ts');
      const r = parseFlowsCommand(file);
      if (!r.ok) throw new Error(r.error);
      process.stdout.write(r.text);
    });

  program
    .command('inject <bridge> <port> <packet>')
    .description('receive PACKET (hex bytes or datapath-flow text) on a dummy port')
    .option('--count <n>', 'inject N copies', '1')
    .action((br, port, packet, o) => run('inject', { bridge: br, port, packet, count: Number(o.count) }, () => {}));
  program.command('pcap-replay <bridge> <port>').description("replay a pcap port's rx_pcap").action((br, port) => run('pcap-replay', { bridge: br, port }, (r) => process.stdout.write(`${r.replayed} packets\n`)));
  program.command('trace <bridge> <flow>').description('show how a packet would be handled, like ofproto/trace').action((br, flow) => run('trace', { bridge: br, flow }));

  program
    .command('dump-dp-flows')
    .description('print datapath megaflows, like dpctl/dump-flows')
    .option('-m, --more', 'verbose output')
    .action((o) => run('dump-dp-flows', { verbose: !!o.more }));
  program.command('del-dp-flows').description('delete all datapath megaflows').action(() => run('del-dp-flows', {}, () => {}));
  program.command('fdb-show <bridge>').description('MAC learning table, like fdb/show').action((br) => run('fdb-show', { bridge: br }));

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
      let tuple: string | undefined;
      for (const a of args) {
        if (/^zone=/.test(a)) zone = zoneArg(a);
        else tuple = a;
      }
      run('flush-conntrack', { zone, tuple }, () => {});
    });
  program
    .command('ct-stats-show [zone]')
    .description('connection counts per protocol, like dpctl/ct-stats-show')
    .option('-m, --more', 'verbose output')
    .action((zone, o) => run('ct-stats-show', { zone: zoneArg(zone), verbose: !!o.more }));
  program.command('ct-set-maxconns <n>').description('set the connection limit').action((n) => run('ct-set-maxconns', { maxconns: Number(n) }));
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
  program.command('ct-get-timeout-policy [zone]').description('print the timeouts of a zone').action((zone) => run('ct-get-timeout-policy', { zone: zoneArg(zone) ?? 0 }));

  program.command('version').description('print the daemon version').action(() => run('version', {}, (r) => process.stdout.write(`swd ${r.version}\n`)));

  try {
    await program.parseAsync(argv);
    await pending;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') process.exit(0);
      process.exit(2);
    }
    if (e instanceof UsageError) {
      process.stderr.write(`swctl: ${e.message}\n`);
      process.exit(2);
    }
    const msg = e instanceof RpcCallError || e instanceof ConnectError || e instanceof Error ? e.message : String(e);
    process.stderr.write(`swctl: ${msg}\n`);
    process.exit(1);
  }
}

function zoneArg(z: string | undefined): number | undefined {
  if (z === undefined) return undefined;
  const m = /^(?:zone=)?(\d+)$/.exec(z);
  if (!m) throw new UsageError(`bad zone '${z}' (expected zone=N)`);
  return Number(m[1]);
}
