// swctl's commands as data: each one's arguments (commander's syntax:
// `<required>`, `[optional]`, `[rest...]`), options, description, and the
// JSON-RPC call it makes. Two parsers read this one table: the fast one in
// swctl-args.ts for well-formed command lines, and commander
// (swctl-program.ts, loaded only when needed) for help, --version and every
// usage error, so both accept the same commands with the same meaning.
//
// An action turns parsed arguments into one request (`run`); it may throw a
// UsageError (exit 2) or an Error (exit 1) but never talks to the daemon
// itself. Positional values arrive flattened: a trailing `[rest...]`
// argument contributes its words at the end of `args`; a missing optional
// argument is undefined.

import { existsSync, readFileSync } from 'node:fs';

export type Result = Record<string, unknown>;
export type Printer = (r: Result) => void;
export type Run = (method: string, params: Result, print?: Printer) => void;
export type Opts = Record<string, string | boolean | undefined>;

export interface OptionSpec {
  /** commander's flags: `--strict`, `-m, --more`, `--count <n>`, `--no-stats`. */
  flags: string;
  description: string;
  default?: string;
}

export interface CommandSpec {
  /** Name and arguments, e.g. `dump-flows <bridge> [match]`. */
  usage: string;
  description: string;
  options?: OptionSpec[];
  action(args: string[], o: Opts, run: Run): void | Promise<void>;
}

export class UsageError extends Error {}

const out = (lines: string[]) => process.stdout.write(lines.map((l) => l + '\n').join(''));

/** Default text output: the daemon's `lines`, else its `text`, else nothing (OVS prints nothing on success). */
export function printDefault(r: Result): void {
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

function msOpt(v: string | boolean | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UsageError(`bad --${what} '${String(v)}' (expected milliseconds)`);
  return Number(v);
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

/** The options before (or anywhere after) the command name. */
export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  { flags: '--socket <path>', description: 'swd control socket (default: $SWD_SOCKET, else <rundir>/swd.sock)' },
  { flags: '--rundir <dir>', description: 'swd run directory to find the socket in (default: as swd chooses it)' },
  { flags: '--json', description: 'print results as JSON' },
  { flags: '--timeout <secs>', description: 'give up waiting for swd after SECS seconds', default: '30' },
];

const c = (usage: string, description: string, action: CommandSpec['action'], options?: OptionSpec[]): CommandSpec => ({ usage, description, action, options });
const strict: OptionSpec = { flags: '--strict', description: 'match priority and fields exactly' };
const more: OptionSpec = { flags: '-m, --more', description: 'verbose output' };
const bundle: OptionSpec = { flags: '--bundle', description: 'all or nothing (swd always is)' };

export const COMMANDS: readonly CommandSpec[] = [
  // bridges and ports
  c('show [bridge]', 'a bridge and its ports, like ovs-ofctl show (every bridge when BRIDGE is left out)', ([br], _o, run) => run('show', { bridge: br })),
  c('add-br <bridge>', 'create a bridge', ([br], _o, run) => run('add-br', { bridge: br }, quiet)),
  c('del-br <bridge>', 'delete a bridge and its ports', ([br], _o, run) => run('del-br', { bridge: br }, quiet)),
  c('list-br', 'list bridges', (_a, _o, run) => run('list-br', {}, (r) => out(r.bridges as string[]))),
  c(
    'add-port <bridge> <port> [args...]',
    'add a port: [type=dummy|pcap|system|tap] [ofport=N] [options:rx_pcap=FILE,tx_pcap=FILE]; system attaches to the Linux interface PORT, tap creates the TAP device PORT',
    ([br, port, ...args], _o, run) => run('add-port', { bridge: br, port, ...parsePortArgs(args) }, quiet),
  ),
  c('del-port <bridge> <port>', 'remove a port', ([br, port], _o, run) => run('del-port', { bridge: br, port }, quiet)),
  c('dump-ports <bridge> [port]', 'port counters, like ovs-ofctl dump-ports', ([br, port], _o, run) => run('dump-ports', { bridge: br, port })),

  // flows
  c('add-flow <bridge> <flow>', 'add one flow (ovs-ofctl syntax, incl. conjunction/conj_id, learn, clone, exit, multipath, bundle, push/pop, fin_timeout, queues; - reads flows from stdin)', ([br, flow], _o, run) =>
    run('add-flows', { bridge: br, ...(flow === '-' ? readFlowsArg('-') : { text: flow, file: '(command line)' }) }, quiet),
  [bundle]),
  c(
    'add-flows <bridge> <file>',
    'add the flows in FILE (- for stdin; lines may start with add, modify, modify_strict, delete, delete_strict); all or nothing',
    ([br, file], _o, run) => run('add-flows', { bridge: br, ...readFlowsArg(file) }, quiet),
    [bundle],
  ),
  c(
    'replace-flows <bridge> <file>',
    "make the bridge's flows those in FILE with the fewest changes (unchanged flows keep their counters)",
    ([br, file], _o, run) => run('replace-flows', { bridge: br, ...readFlowsArg(file) }, quiet),
    [bundle],
  ),
  c(
    'diff-flows <bridge> <file>',
    "print how the bridge's flows differ from FILE (-: only/as in the bridge, +: only/as in FILE); exit 2 if they differ",
    ([br, file], o, run) =>
      run('diff-flows', { bridge: br, ...readFlowsArg(file), names: !!o.names }, (r) => {
        out(r.lines as string[]);
        if (r.differ) process.exitCode = 2;
      }),
    [{ flags: '--names', description: 'print ports by name' }],
  ),
  c(
    'mod-flows <bridge> <flow>',
    'change the actions of matching flows (FLOW, a file of flows, or - for stdin)',
    ([br, flow], o, run) => run('mod-flows', { bridge: br, ...flowOrFile(flow), strict: !!o.strict }, quiet),
    [strict, bundle],
  ),
  c(
    'del-flows <bridge> [match]',
    'delete flows (all, or those matching MATCH)',
    ([br, match], o, run) => run('del-flows', { bridge: br, match, strict: !!o.strict }, quiet),
    [strict],
  ),
  c(
    'dump-flows <bridge> [match]',
    'print flows, like ovs-ofctl dump-flows',
    ([br, match], o, run) => run('dump-flows', { bridge: br, match, noStats: o.stats === false, names: o.names === true }),
    [
      { flags: '--no-stats', description: 'leave out the statistics' },
      { flags: '--names', description: 'print ports by name (in_port=p1, output:p2)' },
      { flags: '--no-names', description: 'print ports by number (the default)' },
    ],
  ),
  c('parse-flows <file>', 'print the flows in FILE normalised as ovs-ofctl parse-flows does (offline, no daemon)', async ([file]) => {
    let mod: { parseFlowsCommand(path: string): { ok: true; text: string } | { ok: false; error: string } };
    try {
      mod = await import('../ofproto/parse-flows-cmd.ts');
    } catch (e) {
      throw new Error(`parse-flows is not available: ${(e as Error).message}`);
    }
    const r = mod.parseFlowsCommand(file);
    if (!r.ok) throw new Error(r.error);
    process.stdout.write(r.text);
  }),

  // groups
  c("add-group <bridge> <group>", "add one group: 'group_id=N,type=all|select|indirect|ff,bucket=ACTIONS,...' (- reads groups from stdin)", ([br, group], _o, run) =>
    run('add-groups', { bridge: br, ...(group === '-' ? readFlowsArg('-') : { text: group, file: '(command line)' }) }, quiet),
  ),
  c('add-groups <bridge> <file>', 'add the groups in FILE (- for stdin), one a line; all or nothing', ([br, file], _o, run) => run('add-groups', { bridge: br, ...readFlowsArg(file) }, quiet)),
  c(
    'mod-group <bridge> <group>',
    'replace a group (GROUP, a file of groups, or - for stdin)',
    ([br, group], o, run) => run('mod-groups', { bridge: br, ...flowOrFile(group), mayCreate: !!o.mayCreate }, quiet),
    [{ flags: '--may-create', description: 'add the group when it does not exist' }],
  ),
  c('del-groups <bridge> [group]', 'delete groups (all, or group_id=N) and the flows that send to them', ([br, group], _o, run) => run('del-groups', { bridge: br, match: group }, quiet)),
  c('dump-groups <bridge> [group]', 'print groups, like ovs-ofctl dump-groups (GROUP: N or group_id=N)', ([br, group], _o, run) => run('dump-groups', { bridge: br, groupId: groupArg(group) })),
  c('dump-group-stats <bridge> [group]', 'per-group and per-bucket packet and byte counts, like ovs-ofctl dump-group-stats', ([br, group], _o, run) =>
    run('dump-group-stats', { bridge: br, groupId: groupArg(group) }),
  ),

  // meters (ovs-ofctl -O OpenFlow13 *-meter*): the words of METER are joined with spaces
  c('add-meter <bridge> <meter...>', "add a meter: 'meter=N kbps|pktps [burst] [stats] bands=type=drop rate=R [burst_size=B]'", ([br, ...m], _o, run) => run('add-meter', { bridge: br, meter: m.join(' ') }, quiet)),
  c('mod-meter <bridge> <meter...>', 'change a meter (same syntax; its counters start again, its flows stay)', ([br, ...m], _o, run) => run('mod-meter', { bridge: br, meter: m.join(' ') }, quiet)),
  c('del-meters <bridge> [meter...]', 'delete meters (all, or meter=N) and the flows that use them', ([br, ...m], _o, run) => run('del-meters', { bridge: br, meter: m.join(' ') }, quiet)),
  c('dump-meters <bridge> [meter...]', 'print meters, like ovs-ofctl dump-meters (METER: meter=N)', ([br, ...m], _o, run) => run('dump-meters', { bridge: br, meter: m.join(' ') })),
  c('meter-stats <bridge> [meter...]', 'per-meter packets and bytes in, and per band the packets and bytes it dropped, like ovs-ofctl meter-stats', ([br, ...m], _o, run) =>
    run('meter-stats', { bridge: br, meter: m.join(' ') }),
  ),
  c('meter-features <bridge>', "what the datapath's meters support, like ovs-ofctl meter-features", ([br], _o, run) => run('meter-features', { bridge: br })),

  // packets
  c(
    'inject <bridge> <port> <packet>',
    'receive PACKET (hex bytes or datapath-flow text) on a dummy port',
    ([br, port, packet], o, run) => run('inject', { bridge: br, port, packet, count: posInt(o.count as string, 'count') }, quiet),
    [{ flags: '--count <n>', description: 'inject N copies', default: '1' }],
  ),
  c('pcap-replay <bridge> <port>', "replay a pcap port's rx_pcap file", ([br, port], _o, run) => run('pcap-replay', { bridge: br, port }, (r) => out([`${r.replayed} packets`]))),
  c('trace <bridge> <flow>', 'show how a packet would be handled, like ofproto/trace', ([br, flow], _o, run) => run('trace', { bridge: br, flow })),

  // datapath
  c('dump-dp-flows', 'print datapath megaflows, like dpctl/dump-flows', (_a, o, run) => run('dump-dp-flows', { verbose: !!o.more }), [
    { flags: '-m, --more', description: 'print the full key with masks' },
  ]),
  c('del-dp-flows', 'delete all datapath megaflows', (_a, _o, run) => run('del-dp-flows', {}, quiet)),
  c('fdb-show <bridge>', 'MAC learning table, like fdb/show', ([br], _o, run) => run('fdb-show', { bridge: br })),

  // connection tracking
  c('pmd-stats-show', 'per datapath thread: packets, batches, megaflow hits and misses, busy and idle time (like dpif-netdev/pmd-stats-show)', (_a, _o, run) =>
    run('pmd-stats-show', {}),
  ),
  c('pmd-set-threads <n>', 'run the datapath of system and tap ports in N threads (1-64) from now on', ([n], _o, run) => run('pmd-set-threads', { threads: Number(n) }, quiet)),
  c('dump-conntrack [zone]', 'print connections, like dpctl/dump-conntrack (zone=N to filter; -s adds packets/bytes and timeout; --format=conntrack prints conntrack -L lines)', ([zone], o, run) =>
    run('dump-conntrack', { zone: zoneArg(zone), verbose: !!o.more, stats: !!o.statistics, format: o.format as string | undefined }),
  [more, { flags: '-s, --statistics', description: 'per-direction packets and bytes, and the timeout left' }, { flags: '--format <fmt>', description: "'conntrack': conntrack-tools' conntrack -L lines" }]),
  // flowtable (offload of established connections)
  c('offload-set <bridge> <args...>', 'on|off [tcp|udp|all] [timeout=SECS]: forward established connections from a flowtable (default off, timeout 30)', ([br, ...args], _o, run) => run('offload-set', { bridge: br, args }, quiet)),
  c('offload-show <bridge>', "the bridge's offload setting", ([br], _o, run) => run('offload-show', { bridge: br })),
  c('dump-offloaded [bridge]', 'flowtable entries: key, packets, bytes, age, actions', ([br], _o, run) => run('dump-offloaded', { bridge: br })),
  c("flush-conntrack [args...]", "delete connections: [zone=N] ['ct_nw_src=..,ct_nw_dst=..,ct_nw_proto=..,ct_tp_src=..,ct_tp_dst=..']", (args, _o, run) => {
    let zone: number | undefined;
    const tuple: string[] = [];
    for (const a of args) {
      if (/^zone=/.test(a)) zone = zoneArg(a);
      else tuple.push(a);
    }
    run('flush-conntrack', { zone, tuple: tuple.length ? tuple.join(' ') : undefined }, quiet);
  }),
  c('dump-conntrack-exp [zone]', 'print outstanding ALG expectations (ct alg=ftp|tftp), like dpctl/dump-conntrack-exp (zone=N to filter)', ([zone], _o, run) => run('dump-conntrack-exp', { zone: zoneArg(zone) })),
  c('ct-stats-show [zone]', 'connection counts per protocol, like dpctl/ct-stats-show', ([zone], o, run) => run('ct-stats-show', { zone: zoneArg(zone), verbose: !!o.more }), [more]),
  c('ct-set-maxconns <n>', 'set the connection limit', ([n], _o, run) => run('ct-set-maxconns', { maxconns: posInt(n, 'maxconns') })),
  c('ct-get-maxconns', 'print the connection limit', (_a, _o, run) => run('ct-get-maxconns', {})),
  c('ct-get-nconns', 'print the number of connections', (_a, _o, run) => run('ct-get-nconns', {})),
  c('ct-set-limits [args...]', 'per-zone limits: [default=N] [zone=N,limit=M]...', (a, _o, run) => run('ct-set-limits', { args: a.join(' ') })),
  c('ct-get-limits [args...]', 'print per-zone limits: [zone=N[,M]...]', (a, _o, run) => run('ct-get-limits', { args: a.join(' ') })),
  c('ct-del-limits [args...]', 'remove per-zone limits: zone=N[,M]...', (a, _o, run) => run('ct-del-limits', { args: a.join(' ') })),
  c('ct-enable-tcp-seq-chk', 'check TCP sequence numbers', (_a, _o, run) => run('ct-set-tcp-seq-chk', { enabled: true })),
  c('ct-disable-tcp-seq-chk', 'do not check TCP sequence numbers', (_a, _o, run) => run('ct-set-tcp-seq-chk', { enabled: false })),
  c('ct-get-tcp-seq-chk', 'print whether TCP sequence numbers are checked', (_a, _o, run) => run('ct-get-tcp-seq-chk', {})),
  c('ct-set-timeout-policy <args...>', 'per-zone timeouts: zone=N tcp_established=S udp_single=S ...', (a, _o, run) => run('ct-set-timeout-policy', { args: a.join(' ') })),
  c('ct-get-timeout-policy [zone]', 'print the timeouts of a zone', ([zone], _o, run) => run('ct-get-timeout-policy', { zone: zoneArg(zone) ?? 0 })),
  // ct-events (src/ctl/events.ts): streams until interrupted; swctl-main.ts reads the stream
  c('ct-events [zone]', 'stream connection events until interrupted, like conntrack -E (zone=N to filter; --json: one object per line)', ([zone], _o, run) => run('ct-events', { zone: zoneArg(zone) })),
  c('ct-save', 'save the connection table now (as swd stop does) to the file beside the database', (_a, _o, run) => run('ct-save', {})),
  c('ct-save-show', 'how the connection table was restored at start and last saved', (_a, _o, run) => run('ct-save-show', {})),
  c('vlog-set <spec...>', 'set log levels at run time, like ovs-appctl vlog/set: [MODULE:]LEVEL (LEVEL: emer err warn info dbg off; MODULE: a vlog-list name or ANY)',
    (a, _o, run) => run('vlog-set', { spec: a.join(' ') })),
  c('vlog-list', 'the log modules and their levels, like ovs-appctl vlog/list', (_a, _o, run) => run('vlog-list', {})),

  // fragment reassembly before conntrack (dpctl/ipf-*)
  c('ipf-set-enabled <family>', 'reassemble v4 or v6 fragments before conntrack', ([f], _o, run) => run('ipf-set-enabled', { family: f, enabled: true })),
  c('ipf-set-disabled <family>', 'pass v4 or v6 fragments to conntrack unreassembled (tracked +inv)', ([f], _o, run) => run('ipf-set-enabled', { family: f, enabled: false })),
  c('ipf-set-min-frag <family> <size>', 'smallest non-last fragment accepted, v4 or v6 (default 1200 / 1280, at least 400)', ([f, n], _o, run) => run('ipf-set-min-frag', { family: f, size: n })),
  c('ipf-set-max-nfrags <n>', 'most fragments held at once (default 1000, at most 5000)', ([n], _o, run) => run('ipf-set-max-nfrags', { nfrags: n })),
  c('ipf-get-status', 'fragment module status and counters, like dpctl/ipf-get-status (-m: the fragment lists)', (_a, o, run) => run('ipf-get-status', { verbose: !!o.more }), [more]),

  // OpenFlow controllers and fail modes (src/ctl/of-methods.ts), as ovs-vsctl has them
  c(
    'set-controller <bridge> <targets...>',
    'program the bridge from controllers: tcp:IP[:PORT] or unix:PATH (swd connects, reconnecting with backoff, probing with echo requests), ptcp:[PORT][:IP] or punix:PATH (swd listens; ptcp binds 127.0.0.1 unless IP is given); PORT defaults to 6653; replaces the controllers set before',
    ([br, ...targets], o, run) => run('set-controller', { bridge: br, targets, inactivityProbeMs: msOpt(o.inactivityProbe, 'inactivity-probe'), maxBackoffMs: msOpt(o.maxBackoff, 'max-backoff') }, quiet),
    [
      { flags: '--inactivity-probe <ms>', description: 'send an echo request after MS idle, disconnect after as long again without an answer (default 5000; 0: never)' },
      { flags: '--max-backoff <ms>', description: 'longest wait between connection attempts (default 8000)' },
    ],
  ),
  c('get-controller <bridge>', "print the bridge's controllers (--json: with their connection state)", ([br], _o, run) => run('get-controller', { bridge: br })),
  c('del-controller <bridge>', 'remove all of the bridge\'s controllers', ([br], _o, run) => run('del-controller', { bridge: br }, quiet)),
  c('set-fail-mode <bridge> <mode>', 'secure (without a controller the installed flows stay, nothing else) or standalone (the default: after 3 probe intervals without a controller, flush the flows and act as a NORMAL switch until one is back)',
    ([br, mode], _o, run) => run('set-fail-mode', { bridge: br, mode }, quiet)),
  c('get-fail-mode <bridge>', 'print the fail mode (nothing when unset, which acts as standalone)', ([br], _o, run) => run('get-fail-mode', { bridge: br })),
  c('del-fail-mode <bridge>', 'unset the fail mode (standalone)', ([br], _o, run) => run('del-fail-mode', { bridge: br }, quiet)),

  c('version', 'print the version of the running swd', (_a, _o, run) => run('version', {}, (r) => out([`swd ${r.version}`]))),
];
