// bin/swd.js and bin/swctl.js run current code: in a temporary copy of the
// package (bin, src, scripts, package.json, tsconfig files; node_modules
// linked), built as npm ci builds it, they run dist/ while it was built from
// the sources on disk, and the sources once a source changes or dist/ is
// gone — with the changed source's behaviour, never the stale build's.
// Which code ran shows in the version: the test marks dist/'s compiled
// VERSION with "+compiled" and, for the stale case, the source's with
// "+edited". A compiled swd serves real bridges, flows and conntrack, and
// its worker threads (the PMD threads, and the poll waiter of
// --pmd-threads 0) load the compiled modules: real ports in network
// namespaces (root), which skip with the reason elsewhere.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isFresh } from '../../bin/launch.js';
import { requireRoot, Topology, waitFor } from '../netns/topology.ts';
import { ROOT } from './helpers.ts';

const { SWD_FROM_SOURCES: _ignored, SWD_RUNDIR: _ignored2, SWD_SOCKET: _ignored3, ...ENV } = process.env;
const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;

function copyPackage(): string {
  const dir = mkdtempSync(join(tmpdir(), 'swd-bins-'));
  for (const f of ['bin', 'src', 'scripts', 'package.json', 'tsconfig.json', 'tsconfig.build.json']) cpSync(join(ROOT, f), join(dir, f), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

function build(dir: string): void {
  const r = spawnSync(process.execPath, ['scripts/build.js'], { cwd: dir, encoding: 'utf8', env: ENV });
  if (r.status !== 0) throw new Error(`build failed (${r.status}): ${r.stderr}`);
}

/** Suffix a module's exported VERSION (dist/ctl/version.js or src/ctl/version.ts). */
function markVersion(file: string, suffix: string): void {
  const text = readFileSync(file, 'utf8');
  const marked = text.replace(/\.version( \+ '[^']*')?;\s*$/, (_m, prev: string | undefined) => `.version${prev ?? ''} + '${suffix}';\n`);
  if (marked === text) throw new Error(`no VERSION export found in ${file}`);
  writeFileSync(file, marked);
}

function bin(dir: string, name: 'swd' | 'swctl', args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [join(dir, 'bin', `${name}.js`), ...args], { encoding: 'utf8', env: { ...ENV, ...env }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const versions = (dir: string, env?: NodeJS.ProcessEnv) => [bin(dir, 'swctl', ['--version'], env).stdout, bin(dir, 'swd', ['--version'], env).stdout];

/** A swd started from `dir`'s bin, on a run directory of its own. */
class Daemon {
  readonly rundir: string;
  private child: ChildProcess | null = null;
  stderr = '';
  constructor(private readonly dir: string) {
    this.rundir = mkdtempSync(join(tmpdir(), 'swd-bins-run-'));
  }
  async start(args: string[] = []): Promise<void> {
    const c = spawn(process.execPath, [join(this.dir, 'bin/swd.js'), 'start', '--rundir', this.rundir, '--log-level', 'warn', ...args], { env: ENV, stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = c;
    c.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    const up = await waitFor(() => c.exitCode === null && this.stderr.includes('swd listening on '), 60_000, 50);
    if (!up) throw new Error(`swd did not come up: ${this.stderr}`);
  }
  ctl(args: string[]) {
    return bin(this.dir, 'swctl', ['--socket', join(this.rundir, 'swd.sock'), ...args]);
  }
  ok(args: string[]): string[] {
    const r = this.ctl(args);
    if (r.code !== 0) throw new Error(`swctl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r.stdout.split('\n').filter((l) => l !== '');
  }
  async stop(): Promise<number | null> {
    const c = this.child;
    this.child = null;
    let code: number | null = null;
    if (c && c.exitCode === null) {
      const exited = new Promise<number | null>((r) => c.once('exit', (status) => r(status)));
      c.kill('SIGTERM');
      code = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
      if (c.exitCode === null) c.kill('SIGKILL');
    } else if (c) code = c.exitCode;
    rmSync(this.rundir, { recursive: true, force: true });
    return code;
  }
}

const SYN = 'in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=6,tos=0,ttl=64,frag=no),tcp(src=34567,dst=80),tcp_flags(syn)';
const CT_FLOWS = ['table=0,priority=100,ip,ct_state=-trk,actions=ct(table=1)', 'table=1,ip,ct_state=+trk+new,actions=ct(commit),output:2'].join('\n');

let dir = '';
const daemons: Daemon[] = [];
const daemon = (d: string) => {
  const x = new Daemon(d);
  daemons.push(x);
  return x;
};
beforeAll(() => {
  dir = copyPackage();
  build(dir);
  markVersion(join(dir, 'dist/ctl/version.js'), '+compiled');
}, 180_000);
afterEach(async () => {
  for (const d of daemons.splice(0)) await d.stop();
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the bins in a built copy of the package', () => {
  it('run dist/ while it was built from the sources on disk (SWD_FROM_SOURCES=1: the sources)', () => {
    expect(isFresh(dir)).toBe(true);
    expect(versions(dir)).toEqual([`${VERSION}+compiled\n`, `${VERSION}+compiled\n`]);
    expect(versions(dir, { SWD_FROM_SOURCES: '1' })).toEqual([`${VERSION}\n`, `${VERSION}\n`]);
  });

  it('a compiled swd runs the real switch: bridges, flows, conntrack, a clean stop', async () => {
    const d = daemon(dir);
    await d.start();
    expect(d.ok(['version'])).toEqual([`swd ${VERSION}+compiled`]);
    expect(d.ok(['list-br'])).toEqual(['br0']);
    const add = spawnSync(process.execPath, [join(dir, 'bin/swctl.js'), '--socket', join(d.rundir, 'swd.sock'), 'add-flows', 'br0', '-'], { input: CT_FLOWS, encoding: 'utf8', env: ENV });
    expect([add.status, add.stderr]).toEqual([0, '']);
    d.ok(['inject', 'br0', 'p1', SYN]);
    expect(d.ok(['ct-get-nconns'])).toEqual(['1']);
    expect(d.ok(['dump-conntrack'])).toEqual([
      'tcp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=34567,dport=80),reply=(src=10.1.1.2,dst=10.1.1.1,sport=80,dport=34567),protoinfo=(state=SYN_SENT)',
    ]);
    expect(d.ok(['dump-ports', 'br0', '2']).join('\n')).toMatch(/tx pkts=1,/);
    expect(await d.stop()).toBe(0);
  });

  it('run the edited sources once a source changes, and dist/ again after a rebuild', () => {
    markVersion(join(dir, 'src/ctl/version.ts'), '+edited');
    expect(isFresh(dir)).toBe(false);
    expect(versions(dir)).toEqual([`${VERSION}+edited\n`, `${VERSION}+edited\n`]);

    // A change far from the command's own modules counts as much.
    appendFileSync(join(dir, 'src/packet/hash.ts'), '\n');
    build(dir);
    markVersion(join(dir, 'dist/ctl/version.js'), '+compiled');
    expect(versions(dir)).toEqual([`${VERSION}+edited+compiled\n`, `${VERSION}+edited+compiled\n`]);
    appendFileSync(join(dir, 'src/packet/hash.ts'), '// touched\n');
    expect(versions(dir)).toEqual([`${VERSION}+edited\n`, `${VERSION}+edited\n`]);
  }, 180_000);

  it('run the sources when dist/ is missing or its build never finished', () => {
    build(dir);
    markVersion(join(dir, 'dist/ctl/version.js'), '+compiled');
    expect(versions(dir)[0]).toBe(`${VERSION}+edited+compiled\n`);
    rmSync(join(dir, 'dist/.sources.json'));
    expect(versions(dir)).toEqual([`${VERSION}+edited\n`, `${VERSION}+edited\n`]);
    rmSync(join(dir, 'dist'), { recursive: true });
    expect(versions(dir)).toEqual([`${VERSION}+edited\n`, `${VERSION}+edited\n`]);
    expect(existsSync(join(dir, 'dist'))).toBe(false);
  }, 180_000);

  it('a build that fails leaves no dist/ (an error for npm run build, a warning for prepare) and the bins run the sources', () => {
    const file = join(dir, 'src/packet/hash.ts');
    const good = readFileSync(file, 'utf8');
    build(dir);
    writeFileSync(file, good + "export const broken: number = 'not a number';\n");
    const strict = spawnSync(process.execPath, ['scripts/build.js'], { cwd: dir, encoding: 'utf8', env: ENV });
    expect(strict.status).toBe(1);
    expect(strict.stderr).toContain('swd build: tsc failed');
    expect(existsSync(join(dir, 'dist'))).toBe(false);
    const lenient = spawnSync(process.execPath, ['scripts/build.js', '--if-possible'], { cwd: dir, encoding: 'utf8', env: ENV });
    expect(lenient.status).toBe(0);
    expect(lenient.stderr).toContain('swd and swctl will run from the TypeScript sources');
    expect(existsSync(join(dir, 'dist'))).toBe(false);
    expect(versions(dir)).toEqual([`${VERSION}+edited\n`, `${VERSION}+edited\n`]);
    writeFileSync(file, good);
  }, 180_000);
});

const skip = requireRoot();

describe.skipIf(skip !== undefined)(`a compiled swd's worker threads on real ports${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const topos: Topology[] = [];
  beforeAll(() => {
    cpSync(join(ROOT, 'src/ctl/version.ts'), join(dir, 'src/ctl/version.ts'));
    build(dir);
    markVersion(join(dir, 'dist/ctl/version.js'), '+compiled');
  }, 180_000);
  afterEach(() => {
    for (const t of topos.splice(0)) t.teardown();
  });

  for (const threads of [2, 0]) {
    it(`--pmd-threads ${threads}: ping through two system ports`, { timeout: 120_000 }, async () => {
      const d = daemon(dir);
      const topo = new Topology();
      topos.push(topo);
      const ns = [topo.addNamespace('a'), topo.addNamespace('b')];
      const h = ns.map((n, i) => ({ ns: n, ip: `10.78.0.${i + 1}`, port: topo.plug(n, `p${i}`, `10.78.0.${i + 1}/24`).host }));
      await d.start(['--no-default-bridge', '--pmd-threads', String(threads)]);
      expect(d.ok(['version'])).toEqual([`swd ${VERSION}+compiled`]);
      d.ok(['add-br', 'br0']);
      h.forEach((x, i) => d.ok(['add-port', 'br0', x.port, 'type=system', `ofport=${i + 1}`]));
      d.ok(['add-flow', 'br0', 'actions=normal']);
      const ping = async () => (await topo.ping(h[0].ns, h[1].ip, 1, 1_000)) === 1;
      expect(await waitFor(ping, 30_000, 200), d.stderr).toBe(true);
      const stats = d.ok(['pmd-stats-show']);
      const pmds = stats.filter((l) => l.startsWith('pmd thread numa_id 0 core_id '));
      expect(pmds).toHaveLength(threads);
      if (threads > 0) {
        const received = stats.filter((l) => l.startsWith('  packets received: ')).map((l) => Number(l.split(': ')[1]));
        expect(received.slice(0, threads).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      }
      expect(d.stderr).not.toMatch(/failed|exited/);
    });
  }
});
