// Conntrack across a restart, through swd and swctl: SIGTERM (as `swd stop`)
// saves the table beside the database and the next start restores it —
// the SNAT mapping is the one from before and replies are un-NATed to the
// client; `swd restart` does both in one; a corrupt save file is reported
// (log, `swctl ct-save-show`) and ignored; a full disk when saving is
// reported and the running table is kept.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TIMEOUT_ATTRS } from '../../src/conntrack/timeouts.ts';
import { path, SwdInstance } from './harness.ts';
import { sent } from './sent.ts';

const E12 = 'eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02)';
const E21 = 'eth(src=50:54:00:00:00:02,dst=50:54:00:00:00:01)';
const v4 = (src: string, dst: string, l4: string, proto: number) =>
  `eth_type(0x0800),ipv4(src=${src},dst=${dst},proto=${proto},tos=0,ttl=64,frag=no),${l4}`;
const swdCmd = (...args: string[]) => spawnSync(process.execPath, ['bin/swd.js', ...args], { encoding: 'utf8', timeout: 60_000 });
const root = process.getuid?.() === 0;

describe('conntrack across a restart', { timeout: 600_000 }, () => {
  const swd = new SwdInstance();
  const saveFile = () => join(swd.rundir, 'swd.db.conntrack');
  beforeAll(async () => {
    await swd.start(['--no-default-bridge', '--max-idle', '600000']);
    swd.ok(['ct-set-timeout-policy', 'zone=1', ...TIMEOUT_ATTRS.map((a) => `${a}=3600`)]);
    swd.ok(['add-br', 'br0']);
    swd.ok(['add-port', 'br0', 'p1', 'ofport=1', `options:tx_pcap=${path(swd, 'p1.pcap')}`]);
    swd.ok(['add-port', 'br0', 'p2', 'ofport=2', `options:tx_pcap=${path(swd, 'p2.pcap')}`]);
    writeFileSync(path(swd, 'snat.txt'), [
      'in_port=1,ip,action=ct(commit,zone=1,nat(src=10.1.1.240-10.1.1.255)),2',
      'in_port=2,ct_state=-trk,ip,action=ct(table=0,zone=1,nat)',
      'in_port=2,ct_state=+est,ct_zone=1,ip,action=1',
    ].join('\n'));
    swd.ok(['add-flows', 'br0', path(swd, 'snat.txt')]);
  }, 600_000);
  afterAll(async () => {
    swdCmd('stop', '--rundir', swd.rundir);
    await swd.dispose();
  });

  it('SIGTERM saves the table, the next start restores it: same SNAT mapping, replies un-NATed', async () => {
    swd.ok(['inject', 'br0', 'p1', `in_port(1),${E12},${v4('10.1.1.1', '10.1.1.2', 'udp(src=1000,dst=53)', 17)}`]);
    swd.ok(['inject', 'br0', 'p1', `in_port(1),${E12},${v4('10.1.1.1', '10.1.1.2', 'tcp(src=34567,dst=80),tcp_flags(syn)', 6)}`]);
    const [udp] = sent(path(swd, 'p2.pcap'));
    const before = swd.ok(['dump-conntrack', '-m']).sort();
    expect(before).toHaveLength(2);
    expect(swd.ok(['ct-save-show'])).toEqual([`file: ${saveFile()}`, 'restore: nothing to restore at start', 'last save: none']);

    await swd.stop(); // SIGTERM
    expect(existsSync(saveFile())).toBe(true);
    await swd.start();
    expect(existsSync(saveFile())).toBe(false); // consumed: a later crash cannot bring these back
    expect(swd.ok(['dump-conntrack', '-m']).sort()).toEqual(before);
    expect(swd.ok(['ct-save-show'])[1]).toMatch(/^restore: 2 connections restored, 0 expired while stopped \(stopped \d+\.\d s, \d+ bytes, \d+\.\d ms\)$/);
    // The reply to the translated address reaches the client.
    swd.ok(['inject', 'br0', 'p2', `in_port(2),${E21},${v4('10.1.1.2', udp.src, 'udp(src=53,dst=1000)', 17)}`]);
    const back = sent(path(swd, 'p1.pcap'));
    expect(back.map((s) => [s.src, s.dst, s.sport, s.dport, s.checksumsOk])).toEqual([['10.1.1.2', '10.1.1.1', 53, 1000, true]]);
    expect(swd.ok(['dump-conntrack']).find((l) => l.startsWith('udp'))).toBe(
      `udp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=1000,dport=53),reply=(src=10.1.1.2,dst=${udp.src},sport=53,dport=1000),zone=1`,
    );
  });

  it('swd restart: stop and start in one, keeping the run directory and the table', () => {
    const before = swd.ok(['dump-conntrack']).sort();
    const r = swdCmd('restart', '--detach', '--rundir', swd.rundir, '--no-default-bridge', '--max-idle', '600000', '--log-level', 'warn');
    expect(r.stderr).toMatch(/^swd stopped\nswd listening on .*swd\.sock \(pid \d+\)\n$/);
    expect(r.status).toBe(0);
    expect(swd.ok(['dump-conntrack']).sort()).toEqual(before);
    expect(swd.ok(['ct-get-timeout-policy', '1'])).toContain('  tcp_established=3600');
  });

  it('a corrupt save file is reported and ignored; the start goes on with an empty table', async () => {
    expect(swdCmd('stop', '--rundir', swd.rundir).status).toBe(0);
    writeFileSync(saveFile(), 'SWDCTSAV but not really a save file');
    await swd.start();
    expect(swd.ok(['dump-conntrack'])).toEqual([]);
    expect(swd.ok(['ct-save-show'])[1]).toBe(`restore: ignored (ECTSAVE_CORRUPT): ${saveFile()}: truncated header (35 of 72 bytes)`);
    expect(swd.stderr).toContain('conntrack: ignored the saved connection table');
    expect(existsSync(`${saveFile()}.bad`)).toBe(true);
    expect(swd.ok(['list-br'])).toEqual(['br0']);
  });

  it.skipIf(!root && process.env.CI !== 'true')('a full disk when saving: reported, the running table kept (tmpfs; needs root)', async () => {
    const d = path(swd, 'tiny');
    mkdirSync(d);
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', d]).status).toBe(0);
    const other = new SwdInstance();
    try {
      const db = join(d, 'swd.db.json');
      await other.start(['--no-default-bridge', '--db', db]);
      other.ok(['add-br', 'br0']);
      other.ok(['add-port', 'br0', 'p1', 'ofport=1']);
      other.ok(['add-port', 'br0', 'p2', 'ofport=2']);
      other.ok(['add-flow', 'br0', 'in_port=1,ip,action=ct(commit),2']);
      other.ok(['inject', 'br0', 'p1', `in_port(1),${E12},${v4('10.1.1.1', '10.1.1.2', 'udp(src=1,dst=2)', 17)}`]);
      expect(other.ok(['ct-save'])[0]).toMatch(/^saved 1 connections to .*swd\.db\.conntrack \(\d+ bytes\)$/);
      // Fill the filesystem.
      spawnSync('dd', ['if=/dev/zero', `of=${join(d, 'fill')}`, 'bs=1k', 'count=64']);
      other.ok(['inject', 'br0', 'p1', `in_port(1),${E12},${v4('10.1.1.1', '10.1.1.3', 'udp(src=1,dst=2)', 17)}`]);
      const r = other.ctl(['ct-save']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/cannot save the connection table to .*: ENOSPC: no space left on device/);
      expect(other.ok(['ct-save-show'])[2]).toMatch(/^last save: failed \(ENOSPC\): cannot save/);
      expect(other.ok(['dump-conntrack'])).toHaveLength(2);
      expect(other.ok(['list-br'])).toEqual(['br0']);
    } finally {
      await other.dispose();
      spawnSync('umount', [d]);
    }
  });
});
