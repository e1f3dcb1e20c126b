// Real-traffic test hosts: network namespaces joined to swd's system ports
// by veth pairs, the programs that run in them (ping, python3 TCP/UDP
// peers), and teardown that runs even when a test fails. Everything lives
// in namespaces this file creates (names carry the test process id), so the
// host's own interfaces and addresses are never touched; every wait has a
// deadline.
//
// Needs root and iproute2, ping, python3. Without them the tests skip with
// the reason — except under CI=true, where a missing prerequisite fails.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export const IS_ROOT = process.getuid?.() === 0;
const TOOLS = ['ip', 'ping', 'python3'];

/** Why the netns tests cannot run here, or null when they can. Throws under CI=true. */
export function netnsUnavailable(): string | null {
  let why: string | null = null;
  if (!IS_ROOT) why = 'needs root (network namespaces, AF_PACKET)';
  else {
    const missing = TOOLS.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
    if (missing.length) why = `missing tools: ${missing.join(', ')}`;
    else if (spawnSync('ip', ['netns', 'list']).status !== 0) why = 'ip netns does not work here';
  }
  if (why && process.env.CI === 'true') throw new Error(`netns tests must run in CI: ${why}`);
  return why;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function sh(cmd: string, args: string[], timeoutMs = 10_000): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function must(cmd: string, args: string[]): string {
  const r = sh(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

let seq = 0;

export interface Host {
  ns: string;
  /** The host end of its veth pair: the system port's name. */
  port: string;
  ip: string;
  mac: string;
}

/** A set of namespaces, each with one veth pair, torn down by cleanup(). */
export class Topology {
  readonly tag: string;
  readonly hosts: Host[] = [];
  private readonly procs: ChildProcess[] = [];
  private readonly links: string[] = [];

  constructor() {
    this.tag = `sw${(process.pid % 10000).toString(36)}${(seq++).toString(36)}`;
  }

  /** A namespace with eth0 = ip/24, joined by a veth pair whose host end is `<tag>h<n>` (up, no address). */
  addHost(ip: string): Host {
    const n = this.hosts.length + 1;
    const ns = `${this.tag}n${n}`;
    const port = `${this.tag}h${n}`;
    must('ip', ['netns', 'add', ns]);
    const host: Host = { ns, port, ip, mac: '' };
    this.hosts.push(host);
    must('ip', ['link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    this.links.push(port);
    must('ip', ['link', 'set', port, 'up']);
    this.inNs(host, 'ip', ['addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    this.inNs(host, 'ip', ['link', 'set', 'eth0', 'up']);
    this.inNs(host, 'ip', ['link', 'set', 'lo', 'up']);
    host.mac = this.inNs(host, 'cat', ['/sys/class/net/eth0/address']).trim();
    return host;
  }

  /** Run a command in host's namespace; throws on failure. */
  inNs(h: Host, cmd: string, args: string[]): string {
    return must('ip', ['netns', 'exec', h.ns, cmd, ...args]);
  }

  /** Run a command in host's namespace; returns the result whatever it is. */
  tryInNs(h: Host, cmd: string, args: string[], timeoutMs = 10_000): RunResult {
    return sh('ip', ['netns', 'exec', h.ns, cmd, ...args], timeoutMs);
  }

  /** A long-running program in host's namespace, killed by cleanup(). */
  spawnInNs(h: Host, cmd: string, args: string[]): ChildProcess {
    const c = spawn('ip', ['netns', 'exec', h.ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.procs.push(c);
    return c;
  }

  /** Register an interface outside the namespaces to delete on cleanup (if it still exists). */
  ownLink(name: string): void {
    this.links.push(name);
  }

  cleanup(): void {
    for (const p of this.procs) if (p.exitCode === null) p.kill('SIGKILL');
    for (const h of this.hosts) sh('ip', ['netns', 'del', h.ns]);
    for (const l of this.links) {
      if (sh('ip', ['link', 'show', l]).code === 0) sh('ip', ['link', 'del', l]);
    }
  }
}

/** The python3 interpreter itself (not a version-manager shim, which is slow to start). */
export const PYTHON = (() => {
  const r = sh('python3', ['-c', 'import sys; print(sys.executable)']);
  return r.code === 0 && r.stdout.trim() ? r.stdout.trim() : 'python3';
})();

/** Wait (bounded) until `check` returns true; returns its last answer. */
export async function waitFor(check: () => boolean, timeoutMs = 10_000, stepMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/**
 * A TCP server in python3: for each connection it reads one line, answers
 * "<peer address> <line upper-cased>\n" and prints "accepted <peer>" on stdout.
 */
export const TCP_SERVER = `
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', int(sys.argv[1])))
s.listen(64)
print('listening', flush=True)
while True:
    c, a = s.accept()
    c.settimeout(5)
    try:
        data = b''
        while not data.endswith(b'\\n'):
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
        c.sendall(a[0].encode() + b' ' + data.upper())
        print('accepted', a[0], len(data), flush=True)
    except Exception as e:
        print('error', e, flush=True)
    finally:
        c.close()
`;

/** Client: connect, send `payload` + newline, print the answer line (exit 1 on any failure). */
export const TCP_CLIENT = `
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[4]))
    s.sendall(sys.argv[3].encode() + b'\\n')
    data = b''
    while not data.endswith(b'\\n'):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    print(data.decode().strip())
except Exception as e:
    print('failed', type(e).__name__, e)
    sys.exit(1)
`;

/** UDP probe: send one datagram to a closed port, print what comes back (refused = ICMP port unreachable). */
export const UDP_PROBE = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect((sys.argv[1], int(sys.argv[2])))
s.send(b'probe')
try:
    s.recv(100)
    print('answered')
except ConnectionRefusedError:
    print('refused')
except socket.timeout:
    print('timeout')
`;

/** Start TCP_SERVER in h's namespace and wait until it listens. */
export async function startTcpServer(topo: Topology, h: Host, port: number): Promise<{ accepted: () => string[] }> {
  const p = topo.spawnInNs(h, PYTHON, ['-u', '-c', TCP_SERVER, String(port)]);
  let out = '';
  p.stdout!.on('data', (d) => (out += d.toString()));
  p.stderr!.on('data', (d) => (out += d.toString()));
  const up = await waitFor(() => out.includes('listening'), 10_000, 50);
  if (!up) throw new Error(`TCP server in ${h.ns} did not start: ${out}`);
  return {
    /** The peers of the connections answered so far (printed after the answer: wait with waitFor). */
    accepted: () => out.split('\n').filter((l) => l.startsWith('accepted ')).map((l) => l.split(' ')[1]),
  };
}

/** Run TCP_CLIENT in h's namespace; returns the answer line or "failed ...". */
export function tcpRequest(topo: Topology, h: Host, ip: string, port: number, payload: string, timeoutSec = 3): string {
  const r = topo.tryInNs(h, PYTHON, ['-c', TCP_CLIENT, ip, String(port), payload, String(timeoutSec)], (timeoutSec + 5) * 1000);
  return r.stdout.trim() || `failed ${r.stderr.trim()}`;
}
