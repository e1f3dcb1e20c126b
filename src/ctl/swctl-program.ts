// swctl's command line as commander sees it, built from the table in
// swctl-commands.ts. Loaded only when the fast parser (swctl-args.ts) hands
// a command line over: for --help, --version and usage errors, which
// commander prints (help text, "swctl: unknown command ...", exit 2).

import { Command, Option } from 'commander';
import { COMMANDS, GLOBAL_OPTIONS, type CommandSpec, type Opts, type Run } from './swctl-commands.ts';
import { VERSION } from './version.ts';

/** `commands`: the table (another one in tests). */
export function buildProgram(run: Run, commands: readonly CommandSpec[] = COMMANDS): Command {
  const program = new Command('swctl')
    .description('control a running swd (OVS-style text output; --json for JSON)')
    .usage('[options] COMMAND [ARGS...]')
    .version(VERSION, '-V, --version', 'print the swctl version');
  for (const o of GLOBAL_OPTIONS) program.addOption(option(o.flags, o.description, o.default));
  program
    .exitOverride()
    .configureOutput({ outputError: (s, write) => write(s.replace(/^error: /, 'swctl: ')) })
    .showHelpAfterError('(run swctl --help for the list of commands)');

  for (const spec of commands) {
    const cmd = program.command(spec.usage).description(spec.description);
    for (const o of spec.options ?? []) cmd.addOption(option(o.flags, o.description, o.default));
    // commander passes (positional..., options, command); a variadic last
    // positional is an array, flattened here as the table expects.
    cmd.action((...a: unknown[]) => {
      a.pop();
      const o = a.pop() as Opts;
      return spec.action(a.flatMap((x) => (Array.isArray(x) ? (x as string[]) : [x as string])), o, run);
    });
  }
  return program;
}

function option(flags: string, description: string, dflt?: string): Option {
  const o = new Option(flags, description);
  return dflt === undefined ? o : o.default(dflt);
}
