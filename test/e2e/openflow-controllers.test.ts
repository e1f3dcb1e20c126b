// Controllers of a bridge (swctl set-controller / get-controller /
// del-controller, set-fail-mode): a fake controller in this process that
// swd connects to (echo probes, a peer that stops answering them is
// disconnected and reconnected with backoff), table-miss packet-ins by
// OpenFlow version, fail modes with no controller reachable (secure keeps the
// flows, standalone fails open to NORMAL and comes back when a controller is
// admitted), the database across a restart, bad targets refused, and
// ptcp/punix listeners that the real ovs-ofctl and ovs-testcontroller use.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SwdInstance } from './harness.ts';
import { FakeController, freePort, OFPT_ECHO_REQUEST, swctl, until } from './fake-controller.ts';

const A = '000000000001', B = '000000000002';
const icmp = (dst: string, src: string, ip: string) => `${dst}${src}0800${ip}`;
const REQ = icmp(B, A, '4500001c000100004001f98cc0a80001c0a800020800f7ff00000000');
const REPLY = icmp(A, B, '4500001c000100004001f97cc0a80002c0a800010000ffff00000000');

function tool(name: string, pkg: string): string | undefined {
  const r = spawnSync(name, ['--version'], { encoding: 'utf8' });
  if (r.status === 0) return undefined;
  const reason = `needs ${name} (Debian package ${pkg})`;
  if (process.env.CI === 'true') throw new Error(`${reason}: CI installs it and must not skip`);
  return reason;
}

describe('controllers of a bridge', () => {
  const swd = new SwdInstance();
  const fakes: FakeController[] = [];
  const fake = async (version: number, admit = false, port = 0) => {
    const f = new FakeController(version, admit);
    await f.listen(port);
    fakes.push(f);
    return f;
  };
  // swctl runs asynchronously: the fake controllers live in this process and must keep answering meanwhile.
  const ok = async (args: string[]) => {
    const r = await swctl(swd.socket, args);
    if (r.code !== 0) throw new Error(`swctl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r.lines;
  };
  const status = async () => JSON.parse((await ok(['--json', 'get-controller', 'br0'])).join('\n')).controllers as Record<string, unknown>[];
  const txPkts = async (port: string) => Number(/tx pkts=(\d+)/.exec((await ok(['dump-ports', 'br0', port]))[2])![1]);
  const show = () => ok(['show', 'br0']);

  beforeAll(async () => {
    await swd.start();
  });
  afterEach(async () => {
    await ok(['del-controller', 'br0']);
    await ok(['del-fail-mode', 'br0']);
    await ok(['del-flows', 'br0']);
    for (const f of fakes.splice(0)) await f.close();
  });
  afterAll(async () => {
    await swd.dispose();
  });

  it('refuses bad targets and settings with a clear error, changing nothing', async () => {
    const bad: [string[], string][] = [
      [['set-controller', 'br0', 'tcp:localhost'], "tcp:localhost: 'localhost' is not an IP address"],
      [['set-controller', 'br0', 'ptcp:6653:127.0.0.1', 'tcp:1.2.3.4:99999'], "tcp:1.2.3.4:99999: bad port '99999'"],
      [['set-controller', 'br0', 'ssl:1.2.3.4'], 'SSL connections are not supported'],
      [['set-controller', 'br0', 'tcp:1.2.3.4', 'tcp:1.2.3.4'], 'tcp:1.2.3.4: given twice'],
      [['set-controller', 'br0', 'tcp:1.2.3.4', '--inactivity-probe', '5'], 'the inactivity probe must be 0 (off) or at least 100 ms'],
      [['set-controller', 'nobr', 'tcp:1.2.3.4'], 'no bridge named nobr'],
      [['set-fail-mode', 'br0', 'open'], "fail mode must be secure or standalone, not 'open'"],
    ];
    for (const [args, msg] of bad) {
      const r = swd.ctl(args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toContain(msg);
    }
    expect(await ok(['get-controller', 'br0'])).toEqual([]);
    expect(await ok(['get-fail-mode', 'br0'])).toEqual([]);
  });

  it('probes an idle controller with echo requests; one that stops answering is disconnected and reconnected', async () => {
    const f = await fake(4, true);
    const target = `tcp:127.0.0.1:${f.port}`;
    await ok(['set-controller', 'br0', target, '--inactivity-probe', '1000']);
    expect(await ok(['get-controller', 'br0'])).toEqual([target]);
    await until('an echo request', () => f.conns[0]?.types.includes(OFPT_ECHO_REQUEST) ?? false);
    const s = (await status())[0];
    expect(s).toMatchObject({ target, mode: 'active', isConnected: true, version: 4, role: 'other', inactivityProbeMs: 1000 });
    const lines = await show();
    const at = lines.findIndex((l) => l.startsWith(` controller(${target}): `));
    expect(at).toBeGreaterThan(lines.findIndex((l) => l.startsWith(' 2(p2)')));
    expect(lines[at + 1]).toBe('     is_connected: true');

    f.answerEchoes = false;
    await until('the unanswered connection closed', () => f.conns[0].closed);
    f.answerEchoes = true;
    await until('a new connection', () => f.conns.length >= 2);
    await until('connected again', async () => (await status())[0].isConnected === true);
    expect((await status())[0]).toMatchObject({ disconnects: 1, attempts: 2, lastError: 'Connection timed out' });
    await until('the probe failure logged', () => swd.stderr.includes(`br0<->${target}: no response to inactivity probe after`));
  });

  it('sends table misses to OpenFlow 1.0 controllers (no_match), not to 1.3 ones, where only controller actions go up', async () => {
    const f10 = await fake(1);
    await ok(['set-controller', 'br0', `tcp:127.0.0.1:${f10.port}`]);
    await until('connected', async () => (await status())[0]?.isConnected === true);
    await ok(['inject', 'br0', 'p1', REQ]);
    await until('a packet-in', () => f10.conns[0].packetInReasons.length > 0);
    expect(f10.conns[0].packetInReasons).toEqual([0]);

    const f13 = await fake(4);
    await ok(['set-controller', 'br0', `tcp:127.0.0.1:${f13.port}`]);
    await until('connected', async () => (await status())[0]?.isConnected === true && (await status())[0].version === 4);
    await ok(['add-flow', 'br0', 'priority=10,in_port=2,actions=controller']);
    await ok(['inject', 'br0', 'p1', REQ]); // a miss: dropped for OpenFlow 1.3
    await ok(['inject', 'br0', 'p2', REPLY]); // the controller action
    await until('a packet-in', () => f13.conns[0].packetInReasons.length > 0);
    expect(f13.conns[0].packetInReasons).toEqual([1]);
  });

  it('a controller that becomes master makes the other master a slave, which gets no packet-ins', async () => {
    const a = await fake(4, true), b = await fake(4, true);
    const ta = `tcp:127.0.0.1:${a.port}`, tb = `tcp:127.0.0.1:${b.port}`;
    await ok(['set-controller', 'br0', ta, tb]);
    await until('both connected', async () => (await status()).every((s) => s.isConnected === true));
    a.requestRole(2);
    await until('a master', async () => (await status())[0].role === 'master');
    b.requestRole(2);
    await until('b master', async () => (await status())[1].role === 'master');
    expect((await status()).map((s) => s.role)).toEqual(['slave', 'master']);
    // The old master is told (ONFT_ROLE_STATUS, an experimenter message in OpenFlow 1.3).
    await until('a told it is a slave', () => a.conns[0].types.includes(4));
    await ok(['add-flow', 'br0', 'actions=controller']);
    await ok(['inject', 'br0', 'p1', REQ]);
    await until('a packet-in at the master', () => b.conns[0].packetInReasons.length === 1);
    expect(a.conns[0].packetInReasons).toEqual([]);
    expect(await show()).toContain('     role:         slave');
  });

  it('secure: without a controller the installed flows stay and nothing else happens', async () => {
    const dead = await freePort();
    await ok(['add-flow', 'br0', 'in_port=1,actions=output:2']);
    await ok(['set-fail-mode', 'br0', 'secure']);
    await ok(['set-controller', 'br0', `tcp:127.0.0.1:${dead}`, '--inactivity-probe', '100']);
    await until('three connection attempts', async () => ((await status())[0].attempts as number) >= 3);
    expect((await status())[0]).toMatchObject({ isConnected: false, lastError: 'ECONNREFUSED' });
    const lines = await show();
    expect(lines).toContain(' fail_mode: secure');
    expect(lines).toContain(`     last_error:   "ECONNREFUSED"`);
    expect(await ok(['dump-flows', 'br0', '--no-stats'])).toEqual([' in_port=1 actions=output:2']);
    const before = (await txPkts('p2'));
    await ok(['inject', 'br0', 'p1', REQ]);
    expect((await txPkts('p2'))).toBe(before + 1);
  });

  it('standalone: fails open (flows flushed, NORMAL) and recovers when a controller is admitted', async () => {
    const port = await freePort();
    await ok(['add-flow', 'br0', 'priority=5,actions=drop']);
    await ok(['set-fail-mode', 'br0', 'standalone']);
    await ok(['set-controller', 'br0', `tcp:127.0.0.1:${port}`, '--inactivity-probe', '1000', '--max-backoff', '2000']);
    await until('fail-open', async () => (await show()).includes(' fail_mode: standalone, failed open (NORMAL)'));
    expect(await ok(['dump-flows', 'br0', '--no-stats'])).toEqual([]);
    const before = (await txPkts('p2'));
    await ok(['inject', 'br0', 'p1', REQ]); // unknown destination: NORMAL floods it
    expect((await txPkts('p2'))).toBe(before + 1);
    await until('fail-open logged', () => swd.stderr.includes('br0: could not connect to controller for'));

    const f = await fake(4, true, port);
    await until('the controller back', async () => f.conns.length > 0 && (await show()).includes(' fail_mode: standalone'), 30_000);
    await until('the recovery logged', () => swd.stderr.includes('br0: no longer in fail-open mode'));
    const after = (await txPkts('p2'));
    await ok(['inject', 'br0', 'p1', REQ]); // no flows and a 1.3 controller: dropped
    expect((await txPkts('p2'))).toBe(after);
  });

  it('keeps controllers and the fail mode in the database across a restart', async () => {
    const port = await freePort();
    await ok(['set-controller', 'br0', `ptcp:${port}`, 'tcp:127.0.0.1:9', '--inactivity-probe', '1000', '--max-backoff', '2000']);
    await ok(['set-fail-mode', 'br0', 'secure']);
    const db = JSON.parse(readFileSync(join(swd.rundir, 'swd.db.json'), 'utf8'));
    expect(db.bridges[0]).toMatchObject({
      failMode: 'secure',
      controllers: [
        { target: `ptcp:${port}`, inactivityProbeMs: 1000, maxBackoffMs: 2000 },
        { target: 'tcp:127.0.0.1:9', inactivityProbeMs: 1000, maxBackoffMs: 2000 },
      ],
    });
    await swd.stop();
    await swd.start();
    expect(await ok(['get-controller', 'br0'])).toEqual([`ptcp:${port}`, 'tcp:127.0.0.1:9']);
    expect(await ok(['get-fail-mode', 'br0'])).toEqual(['secure']);
    expect((await status()).map((s) => [s.target, s.mode, s.inactivityProbeMs, s.maxBackoffMs])).toEqual([
      [`ptcp:${port}`, 'passive', 1000, 2000],
      ['tcp:127.0.0.1:9', 'active', 1000, 2000],
    ]);
    expect(await show()).toContain(` controller(ptcp:${port}): LISTENING`);
  });

  const noOfctl = tool('ovs-ofctl', 'openvswitch-common');
  it.skipIf(noOfctl !== undefined)(`ptcp and punix listeners serve the real ovs-ofctl${noOfctl ? ` (skipped: ${noOfctl})` : ''}`, async () => {
    const port = await freePort();
    await ok(['set-controller', 'br0', `ptcp:${port}:127.0.0.1`, 'punix:br0.ctl']);
    const ofctl = (args: string[]) => {
      const r = spawnSync('ovs-ofctl', ['-O', 'OpenFlow13', ...args], { encoding: 'utf8', timeout: 20_000 });
      if (r.status !== 0) throw new Error(`ovs-ofctl ${args.join(' ')}: ${r.stderr}`);
      return r.stdout.split('\n').filter((l) => l);
    };
    await until('listening', async () => (await status()).every((s) => s.state === 'LISTENING'));
    ofctl(['add-flow', `tcp:127.0.0.1:${port}`, 'priority=7,in_port=1,actions=output:2']);
    expect(ofctl(['dump-flows', `unix:${join(swd.rundir, 'br0.ctl')}`, '--no-stats'])).toEqual([' priority=7,in_port=1 actions=output:2']);
    expect(await ok(['dump-flows', 'br0', '--no-stats'])).toEqual([' priority=7,in_port=1 actions=output:2']);
  });

  const noCtl = tool('ovs-testcontroller', 'openvswitch-testcontroller');
  it.skipIf(noCtl !== undefined)(`ovs-testcontroller in OpenFlow 1.0, reached by set-controller tcp:, learns from table-miss packet-ins${noCtl ? ` (skipped: ${noCtl})` : ''}`, async () => {
    const port = await freePort();
    let ctl: ChildProcess | null = spawn('ovs-testcontroller', ['-O', 'OpenFlow10', `ptcp:${port}:127.0.0.1`], { stdio: 'ignore', env: { ...process.env, OVS_RUNDIR: swd.dir } });
    try {
      await ok(['set-fail-mode', 'br0', 'secure']);
      await ok(['set-controller', 'br0', `tcp:127.0.0.1:${port}`]);
      await until('connected', async () => (await status())[0]?.isConnected === true);
      const p2 = (await txPkts('p2')), p1 = (await txPkts('p1'));
      await ok(['inject', 'br0', 'p1', REQ]);
      await until('the flooded request on p2', async () => (await txPkts('p2')) === p2 + 1);
      await ok(['inject', 'br0', 'p2', REPLY]);
      await until('the learned flow for the reply', async () => (await ok(['dump-flows', 'br0', '--no-stats'])).length === 1);
      expect((await txPkts('p1'))).toBe(p1 + 1);
      expect(await ok(['dump-flows', 'br0', '--no-stats'])).toEqual([
        ' idle_timeout=60, priority=1,icmp,in_port=2,vlan_tci=0x0000,dl_src=00:00:00:00:00:02,dl_dst=00:00:00:00:00:01,nw_src=192.168.0.2,nw_dst=192.168.0.1,nw_tos=0,icmp_type=0,icmp_code=0 actions=output:1',
      ]);
    } finally {
      ctl?.kill('SIGTERM');
      ctl = null;
    }
  });
});
