// Network namespaces and veth pairs for real-traffic tests and benchmarks.
//
// A Topology owns everything it creates: namespaces, host-side links and the
// background processes started inside its namespaces. Every name carries the
// topology's tag (pid- and random-based), so topologies of tests running in
// parallel never collide, and teardown() removes exactly what this topology
// made. A resource is recorded before it is created, so a half-done setup is
// torn down too; teardown is idempotent, never throws for a resource that is
// already gone, and also runs when the process exits with topologies still up
// (a safety net; tests call teardown or use withTopology).
//
// Linux limits interface names to 15 characters (IFNAMSIZ - 1): the tag takes
// 6, a caller's suffix may take 9. Namespace names have no such limit.
//
// Everything here shells out to iproute2 (`ip`), ethtool and python3;
// it needs root.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { pingPy } from './ping-py.ts';

/** Longest interface name Linux accepts (IFNAMSIZ - 1). */
export const IFNAME_MAX = 15;
const TAG_LEN = 6;
/** Longest suffix a caller may give an interface name. */
export const IFSUFFIX_MAX = IFNAME_MAX - TAG_LEN;

const DEFAULT_TIMEOUT_MS = 30_000;
/** How long stop() waits after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 3_000;

export interface CmdResult {
  code: number;
  stdout: string;
  stderr: string;
  /** True when the command was killed because it ran past its time bound. */
  timedOut: boolean;
}

export interface RunOptions {
  /** Kill the command (its whole process group) after this long. */
  timeoutMs?: number;
  /** Throw unless the command exits 0 (default true for setup commands, false for run/exec). */
  check?: boolean;
  input?: string;
}

export class TopologyError extends Error {
  readonly code = 'ETOPOLOGY';
  constructor(
    message: string,
    readonly result?: CmdResult,
  ) {
    super(message);
  }
}

/**
 * Whether this process can build namespaces: undefined when it can, else the
 * reason to skip. Under CI=true nothing may skip, so it throws instead.
 */
export function requireRoot(): string | undefined {
  let reason: string | undefined;
  if (process.platform !== 'linux') reason = 'needs Linux network namespaces';
  else if (process.getuid?.() !== 0) reason = 'needs root (network namespaces and veth pairs)';
  else if (spawnSync('ip', ['-V'], { encoding: 'utf8' }).status !== 0) reason = 'needs iproute2 (`ip`)';
  if (reason !== undefined && process.env.CI === 'true') {
    throw new Error(`${reason}: CI runs as root and must not skip real-traffic tests`);
  }
  return reason;
}

/** Run a command synchronously with a time bound (kills it on timeout). */
export function runSync(argv: string[], opts: RunOptions = {}): CmdResult {
  const r = spawnSync(argv[0]!, argv.slice(1), {
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    killSignal: 'SIGKILL',
    input: opts.input,
    maxBuffer: 64 * 1024 * 1024,
  });
  const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  const res: CmdResult = {
    code: r.status ?? -1,
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? (r.error ? String(r.error.message) : ''),
    timedOut,
  };
  if (opts.check && res.code !== 0) throw failure(argv, res);
  return res;
}

/** Run a command asynchronously with a time bound; the whole process group is killed on timeout. */
export function run(argv: string[], opts: RunOptions = {}): Promise<CmdResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin!.end(opts.input ?? '');
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child, 'SIGKILL');
    }, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const res: CmdResult = { code: code ?? -1, stdout, stderr, timedOut };
      if (opts.check && res.code !== 0) reject(failure(argv, res));
      else resolve(res);
    });
  });
}

function failure(argv: string[], r: CmdResult): TopologyError {
  const why = r.timedOut ? 'timed out' : `exited ${r.code}`;
  return new TopologyError(`\`${argv.join(' ')}\` ${why}: ${r.stderr.trim()}`, r);
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** A process started in the background inside a namespace. */
export class BackgroundProcess {
  stdout = '';
  stderr = '';
  /** Resolves with the exit code (or -1 when killed by a signal). */
  readonly exited: Promise<number>;

  constructor(
    readonly argv: string[],
    readonly child: ChildProcess,
  ) {
    child.stdout?.on('data', (d: Buffer) => (this.stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => {
      child.once('error', (e) => {
        this.stderr += String(e.message);
        resolve(-1);
      });
      child.once('close', (code) => resolve(code ?? -1));
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM (or `signal`) to the process group, SIGKILL if it is still there after a grace period. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = STOP_GRACE_MS): Promise<number> {
    if (!this.running) return this.exited;
    killGroup(this.child, signal);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), graceMs)));
    const first = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (first === 'late') killGroup(this.child, 'SIGKILL');
    return this.exited;
  }

  /** Synchronous last resort (signal handlers, process exit). */
  killNow(): void {
    killGroup(this.child, 'SIGKILL');
  }
}

export interface VethPair {
  /** Names of the two ends, e.g. `w1a2b3h1` and `w1a2b3n1`. */
  a: string;
  b: string;
}

const live = new Set<Topology>();
let exitHookInstalled = false;
let counter = 0;

function newTag(): string {
  // 'w' + pid (2 base-36 digits) + random (2) + per-process counter (1) = 6.
  const pid = (process.pid % 1296).toString(36).padStart(2, '0');
  const rnd = randomInt(1296).toString(36).padStart(2, '0');
  const seq = (counter++ % 36).toString(36);
  return `w${pid}${rnd}${seq}`;
}

export class Topology {
  /** Prefix of every name this topology creates. */
  readonly tag: string;
  private readonly namespaces: string[] = [];
  private readonly links: string[] = [];
  private readonly procs: BackgroundProcess[] = [];
  private readonly cleanups: (() => void)[] = [];
  private tornDown = false;

  constructor() {
    this.tag = newTag();
    live.add(this);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once('exit', () => {
        for (const t of live) t.teardown();
      });
    }
  }

  /** The interface name for `suffix` under this topology's tag. */
  ifname(suffix: string): string {
    const name = `${this.tag}${suffix}`;
    if (suffix.length === 0 || name.length > IFNAME_MAX || !/^[A-Za-z0-9_.-]+$/.test(suffix)) {
      throw new TopologyError(`interface suffix '${suffix}' must be 1..${IFSUFFIX_MAX} characters of [A-Za-z0-9_.-]`);
    }
    return name;
  }

  /** Create namespace `<tag>-<name>` with its loopback up; returns its full name. */
  addNamespace(name: string): string {
    this.assertLive();
    const ns = `${this.tag}-${name}`;
    this.namespaces.push(ns);
    runSync(['ip', 'netns', 'add', ns], { check: true });
    runSync(['ip', '-n', ns, 'link', 'set', 'lo', 'up'], { check: true });
    return ns;
  }

  /** Create a veth pair `<tag><a>` — `<tag><b>` in the host namespace, both down. */
  addVethPair(a: string, b: string): VethPair {
    this.assertLive();
    const pair = { a: this.ifname(a), b: this.ifname(b) };
    // Deleting either end deletes both; record one, the other follows.
    this.links.push(pair.a);
    runSync(['ip', 'link', 'add', pair.a, 'type', 'veth', 'peer', 'name', pair.b], { check: true });
    return pair;
  }

  /** Create a Linux bridge `<tag><name>` in the host namespace, up. */
  addBridge(name: string): string {
    this.assertLive();
    const br = this.ifname(name);
    this.links.push(br);
    runSync(['ip', 'link', 'add', br, 'type', 'bridge'], { check: true });
    runSync(['ip', 'link', 'set', br, 'up'], { check: true });
    return br;
  }

  /** Attach host interface `ifname` to Linux bridge `br`. */
  enslave(ifname: string, br: string): void {
    runSync(['ip', 'link', 'set', ifname, 'master', br], { check: true });
  }

  /** Move interface `ifname` from the host into namespace `ns` (it comes up down). */
  moveToNamespace(ifname: string, ns: string): void {
    runSync(['ip', 'link', 'set', ifname, 'netns', ns], { check: true });
  }

  /** Add an address (`10.0.0.1/24`, `fd00::1/64`) to `ifname` in `ns` (null: the host). */
  addAddress(ns: string | null, ifname: string, cidr: string): void {
    runSync([...ipIn(ns), 'addr', 'add', cidr, 'dev', ifname, ...(cidr.includes(':') ? ['nodad'] : [])], { check: true });
  }

  /** Bring `ifname` up in `ns` (null: the host). */
  up(ns: string | null, ifname: string): void {
    runSync([...ipIn(ns), 'link', 'set', ifname, 'up'], { check: true });
  }

  /** Set a link option such as `mtu 9000` or `address 02:00:00:00:00:01`. */
  setLink(ns: string | null, ifname: string, ...args: string[]): void {
    runSync([...ipIn(ns), 'link', 'set', ifname, ...args], { check: true });
  }

  /**
   * Turn ethtool offloads on or off, e.g. `{ tx: false }` so the kernel fills
   * in transport checksums before a packet leaves a veth (as OVS's system
   * tests do), or `{ gro: false, gso: false, tso: false }`.
   */
  setOffloads(ns: string | null, ifname: string, offloads: Record<string, boolean>): void {
    const args = Object.entries(offloads).flatMap(([k, v]) => [k, v ? 'on' : 'off']);
    runSync([...execIn(ns), 'ethtool', '-K', ifname, ...args], { check: true });
  }

  /**
   * A veth pair with one end in `ns`, addressed `cidr` and up (offloads
   * `nsOffloads` applied there), the other end left in the host, up without
   * an address. Returns the host end and the namespace end.
   */
  plug(ns: string, suffix: string, cidr: string, nsOffloads?: Record<string, boolean>): { host: string; inner: string } {
    const pair = this.addVethPair(`${suffix}h`, `${suffix}n`);
    this.moveToNamespace(pair.b, ns);
    this.addAddress(ns, pair.b, cidr);
    if (nsOffloads) this.setOffloads(ns, pair.b, nsOffloads);
    this.up(ns, pair.b);
    this.up(null, pair.a);
    return { host: pair.a, inner: pair.b };
  }

  /** Run `argv` inside `ns` and wait for it, with a time bound. */
  exec(ns: string, argv: string[], opts: RunOptions = {}): Promise<CmdResult> {
    return run([...execIn(ns), ...argv], opts);
  }

  /** Same as exec, synchronously. */
  execSync(ns: string | null, argv: string[], opts: RunOptions = {}): CmdResult {
    return runSync([...execIn(ns), ...argv], opts);
  }

  /** Start `argv` in the background inside `ns` (null: the host); teardown stops it if nobody did. */
  spawn(ns: string | null, argv: string[], env?: NodeJS.ProcessEnv): BackgroundProcess {
    this.assertLive();
    const full = [...execIn(ns), ...argv];
    const child = spawn(full[0]!, full.slice(1), { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    const p = new BackgroundProcess(full, child);
    this.procs.push(p);
    return p;
  }

  /**
   * ICMP echo from `ns` to `dst` (IPv4): `count` requests, each waiting up to
   * `waitMs` for its reply. Returns how many replies came back. Uses python3
   * raw sockets, so it needs no ping binary.
   */
  async ping(ns: string, dst: string, count = 3, waitMs = 2_000): Promise<number> {
    return (await this.pingStats(ns, dst, count, waitMs)).received;
  }

  /**
   * Same as ping, with the round-trip time of each reply in milliseconds;
   * `gapMs` pauses after each reply (or timeout) so that every request finds
   * the path idle.
   */
  async pingStats(ns: string, dst: string, count = 3, waitMs = 2_000, gapMs = 0): Promise<{ received: number; rttMs: number[] }> {
    const r = await this.exec(ns, ['python3', '-c', PING_PY, dst, String(count), String(waitMs / 1000), String(gapMs / 1000)], {
      timeoutMs: count * (waitMs + gapMs) + 10_000,
    });
    if (r.code !== 0) throw failure(['ping', dst], r);
    const [received, ...rtt] = r.stdout.trim().split(/\s+/).map(Number);
    return { received: received ?? 0, rttMs: rtt };
  }

  /** Register extra cleanup (e.g. stop a daemon) to run first at teardown. */
  onTeardown(fn: () => void): void {
    this.cleanups.push(fn);
  }

  /** Names this topology has created (and not yet removed). */
  created(): { namespaces: string[]; links: string[] } {
    return { namespaces: [...this.namespaces], links: [...this.links] };
  }

  /**
   * Remove everything: extra cleanups (last registered first), background
   * processes (SIGKILL to their groups), namespaces (their interfaces go with
   * them, and with those the veth peers), host links. Idempotent and
   * synchronous, so it is safe in signal and exit handlers. Returns the
   * problems it met (resources that refused to go); an already-missing
   * resource is not a problem.
   */
  teardown(): string[] {
    const problems: string[] = [];
    if (this.tornDown) return problems;
    this.tornDown = true;
    live.delete(this);
    for (const fn of this.cleanups.splice(0).reverse()) {
      try {
        fn();
      } catch (e) {
        problems.push(`cleanup: ${(e as Error).message}`);
      }
    }
    for (const p of this.procs.splice(0)) p.killNow();
    for (const ns of this.namespaces.splice(0).reverse()) {
      const r = runSync(['ip', 'netns', 'del', ns], { timeoutMs: 10_000 });
      if (r.code !== 0 && !/No such file|not found|Cannot find/i.test(r.stderr)) problems.push(`netns ${ns}: ${r.stderr.trim()}`);
    }
    for (const l of this.links.splice(0).reverse()) {
      const r = runSync(['ip', 'link', 'del', l], { timeoutMs: 10_000 });
      if (r.code !== 0 && !/Cannot find|does not exist|not found/i.test(r.stderr)) problems.push(`link ${l}: ${r.stderr.trim()}`);
    }
    return problems;
  }

  /** Stop every background process still running (SIGTERM, then SIGKILL after `graceMs`). */
  async stopProcesses(graceMs = 1_000): Promise<void> {
    await Promise.all(this.procs.filter((p) => p.running).map((p) => p.stop('SIGTERM', graceMs)));
  }

  /** For `await using topo = new Topology()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stopProcesses();
    this.teardown();
  }

  private assertLive(): void {
    if (this.tornDown) throw new TopologyError(`topology ${this.tag} is already torn down`);
  }
}

/** Build a topology, run `fn` on it, and tear it down whatever happens. */
export async function withTopology<T>(fn: (topo: Topology) => Promise<T> | T): Promise<T> {
  const topo = new Topology();
  try {
    return await fn(topo);
  } finally {
    await topo.stopProcesses();
    const problems = topo.teardown();
    if (problems.length > 0) console.error(`topology ${topo.tag} teardown: ${problems.join('; ')}`);
  }
}

/** Tear down every topology still up in this process (for SIGINT handlers). */
export function teardownAll(): string[] {
  const problems: string[] = [];
  for (const t of [...live]) problems.push(...t.teardown());
  return problems;
}

function ipIn(ns: string | null): string[] {
  return ns === null ? ['ip'] : ['ip', '-n', ns];
}

function execIn(ns: string | null): string[] {
  return ns === null ? [] : ['ip', 'netns', 'exec', ns];
}

// ICMP echo over a raw socket: argv dst count wait_seconds gap_seconds;
// prints replies received, then each reply's round-trip time in
// milliseconds (to 0.1 us).
const PING_PY = pingPy();

/** Wait (bounded) until `check` returns true (it may be async); returns its last answer. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, stepMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** waitFor, failing with "timed out waiting for `what`" when the time is up. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000, stepMs = 100): Promise<void> {
  if (!(await waitFor(check, timeoutMs, stepMs))) throw new Error(`timed out waiting for ${what}`);
}
