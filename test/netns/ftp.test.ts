// FTP and TFTP through swd with real servers and clients in namespaces:
// python3-pyftpdlib serves, curl downloads; tftpd-hpa serves, tftp-hpa gets
// and puts. ns1 (port 1) is the client side, ns2 (port 2) the server side.
//
// Covered: seed 002's flow table (ct(alg=ftp,commit) out of port 1, only
// established and related traffic back from port 2) with active (PORT,
// EPRT) and passive (PASV, EPSV) transfers over IPv4 and EPRT/EPSV over
// IPv6, and a connection from ns2 that no control connection announced
// dropped; FTP through SNAT and DNAT (IPv4) and through IPv6 SNAT, active
// and passive (the server refuses a PORT naming an address other than its
// peer's, so an active transfer through SNAT only works when the address in
// the command is rewritten); TFTP get and put with and without SNAT. Every
// transferred file is compared byte for byte.

import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SwdInstance } from '../e2e/harness.ts';
import { fresh, systemBridge } from './fresh.ts';
import { requireRoot, runSync, waitFor, type Topology } from './topology.ts';

const FTPD_PYTHON = '/usr/bin/python3'; // Debian's python3-pyftpdlib lives with the system interpreter

const skip = requireRoot() ?? missingTools();

function missingTools(): string | null {
  const need = `command -v curl && command -v tftp && command -v in.tftpd && ${FTPD_PYTHON} -c 'import pyftpdlib'`;
  if (runSync(['sh', '-c', need]).code === 0) return null;
  if (process.env.CI === 'true') throw new Error('needs curl, tftp-hpa, tftpd-hpa and python3-pyftpdlib: CI must not skip real-traffic tests');
  return 'needs curl, tftp-hpa, tftpd-hpa and python3-pyftpdlib';
}

interface Host { ns: string; port: string; dev: string; ip: string; ip6: string; mac: string }

function addHost(topo: Topology, n: number): Host {
  const ns = topo.addNamespace(`f${n}`);
  const ip = `10.77.0.${n}`;
  const ip6 = `fc00:77::${n}`;
  const { host, inner } = topo.plug(ns, `q${n}`, `${ip}/24`);
  topo.execSync(ns, ['ip', 'addr', 'add', `${ip6}/64`, 'dev', inner, 'nodad'], { check: true });
  const mac = topo.execSync(ns, ['cat', `/sys/class/net/${inner}/address`], { check: true }).stdout.trim();
  return { ns, port: host, dev: inner, ip, ip6, mac };
}


/** Two namespaces on system ports 1 and 2 of br0 in a fresh swd, `flows` installed, swd reading. */
async function setup(flows: string[], swdArgs: string[] = []): Promise<{ topo: Topology; swd: SwdInstance; h: Host[]; dir: string }> {
  const { topo, swd } = fresh();
  const h = [addHost(topo, 1), addHost(topo, 2)];
  await swd.start(['--no-default-bridge', ...swdArgs]);
  systemBridge(swd, h.map((x) => x.port), flows);
  // Wait until swd forwards (its PMD thread boots after the first port): ARP + ping over the flows.
  const ok = await waitFor(() => topo.execSync(h[0].ns, ['ping', '-c', '1', '-W', '1', h[1].ip], { timeoutMs: 5_000 }).code === 0, 60_000, 200);
  if (!ok) throw new Error('swd never forwarded ns1 -> ns2');
  const dir = mkdtempSync(join(tmpdir(), `swd-ftp-${topo.tag}-`));
  chmodSync(dir, 0o777);
  topo.onTeardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'data.bin'), randomBytes(300_000));
  return { topo, swd, h, dir };
}

/** pyftpdlib on port 21 of `addr` in ns2, anonymous, writable, serving dir; resolves once it listens. */
async function startFtpd(topo: Topology, h: Host, addr: string, dir: string): Promise<void> {
  topo.spawn(h.ns, [FTPD_PYTHON, '-m', 'pyftpdlib', '-p', '21', '-i', addr, '-d', dir, '-w']);
  const listening = () => topo.execSync(h.ns, ['ss', '-Hltn', 'sport = :21'], { timeoutMs: 5_000 }).stdout.includes(':21');
  if (!(await waitFor(listening, 20_000))) throw new Error('pyftpdlib did not start');
}

/** curl an FTP download from ns1; returns the downloaded bytes (or throws with curl's message). */
function ftpGet(topo: Topology, h: Host, url: string, dir: string, mode: string[]): Buffer {
  const out = join(dir, `got-${Math.random().toString(36).slice(2)}`);
  const r = topo.execSync(h.ns, ['curl', '-sS', '--max-time', '30', ...mode, '-o', out, url], { timeoutMs: 40_000 });
  if (r.code !== 0) throw new Error(`curl ${mode.join(' ')} ${url}: ${r.stderr.trim()}`);
  return readFileSync(out);
}

const ACTIVE_PORT = ['--ftp-port', '-', '--disable-eprt'];
const ACTIVE_EPRT = ['--ftp-port', '-'];
const PASSIVE_PASV = ['--disable-epsv'];
const PASSIVE_EPSV: string[] = [];

/** Seed 002's table for IPv4 and IPv6 TCP, ARP and neighbour discovery switched. */
function seed002(): string[] {
  const f = ['table=0,priority=1,action=drop', 'table=0,priority=10,arp,action=normal', 'table=0,priority=10,icmp6,action=normal',
    'table=0,priority=10,icmp,action=normal'];
  for (const t of ['tcp', 'tcp6']) {
    f.push(`table=0,priority=100,in_port=1,${t},action=ct(alg=ftp,commit),2`,
      `table=0,priority=100,in_port=2,${t},ct_state=-trk,action=ct(table=1)`,
      `table=1,in_port=2,${t},ct_state=+trk-new+est,action=1`,
      `table=1,in_port=2,${t},ct_state=+trk+new+rel,action=ct(commit),1`,
      `table=1,in_port=2,${t},ct_state=+trk-new+est+rel,action=1`);
  }
  return f;
}

/** A NAT table: port 1's connections committed with the helper and `nat`, related ones from port 2 committed with nat. */
function natFlows(nat: string, proto: string): string[] {
  return ['table=0,priority=1,action=drop', 'table=0,priority=10,arp,action=normal', 'table=0,priority=10,icmp6,action=normal',
    'table=0,priority=10,icmp,action=normal',
    `table=0,priority=100,in_port=1,${proto},action=ct(alg=${proto.startsWith('udp') ? 'tftp' : 'ftp'},commit,${nat}),2`,
    `table=0,priority=100,in_port=2,${proto},action=ct(table=1,nat)`,
    `table=1,in_port=2,${proto},ct_state=+trk+est,action=1`,
    `table=1,in_port=2,${proto},ct_state=+trk+new+rel,action=ct(commit,nat),1`];
}

const TCP_PROBE = `
import socket, sys
s = socket.socket(); s.settimeout(3)
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); print('connected')
except Exception as e:
    print('failed', type(e).__name__)
`;

describe.skipIf(skip !== null)(`FTP and TFTP helpers with real clients and servers${skip ? ` (skipped: ${skip})` : ''}`, { timeout: 300_000 }, () => {
  it("seed 002's table: active and passive, PORT/PASV and EPRT/EPSV, IPv4 and IPv6; an unannounced connection back is dropped", async () => {
    const { topo, swd, h, dir } = await setup(seed002());
    const want = readFileSync(join(dir, 'data.bin'));
    await startFtpd(topo, h[1], '::', dir);
    for (const mode of [ACTIVE_PORT, ACTIVE_EPRT, PASSIVE_PASV, PASSIVE_EPSV]) {
      expect(ftpGet(topo, h[0], `ftp://${h[1].ip}/data.bin`, dir, mode).equals(want)).toBe(true);
    }
    for (const mode of [ACTIVE_EPRT, PASSIVE_EPSV]) {
      expect(ftpGet(topo, h[0], `ftp://[${h[1].ip6}]/data.bin`, dir, mode).equals(want)).toBe(true);
    }
    const ct = swd.ok(['dump-conntrack']);
    expect(ct.filter((l) => l.startsWith('tcp,orig=(src=10.77.0.1,dst=10.77.0.2,') && l.includes('dport=21)') && l.endsWith(',helper=ftp')).length).toBe(4);
    expect(ct.filter((l) => l.startsWith('tcp,orig=(src=fc00:77::1,dst=fc00:77::2,') && l.includes('dport=21)') && l.endsWith(',helper=ftp')).length).toBe(2);
    // The active data connections came from the server and are related to their control connection.
    const m = swd.ok(['dump-conntrack', '-m']);
    const related = m.filter((l) => l.includes(',parent=('));
    expect(related.filter((l) => l.startsWith('tcp,orig=(src=10.77.0.2,dst=10.77.0.1,')).length).toBe(2);
    expect(related.filter((l) => l.startsWith('tcp,orig=(src=fc00:77::2,dst=fc00:77::1,')).length).toBe(1);
    for (const l of related) expect(l).toMatch(/,parent=\(src=(10\.77\.0\.1|fc00:77::1),dst=(10\.77\.0\.2|fc00:77::2),sport=\d+,dport=21\)$/);
    const stats = swd.ok(['ct-stats-show', '-m']);
    const exp = /ALG expectations: created (\d+), matched (\d+), expired (\d+)/.exec(stats.join('\n'))!;
    expect(Number(exp[1])).toBeGreaterThanOrEqual(6);
    expect(Number(exp[2])).toBeGreaterThanOrEqual(3);
    // ns2 connecting to ns1 on its own: +new, not related, dropped.
    topo.spawn(h[0].ns, ['python3', '-c', 'import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 40001)); s.listen(); time.sleep(60)']);
    await waitFor(() => topo.execSync(h[0].ns, ['ss', '-Hltn', 'sport = :40001']).stdout.includes('40001'), 20_000);
    expect(topo.execSync(h[1].ns, ['python3', '-c', TCP_PROBE, h[0].ip, '40001'], { timeoutMs: 10_000 }).stdout.trim()).toMatch(/^failed (TimeoutError|timeout)/);
    expect(topo.execSync(h[0].ns, ['python3', '-c', TCP_PROBE, h[1].ip, '21'], { timeoutMs: 10_000 }).stdout.trim()).toBe('connected');
  });

  for (const threads of [1, 2]) {
  it(`FTP through SNAT (IPv4): active and passive; the server sees the translated address (${threads} PMD thread${threads > 1 ? 's, expectations shared' : ''})`, async () => {
    const { topo, swd, h, dir } = await setup(natFlows('nat(src=10.77.0.240)', 'tcp'), ['--pmd-threads', String(threads)]);
    topo.execSync(h[1].ns, ['ip', 'neigh', 'replace', '10.77.0.240', 'lladdr', h[0].mac, 'dev', h[1].dev, 'nud', 'permanent'], { check: true });
    const want = readFileSync(join(dir, 'data.bin'));
    await startFtpd(topo, h[1], h[1].ip, dir);
    for (const mode of [ACTIVE_PORT, PASSIVE_PASV, ACTIVE_EPRT, PASSIVE_EPSV]) {
      expect(ftpGet(topo, h[0], `ftp://${h[1].ip}/data.bin`, dir, mode).equals(want)).toBe(true);
    }
    const ct = swd.ok(['dump-conntrack']);
    expect(ct.filter((l) => /^tcp,orig=\(src=10\.77\.0\.1,dst=10\.77\.0\.2,sport=\d+,dport=21\),reply=\(src=10\.77\.0\.2,dst=10\.77\.0\.240,/.test(l) && l.endsWith(',helper=ftp')).length).toBe(4);
    // Active data connections: from the server to the translated address, DNATed back to the client.
    expect(ct.filter((l) => /^tcp,orig=\(src=10\.77\.0\.2,dst=10\.77\.0\.240,sport=\d+,dport=\d+\),reply=\(src=10\.77\.0\.1,dst=10\.77\.0\.2,/.test(l)).length).toBe(2);
  });
  }

  it('FTP through DNAT (IPv4): the client talks to a virtual address, 227/229 name it', async () => {
    const { topo, swd, h, dir } = await setup(natFlows('nat(dst=10.77.0.2)', 'tcp'));
    topo.execSync(h[0].ns, ['ip', 'neigh', 'replace', '10.77.0.100', 'lladdr', h[1].mac, 'dev', h[0].dev, 'nud', 'permanent'], { check: true });
    const want = readFileSync(join(dir, 'data.bin'));
    await startFtpd(topo, h[1], h[1].ip, dir);
    for (const mode of [PASSIVE_PASV, PASSIVE_EPSV, ACTIVE_PORT, ACTIVE_EPRT]) {
      expect(ftpGet(topo, h[0], 'ftp://10.77.0.100/data.bin', dir, mode).equals(want)).toBe(true);
    }
    const ct = swd.ok(['dump-conntrack']);
    expect(ct.filter((l) => /^tcp,orig=\(src=10\.77\.0\.1,dst=10\.77\.0\.100,sport=\d+,dport=21\),reply=\(src=10\.77\.0\.2,dst=10\.77\.0\.1,/.test(l)).length).toBe(4);
    // Passive data connections to the virtual address, DNATed to the server.
    expect(ct.filter((l) => /^tcp,orig=\(src=10\.77\.0\.1,dst=10\.77\.0\.100,sport=\d+,dport=(?!21\))\d+\),reply=\(src=10\.77\.0\.2,/.test(l)).length).toBe(2);
  });

  it('FTP through IPv6 SNAT: EPRT rewritten, EPSV followed', async () => {
    const { topo, swd, h, dir } = await setup(natFlows('nat(src=fc00:77::240)', 'tcp6'));
    topo.execSync(h[1].ns, ['ip', 'neigh', 'replace', 'fc00:77::240', 'lladdr', h[0].mac, 'dev', h[1].dev, 'nud', 'permanent'], { check: true });
    const want = readFileSync(join(dir, 'data.bin'));
    await startFtpd(topo, h[1], h[1].ip6, dir);
    for (const mode of [ACTIVE_EPRT, PASSIVE_EPSV]) {
      expect(ftpGet(topo, h[0], `ftp://[${h[1].ip6}]/data.bin`, dir, mode).equals(want)).toBe(true);
    }
    const ct = swd.ok(['dump-conntrack']);
    expect(ct.filter((l) => l.startsWith('tcp,orig=(src=fc00:77::1,dst=fc00:77::2,') && l.includes('dport=21)') && l.includes('dst=fc00:77::240,') && l.endsWith(',helper=ftp')).length).toBe(2);
    expect(ct.some((l) => l.startsWith('tcp,orig=(src=fc00:77::2,dst=fc00:77::240,'))).toBe(true);
  });

  for (const nat of [null, 'nat(src=10.77.0.240)']) {
    it(`TFTP get and put ${nat ? 'through SNAT' : 'without NAT'}`, async () => {
      const flows = nat ? natFlows(nat, 'udp') : natFlows('nat', 'udp').map((l) => l.replace(',nat)', ')').replace(',nat),', ','));
      const { topo, swd, h, dir } = await setup(flows);
      if (nat) topo.execSync(h[1].ns, ['ip', 'neigh', 'replace', '10.77.0.240', 'lladdr', h[0].mac, 'dev', h[1].dev, 'nud', 'permanent'], { check: true });
      topo.spawn(h[1].ns, ['in.tftpd', '-L', '-a', `${h[1].ip}:69`, '-c', '-p', '-u', 'root', '-s', dir]);
      const listening = () => topo.execSync(h[1].ns, ['ss', '-Hlun', 'sport = :69']).stdout.includes(':69');
      expect(await waitFor(listening, 20_000)).toBe(true);
      const got = join(dir, 'tftp-got.bin');
      const r = topo.execSync(h[0].ns, ['tftp', h[1].ip, '-m', 'binary', '-c', 'get', 'data.bin', got], { timeoutMs: 60_000 });
      expect([r.code, r.stderr.trim()]).toEqual([0, '']);
      expect(readFileSync(got).equals(readFileSync(join(dir, 'data.bin')))).toBe(true);
      const local = join(dir, 'upload-src.bin');
      writeFileSync(local, randomBytes(100_000));
      const put = topo.execSync(h[0].ns, ['tftp', h[1].ip, '-m', 'binary', '-c', 'put', local, 'uploaded.bin'], { timeoutMs: 60_000 });
      expect([put.code, put.stderr.trim()]).toEqual([0, '']);
      expect(readFileSync(join(dir, 'uploaded.bin')).equals(readFileSync(local))).toBe(true);
      const ct = swd.ok(['dump-conntrack']);
      const ctl = ct.filter((l) => l.startsWith('udp,orig=(src=10.77.0.1,dst=10.77.0.2,') && l.includes('dport=69)'));
      expect(ctl.length).toBe(2);
      for (const l of ctl) expect(l.endsWith(',helper=tftp')).toBe(true);
      if (nat) for (const l of ctl) expect(l).toContain('reply=(src=10.77.0.2,dst=10.77.0.240,');
      const data = swd.ok(['dump-conntrack', '-m']).filter((l) => l.startsWith('udp,orig=(src=10.77.0.2,') && l.includes(',parent=('));
      expect(data.length).toBe(2);
    });
  }
});
