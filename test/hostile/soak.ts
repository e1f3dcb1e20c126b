// `npm run soak` (not part of npm test; about 45 minutes by default):
//   1. the packet fuzzer with 10,000,000 packets (SWD_SOAK_PACKETS), and
//      kill -9 during add-flows 200 times (SWD_SOAK_KILLS), through the same
//      test files npm test runs with small counts;
//   2. SWD_SOAK_MINUTES (30) of churn between two namespaces through a swd
//      with two PMD threads and a stateful, NATing table: new TCP
//      connections all the time, UDP from changing ports, ping, and a flow
//      change every few seconds. swd's resident memory is sampled every
//      10 s into soak-rss.csv (SWD_SOAK_CSV). At the end: RSS after the
//      first fifth compared with the end (within 5 %), the connection count
//      bounded, and no megaflow left once traffic stops and max-idle passed.
// Needs root (namespaces), python3 and ping. Prints a summary; exit 1 on a failed check.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Topology } from '../netns/topology.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const SWD = join(ROOT, 'bin/swd.js');
const SWCTL = join(ROOT, 'bin/swctl.js');
const MINUTES = Number(process.env.SWD_SOAK_MINUTES ?? 30);
const CSV = process.env.SWD_SOAK_CSV ?? join(ROOT, 'soak-rss.csv');
const METRICS_PORT = process.env.SWD_SOAK_METRICS_PORT ?? '19417';
const failures: string[] = [];
const check = (ok: boolean, what: string) => { console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`); if (!ok) failures.push(what); };

function phase1(): void {
  if (process.env.SWD_SOAK_SKIP_FUZZ === '1') return;
  const env = { ...process.env, SWD_FUZZ_PACKETS: process.env.SWD_SOAK_PACKETS ?? '10000000', SWD_KILLS: process.env.SWD_SOAK_KILLS ?? '200' };
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/test.js'), 'test/hostile/packet-fuzz.test.ts', 'test/hostile/faults.test.ts'], {
    cwd: ROOT, env, stdio: 'inherit', timeout: 3 * 3600_000,
  });
  check(r.status === 0, `packet fuzz (${env.SWD_FUZZ_PACKETS} packets) and ${env.SWD_KILLS} kills, ${((Date.now() - t0) / 60000).toFixed(1)} min`);
}

const TCP_SERVER = `
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 8080)); s.listen(512)
def h(c):
    try:
        d = c.recv(4096); c.sendall(d.upper())
    except Exception: pass
    c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=h, args=(c,), daemon=True).start()
`;
const TCP_CHURN = `
import socket, sys, time
n = 0
while True:
    try:
        c = socket.create_connection((sys.argv[1], 8080), timeout=2); c.sendall(b'x' * 200); c.recv(4096); c.close(); n += 1
    except Exception: time.sleep(0.05)
`;
const UDP_ECHO = `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 7000))
while True:
    d, a = s.recvfrom(2048); s.sendto(d, a)
`;
const UDP_CHURN = `
import socket, sys, time
p = 20000
while True:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.5)
    try:
        s.bind(('0.0.0.0', p)); s.sendto(b'y' * 64, (sys.argv[1], 7000)); s.recvfrom(100)
    except Exception: pass
    s.close(); p = 20000 + (p - 19999) % 30000; time.sleep(0.005)
`;

/** From the metrics endpoint: the slab's high water (records ever handed out),
 *  the main thread's V8 heap in use (kB) and the PMD threads' V8 heaps
 *  (kB, summed) and the process's memory outside V8 heaps held by JS objects
 *  (ArrayBuffers; kB), -1 when not answered. */
async function scrape(): Promise<number[]> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${METRICS_PORT}/metrics`)).text();
    const slab = /^swd_conntrack_slab_records (\d+)/m.exec(text);
    const heap = /^nodejs_heap_size_used_bytes (\d+)/m.exec(text);
    const pmd = [...text.matchAll(/^swd_pmd_heap_resident_bytes\{[^}]*\} (\d+)/gm)].reduce((a, m) => a + Number(m[1]), 0);
    const ext = /^nodejs_external_memory_bytes (\d+)/m.exec(text);
    const kb = (m: RegExpExecArray | null) => (m ? Math.round(Number(m[1]) / 1024) : -1);
    return [slab ? Number(slab[1]) : -1, kb(heap), Math.round(pmd / 1024), kb(ext)];
  } catch { return [-1, -1, -1, -1]; }
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

async function phase2(): Promise<void> {
  if (process.getuid?.() !== 0) { check(false, 'churn phase needs root'); return; }
  const topo = new Topology();
  const dir = mkdtempSync(join(tmpdir(), 'swd-soak-'));
  const rundir = join(dir, 'run');
  const ctl = (args: string[], input?: string) => spawnSync(process.execPath, [SWCTL, '--rundir', rundir, ...args], { encoding: 'utf8', input, timeout: 60_000 });
  let swd: ChildProcess | null = null;
  try {
    const ns1 = topo.addNamespace('s1');
    const ns2 = topo.addNamespace('s2');
    const p1 = topo.plug(ns1, 's1', '10.79.0.1/24');
    const p2 = topo.plug(ns2, 's2', '10.79.0.2/24');
    // No IPv6 neighbour discovery noise: the last check wants a quiet link.
    for (const ns of [ns1, ns2]) topo.execSync(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
    for (const h of [p1.host, p2.host]) spawnSync('sysctl', ['-qw', `net.ipv6.conf.${h}.disable_ipv6=1`]);
    swd = spawn(process.execPath, [SWD, 'start', '--rundir', rundir, '--no-default-bridge', '--pmd-threads', '2', '--log-level', 'warn', '--metrics', METRICS_PORT], { stdio: ['ignore', 'ignore', 'inherit'] });
    for (let i = 0; i < 400 && !(existsSync(join(rundir, 'swd.sock')) && ctl(['list-br']).status === 0); i++) await new Promise((r) => setTimeout(r, 50));
    ctl(['add-br', 'br0']);
    ctl(['add-port', 'br0', p1.host, 'type=system', 'ofport=1']);
    ctl(['add-port', 'br0', p2.host, 'type=system', 'ofport=2']);
    const base = [
      'table=0,priority=100,arp,actions=normal',
      'table=0,priority=10,in_port=1,ip,actions=ct(table=1,zone=1,nat)',
      // Port-only SNAT: the source port is remapped into 10000-65000, so NAT's
      // port allocation and un-NAT keys churn too.
      'table=0,priority=10,in_port=2,ip,actions=ct(table=1,zone=1,nat)',
      'table=1,priority=10,in_port=1,ct_state=+new+trk,ip,actions=ct(commit,zone=1,nat(src=10.79.0.1:10000-65000)),2',
      'table=1,priority=10,ct_state=+est+trk,in_port=1,actions=2',
      'table=1,priority=10,ct_state=+est+trk,in_port=2,actions=1',
      'table=1,priority=10,ct_state=+rel+trk,actions=normal',
      'table=1,priority=0,actions=drop',
    ];
    ctl(['add-flows', 'br0', '-'], base.join('\n'));
    for (let i = 0; i < 120 && topo.execSync(ns1, ['ping', '-c', '1', '-W', '1', '10.79.0.2'], { timeoutMs: 5000 }).code !== 0; i++);
    const procs = [
      topo.spawn(ns2, ['python3', '-c', TCP_SERVER]),
      topo.spawn(ns2, ['python3', '-c', UDP_ECHO]),
      topo.spawn(ns1, ['python3', '-c', TCP_CHURN, '10.79.0.2']),
      topo.spawn(ns1, ['python3', '-c', UDP_CHURN, '10.79.0.2']),
      topo.spawn(ns1, ['ping', '-i', '0.2', '10.79.0.2']),
    ];
    const samples: number[][] = [];
    const t0 = Date.now();
    const end = t0 + MINUTES * 60_000;
    let change = 0;
    let nextSample = t0;
    writeFileSync(CSV, 'seconds,rss_kb,connections,megaflows,slab_records,main_heap_kb,pmd_heap_kb,external_kb\n');
    while (Date.now() < end) {
      // A flow change every 3 s: a rule that comes and goes, and a priority shuffle of another.
      const extra = `table=1,priority=20,in_port=1,udp,tp_dst=${9000 + (change % 50)},actions=drop`;
      if (process.env.SWD_SOAK_NO_CHANGES !== '1') ctl(change % 2 === 0 ? ['add-flow', 'br0', extra] : ['del-flows', 'br0', '--strict', extra.replace(/,actions=.*$/, '')]);
      change++;
      if (Date.now() >= nextSample) {
        const nconns = Number(ctl(['ct-get-nconns']).stdout.trim());
        const mf = ctl(['dump-dp-flows']).stdout.split('\n').filter((l) => l.length > 0).length;
        const row = [Math.round((Date.now() - t0) / 1000), rssKb(swd.pid!), nconns, mf, ...(await scrape())];
        samples.push(row);
        writeFileSync(CSV, row.join(',') + '\n', { flag: 'a' });
        nextSample += 10_000;
      }
      await new Promise((r) => setTimeout(r, 3000));
    }
    for (const p of procs) await p.stop();
    const warm = samples[Math.floor(samples.length / 5)]?.[1] ?? 0;
    const last = samples[samples.length - 1]?.[1] ?? 0;
    check(warm > 0 && Math.abs(last - warm) / warm <= 0.05, `RSS flat within 5 %: ${warm} kB after warm-up, ${last} kB at the end (${CSV})`);
    const slabWarm = samples[Math.floor(samples.length / 5)]?.[4] ?? -1;
    const slabLast = samples[samples.length - 1]?.[4] ?? -1;
    // The slab hands freed records out again first, so once the churn's
    // working set is reached its high water stops growing (a leak would not).
    check(slabWarm > 0 && slabLast <= Math.max(slabWarm * 1.05, slabWarm + 1000), `slab high water flat: ${slabWarm} records after warm-up, ${slabLast} at the end`);
    check(samples.every((s) => s[2] < 200_000), `connections bounded (max ${Math.max(...samples.map((s) => s[2]))})`);
    await new Promise((r) => setTimeout(r, 15_000)); // past the default max-idle (10 s)
    const left = ctl(['dump-dp-flows']).stdout.split('\n').filter((l) => l.length > 0);
    check(left.length === 0, `no megaflow left after traffic stopped (${left.length})`);
    if (left.length) console.log(left.slice(0, 5).join("\n"));
    check(ctl(['ct-get-nconns']).status === 0, 'control socket answering at the end');
  } finally {
    if (swd) { swd.kill('SIGTERM'); await new Promise((r) => setTimeout(r, 1000)); swd.kill('SIGKILL'); }
    await topo.stopProcesses();
    topo.teardown();
    rmSync(dir, { recursive: true, force: true });
  }
}

phase1();
await phase2();
console.log(failures.length === 0 ? 'soak: all checks passed' : `soak: ${failures.length} checks failed`);
process.exit(failures.length === 0 ? 0 : 1);
