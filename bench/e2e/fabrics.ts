// What joins ns1 to ns2 in the end-to-end benchmark: nothing (one veth pair),
// a Linux bridge, Open vSwitch's userspace datapath (netdev) or swd. Each
// fabric is built on a fresh Topology and registers its own stop with the
// topology's teardown, so an interrupted run leaves no daemon behind.
//
// The switches get the same OpenFlow table: NORMAL, or seed 001's stateful
// ACL (test/conformance/ct-acl.scen) plus rules for +rel traffic; port 1 is
// ns1's veth host end, port 2 is ns2's.

import { existsSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runSync, type Topology } from '../../test/netns/topology.ts';
import { FLOWS_ACL } from '../../test/netns/seed001-acl.ts';

export const NS1_IP = '10.77.0.1';
export const NS2_IP = '10.77.0.2';
const PREFIX = 24;
/** Kernel checksum offload off on the namespace side, as OVS's system tests do. */
const NS_OFFLOADS = { tx: false };

export const FLOWS_NORMAL = ['table=0,priority=0,action=normal'];

export { FLOWS_ACL };

export class NotAvailable extends Error {
  readonly code = 'ENOTAVAILABLE';
}

export interface Path {
  ns1: string;
  ns2: string;
  /** ns2's interface: its kernel rx counter is what the path delivered. */
  ns2If: string;
  /** ns1's interface, where ns1's traffic enters the path. */
  ns1If: string;
  /** After the traffic: connections in the switch's conntrack, if it has one. */
  conns?: () => number | undefined;
  /** The switch's process (its CPU time is read around the UDP run). */
  pid?: () => number | undefined;
  /** Something the table should say about this path. */
  note?: string;
  /** Stop the switch gracefully (teardown kills whatever is left). */
  stop?: () => Promise<void>;
  /** Make `target` (e.g. tcp:127.0.0.1:6653) the bridge's only controller, fail mode secure (bench/packet-in-wire.bench.ts). */
  setController?: (target: string) => void;
  /** swd: run swctl against this switch. */
  ctl?: (...args: string[]) => { code: number; stdout: string; stderr: string };
}

export interface Fabric {
  label: string;
  /** The switch runs FLOWS_ACL: a new connection from ns2 must be dropped. */
  acl?: boolean;
  build(topo: Topology): Promise<Path>;
}

/** ns1 and ns2 joined directly by one veth pair. */
export const vethPair: Fabric = {
  label: 'veth pair (no switch)',
  async build(topo) {
    const ns1 = topo.addNamespace('ns1');
    const ns2 = topo.addNamespace('ns2');
    const v = topo.addVethPair('1n', '2n');
    for (const [ns, dev, ip] of [[ns1, v.a, NS1_IP], [ns2, v.b, NS2_IP]] as const) {
      topo.moveToNamespace(dev, ns);
      topo.addAddress(ns, dev, `${ip}/${PREFIX}`);
      topo.setOffloads(ns, dev, NS_OFFLOADS);
      topo.up(ns, dev);
    }
    return { ns1, ns2, ns1If: v.a, ns2If: v.b };
  },
};

/** ns1 and ns2 each plugged by a veth pair whose host ends are returned. */
function twoHosts(topo: Topology): { ns1: string; ns2: string; ns1If: string; ns2If: string; h1: string; h2: string } {
  const ns1 = topo.addNamespace('ns1');
  const ns2 = topo.addNamespace('ns2');
  const p1 = topo.plug(ns1, '1', `${NS1_IP}/${PREFIX}`, NS_OFFLOADS);
  const p2 = topo.plug(ns2, '2', `${NS2_IP}/${PREFIX}`, NS_OFFLOADS);
  return { ns1, ns2, ns1If: p1.inner, ns2If: p2.inner, h1: p1.host, h2: p2.host };
}

export const linuxBridge: Fabric = {
  label: 'Linux bridge',
  async build(topo) {
    const { ns1, ns2, ns1If, ns2If, h1, h2 } = twoHosts(topo);
    const br = topo.addBridge('br');
    topo.enslave(h1, br);
    topo.enslave(h2, br);
    return { ns1, ns2, ns1If, ns2If };
  },
};

const OVS_VSWITCHD = '/usr/lib/openvswitch-switch/ovs-vswitchd';
const OVS_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';

/** The tap device OVS's netdev datapath creates for itself. */
const OVS_DATAPATH_TAP = 'ovs-netdev';

function linkExists(name: string): boolean {
  return runSync(['ip', 'link', 'show', name], { timeoutMs: 10_000 }).code === 0;
}

export function ovsInstalled(): boolean {
  return existsSync(OVS_VSWITCHD) && existsSync(OVS_SCHEMA);
}

/** A private OVS (own ovsdb-server and ovs-vswitchd in a temp dir), bridge with datapath_type=netdev. */
export function ovsNetdev(flowsName: string, flows: string[]): Fabric {
  return {
    label: `OVS netdev, ${flowsName}`,
    acl: flows === FLOWS_ACL,
    async build(topo) {
      if (!ovsInstalled()) throw new NotAvailable('openvswitch-switch is not installed');
      const { ns1, ns2, ns1If, ns2If, h1, h2 } = twoHosts(topo);
      const dir = mkdtempSync(join(tmpdir(), 'swd-e2e-ovs-'));
      const env = ['env', `OVS_RUNDIR=${dir}`, `OVS_LOGDIR=${dir}`, `OVS_DBDIR=${dir}`, `OVS_SYSCONFDIR=${dir}`];
      const ovs = (...argv: string[]) => runSync([...env, ...argv], { check: true, timeoutMs: 20_000 });
      const br = topo.ifname('ob'); // the netdev bridge's LOCAL port is a tap device of this name
      // The netdev datapath's own port is a persistent tap that outlives
      // ovs-vswitchd; remove it afterwards unless it was there before us.
      const hadDatapathTap = linkExists(OVS_DATAPATH_TAP);
      topo.onTeardown(() => {
        for (const tap of [br, ...(hadDatapathTap ? [] : [OVS_DATAPATH_TAP])]) {
          if (linkExists(tap)) runSync(['ip', 'link', 'del', tap], { timeoutMs: 10_000 });
        }
      });
      topo.onTeardown(() => {
        for (const d of ['ovs-vswitchd', 'ovsdb-server']) {
          const pidfile = join(dir, `${d}.pid`);
          if (!existsSync(pidfile)) continue;
          try {
            process.kill(Number(readFileSync(pidfile, 'utf8').trim()), 'SIGKILL');
          } catch {
            // already gone
          }
        }
        rmSync(dir, { recursive: true, force: true });
      });
      ovs('ovsdb-tool', 'create', join(dir, 'conf.db'), OVS_SCHEMA);
      ovs('ovsdb-server', '--detach', '--no-chdir', '--pidfile', '--log-file', `--remote=punix:${dir}/db.sock`, join(dir, 'conf.db'));
      ovs('ovs-vsctl', '--no-wait', 'init');
      // No --enable-dummy: ports of type system must be real AF_PACKET netdevs.
      ovs(OVS_VSWITCHD, '--disable-system', '--disable-system-route', '--detach', '--no-chdir', '--pidfile', '--log-file', `unix:${dir}/db.sock`);
      ovs('ovs-vsctl', 'add-br', br, '--', 'set', 'bridge', br, 'datapath_type=netdev', 'fail-mode=secure',
        '--', 'add-port', br, h1, '--', 'set', 'interface', h1, 'ofport_request=1',
        '--', 'add-port', br, h2, '--', 'set', 'interface', h2, 'ofport_request=2');
      const file = join(dir, 'flows.txt');
      writeFileSync(file, flows.join('\n') + '\n');
      ovs('ovs-ofctl', 'add-flows', br, file);
      const stopOvs = async () => {
        runSync([...env, 'ovs-appctl', '-t', 'ovs-vswitchd', 'exit', '--cleanup'], { timeoutMs: 10_000 });
        runSync([...env, 'ovs-appctl', '-t', 'ovsdb-server', 'exit'], { timeoutMs: 10_000 });
      };
      return {
        ns1,
        ns2,
        ns1If,
        ns2If,
        conns: () => parseCount(runSync([...env, 'ovs-appctl', 'dpctl/ct-get-nconns'], { timeoutMs: 10_000 }).stdout),
        stop: stopOvs,
        pid: () => readPid(join(dir, 'ovs-vswitchd.pid')),
        setController: (target) => {
          ovs('ovs-vsctl', 'set', 'bridge', br, 'protocols=OpenFlow10,OpenFlow13', '--', 'set-controller', br, target,
            '--', 'set', 'controller', br, 'connection-mode=out-of-band');
        },
      };
    },
  };
}

const ROOT = resolve(import.meta.dirname, '../..');
const SWD = join(ROOT, 'bin/swd.js');
const SWCTL = join(ROOT, 'bin/swctl.js');

/**
 * swd with ports of type system on the host ends, polled by `pmdThreads`
 * PMD threads (0: swd's main thread). Not available (with the reason swd
 * gives) on a tree without system ports or `swd start --pmd-threads`.
 */
export function swd(flowsName: string, flows: string[], pmdThreads: number): Fabric {
  return {
    label: `swd (${pmdThreads === 0 ? 'main thread' : `${pmdThreads} PMD thread${pmdThreads > 1 ? 's' : ''}`}), ${flowsName}`,
    acl: flows === FLOWS_ACL,
    async build(topo) {
      const { ns1, ns2, ns1If, ns2If, h1, h2 } = twoHosts(topo);
      const dir = mkdtempSync(join(tmpdir(), 'swd-e2e-swd-'));
      topo.onTeardown(() => rmSync(dir, { recursive: true, force: true }));
      const rundir = join(dir, 'run');
      const socket = join(rundir, 'swd.sock');
      const ctl = (...args: string[]) => runSync([process.execPath, SWCTL, '--socket', socket, ...args], { timeoutMs: 30_000 });
      // E2E_NODE_FLAGS: Node/V8 flags for swd (e.g. --trace-deopt), E2E_DAEMON_OUT: where its output goes at stop — for measurements.
      const nodeFlags = (process.env.E2E_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
      const base = [process.execPath, ...nodeFlags, SWD, 'start', '--rundir', rundir, '--no-default-bridge', '--log-level', 'warn'];
      let note: string | undefined;
      let daemon = topo.spawn(null, [...base, '--pmd-threads', String(pmdThreads)]);
      try {
        await waitUp(daemon, () => ctl('list-br').code === 0);
      } catch (e) {
        // Without --pmd-threads swd forwards on its main thread: that is the 1-thread row.
        if (pmdThreads !== 1 || !/unknown option/.test((e as Error).message)) throw e;
        note = 'swd has no --pmd-threads yet: main thread';
        daemon = topo.spawn(null, base);
        await waitUp(daemon, () => ctl('list-br').code === 0);
      }
      const must = (...args: string[]) => {
        const r = ctl(...args);
        if (r.code !== 0) throw new NotAvailable(`swctl ${args.join(' ')}: ${firstLine(r.stderr || r.stdout)}`);
      };
      must('add-br', 'br0');
      must('add-port', 'br0', h1, 'type=system', 'ofport=1');
      must('add-port', 'br0', h2, 'type=system', 'ofport=2');
      const file = join(dir, 'flows.txt');
      writeFileSync(file, flows.join('\n') + '\n');
      must('add-flows', 'br0', file);
      return {
        ns1,
        ns2,
        ns1If,
        ns2If,
        note,
        conns: () => parseCount(ctl('ct-get-nconns').stdout),
        ctl,
        pid: () => daemon.child.pid,
        setController: (target) => {
          must('set-fail-mode', 'br0', 'secure');
          must('set-controller', 'br0', target);
        },
        stop: async () => {
          await daemon.stop('SIGTERM', 5_000);
          if (process.env.E2E_DAEMON_OUT) writeFileSync(process.env.E2E_DAEMON_OUT, daemon.stdout + daemon.stderr);
        },
      };
    },
  };
}

// ------------------------------------------------------------ offload and SNAT (issue 16 part 5)

/**
 * Seed 000's SNAT table between the namespaces: connections from ns1 leave
 * with a source in 10.77.0.240-254 (zone 1; .255 is ns2's broadcast
 * address, from which the kernel takes no segment); ns2 may only answer.
 */
export const FLOWS_SNAT = [
  'table=0,priority=10,arp,action=normal',
  'table=0,in_port=1,ip,action=ct(commit,zone=1,nat(src=10.77.0.240-10.77.0.254)),2',
  'table=0,in_port=2,ct_state=-trk,ip,action=ct(table=0,zone=1,nat)',
  'table=0,in_port=2,ct_state=+est,ct_zone=1,ip,action=1',
];

/**
 * The NATed addresses are nobody's: ns2 reaches them through static
 * neighbour entries to ns1's MAC, as a real setup (or the router) would.
 */
function snatNeighbours(topo: Topology, path: Path): void {
  const mac = (JSON.parse(topo.execSync(path.ns1, ['ip', '-j', 'link', 'show', 'dev', path.ns1If], { check: true }).stdout)[0] as { address: string }).address;
  for (let a = 240; a <= 254; a++) {
    topo.execSync(path.ns2, ['ip', 'neigh', 'replace', `10.77.0.${a}`, 'lladdr', mac, 'dev', path.ns2If, 'nud', 'permanent'], { check: true });
  }
}

/** A fabric running FLOWS_SNAT (swd or OVS): the neighbour entries added, new traffic from ns2 must be dropped. */
export function withSnat(f: Fabric): Fabric {
  return {
    label: f.label,
    acl: true,
    async build(topo) {
      const path = await f.build(topo);
      snatNeighbours(topo, path);
      return path;
    },
  };
}

/** swd as swd() builds it, with `swctl offload-set br0 on` (TCP and UDP) after the flows. */
export function swdOffload(flowsName: string, flows: string[], pmdThreads: number): Fabric {
  const f = swd(flowsName, flows, pmdThreads);
  return {
    label: `${f.label}, offload on`,
    acl: f.acl,
    async build(topo) {
      const path = await f.build(topo);
      const r = path.ctl!('offload-set', 'br0', 'on');
      if (r.code !== 0) throw new NotAvailable(`swctl offload-set br0 on: ${firstLine(r.stderr || r.stdout)}`);
      return { ...path, note: [path.note, 'offload on'].filter(Boolean).join('; ') };
    },
  };
}

async function waitUp(daemon: { running: boolean; stderr: string; exited: Promise<number> }, ready: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (!daemon.running) {
      await daemon.exited;
      throw new NotAvailable(`swd start: ${firstLine(daemon.stderr) || 'exited'}`);
    }
    if (ready()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new NotAvailable('swd did not answer on its socket within 20 s');
}

function readPid(file: string): number | undefined {
  try {
    return Number(readFileSync(file, 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

function parseCount(text: string): number | undefined {
  const m = /(\d+)/.exec(text);
  return m ? Number(m[1]) : undefined;
}

function firstLine(s: string): string {
  return s.trim().split('\n')[0] ?? '';
}
