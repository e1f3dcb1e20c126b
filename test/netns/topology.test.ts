// The netns topology helper itself: two namespaces joined by a veth pair
// reach each other, and teardown leaves nothing behind.

import { describe, expect, it } from 'vitest';
import { IFNAME_MAX, requireRoot, runSync, Topology, withTopology } from './topology.ts';

const skip = requireRoot();

function netnsList(): string {
  return runSync(['ip', 'netns', 'list'], { check: true }).stdout;
}

function linkList(): string {
  return runSync(['ip', '-o', 'link', 'show'], { check: true }).stdout;
}

describe.skipIf(skip !== undefined)(`netns topology${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('joins two namespaces with a veth pair, pings across, and tears down to nothing', async () => {
    const topo = new Topology();
    let tag = topo.tag;
    try {
      const ns1 = topo.addNamespace('ns1');
      const ns2 = topo.addNamespace('ns2');
      const veth = topo.addVethPair('a', 'b');
      expect(veth.a.length).toBeLessThanOrEqual(IFNAME_MAX);
      topo.moveToNamespace(veth.a, ns1);
      topo.moveToNamespace(veth.b, ns2);
      topo.addAddress(ns1, veth.a, '10.99.0.1/24');
      topo.addAddress(ns2, veth.b, '10.99.0.2/24');
      topo.up(ns1, veth.a);
      topo.up(ns2, veth.b);

      expect(await topo.ping(ns1, '10.99.0.2', 3)).toBe(3);
      const back = await topo.pingStats(ns2, '10.99.0.1', 2);
      expect(back.received).toBe(2);
      expect(back.rttMs).toHaveLength(2);
      // Each end lives only in its namespace.
      expect(topo.execSync(ns1, ['ip', '-o', 'link', 'show', veth.a]).code).toBe(0);
      expect(topo.execSync(ns1, ['ip', '-o', 'link', 'show', veth.b]).code).not.toBe(0);
      expect(linkList()).not.toContain(veth.a);
      expect(netnsList()).toContain(ns1);
    } finally {
      tag = topo.tag;
      expect(topo.teardown()).toEqual([]);
    }
    expect(netnsList()).not.toContain(tag);
    expect(linkList()).not.toContain(tag);
    expect(topo.teardown()).toEqual([]); // idempotent
  });

  it('stops background processes and runs commands with a time bound', async () => {
    let tag = '';
    await withTopology(async (topo) => {
      tag = topo.tag;
      const ns = topo.addNamespace('bg');
      const sleeper = topo.spawn(ns, ['sleep', '600']);
      expect(sleeper.running).toBe(true);
      const bounded = await topo.exec(ns, ['sleep', '600'], { timeoutMs: 200 });
      expect(bounded.timedOut).toBe(true);
      // The namespace is really a different network stack: only lo.
      const links = topo.execSync(ns, ['ip', '-o', 'link', 'show'], { check: true }).stdout.trim().split('\n');
      expect(links.map((l) => l.split(':')[1]!.trim())).toEqual(['lo']);
      // A background process left running is stopped by teardown.
    });
    expect(netnsList()).not.toContain(tag);
  });

  it('removes a half-built topology when setup fails', async () => {
    let tag = '';
    await expect(
      withTopology((topo) => {
        tag = topo.tag;
        const ns = topo.addNamespace('half');
        const pair = topo.addVethPair('x', 'y');
        topo.moveToNamespace(pair.b, ns);
        topo.addAddress(ns, pair.b, 'not-an-address');
      }),
    ).rejects.toThrow(/not-an-address/);
    expect(netnsList()).not.toContain(tag);
    expect(linkList()).not.toContain(tag);
  });

  it('refuses interface names Linux would truncate', () => {
    const topo = new Topology();
    try {
      expect(() => topo.ifname('0123456789')).toThrow(/1\.\.9 characters/);
      expect(topo.ifname('012345678')).toHaveLength(IFNAME_MAX);
    } finally {
      topo.teardown();
    }
  });
});
