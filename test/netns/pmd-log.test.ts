// Per-packet warnings from a PMD thread: with the connection table full,
// UDP flows from a namespace through a system port make the PMD thread's
// conntrack refuse commits; the thread rate-limits the warnings itself and
// the main thread writes the lines that pass to the log (--log-file), with
// their module and "pmd": true — 20 of them for 40 refused connections.

import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fresh, systemBridge } from './fresh.ts';
import { requireRoot, runSync } from './topology.ts';

const skip = requireRoot() ?? (runSync(['sh', '-c', 'command -v python3']).code === 0 ? null : 'needs python3');
if (skip === 'needs python3' && process.env.CI === 'true') throw new Error('needs python3: CI must not skip real-traffic tests');

const MSG = 'connection not committed: the table is full (maxconns 1)';

describe.skipIf(skip !== null)(`PMD thread warnings reach the log${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('a full table: the PMD thread warns 20 times, rate-limited, through the main thread', { timeout: 300_000 }, async () => {
    const { topo, swd } = fresh();
    const a = topo.addNamespace('h1');
    const b = topo.addNamespace('h2');
    const pa = topo.plug(a, 'p1', '10.79.0.1/24');
    const pb = topo.plug(b, 'p2', '10.79.0.2/24');
    const logFile = `${swd.dir}/swd.json`;
    await swd.start(['--no-default-bridge', '--log-level', 'info', '--log-file', logFile]);
    systemBridge(swd, [pa.host, pb.host], ['priority=10,arp,action=normal', 'priority=5,ip,action=ct(commit),normal']);
    swd.ok(['ct-set-maxconns', '1']);
    const entries = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l)) : []);
    // 41 UDP flows (distinct source ports), sent again until the daemon's 10-s summary counts 40 refused.
    const send = [
      'import socket',
      'for p in range(20000, 20041):',
      '    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", p)); s.sendto(b"x", ("10.79.0.2", 9)); s.close()',
    ].join('\n');
    const refusedSoFar = () => entries().reduce((n, x) => n + (typeof x.maxconnsRefused === 'number' ? x.maxconnsRefused : 0), 0);
    const deadline = Date.now() + 120_000;
    let refused = 0;
    while (Date.now() < deadline) {
      topo.execSync(a, ['python3', '-c', send], { check: true });
      refused = refusedSoFar();
      if (refused >= 40) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(refused).toBeGreaterThanOrEqual(40);
    const warned = entries().filter((x) => x.msg === MSG);
    // The burst: 20 at once (the first send refuses 40). Then the bucket
    // refills at 20 a minute (one every 3 s) while the loop above goes on
    // sending, so a slow machine may see a few more later, never faster.
    const first = warned[0]?.time ?? 0;
    expect(warned.filter((x) => x.time - first < 2900)).toHaveLength(20);
    const spanMs = (warned[warned.length - 1]?.time ?? first) - first;
    expect(warned.length).toBeLessThanOrEqual(20 + Math.ceil(spanMs / 3000) + 1);
    expect(warned[0]).toMatchObject({ module: 'conntrack', level: 40, pmd: true, zone: 0, limit: 1 });
  });
});
