// swctl as a user runs it (a child process) against a daemon with a fake
// switch: the daemon's text printed as is, --json, errors on one line with
// exit 1, usage errors with exit 2, and the help listing the commands.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../../src/ctl/daemon.ts';
import { FakeSwitch } from './fake-switch.ts';
import { silent, swctl } from './helpers.ts';

describe('swctl against a running swd', () => {
  const dir = mkdtempSync(join(tmpdir(), 'swd-ctl-'));
  let d: Daemon;
  const ctl = (...args: string[]) => swctl(['--socket', d.paths.socket, ...args]);
  beforeAll(async () => {
    d = await startDaemon({ rundir: join(dir, 'run'), logger: silent, createSwitch: (cfg) => FakeSwitch.fromConfig(cfg) });
  });
  afterAll(async () => {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the text the daemon returns', async () => {
    expect(await ctl('show', 'br0')).toEqual({ code: 0, stdout: 'br0:\n 1(p1): type dummy\n 2(p2): type dummy\n', stderr: '' });
    expect((await ctl('list-br')).stdout).toBe('br0\n');
    expect((await ctl('dump-dp-flows')).stdout).toBe('recirc_id(0),in_port(1),eth_type(0x0800), packets:1, bytes:64, used:0.100s, actions:2\n');
    expect((await ctl('dump-dp-flows', '-m')).stdout).toMatch(/^ufid:0, /);
    expect((await ctl('trace', 'br0', 'in_port=1')).stdout).toBe('Flow: in_port=1\n\nDatapath actions: drop\n');
    expect((await ctl('pcap-replay', 'br0', 'p1')).stdout).toBe('3 packets\n');
    expect((await ctl('version')).stdout).toMatch(/^swd \d+\.\d+\.\d+\n$/);
  });

  it('prints the result object with --json', async () => {
    const r = await ctl('--json', 'show', 'br0');
    expect(JSON.parse(r.stdout)).toEqual({
      bridge: 'br0',
      ports: [
        { name: 'p1', type: 'dummy', ofport: 1, options: {}, state: 'up', error: null, linkResets: 0 },
        { name: 'p2', type: 'dummy', ofport: 2, options: {}, state: 'up', error: null, linkResets: 0 },
      ],
      lines: ['br0:', ' 1(p1): type dummy', ' 2(p2): type dummy'],
    });
    expect(JSON.parse((await ctl('--json', 'inject', 'br0', 'p1', 'aabb', '--count', '3')).stdout)).toEqual({ injected: 3 });
  });

  it('shows every bridge when show has no bridge', async () => {
    expect((await ctl('add-br', 'br1')).code).toBe(0);
    expect((await ctl('show')).stdout).toBe('br0:\n 1(p1): type dummy\n 2(p2): type dummy\nbr1:\n');
    expect((await ctl('del-br', 'br1')).code).toBe(0);
  });

  it('adds ports with type, ofport and options', async () => {
    expect(await ctl('add-port', 'br0', 'p9', 'type=pcap', 'ofport=9', 'options:rx_pcap=a.pcap,tx_pcap=b.pcap', 'options:x=y')).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(d.sw.show('br0').ports.at(-1)).toEqual({ name: 'p9', type: 'pcap', ofport: 9, options: { rx_pcap: 'a.pcap', tx_pcap: 'b.pcap', x: 'y' }, state: 'up', error: null, linkResets: 0 });
    expect((await ctl('del-port', 'br0', 'p9')).code).toBe(0);
  });

  it('sends flow files, and stdin for -', async () => {
    const f = join(dir, 'flows.txt');
    writeFileSync(f, '# comment\npriority=10,actions=drop\npriority=20,actions=NORMAL\n');
    expect((await ctl('add-flows', 'br0', f)).code).toBe(0);
    const stdin = await swctl(['--socket', d.paths.socket, 'add-flows', 'br0', '-'], { input: 'priority=30,actions=output:2\n' });
    expect(stdin.code).toBe(0);
    expect((await ctl('add-flow', 'br0', 'priority=40,actions=drop')).code).toBe(0);
    expect((await ctl('dump-flows', 'br0')).stdout).toBe(' priority=10,actions=drop\n priority=20,actions=NORMAL\n priority=30,actions=output:2\n priority=40,actions=drop\n');
    expect(JSON.parse((await ctl('--json', 'del-flows', 'br0')).stdout)).toEqual({ deleted: 4 });
  });

  it('reports daemon errors on one line with status 1', async () => {
    expect(await ctl('show', 'nosuch')).toEqual({ code: 1, stdout: '', stderr: 'swctl: no bridge named nosuch\n' });
    const f = join(dir, 'bad.txt');
    writeFileSync(f, 'priority=1\n');
    expect(await ctl('add-flows', 'br0', f)).toEqual({ code: 1, stdout: '', stderr: `swctl: ${f}:1:1: missing actions\n` });
    expect(await ctl('add-flows', 'br0', join(dir, 'none.txt'))).toEqual({ code: 1, stdout: '', stderr: `swctl: cannot read ${join(dir, 'none.txt')}: no such file\n` });
  });

  it('reports usage errors with status 2, without asking the daemon', async () => {
    const unknown = await ctl('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.split('\n')[0]).toBe("swctl: unknown command 'frobnicate'");
    expect(await ctl('inject', 'br0', 'p1', 'aa', '--count', 'x')).toEqual({ code: 2, stdout: '', stderr: "swctl: bad count 'x' (expected a positive integer)\n" });
    expect(await ctl('add-port', 'br0', 'p3', 'colour=red')).toEqual({
      code: 2,
      stdout: '',
      stderr: "swctl: unknown port argument 'colour=red' (expected type=, ofport= or options:key=value)\n",
    });
    expect((await ctl('add-br')).code).toBe(2);
  });

  it('finds the socket through $SWD_SOCKET and --rundir', async () => {
    expect((await swctl(['list-br'], { env: { ...process.env, SWD_SOCKET: d.paths.socket } })).stdout).toBe('br0\n');
    expect((await swctl(['--rundir', d.paths.rundir, 'list-br'])).stdout).toBe('br0\n');
  });
});

describe('swctl without a daemon', () => {
  it('says how to start swd', async () => {
    const sock = join(tmpdir(), `swd-none-${process.pid}.sock`);
    expect(await swctl(['--socket', sock, 'list-br'])).toEqual({
      code: 1,
      stdout: '',
      stderr: `swctl: cannot connect to swd at ${sock}: is swd running? (start it with \`npm start\` or \`swd start\`)\n`,
    });
  });

  it('runs parse-flows offline', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'swd-pf-'));
    try {
      const f = join(dir, 'flows.txt');
      writeFileSync(f, 'priority=10,ip,actions=drop\n');
      const r = await swctl(['parse-flows', f]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout.length).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lists exactly its commands in --help', async () => {
    const r = await swctl(['--help']);
    expect(r.code).toBe(0);
    const cmds = r.stdout
      .split('\n')
      .filter((l) => /^ {2}[a-z]/.test(l))
      .map((l) => l.trim().split(/\s/)[0]);
    expect(cmds).toEqual([
      'show', 'add-br', 'del-br', 'list-br', 'add-port', 'del-port', 'dump-ports', 'add-flow', 'add-flows', 'replace-flows', 'diff-flows', 'mod-flows',
      'del-flows', 'dump-flows', 'parse-flows', 'add-group', 'add-groups', 'mod-group', 'del-groups', 'dump-groups',
      'dump-group-stats', 'add-meter', 'mod-meter', 'del-meters', 'dump-meters', 'meter-stats', 'meter-features', 'inject', 'pcap-replay', 'trace', 'dump-dp-flows', 'del-dp-flows',
      'fdb-show', 'pmd-stats-show', 'pmd-set-threads', 'dump-conntrack', 'offload-set', 'offload-show', 'dump-offloaded', 'flush-conntrack', 'dump-conntrack-exp', 'ct-stats-show', 'ct-set-maxconns', 'ct-get-maxconns',
      'ct-get-nconns', 'ct-set-limits', 'ct-get-limits', 'ct-del-limits', 'ct-enable-tcp-seq-chk',
      'ct-disable-tcp-seq-chk', 'ct-get-tcp-seq-chk', 'ct-set-timeout-policy', 'ct-get-timeout-policy', 'ct-events', 'ct-save', 'ct-save-show', 'vlog-set', 'vlog-list',
      'ipf-set-enabled', 'ipf-set-disabled', 'ipf-set-min-frag', 'ipf-set-max-nfrags', 'ipf-get-status',
      'set-controller', 'get-controller', 'del-controller', 'set-fail-mode', 'get-fail-mode', 'del-fail-mode',
      'version', 'help',
    ]);
  });
});
