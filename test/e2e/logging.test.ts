// swd's log through swd and swctl: `--log-file` gets pino JSON lines, each
// with its module; `swctl vlog-list` shows the levels as ovs-appctl
// vlog/list does and `swctl vlog-set` changes them in the running daemon;
// a per-packet warning (NAT exhaustion) is rate-limited: 20 lines, then
// one "N similar messages suppressed" line instead of the rest.

import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { path, SwdInstance } from './harness.ts';

const E12 = 'eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02)';
const udp = (src: string) =>
  `in_port(1),${E12},eth_type(0x0800),ipv4(src=${src},dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1000,dst=53)`;
const NAT_MSG = 'zone 1: packet dropped: unable to NAT due to tuple space exhaustion';

describe('logging', { timeout: 300_000 }, () => {
  const swd = new SwdInstance();
  const logFile = () => path(swd, 'logs/swd.json');
  const entries = () => (existsSync(logFile()) ? readFileSync(logFile(), 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l)) : []);
  beforeAll(async () => {
    await swd.start(['--no-default-bridge', '--log-level', 'info', '--log-file', logFile()]);
    swd.ok(['add-br', 'br0']);
    swd.ok(['add-port', 'br0', 'p1', 'ofport=1']);
    swd.ok(['add-port', 'br0', 'p2', 'ofport=2']);
    swd.ok(['add-flow', 'br0', 'in_port=1,ip,action=ct(commit,zone=1,nat(src=10.1.1.240:5000)),2']);
  }, 120_000);
  afterAll(() => swd.dispose());

  it('--log-file: JSON lines with a module each, nothing on stderr', () => {
    const e = entries();
    expect(e.length).toBeGreaterThan(0);
    expect(e.find((x) => x.msg === 'swd started')).toMatchObject({ module: 'daemon', level: 30 });
    expect(swd.stderr).not.toContain('"msg"');
  });

  it('vlog-list and vlog-set in the running daemon', () => {
    const list = swd.ok(['vlog-list']);
    expect(list.slice(0, 2)).toEqual(['                 console    syslog    file', '                 -------    ------    ------']);
    expect(list).toContain('conntrack          OFF        OFF       INFO');
    expect(swd.ok(['vlog-set', 'dpif:dbg', 'rpc:warn'])).toEqual([]);
    expect(swd.ok(['vlog-list'])).toEqual(expect.arrayContaining(['dpif               OFF        OFF        DBG', 'rpc                OFF        OFF       WARN']));
    const bad = swd.ctl(['vlog-set', 'nosuch:info']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("unknown module, destination or level 'nosuch'");
    const dest = swd.ctl(['vlog-set', 'conntrack:console:info']);
    expect(dest.stderr).toContain('swd logs to a file (--log-file), not to console');
  });

  it('NAT exhaustion, once per packet: 20 lines, then "N similar messages suppressed"; vlog-set conntrack:off silences it', async () => {
    swd.ok(['inject', 'br0', 'p1', udp('10.1.1.1')]); // takes the only tuple
    swd.ok(['inject', '--count', '35', 'br0', 'p1', udp('10.1.1.3')]);
    expect(swd.ok(['ct-stats-show', '-m']).join('\n')).toContain('NAT exhaustion drops: 35');
    const warned = () => entries().filter((x) => x.msg === NAT_MSG);
    expect(warned()).toHaveLength(20);
    expect(warned()[0]).toMatchObject({ module: 'conntrack', level: 40, zone: 1 });
    // The count of the other 15 is reported once things are quiet (the daemon's tick, after 10 s).
    const deadline = Date.now() + 60_000;
    while (!entries().some((x) => x.suppressed !== undefined) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    const sup = entries().filter((x) => x.suppressed !== undefined);
    expect(sup).toHaveLength(1);
    expect(sup[0]).toMatchObject({ module: 'conntrack', level: 40, suppressed: 15 });
    expect(sup[0].msg).toMatch(/^15 similar messages suppressed in the last \d+ s$/);

    swd.ok(['vlog-set', 'conntrack:off']);
    const n = entries().length;
    swd.ok(['inject', '--count', '5', 'br0', 'p1', udp('10.1.1.4')]);
    expect(entries().slice(n).filter((x) => x.module === 'conntrack')).toEqual([]);
  });
});
