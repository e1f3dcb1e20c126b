// `swctl`: the command line for a running swd. Each command is one JSON-RPC
// call; text output is the OVS-style text the daemon returns (`lines` or
// `text`), `--json` prints the whole result. Errors: one line on stderr
// (`swctl: ...`), exit 1; usage errors exit 2. `parse-flows` works offline,
// without a daemon.
//
// Start-up time matters (every command is a new process, and scripts call
// swctl once per port or pod): a well-formed command line loads only the
// command table, the fast parser and the socket client. commander (help,
// --version, usage errors) and anything a single command needs are loaded
// when used.

import { parseFast } from './swctl-args.ts';
import { COMMANDS, GLOBAL_OPTIONS, printDefault, UsageError, type Opts, type Printer, type Result } from './swctl-commands.ts';
import { call } from './rpc-client.ts';
import { resolveSocket } from './rundir.ts';

interface Request {
  method: string;
  params: Result;
  print?: Printer;
}

export async function main(argv = process.argv): Promise<void> {
  // Commands register one call; main makes it after parsing, so that usage
  // errors never reach the daemon.
  let request: Request | null = null;
  const run = (method: string, params: Result, print?: Printer) => {
    request = { method, params, print };
  };

  try {
    let g: Opts;
    const fast = parseFast(argv.slice(2), COMMANDS, GLOBAL_OPTIONS);
    if (fast) {
      await fast.command.action(fast.args, fast.opts, run);
      g = fast.globals;
    } else {
      const { buildProgram } = await import('./swctl-program.ts');
      const program = buildProgram(run);
      await program.parseAsync(argv);
      g = program.opts<Opts>();
    }
    const req = request as Request | null;
    if (!req) return;
    const timeoutSec = Number(g.timeout);
    if (!(timeoutSec > 0)) throw new UsageError(`bad --timeout '${g.timeout}' (expected seconds > 0)`);
    const sock = resolveSocket(g.socket as string | undefined, g.rundir as string | undefined);
    const ask = async (method: string, params: Result) => ((await call(sock, method, params, timeoutSec * 1000)) ?? {}) as Result;

    if (req.method === 'ct-events') {
      // A stream, not one answer: no --timeout (runs until interrupted).
      const { streamEvents } = await import('./events-client.ts');
      await streamEvents(sock, req.params, !!g.json);
      return;
    }
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
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('commander.')) {
    // A CommanderError: commander has printed its message (or the help) already.
    return (e as { exitCode: number }).exitCode === 0 ? 0 : 2;
  }
  if (e instanceof UsageError) {
    process.stderr.write(`swctl: ${e.message}\n`);
    return 2;
  }
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`swctl: ${msg.split('\n')[0]}\n`);
  return 1;
}
