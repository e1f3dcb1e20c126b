// Glue between the OpenFlow side and the datapath: creates port backends,
// runs translation as the datapath's upcall, credits datapath hits back to
// the OpenFlow rules they went through (OVS's revalidator stats push), and
// formats datapath state for the control plane.

import { Conntrack } from '../conntrack/conntrack.ts';
import { Datapath, type UpcallResult } from '../datapath/datapath.ts';
import { formatDpActions, type DpAction, type DpCtAction } from '../datapath/dp-actions.ts';
import type { Megaflow } from '../datapath/megaflow.ts';
import { DpPort, PortError } from '../datapath/port.ts';
import { DummyBackend, InternalBackend } from '../datapath/ports/dummy.ts';
import { PcapBackend } from '../datapath/ports/pcap.ts';
import { SystemBackend } from '../datapath/ports/system.ts';
import { TapBackend } from '../datapath/ports/tap.ts';
import { RxLoop } from '../datapath/rx/rx-loop.ts';
import { MAX_PMD_THREADS, PmdSet, type PmdThreadStats } from '../datapath/pmd/pmd-set.ts';
import type { PacketBatch } from '../packet/batch.ts';
import { parsePacketArg } from '../packet/compose.ts';
import { FK_IN_PORT, FK_WORDS } from '../packet/flow-key.ts';
import { formatOdpFlowKey, tcpFlagsStr } from '../packet/odp-format.ts';
import { parseOdpFlow } from '../packet/odp-parse.ts';
import { SwitchError, type DpFlowEntry } from './api.ts';
import type { Bridge, BridgePort } from './bridge.ts';
import { parseFlow } from './parse-flow.ts';
import type { Rule } from './rule.ts';
import type { XlateResult } from './xlate.ts';

export interface PortBackendInfo {
  type: string;
}

type Log = { warn: (...a: unknown[]) => void };

/** OVS's dump-flows "flags:" letters, in its order. */
export function tcpFlagLetters(f: number): string {
  let s = '';
  if (f & 0x002) s += 'S';
  if (f & 0x001) s += 'F';
  if (f & 0x008) s += 'P';
  if (f & 0x004) s += 'R';
  if (f & 0x020) s += 'U';
  if (f & 0x010) s += '.';
  if (f & 0x040) s += 'E';
  if (f & 0x080) s += 'C';
  if (f & 0x100) s += 'N';
  return s;
}

export const SWEEP_INTERVAL_MS = 10;

/** What a megaflow remembers of its translation: rules to credit, MAC entries to refresh. */
interface MegaflowOwner {
  rules: Rule[];
  learned: XlateResult['learned'];
  groups: XlateResult['groups'];
}

/** Slots to visit per sweep step so that a full pass takes about 20 s. */
export function sweepBudget(highWater: number): number {
  return Math.max(1024, Math.ceil(highWater / 2000));
}

export class DpGlue {
  readonly datapath: Datapath;
  readonly conntrack: Conntrack;
  private readonly portInfo = new Map<number, BridgePort>();

  constructor(
    upcall: (key: Uint32Array, learn: boolean) => XlateResult | null,
    private readonly log: Log,
    private readonly now: () => number,
    private readonly afterRx: () => void = () => {},
    /** PMD threads for real-traffic ports; 0 runs them on the main thread (rx-loop.ts). */
    private pmdThreads = 1,
  ) {
    this.conntrack = Conntrack.create();
    const ct = this.conntrack;
    this.translate = (key, len): UpcallResult | null => {
      // len 0 = revalidation: translate without side effects.
      const res = upcall(key, len > 0);
      if (!res) return null;
      // The upcalled packet is credited to the rules here; datapath hits later via pushStats.
      if (len > 0) {
        for (const r of res.rules) r.credit(1, len, this.now());
        for (const g of res.groups) g.group.credit(g.bucket, 1, len, g.countGroup);
      }
      const owner: MegaflowOwner = { rules: res.rules, learned: res.learned, groups: res.groups };
      return { actions: res.actions, mask: res.mask, owner, error: res.error };
    };
    this.datapath = new Datapath(
      this.translate,
      {
        execute(batch: PacketBatch, idx: number, key: Uint32Array, keyOfs: number, a: DpCtAction, nowMs: number) {
          ct.execute(batch, idx, key, keyOfs, a.exec, nowMs);
        },
      },
    );
    this.datapath.onRemove = (mf) => this.pushOne(mf);
    this.rxLoop = new RxLoop(this.datapath, now, afterRx);
    this.sweepTimer = setInterval(() => this.sweepStep(this.now()), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  private readonly sweepTimer: NodeJS.Timeout;
  private readonly rxLoop: RxLoop;
  private readonly translate: (key: Uint32Array, len: number) => UpcallResult | null;
  /** The PMD threads, started with the first real-traffic port. */
  private pmd: PmdSet | null = null;

  private startPmds(): PmdSet {
    const pmd = new PmdSet(
      {
        translate: this.translate,
        afterUpcall: this.afterRx,
        pushMegaflow: (mf) => this.pushOne(mf),
        log: { warn: (...a) => this.log.warn(...a), error: (...a) => this.log.warn(...a) },
        now: this.now,
      },
      this.conntrack,
      this.pmdThreads,
    );
    for (const p of this.datapath.ports.values()) {
      pmd.addPort(p.number, p.name, p.backend.type, p.backend instanceof TapBackend ? p.backend.rxFd : undefined);
    }
    return pmd;
  }

  /** The number of PMD threads (0: real-traffic ports are read on the main thread). */
  get pmdThreadCount(): number {
    return this.pmdThreads;
  }

  setPmdThreads(n: number): void {
    if (this.pmdThreads === 0) throw new SwitchError('ENOTSUP', 'swd was started with --pmd-threads 0 (datapath on the main thread); restart it to use PMD threads');
    if (!Number.isInteger(n) || n < 1 || n > MAX_PMD_THREADS) throw new SwitchError('EINVAL', `pmd threads must be 1 to ${MAX_PMD_THREADS}`);
    this.pmdThreads = n;
    this.pmd?.setThreads(n);
  }

  /** pmd-stats-show: per PMD thread, then the main thread (swctl inject, pcap replay). */
  pmdStats(): { threads: (PmdThreadStats & { thread: string })[]; lines: string[] } {
    const main: PmdThreadStats = {
      index: -1, packets: this.mainPackets(), batches: 0, hits: this.datapath.stats.hit,
      misses: this.datapath.stats.missed, lost: this.datapath.stats.lost, busyNs: 0, idleNs: 0,
    };
    const threads = [
      ...(this.pmd?.threadStats() ?? []).map((t) => ({ ...t, thread: `pmd ${t.index}` })),
      { ...main, thread: 'main' },
    ];
    const lines: string[] = [];
    for (const t of threads) {
      lines.push(t.index < 0 ? 'main thread:' : `pmd thread numa_id 0 core_id ${t.index}:`);
      lines.push(`  packets received: ${t.packets}`);
      lines.push(`  megaflow hits: ${t.hits}`);
      lines.push(`  miss with success upcall: ${t.misses - t.lost}`);
      lines.push(`  miss with failed upcall: ${t.lost}`);
      if (t.index < 0) continue;
      lines.push(`  batches: ${t.batches}`);
      lines.push(`  avg. packets per batch: ${t.batches ? (t.packets / t.batches).toFixed(2) : '0.00'}`);
      const total = t.busyNs + t.idleNs;
      const pct = (v: number) => (total ? ((v * 100) / total).toFixed(2) : '0.00');
      lines.push(`  idle cycles: ${Math.round(t.idleNs)} (${pct(t.idleNs)}%)`);
      lines.push(`  processing cycles: ${Math.round(t.busyNs)} (${pct(t.busyNs)}%)`);
      if (t.packets) {
        lines.push(`  avg cycles per packet: ${(total / t.packets).toFixed(2)} (${Math.round(total)}/${t.packets})`);
        lines.push(`  avg processing cycles per packet: ${(t.busyNs / t.packets).toFixed(2)} (${Math.round(t.busyNs)}/${t.packets})`);
      }
    }
    return { threads, lines };
  }

  private mainPackets(): number {
    let n = 0;
    for (const p of this.datapath.ports.values()) n += p.stats.rxPackets;
    return n;
  }

  hasConntrack(): boolean {
    return true;
  }

  hasPort(n: number): boolean {
    return this.datapath.ports.has(n);
  }

  addPort(p: BridgePort, options: Record<string, string>): void {
    let backend;
    try {
      if (p.type === 'internal') backend = new InternalBackend();
      else if (p.type === 'pcap') backend = new PcapBackend(options.rx_pcap ?? null);
      else if (p.type === 'system') backend = new SystemBackend(p.name, { rx: this.pmdThreads === 0 });
      else if (p.type === 'tap') backend = TapBackend.create(p.name);
      else backend = new DummyBackend();
      try {
        this.datapath.addPort(new DpPort(p.dpPort, p.name, backend, options));
      } catch (e) {
        backend.close();
        throw e;
      }
    } catch (e) {
      if (e instanceof PortError) throw new SwitchError(e.code, e.message);
      throw e;
    }
    this.portInfo.set(p.dpPort, p);
    const real = p.type === 'system' || p.type === 'tap';
    if (this.pmdThreads === 0) {
      if (real) this.rxLoop.update();
    } else if (this.pmd) {
      const be = this.datapath.ports.get(p.dpPort)!.backend;
      this.pmd.addPort(p.dpPort, p.name, p.type, be instanceof TapBackend ? be.rxFd : undefined);
    } else if (real) this.pmd = this.startPmds();
  }

  removePort(n: number): void {
    const port = this.datapath.ports.get(n);
    if (this.pmd && port) {
      // Workers may still read a tap descriptor this port owns: close it once they all let go.
      this.datapath.ports.delete(n);
      this.portInfo.delete(n);
      void this.pmd.removePort(n).finally(() => port.close());
      return;
    }
    const real = this.datapath.ports.get(n)?.backend.type;
    if (real === 'system' || real === 'tap') {
      // Out of the poll list before the descriptor closes.
      const p = this.datapath.ports.get(n)!;
      this.datapath.ports.delete(n);
      this.rxLoop.update();
      this.datapath.ports.set(n, p);
    }
    this.datapath.removePort(n);
    this.portInfo.delete(n);
  }

  portStats(n: number) {
    const p = this.datapath.ports.get(n);
    const s = p ? { ...p.refreshStats() } : undefined;
    if (s && this.pmd) this.pmd.addCounters(n, s);
    return {
      rxPackets: s?.rxPackets ?? 0, rxBytes: s?.rxBytes ?? 0, rxDropped: s?.rxDropped ?? 0, rxErrors: s?.rxErrors ?? 0,
      txPackets: s?.txPackets ?? 0, txBytes: s?.txBytes ?? 0, txDropped: s?.txDropped ?? 0, txErrors: s?.txErrors ?? 0,
    };
  }

  /** Inject `count` copies of a packet (hex or datapath-flow text) on datapath port n. */
  injectText(n: number, text: string, count: number): number {
    let bytes: Uint8Array;
    try {
      ({ bytes } = parsePacketArg(text));
    } catch (e) {
      throw new SwitchError('EPACKET', `bad packet: ${(e as Error).message}`);
    }
    const pkts: Uint8Array[] = [];
    let done = 0;
    while (done < count) {
      pkts.length = 0;
      for (let i = 0; i < 1024 && done < count; i++, done++) pkts.push(bytes);
      this.datapath.receive(n, pkts, this.now());
    }
    return count;
  }

  /** Replay a pcap port's rx_pcap into the datapath. */
  replay(n: number): number {
    const p = this.datapath.ports.get(n);
    if (!p || !(p.backend instanceof PcapBackend)) throw new SwitchError('EINVAL', 'pcap-replay needs a port of type pcap with options:rx_pcap');
    let pkts;
    try {
      pkts = p.backend.packets();
    } catch (e) {
      throw new SwitchError('ERXPCAP', (e as Error).message);
    }
    return this.datapath.receive(n, pkts.map((x) => x.data), this.now());
  }

  /** The flow key for `swctl trace`: OpenFlow flow syntax or datapath-flow syntax. */
  traceKey(br: Bridge, text: string): Uint32Array {
    const t = text.trim();
    let key: Uint32Array;
    if (/^[a-z_0-9]+\(/.test(t)) {
      try {
        key = parseOdpFlow(t).key;
      } catch (e) {
        throw new SwitchError('EINVAL', `bad flow: ${(e as Error).message}`);
      }
      return key;
    }
    const spec = parseFlow(t, 'dump');
    key = Uint32Array.from(spec.match.value);
    // The flow names an OpenFlow port; the datapath key carries the datapath port.
    const p = br.portsByOf.get(key[FK_IN_PORT]);
    key[FK_IN_PORT] = p ? p.dpPort : 0xffffffff;
    return key;
  }

  formatMegaflowMatch(key: Uint32Array, mask: Uint32Array): string {
    return formatOdpFlowKey(key, 0, mask, 0, false);
  }

  formatActions(actions: DpAction[]): string {
    return formatDpActions(actions);
  }

  revalidate(): void {
    this.datapath.revalidate();
    this.pmd?.bumpGeneration();
  }

  /** Every megaflow: the main thread's and those the PMD threads installed. */
  private allMegaflows(): Megaflow[] {
    const main = this.datapath.cache.entries();
    return this.pmd ? [...main, ...this.pmd.megaflows()] : main;
  }

  private pushOne(mf: Megaflow): void {
    const dp = mf.packets - mf.pushedPackets;
    const db = mf.bytes - mf.pushedBytes;
    if (dp <= 0) return;
    mf.pushedPackets = mf.packets;
    mf.pushedBytes = mf.bytes;
    const owner = mf.owner as MegaflowOwner | null;
    if (!owner) return;
    const used = mf.usedMs || this.now();
    for (const r of owner.rules) if (!r.removed) r.credit(dp, db, used);
    for (const g of owner.groups) g.group.credit(g.bucket, dp, db, g.countGroup);
    // Traffic on the megaflow keeps NORMAL's MAC entries alive, as OVS's xlate cache does.
    for (const l of owner.learned) l.macs.touch(l.vlan, l.mac, l.port, used);
  }

  /** Credit datapath hits to the OpenFlow rules (before dump-flows, and periodically). */
  pushStats(): void {
    for (const mf of this.allMegaflows()) this.pushOne(mf);
  }

  tick(nowMs: number): void {
    this.datapath.expire(nowMs);
  }

  /**
   * One conntrack expiry step. Called every SWEEP_INTERVAL_MS, it visits the
   * whole slab about every 20 s, in steps small enough (a few ms even with
   * 3M connections) never to stall packets or the control socket.
   */
  sweepStep(nowMs: number): number {
    return this.conntrack.sweep(nowMs, sweepBudget(this.conntrack.table.highWater()));
  }

  dumpFlows(verbose: boolean): DpFlowEntry[] {
    const now = this.now();
    const name = (n: number) => this.portInfo.get(n)?.name ?? String(n);
    return this.allMegaflows().map((mf) => {
      const match = formatOdpFlowKey(mf.origKey, 0, mf.mask, 0, verbose, name);
      const usedSec = mf.usedMs ? (now - mf.usedMs) / 1000 : null;
      const flags = tcpFlagLetters(mf.tcpFlags);
      const actions = formatDpActions(mf.actions, verbose ? name : undefined);
      const used = usedSec === null ? 'never' : `${Math.max(0, usedSec).toFixed(3)}s`;
      let text = verbose ? `ufid:${mf.ufid}, ` : '';
      text += `${match}, packets:${mf.packets}, bytes:${mf.bytes}, used:${used}${flags ? `, flags:${flags}` : ''}`;
      text += verbose ? `, dp:ovs, actions:${actions}` : `, actions:${actions}`;
      return { match, packets: mf.packets, bytes: mf.bytes, usedSec, tcpFlags: flags, actions, ufid: mf.ufid, text };
    });
  }

  delFlows(): number {
    const n = this.pmd?.megaflows().length ?? 0;
    this.pmd?.bumpGeneration();
    return this.datapath.flushFlows() + n;
  }

  close(): void {
    clearInterval(this.sweepTimer);
    this.rxLoop.stop();
    this.pmd?.close();
    this.pmd = null; // the threads are stopping: close the ports here and now
    for (const n of [...this.datapath.ports.keys()]) this.datapath.removePort(n);
  }
}

export { FK_WORDS, tcpFlagsStr };
