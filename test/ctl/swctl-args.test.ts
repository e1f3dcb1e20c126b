// swctl's fast command-line parser (src/ctl/swctl-args.ts) against
// commander (src/ctl/swctl-program.ts), both reading the one command table:
// every well-formed line is taken by the fast parser, and whatever it takes
// gives the same request, options and globals as commander; everything it
// leaves to commander (help, --version, usage errors) is commander's to
// decide.

import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { arityOf, parseFast } from '../../src/ctl/swctl-args.ts';
import { COMMANDS, GLOBAL_OPTIONS, type CommandSpec, type Printer, type Result } from '../../src/ctl/swctl-commands.ts';
import { buildProgram } from '../../src/ctl/swctl-program.ts';

type Outcome = { request: { method: string; params: Result } | null; opts?: Record<string, unknown>; globals: Record<string, unknown> } | { error: string };

async function viaFast(words: string[], table: readonly CommandSpec[] = COMMANDS): Promise<Outcome | null> {
  const p = parseFast(words, table, GLOBAL_OPTIONS);
  if (!p) return null;
  let request: { method: string; params: Result } | null = null;
  try {
    await p.command.action(p.args, p.opts, (method: string, params: Result, _print?: Printer) => (request = { method, params }));
  } catch (e) {
    return { error: (e as Error).message };
  }
  return { request, opts: p.opts, globals: p.globals };
}

/** With `command`, also the options commander gave that command. */
async function viaCommander(words: string[], command?: string, table: readonly CommandSpec[] = COMMANDS): Promise<Outcome> {
  let request: { method: string; params: Result } | null = null;
  const program = buildProgram((method, params) => (request = { method, params }), table);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    await program.parseAsync(['node', 'swctl', ...words]);
  } catch (e) {
    return { error: (e as Error).message };
  } finally {
    err.mockRestore();
    out.mockRestore();
  }
  const sub = command === undefined ? undefined : program.commands.find((c) => c.name() === command);
  return { request, ...(sub ? { opts: sub.opts() } : {}), globals: program.opts() };
}

/** Well-formed lines for every command: its arguments filled in, each option, globals before and after. */
function wellFormed(): string[][] {
  const lines: string[][] = [];
  for (const spec of COMMANDS) {
    const a = arityOf(spec.usage);
    const req = Array.from({ length: a.required }, (_, i) => (i === 0 ? 'br0' : `zone=${i}`));
    const opt = Array.from({ length: a.optional }, (_, i) => `x${i}=1`);
    const variants = [req, [...req, ...opt]];
    if (a.variadic) variants.push([...req, ...opt, 'zone=3', 'limit=4']);
    for (const args of variants) {
      lines.push([a.name, ...args]);
      lines.push(['--json', '--socket', '/tmp/s.sock', a.name, ...args]);
      lines.push([a.name, ...args, '--timeout=5', '--rundir', '/tmp/r']);
      for (const o of spec.options ?? []) {
        const flag = o.flags.split(' ')[o.flags.startsWith('-') && o.flags[1] !== '-' ? 1 : 0].replace(/,$/, '');
        const value = o.flags.endsWith('>') ? ['7'] : [];
        lines.push([a.name, flag, ...value, ...args]);
        lines.push([a.name, ...args, flag, ...value, '--json']);
        if (o.flags.startsWith('-m')) lines.push([a.name, '-m', ...args]);
      }
    }
  }
  return lines;
}

describe('swctl fast parser', () => {
  afterEach(() => vi.restoreAllMocks());

  it('takes every well-formed command line and reads it as commander does', async () => {
    const lines = wellFormed();
    expect(lines.length).toBeGreaterThan(COMMANDS.length * 3);
    for (const words of lines) {
      const fast = await viaFast(words);
      expect(fast, words.join(' ')).not.toBeNull();
      expect(fast, words.join(' ')).toEqual(await viaCommander(words, words.find((w) => !w.startsWith('-') && !w.startsWith('/'))));
    }
  });

  it('reads options, defaults and rest arguments as commander does', async () => {
    const cases: [string[], Outcome][] = [
      [['ct-get-nconns'], { request: { method: 'ct-get-nconns', params: {} }, globals: { timeout: '30' } }],
      [['--json', 'show', 'br0'], { request: { method: 'show', params: { bridge: 'br0' } }, globals: { json: true, timeout: '30' } }],
      [['dump-flows', 'br0', '--no-stats'], { request: { method: 'dump-flows', params: { bridge: 'br0', match: undefined, noStats: true, names: false } }, globals: { timeout: '30' } }],
      [['dump-flows', 'br0'], { request: { method: 'dump-flows', params: { bridge: 'br0', match: undefined, noStats: false, names: false } }, globals: { timeout: '30' } }],
      [['dump-flows', 'br0', '--names'], { request: { method: 'dump-flows', params: { bridge: 'br0', match: undefined, noStats: false, names: true } }, globals: { timeout: '30' } }],
      [['dump-flows', 'br0', '--names', '--no-names'], { request: { method: 'dump-flows', params: { bridge: 'br0', match: undefined, noStats: false, names: false } }, globals: { timeout: '30' } }],
      [['inject', 'br0', 'p1', 'aabb', '--count', '3'], { request: { method: 'inject', params: { bridge: 'br0', port: 'p1', packet: 'aabb', count: 3 } }, globals: { timeout: '30' } }],
      [['inject', 'br0', 'p1', 'aabb'], { request: { method: 'inject', params: { bridge: 'br0', port: 'p1', packet: 'aabb', count: 1 } }, globals: { timeout: '30' } }],
      [['del-flows', 'br0', '-'], { request: { method: 'del-flows', params: { bridge: 'br0', match: '-', strict: false } }, globals: { timeout: '30' } }],
      [
        ['add-port', 'br0', 'p9', 'type=pcap', '--socket=/s', 'options:a=b'],
        { request: { method: 'add-port', params: { bridge: 'br0', port: 'p9', type: 'pcap', options: { a: 'b' } } }, globals: { socket: '/s', timeout: '30' } },
      ],
      [['flush-conntrack', 'zone=5', 'ct_nw_proto=6'], { request: { method: 'flush-conntrack', params: { zone: 5, tuple: 'ct_nw_proto=6' } }, globals: { timeout: '30' } }],
      [['ct-set-limits'], { request: { method: 'ct-set-limits', params: { args: '' } }, globals: { timeout: '30' } }],
      [['mod-group', 'br0', 'group_id=1,type=all', '--may-create'], { request: { method: 'mod-groups', params: { bridge: 'br0', text: 'group_id=1,type=all', file: '(command line)', mayCreate: true } }, globals: { timeout: '30' } }],
      [['ct-set-maxconns', 'x'], { error: "bad maxconns 'x' (expected a positive integer)" }],
    ];
    for (const [words, want] of cases) {
      const { opts: _opts, ...fast } = { opts: undefined, ...(await viaFast(words)) };
      expect(fast, words.join(' ')).toEqual(want);
      expect(await viaCommander(words), words.join(' ')).toEqual(want);
    }
  });

  it('reads the option shapes a command may have as commander does (a table of its own)', async () => {
    const echo: CommandSpec['action'] = (args, o, run) => run('echo', { args, o });
    const table: CommandSpec[] = [
      { usage: 'both <bridge>', description: '', action: echo, options: [{ flags: '--names', description: '' }, { flags: '--no-names', description: '' }] },
      { usage: 'negfirst <bridge>', description: '', action: echo, options: [{ flags: '--no-names', description: '' }, { flags: '--names', description: '' }] },
      { usage: 'neg [rest...]', description: '', action: echo, options: [{ flags: '--no-stats', description: '' }] },
      {
        usage: 'vals <a> [b]',
        description: '',
        action: echo,
        options: [
          { flags: '-c, --count <n>', description: '', default: '1' },
          { flags: '--may-create', description: '' },
          { flags: '-m, --more', description: '' },
        ],
      },
    ];
    const flags = ['--names', '--no-names', '--no-stats', '-c', '--count', '--count=4', '--may-create', '-m', '--more', '--json'];
    let taken = 0;
    for (const cmd of ['both br0', 'negfirst br0', 'neg', 'neg x y', 'vals a', 'vals a b']) {
      for (const f1 of ['', ...flags]) {
        for (const f2 of ['', ...flags]) {
          const words = [...cmd.split(' '), ...(f1 ? [f1] : []), ...(f1 === '-c' || f1 === '--count' ? ['9'] : []), ...(f2 ? [f2] : [])];
          const fast = await viaFast(words, table);
          if (fast === null) continue;
          taken++;
          expect(fast, words.join(' ')).toEqual(await viaCommander(words, words[0], table));
        }
      }
    }
    expect(taken).toBeGreaterThan(100);
    // An option form the fast parser does not read (an optional value) hands that command to commander.
    const odd: CommandSpec[] = [...table, { usage: 'odd', description: '', action: echo, options: [{ flags: '--level [n]', description: '' }] }];
    expect(parseFast(['odd'], odd, GLOBAL_OPTIONS)).toBeNull();
    expect(await viaCommander(['odd', '--level'], 'odd', odd)).toEqual({ request: { method: 'echo', params: { args: [], o: { level: true } } }, opts: { level: true }, globals: { timeout: '30' } });
    expect(parseFast(['both', 'br0'], odd, GLOBAL_OPTIONS)).not.toBeNull();
  });

  it('leaves help, --version and usage errors to commander', async () => {
    const lines = [
      [],
      ['--help'],
      ['-h'],
      ['help'],
      ['show', '--help'],
      ['--version'],
      ['-V'],
      ['bogus'],
      ['show', 'br0', 'extra'],
      ['add-br'],
      ['ct-set-timeout-policy'],
      ['dump-flows', 'br0', '--bogus'],
      ['--strict', 'del-flows', 'br0'],
      ['inject', 'br0', 'p1', 'aabb', '--count'],
      ['--json=yes', 'show'],
      ['show', '--', 'br0'],
      ['dump-dp-flows', '-mx'],
      ['ct-set-maxconns', '-1'],
    ];
    for (const words of lines) expect(parseFast(words, COMMANDS, GLOBAL_OPTIONS), words.join(' ')).toBeNull();
    // Usage errors among them are errors for commander too (help and version exit 0 through it).
    for (const words of [['bogus'], ['show', 'br0', 'extra'], ['add-br'], ['dump-flows', 'br0', '--bogus'], ['inject', 'br0', 'p1', 'aabb', '--count']]) {
      expect(await viaCommander(words), words.join(' ')).toHaveProperty('error');
    }
  });

  it('agrees with commander on random command lines', async () => {
    const names = COMMANDS.map((c) => arityOf(c.usage).name);
    const word = fc.oneof(
      fc.constantFrom(...names),
      fc.constantFrom('--json', '--socket', '--socket=/x', '--rundir', '--timeout', '--timeout=0', '--strict', '-m', '--more', '--no-stats', '--count', '--may-create', '--help', '-V', '--', '--bogus', '-x'),
      fc.constantFrom('br0', 'p1', 'zone=1', 'zone=70000', 'group_id=2', '12', 'x', 'in_port=1,actions=drop', 'type=dummy', 'ofport=3', 'options:a=b'),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(word, { maxLength: 7 }), async (words) => {
        // add-flow/add-group/mod-* with `-` would read stdin; the vocabulary has no `-`.
        const fast = await viaFast(words);
        if (fast !== null) expect(fast).toEqual(await viaCommander(words, parseFast(words, COMMANDS, GLOBAL_OPTIONS)!.command.usage.split(' ')[0]));
      }),
      { numRuns: 2000 },
    );
  });
});
