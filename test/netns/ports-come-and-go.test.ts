// Ports whose interface is missing, goes away or comes back (issue 18,
// part 1). A system port whose veth is gone when swd starts is kept
// (LINK_DOWN, with OVS's error text) instead of stopping the start, and is
// attached when the interface appears; a veth deleted under traffic is
// detached cleanly and reattached when it returns with the same name; a tap
// device deleted from outside is made again. Both datapath modes: PMD
// threads (default) and the main thread (--pmd-threads 0).

import { afterEach, describe, expect, it } from 'vitest';
import { SwdInstance } from '../e2e/harness.ts';
import { requireRoot, runSync, Topology, until } from './topology.ts';

const skip = requireRoot();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

interface Net {
  topo: Topology;
  ns: string[];
  ports: string[];
}

/** Two namespaces 10.78.0.1 and .2, each on a veth whose host end is ports[i]. */
function net(): Net {
  const topo = new Topology();
  cleanups.push(() => {
    topo.teardown();
  });
  const ns = [topo.addNamespace('a'), topo.addNamespace('b')];
  const ports = ns.map((n, i) => topo.plug(n, `p${i}`, `10.78.0.${i + 1}/24`).host);
  return { topo, ns, ports };
}

/** Make the veth behind ports[i] again, as it was (same names and address). */
function replug(n: Net, i: number): void {
  runSync(['ip', 'link', 'add', n.ports[i], 'type', 'veth', 'peer', 'name', `${n.ports[i].slice(0, -1)}n`], { check: true });
  const inner = `${n.ports[i].slice(0, -1)}n`;
  runSync(['ip', 'link', 'set', inner, 'netns', n.ns[i]], { check: true });
  runSync(['ip', '-n', n.ns[i], 'addr', 'add', `10.78.0.${i + 1}/24`, 'dev', inner], { check: true });
  runSync(['ip', '-n', n.ns[i], 'link', 'set', inner, 'up'], { check: true });
  runSync(['ip', 'link', 'set', n.ports[i], 'up'], { check: true });
}

async function swd(args: string[], rundirOf?: SwdInstance): Promise<SwdInstance> {
  const s = rundirOf ?? new SwdInstance();
  if (!rundirOf) cleanups.push(() => s.dispose());
  await s.start(['--no-default-bridge', ...args]);
  return s;
}

/** A fresh swd whose br0 switches (NORMAL) between the two namespaces' system ports 1 and 2. */
async function switchOn(n: Net, mode: string[]): Promise<SwdInstance> {
  const s = await swd(mode);
  s.ok(['add-br', 'br0']);
  s.ok(['add-port', 'br0', n.ports[0], 'type=system', 'ofport=1']);
  s.ok(['add-port', 'br0', n.ports[1], 'type=system', 'ofport=2']);
  s.ok(['add-flow', 'br0', 'actions=normal']);
  return s;
}

const showJson = (s: SwdInstance) =>
  JSON.parse(s.ok(['show', 'br0', '--json']).join('\n')) as { ports: { name: string; state: string; error: string | null; linkResets: number }[] };
const portState = (s: SwdInstance, name: string) => showJson(s).ports.find((p) => p.name === name)!;

/** The lines `swctl show` prints for one port, from its `N(name):` line to the next port. */
function showPort(s: SwdInstance, name: string): string[] {
  const lines = s.ok(['show', 'br0']);
  const i = lines.findIndex((l) => l.includes(`(${name}):`));
  const out = [lines[i].replace(/addr:\S+/, 'addr:X')];
  for (let j = i + 1; j < lines.length && lines[j].startsWith('     '); j++) out.push(lines[j].replace(/addr:\S+/, 'addr:X'));
  return out;
}

const rxPackets = (s: SwdInstance, ofport: string) => Number(/rx pkts=(\d+)/.exec(s.ok(['dump-ports', 'br0', ofport])[1])![1]);

/** Ping until one reply comes (swd's threads may still be starting), bounded. */
async function pings(n: Net, from: number, to: number): Promise<boolean> {
  for (let i = 0; i < 20; i++) if ((await n.topo.ping(n.ns[from], `10.78.0.${to + 1}`, 1, 1_000)) === 1) return true;
  return false;
}

describe.skipIf(skip !== undefined)(`ports that come and go${skip ? ` (skipped: ${skip})` : ''}`, () => {
  for (const mode of [[], ['--pmd-threads', '0']]) {
    const label = mode.length ? 'main thread' : 'PMD threads';
    it(`a system port whose interface is missing at start is kept LINK_DOWN and attached when it appears (${label})`, async () => {
      const n = net();
      const s = await switchOn(n, mode);
      await s.stop();
      runSync(['ip', 'link', 'del', n.ports[0]], { check: true });

      await swd(mode, s); // starts although the interface of port 1 is gone
      expect(showPort(s, n.ports[0])).toEqual([
        ` 1(${n.ports[0]}): addr:X`,
        '     config:     0',
        '     state:      LINK_DOWN',
        `     error: "could not open network device ${n.ports[0]} (No such device)"`,
        '     speed: 0 Mbps now, 0 Mbps max',
      ]);
      expect(portState(s, n.ports[0])).toMatchObject({ state: 'LINK_DOWN', error: `could not open network device ${n.ports[0]} (No such device)` });
      expect(portState(s, n.ports[1])).toMatchObject({ state: 'up', error: null });
      expect(s.ok(['dump-flows', 'br0', '--no-stats'])).toEqual([' actions=NORMAL']);
      expect(rxPackets(s, '1')).toBe(0);

      replug(n, 0);
      await until('port 1 attached', () => portState(s, n.ports[0]).state === 'up');
      expect(portState(s, n.ports[0]).error).toBeNull();
      expect(showPort(s, n.ports[0])[2]).toBe('     state:      0');
      expect(await pings(n, 0, 1)).toBe(true);
      expect(rxPackets(s, '1')).toBeGreaterThan(0);
    });

    it(`a system port whose interface is deleted under traffic is detached and reattached when it returns (${label})`, async () => {
      const n = net();
      const s = await switchOn(n, mode);
      expect(await pings(n, 0, 1)).toBe(true);
      // Traffic keeps coming from the other side while the interface goes.
      const flood = n.topo.spawn(n.ns[1], ['ping', '-i', '0.01', '-w', '20', '10.78.0.1']);
      runSync(['ip', 'link', 'del', n.ports[0]], { check: true });
      await until('port 1 detached', () => portState(s, n.ports[0]).state === 'LINK_DOWN');
      expect(portState(s, n.ports[0])).toMatchObject({ error: `could not open network device ${n.ports[0]} (No such device)`, linkResets: 1 });
      expect(s.ok(['list-br'])).toEqual(['br0']);
      replug(n, 0);
      await until('port 1 reattached', () => portState(s, n.ports[0]).state === 'up');
      expect(await pings(n, 0, 1)).toBe(true);
      await flood.stop();
      expect(portState(s, n.ports[0])).toMatchObject({ error: null, linkResets: 1 });
    });
  }

  it('a tap device deleted from outside is made again', async () => {
    const n = net();
    const s = await swd([]);
    const tap = n.topo.ifname('tp');
    cleanups.push(() => {
      runSync(['ip', 'link', 'del', tap]);
    });
    s.ok(['add-br', 'br0']);
    s.ok(['add-port', 'br0', tap, 'type=tap', 'ofport=1']);
    expect(runSync(['ip', 'link', 'show', tap]).code).toBe(0);
    runSync(['ip', 'link', 'del', tap], { check: true });
    await until('the tap device back', () => runSync(['ip', 'link', 'show', tap]).code === 0 && portState(s, tap).linkResets === 1);
    expect(portState(s, tap)).toMatchObject({ state: 'up', error: null, linkResets: 1 });
    expect(runSync(['ip', 'link', 'show', tap]).stdout).toMatch(/[<,]UP[,>]/);
    // It stays made: the deletion of the old device is not taken for one of the new.
    const ifindex = runSync(['cat', `/sys/class/net/${tap}/ifindex`]).stdout.trim();
    await new Promise((r) => setTimeout(r, 1000));
    expect(runSync(['cat', `/sys/class/net/${tap}/ifindex`]).stdout.trim()).toBe(ifindex);
    expect(portState(s, tap).linkResets).toBe(1);
  });
});
