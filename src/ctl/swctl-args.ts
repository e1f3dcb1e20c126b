// The fast path of swctl's command line: a well-formed command is parsed
// here, from the table in swctl-commands.ts, without loading commander
// (which costs more than the rest of a command's run). Anything this parser
// does not recognise exactly — help, --version, an unknown command or
// option, a missing or extra argument, `--`, bundled short flags — makes it
// answer null, and swctl-program.ts's commander parses the line instead and
// prints its usual message. So this parser never decides an error, and for
// every line it accepts it must produce what commander would: the same
// positional values, options and defaults (test/ctl/swctl-args.test.ts
// compares the two).

import type { CommandSpec, OptionSpec, Opts } from './swctl-commands.ts';

export interface Parsed {
  command: CommandSpec;
  args: string[];
  opts: Opts;
  globals: Opts;
}

interface Flag {
  short?: string;
  long: string;
  /** The key in the options object, as commander names it (`--may-create` → mayCreate, `--no-stats` → stats). */
  key: string;
  takesValue: boolean;
  negate: boolean;
  default?: string | boolean;
}

/** The flag, or null for a form this parser leaves to commander (e.g. an optional value `[x]`). */
export function flagOf(o: OptionSpec): Flag | null {
  const m = /^(?:(-[A-Za-z]), )?--([a-z][a-z0-9-]*)(?: <[A-Za-z_-]+>)?$/.exec(o.flags);
  if (!m) return null;
  const negate = m[2].startsWith('no-');
  const key = (negate ? m[2].slice(3) : m[2]).replace(/-([a-z])/g, (_s, ch: string) => ch.toUpperCase());
  const takesValue = o.flags.endsWith('>');
  return { short: m[1], long: `--${m[2]}`, key, takesValue, negate, default: negate ? true : o.default };
}

export interface Arity {
  name: string;
  required: number;
  optional: number;
  variadic: boolean;
}

/** `add-port <bridge> <port> [args...]` → name add-port, 2 required, variadic. */
export function arityOf(usage: string): Arity {
  const [name, ...args] = usage.split(' ');
  const a: Arity = { name, required: 0, optional: 0, variadic: false };
  for (const w of args) {
    if (w.endsWith('...>') || w.endsWith('...]')) {
      a.variadic = true;
      if (w.startsWith('<')) a.required++;
    } else if (w.startsWith('<')) a.required++;
    else a.optional++;
  }
  return a;
}

interface Compiled {
  /** flags null: a command whose options this parser does not read (commander does). */
  byName: Map<string, { spec: CommandSpec; arity: Arity; flags: Flag[] | null }>;
  globals: Flag[] | null;
}

/**
 * One command's (or the globals') flags, or null if one of them is of a form
 * not read here. As in commander, `--no-x` makes x default to true unless
 * `--x` was defined before it.
 */
function flagsOf(options: readonly OptionSpec[]): Flag[] | null {
  const flags = options.map(flagOf);
  if (flags.some((f) => f === null)) return null;
  const ok = flags as Flag[];
  ok.forEach((f, i) => {
    if (f.negate && ok.slice(0, i).some((g) => !g.negate && g.key === f.key)) f.default = undefined;
  });
  return ok;
}

function compile(commands: readonly CommandSpec[], globals: readonly OptionSpec[]): Compiled {
  const byName = new Map<string, { spec: CommandSpec; arity: Arity; flags: Flag[] | null }>();
  for (const spec of commands) {
    const arity = arityOf(spec.usage);
    byName.set(arity.name, { spec, arity, flags: flagsOf(spec.options ?? []) });
  }
  return { byName, globals: flagsOf(globals) };
}

function defaults(flags: Flag[]): Opts {
  const o: Opts = {};
  for (const f of flags) if (f.default !== undefined) o[f.key] = f.default;
  return o;
}

const find = (flags: Flag[], w: string) => flags.find((f) => f.long === w || f.short === w);

/** `words`: the arguments after `node swctl`. */
export function parseFast(words: readonly string[], commands: readonly CommandSpec[], globalOptions: readonly OptionSpec[]): Parsed | null {
  const { byName, globals } = compile(commands, globalOptions);
  if (globals === null) return null;
  const g = defaults(globals);
  let cmd: { spec: CommandSpec; arity: Arity; flags: Flag[] } | undefined;
  let o: Opts = {};
  const args: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w.length > 1 && w[0] === '-') {
      let name = w;
      let value: string | undefined;
      const eq = w.indexOf('=');
      if (w.startsWith('--') && eq > 2) {
        name = w.slice(0, eq);
        value = w.slice(eq + 1);
      }
      const cf = cmd && find(cmd.flags, name);
      const f = cf || find(globals, name);
      if (!f) return null;
      const into = cf ? o : g;
      if (f.takesValue) {
        if (value === undefined) {
          if (i + 1 >= words.length) return null;
          value = words[++i];
        }
        into[f.key] = value;
      } else {
        if (value !== undefined) return null;
        into[f.key] = !f.negate;
      }
      continue;
    }
    if (!cmd) {
      const c = byName.get(w);
      if (!c || c.flags === null) return null;
      cmd = { spec: c.spec, arity: c.arity, flags: c.flags };
      o = defaults(cmd.flags);
      continue;
    }
    args.push(w);
  }
  if (!cmd) return null;
  const { required, optional, variadic } = cmd.arity;
  if (args.length < required) return null;
  if (!variadic && args.length > required + optional) return null;
  // A missing optional argument is there as undefined, as commander passes it.
  const padded: (string | undefined)[] = args;
  while (padded.length < required + optional) padded.push(undefined);
  return { command: cmd.spec, args, opts: o, globals: g };
}
