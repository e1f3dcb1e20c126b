// The datapath's own lifecycle, as OVS's dpif-netdev: it owns the ports
// (backends by type), the threads that read them (PMD threads, or the
// main-thread rx loop with --pmd-threads 0), the conntrack table (OVS:
// dp->conntrack) and its expiry timer, and the devices that come and go
// (rtnetlink link events: a port whose interface is missing stays
// configured, LINK_DOWN, and is attached when the interface appears).
//
// The OpenFlow side talks to it through its upcall adapter
// (src/ofproto/upcall.ts): translate() for misses, pushMegaflow() to credit
// a megaflow's hits to the rules it came from, onPortState() when a port's
// device was attached or detached. Everything here runs on the main thread;
// the PMD threads have their own Datapath instances (pmd/).

import { Conntrack } from '../conntrack/conntrack.ts';
import { H_CNT_ALG_MALFORMED } from '../conntrack/layout.ts';
import { lockWaits } from '../conntrack/lock.ts';
import { FlowtableConfig, formatFtEntry } from './flowtable.ts';
import type { MeterTable } from './meter.ts';
import { parsePacketArg } from '../packet/compose.ts';
import type { DpAction } from './dp-actions.ts';
import { conntrackHook, Datapath, type Revalidate, type Upcall } from './datapath.ts';
import { formatDpFlow, formatPmdStats, type DpFlowEntry, type PmdStatsRow } from './dp-format.ts';
import type { Megaflow } from './megaflow.ts';
import { errnoText, ifNameToIndex } from './native/native.ts';
import { linkEventAction, linkRecheckAction, type LinkAction, type LinkState } from './ports/link-policy.ts';
import { MAX_PMD_THREADS, PmdSet, type PmdThreadStats } from './pmd/pmd-set.ts';
import { DpPort, PortError, type PortBackend, type PortCounters } from './port.ts';
import { DetachedBackend } from './ports/detached.ts';
import { DummyBackend, InternalBackend } from './ports/dummy.ts';
import { LinkWatcher, type LinkMessage } from './ports/link-watch.ts';
import { PcapBackend } from './ports/pcap.ts';
import { SystemBackend } from './ports/system.ts';
import { TapBackend } from './ports/tap.ts';
import { RxLoop } from './rx/rx-loop.ts';
import { SWEEP_INTERVAL_MS, sweepBudget, sweepIntervalMs } from './ct-sweep.ts';

/** Malformed ALG control messages are logged at most this often. */
const ALG_LOG_INTERVAL_MS = 5_000;

type Log = { info: (...a: unknown[]) => void; warn: (...a: unknown[]) => void };

export interface DpifOptions {
  /** Translation of a miss. */
  upcall: Upcall;
  /** Translation of an installed megaflow again, without side effects. */
  revalidate: Revalidate;
  /** Credit a megaflow's new hits to whatever it came from (before it goes, and on request). */
  pushMegaflow: (mf: Megaflow) => void;
  /** Called after packets were processed (e.g. to revalidate after MAC learning). */
  afterRx: () => void;
  log: Log;
  now: () => number;
  /** PMD threads for real-traffic ports; 0 runs them on the main thread (rx-loop.ts). */
  pmdThreads: number;
}

/** A port's device state, as `show` reports it. */
export interface DpPortStatus {
  up: boolean;
  /** Why the device is not attached, in `ovs-vsctl show`'s words, or null. */
  error: string | null;
  /** Times the device went away under the port (OVS's Interface link_resets). */
  linkResets: number;
}

const isDevicePort = (type: string) => type === 'system' || type === 'tap';

export class Dpif {
  readonly datapath: Datapath;
  readonly conntrack: Conntrack;
  /** Flowtable configuration per datapath port, shared with the PMD threads (flowtable.ts). */
  readonly offloadConfig = new FlowtableConfig();
  /** Called when a port's device was attached or detached. */
  onPortState: (n: number, s: DpPortStatus) => void = () => {};
  private readonly rxLoop: RxLoop;
  private sweepTimer: NodeJS.Timeout;
  private readonly names = new Map<number, { name: string; type: string }>();
  private readonly status = new Map<number, DpPortStatus>();
  /** Options of detached ports (tx_pcap etc.), kept for when they attach. */
  private readonly detachedOptions = new Map<number, Record<string, string>>();
  private links: LinkWatcher | null = null;
  /** The PMD threads, started with the first real-traffic port. */
  private pmd: PmdSet | null = null;
  private pmdThreads: number;

  constructor(private readonly opts: DpifOptions) {
    this.pmdThreads = opts.pmdThreads;
    this.conntrack = Conntrack.create({ hugePages: true });
    this.datapath = new Datapath(opts.upcall, conntrackHook(this.conntrack), opts.revalidate, this.offloadConfig);
    this.datapath.onRemove = (mf) => opts.pushMegaflow(mf);
    this.rxLoop = new RxLoop(this.datapath, opts.now, opts.afterRx);
    this.sweepTimer = setTimeout(() => this.sweepTick(), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  /** A sweep step, and the next one after the interval the slab's size asks for (ct-sweep.ts). */
  private sweepTick(): void {
    this.sweepStep(this.opts.now());
    this.sweepTimer = setTimeout(() => this.sweepTick(), sweepIntervalMs(this.conntrack.table.highWater()));
    this.sweepTimer.unref();
  }

  /** The datapath's meters, shared with the PMD threads (meter.ts). */
  get meters(): MeterTable {
    return this.datapath.meters;
  }

  // ------------------------------------------------------------ PMD threads

  /** Megaflow idle time (--max-idle) of the main thread's datapath and of every PMD thread. */
  setMaxIdle(ms: number): void {
    this.datapath.maxIdleMs = ms;
    this.pmd?.setMaxIdle(ms);
  }

  /**
   * The flow cache in front of the megaflow classifier, in every thread
   * (emc.ts): EMC insertion probability 1/emcInsertInvProb (0 = EMC off, OVS
   * other_config:emc-insert-inv-prob) and the SMC on or off (smc-enable).
   */
  setFlowCache(emcInsertInvProb: number, smc: boolean): void {
    this.datapath.flowCache.configure(emcInsertInvProb, smc);
    this.pmd?.setFlowCache(emcInsertInvProb, smc);
  }

  private startPmds(): PmdSet {
    const o = this.opts;
    const pmd = new PmdSet(
      {
        translate: o.upcall,
        afterUpcall: o.afterRx,
        pushMegaflow: o.pushMegaflow,
        packetIn: (port, packet, userdata) => this.datapath.onUserspace?.(port, packet, userdata),
        log: { warn: (...a) => o.log.warn(...a), error: (...a) => o.log.warn(...a) },
        now: o.now,
      },
      this.conntrack,
      this.pmdThreads,
      this.offloadConfig.buffer,
      this.datapath.meters.buffer,
    );
    pmd.setMaxIdle(this.datapath.maxIdleMs);
    pmd.setFlowCache(this.datapath.flowCache.emc.insertInvProb, this.datapath.flowCache.smc !== null);
    for (const p of this.datapath.ports.values()) {
      if (!(p.backend instanceof DetachedBackend)) pmd.addPort(p.number, p.name, p.backend.type, tapFd(p.backend));
    }
    return pmd;
  }

  /** The number of PMD threads (0: real-traffic ports are read on the main thread). */
  get pmdThreadCount(): number {
    return this.pmdThreads;
  }

  setPmdThreads(n: number): void {
    if (this.pmdThreads === 0) throw new PortError('ENOTSUP', 'swd was started with --pmd-threads 0 (datapath on the main thread); restart it to use PMD threads');
    if (!Number.isInteger(n) || n < 1 || n > MAX_PMD_THREADS) throw new PortError('EINVAL', `pmd threads must be 1 to ${MAX_PMD_THREADS}`);
    this.pmdThreads = n;
    this.pmd?.setThreads(n);
  }

  /** pmd-stats-show: per PMD thread, then the main thread (swctl inject, pcap replay). */
  pmdStats(): { threads: PmdStatsRow[]; lines: string[] } {
    let packets = 0;
    for (const p of this.datapath.ports.values()) packets += p.stats.rxPackets;
    const s = this.datapath.stats;
    const main: PmdThreadStats = {
      index: -1, packets, batches: 0, hits: s.hit, misses: s.missed, lost: s.lost, busyNs: 0, idleNs: 0,
      emcHits: s.emcHit, smcHits: s.smcHit, recirc: s.recirc, subtableProbes: this.datapath.cache.hitProbes,
      lockContended: lockWaits.contended, lockSlept: lockWaits.slept, lockSleptUs: lockWaits.sleptUs,
    };
    const threads = [...(this.pmd?.threadStats() ?? []).map((t) => ({ ...t, thread: `pmd ${t.index}` })), { ...main, thread: 'main' }];
    return { threads, lines: formatPmdStats(threads) };
  }

  // ------------------------------------------------------------ ports

  hasPort(n: number): boolean {
    return this.datapath.ports.has(n);
  }

  /**
   * Open the device of datapath port `n` and add it; throws a PortError
   * (adding nothing) when it cannot be opened — unless `keepIfMissing`
   * (restoring the configuration) and the port has a device: then the port
   * is added LINK_DOWN with the reason, and attached when its interface
   * appears.
   */
  addPort(n: number, name: string, type: string, options: Record<string, string>, keepIfMissing = false): void {
    let backend: PortBackend;
    try {
      backend = this.openBackend(name, type, options);
    } catch (e) {
      if (!keepIfMissing || !(e instanceof PortError) || !isDevicePort(type)) throw e;
      this.names.set(n, { name, type });
      this.datapath.addPort(new DpPort(n, name, new DetachedBackend(type), {}));
      this.detachedOptions.set(n, options);
      const st = { up: false, error: deviceError(name, e), linkResets: 0 };
      this.status.set(n, st);
      this.opts.log.warn({ port: name, code: e.code }, `port ${name}: ${st.error}; kept, attached when the interface appears`);
      this.watchLinks();
      return;
    }
    try {
      this.datapath.addPort(new DpPort(n, name, backend, options));
    } catch (e) {
      backend.close();
      throw e;
    }
    this.names.set(n, { name, type });
    this.status.set(n, { up: true, error: null, linkResets: 0 });
    if (isDevicePort(type)) this.watchLinks();
    this.startRx(n);
  }

  private openBackend(name: string, type: string, options: Record<string, string>): PortBackend {
    if (type === 'internal') return new InternalBackend();
    if (type === 'pcap') return new PcapBackend(options.rx_pcap ?? null);
    if (type === 'system') return new SystemBackend(name, { rx: this.pmdThreads === 0 });
    if (type === 'tap') return TapBackend.create(name);
    return new DummyBackend();
  }

  /**
   * Tell whoever reads ports about a newly opened one: the main rx loop, or
   * the PMD threads (which also send to every other port), started with the
   * first real-traffic port.
   */
  private startRx(n: number): void {
    const p = this.datapath.ports.get(n)!;
    const device = isDevicePort(p.backend.type);
    if (this.pmdThreads === 0) {
      if (device) this.rxLoop.update();
    } else if (this.pmd) this.pmd.addPort(n, p.name, p.backend.type, tapFd(p.backend));
    else if (device) this.pmd = this.startPmds();
  }

  removePort(n: number): void {
    this.detachedOptions.delete(n);
    this.names.delete(n);
    this.status.delete(n);
    const port = this.datapath.ports.get(n);
    if (!port) return;
    this.datapath.ports.delete(n);
    this.retire(port);
  }

  /**
   * Close a port that is no longer in the datapath's port map, once nothing
   * reads it: the PMD threads let go of it first (a tap descriptor they may
   * still read), or the main rx loop drops its descriptor from the poll list.
   */
  private retire(port: DpPort): void {
    if (port.backend instanceof DetachedBackend) return;
    if (this.pmd) {
      void this.pmd.removePort(port.number).finally(() => port.close());
      return;
    }
    if (isDevicePort(port.backend.type)) this.rxLoop.update();
    port.close();
  }

  portStatus(n: number): DpPortStatus | undefined {
    return this.status.get(n);
  }

  portStats(n: number): PortCounters {
    const p = this.datapath.ports.get(n);
    const s = p ? { ...p.refreshStats() } : undefined;
    if (s && this.pmd) this.pmd.addCounters(n, s);
    return {
      rxPackets: s?.rxPackets ?? 0, rxBytes: s?.rxBytes ?? 0, rxDropped: s?.rxDropped ?? 0, rxErrors: s?.rxErrors ?? 0,
      txPackets: s?.txPackets ?? 0, txBytes: s?.txBytes ?? 0, txDropped: s?.txDropped ?? 0, txErrors: s?.txErrors ?? 0,
    };
  }

  // ------------------------------------------------------------ devices that come and go

  private watchLinks(): void {
    if (this.links) return;
    this.links = new LinkWatcher((m) => this.onLink(m));
    try {
      this.links.start();
    } catch (e) {
      this.opts.log.warn({ err: e }, 'cannot watch interfaces (rtnetlink): missing interfaces are not attached when they appear');
    }
  }

  private onLink(m: LinkMessage): void {
    if (m.kind === 'error') {
      this.opts.log.warn(`interface watcher: ${m.message}`);
      return;
    }
    if (m.kind === 'ready' || m.kind === 'resync') {
      // Anything that changed before the watcher listened, or while events were lost.
      for (const n of [...this.names.keys()]) this.recheck(n);
      return;
    }
    for (const [n, p] of this.names) {
      if (p.name === m.name && isDevicePort(p.type)) this.act(n, linkEventAction(p.type as 'system' | 'tap', this.linkState(n), m.kind, m.ifindex));
    }
  }

  private recheck(n: number): void {
    const p = this.names.get(n)!;
    if (isDevicePort(p.type)) this.act(n, linkRecheckAction(p.type as 'system' | 'tap', this.linkState(n), ifIndexOf(p.name)));
  }

  private linkState(n: number): LinkState {
    const be = this.datapath.ports.get(n)?.backend;
    return be instanceof SystemBackend || be instanceof TapBackend ? { attached: true, ifindex: be.ifindex } : { attached: false };
  }

  private act(n: number, a: LinkAction): void {
    if (a === 'detach' || a === 'remake') this.detach(n);
    if (a === 'attach' || a === 'remake') this.attach(n);
  }

  /** The device of a configured port went away: stop reading it, keep the port (LINK_DOWN). */
  private detach(n: number): void {
    const old = this.datapath.ports.get(n);
    const st = this.status.get(n);
    if (!old || !st || old.backend instanceof DetachedBackend) return;
    this.datapath.ports.set(n, new DpPort(n, old.name, new DetachedBackend(old.backend.type), {}));
    this.detachedOptions.set(n, old.options);
    this.retire(old);
    st.up = false;
    st.linkResets++;
    st.error = `could not open network device ${old.name} (${errnoText('ENODEV')})`;
    this.opts.log.warn({ port: old.name }, `port ${old.name}: interface removed; the port stays configured and is attached again when it returns`);
    this.onPortState(n, st);
  }

  /** Try to open a detached port's device; on success it carries traffic again. */
  private attach(n: number): void {
    const cur = this.datapath.ports.get(n);
    const p = this.names.get(n);
    const st = this.status.get(n);
    if (!cur || !p || !st || !(cur.backend instanceof DetachedBackend)) return;
    const options = this.detachedOptions.get(n) ?? {};
    let port: DpPort;
    try {
      port = new DpPort(n, p.name, this.openBackend(p.name, p.type, options), options);
    } catch (e) {
      st.error = deviceError(p.name, e as Error);
      return;
    }
    this.datapath.ports.set(n, port);
    this.detachedOptions.delete(n);
    st.up = true;
    st.error = null;
    this.startRx(n);
    this.opts.log.info({ port: p.name }, `port ${p.name}: interface attached`);
    this.onPortState(n, st);
  }

  // ------------------------------------------------------------ packets

  /** Run one packet through actions computed from its key, as arriving on port n (OpenFlow packet-out). */
  executePacket(n: number, packet: Uint8Array, translate: (key: Uint32Array) => DpAction[]): void {
    this.datapath.executePacket(n, packet, this.opts.now(), translate);
  }

  /** Inject `count` copies of a packet (hex or datapath-flow text) on datapath port n. */
  injectText(n: number, text: string, count: number): number {
    let bytes: Uint8Array;
    try {
      ({ bytes } = parsePacketArg(text));
    } catch (e) {
      throw new PortError('EPACKET', `bad packet: ${(e as Error).message}`);
    }
    const pkts: Uint8Array[] = [];
    let done = 0;
    while (done < count) {
      pkts.length = 0;
      for (let i = 0; i < 1024 && done < count; i++, done++) pkts.push(bytes);
      this.datapath.receive(n, pkts, this.opts.now());
    }
    return count;
  }

  /** Replay a pcap port's rx_pcap into the datapath. */
  replay(n: number): number {
    const p = this.datapath.ports.get(n);
    if (!p || !(p.backend instanceof PcapBackend)) throw new PortError('EINVAL', 'pcap-replay needs a port of type pcap with options:rx_pcap');
    let pkts;
    try {
      pkts = p.backend.packets();
    } catch (e) {
      throw new PortError('ERXPCAP', (e as Error).message);
    }
    return this.datapath.receive(n, pkts.map((x) => x.data), this.opts.now());
  }

  // ------------------------------------------------------------ megaflows

  /** Every megaflow: the main thread's and those the PMD threads installed. */
  megaflows(): Megaflow[] {
    const main = this.datapath.cache.entries();
    return this.pmd ? [...main, ...this.pmd.megaflows()] : main;
  }

  /** Offload the port's connections (protocols FT_*, 0 = off) with an idle timeout; drops current entries. */
  setOffload(dpPort: number, protos: number, timeoutSec: number): void {
    this.offloadConfig.set(dpPort, protos, timeoutSec);
    this.revalidate();
  }

  /** Every flowtable entry (main thread, then each PMD thread as it last published), as dump-offloaded prints them. */
  offloaded(): string[] {
    const now = this.opts.now();
    const name = (n: number) => this.names.get(n)?.name ?? String(n);
    const main = this.datapath.flowtable.entries().map((e) => formatFtEntry(e, now, name));
    return this.pmd ? [...main, ...this.pmd.offloadedLines()] : main;
  }

  /** Re-translate every megaflow; the PMD threads drop theirs before their next batch. */
  revalidate(): void {
    this.datapath.revalidate();
    this.pmd?.bumpGeneration();
  }

  dumpFlows(verbose: boolean): DpFlowEntry[] {
    const now = this.opts.now();
    const name = (n: number) => this.names.get(n)?.name ?? String(n);
    return this.megaflows().map((mf) => formatDpFlow(mf, now, verbose, name));
  }

  delFlows(): number {
    const n = this.pmd?.megaflows().length ?? 0;
    this.pmd?.bumpGeneration();
    return this.datapath.flushFlows() + n;
  }

  // ------------------------------------------------------------ housekeeping

  /** Megaflow idle expiry (called from the daemon's periodic tick). */
  tick(nowMs: number): void {
    this.datapath.expire(nowMs);
  }

  /**
   * One conntrack expiry step (paced by ct-sweep.ts): a large slab is
   * visited whole about every 20 s, in steps small enough (a few ms even
   * with 3M connections) never to stall packets or the control socket.
   */
  sweepStep(nowMs: number): number {
    const t0 = process.hrtime.bigint();
    const n = this.conntrack.sweep(nowMs, sweepBudget(this.conntrack.table.highWater()));
    this.conntrack.ipf.expire(nowMs); // fragment lists of the main thread's ports
    this.sweepStats.ns += Number(process.hrtime.bigint() - t0);
    this.sweepStats.steps++;
    this.reportAlgMalformed(nowMs);
    return n;
  }

  // ALG helpers: the packet path only counts malformed control messages
  // (+inv); they are logged here, at most once per ALG_LOG_INTERVAL_MS.
  private algMalformedSeen = 0;
  private algLoggedAt = -Infinity;
  private reportAlgMalformed(nowMs: number): void {
    const n = Atomics.load(this.conntrack.table.hdr, H_CNT_ALG_MALFORMED);
    if (n === this.algMalformedSeen || nowMs - this.algLoggedAt < ALG_LOG_INTERVAL_MS) return;
    this.opts.log.warn({ malformed: n - this.algMalformedSeen, total: n },
      `conntrack: ${n - this.algMalformedSeen} malformed FTP/TFTP control message(s) marked +inv`);
    this.algMalformedSeen = n;
    this.algLoggedAt = nowMs;
  }

  /** Time spent in conntrack expiry steps, for metrics. */
  readonly sweepStats = { ns: 0, steps: 0 };

  close(): void {
    this.links?.stop();
    clearTimeout(this.sweepTimer);
    this.rxLoop.stop();
    this.pmd?.close();
    this.pmd = null; // the threads are stopping: close the ports here and now
    for (const n of [...this.datapath.ports.keys()]) this.datapath.removePort(n);
  }
}

function tapFd(be: PortBackend): number | undefined {
  return be instanceof TapBackend ? be.rxFd : undefined;
}

function ifIndexOf(name: string): number {
  try {
    return ifNameToIndex(name);
  } catch {
    return 0;
  }
}

/** `ovs-vsctl show`'s words for a device that could not be opened. */
function deviceError(name: string, e: Error): string {
  const code = (e as { code?: string }).code ?? '';
  return `could not open network device ${name} (${code ? errnoText(code) : e.message})`;
}
