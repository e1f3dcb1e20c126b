// The switch: every bridge, one shared datapath, and the SwitchApi the
// control plane calls. Bridges own OpenFlow state; the datapath owns ports
// and megaflows. Datapath port numbers equal OpenFlow port numbers when they
// can (p1 with ofport 1 is in_port(1) in dump-dp-flows); each bridge's LOCAL
// port and any clash get numbers from 100 up, as OVS's dummy datapath does.
//
// Consistency rule: every flow-table, port or MAC-table change is followed by
// revalidation (`revalidate()`), so no megaflow keeps forwarding by a rule
// that is gone or changed.

import { FK_IN_PORT } from '../packet/flow-key.ts';
import type { FlowCacheOptions } from '../datapath/emc.ts';
import { OFPP_LOCAL } from './actions.ts';
import { SwitchError, type DpFlowEntry, type PortConfig, type PortStats, type SwitchApi, type SwitchConfig } from './api.ts';
import { Bridge, type BridgePort } from './bridge.ts';
import { fullFlows, takeFlowDelta, type FlowDelta } from './saved-flows.ts';
import { formatGroup } from './group-format.ts';
import { RecircIds } from './recirc.ts';
import { formatPortStats, formatShow } from './switch-format.ts';
import { xlate } from './xlate.ts';
import { traceXlate } from './xlate-trace.ts';
import { UpcallAdapter } from './upcall.ts';
import { collectSwitchStats, type SwitchStats } from './switch-stats.ts';
import { formatOffload, OffloadCommands } from './offload-commands.ts';
import { CtCommands } from './ct-commands.ts';
import { IpfCommands } from './ipf-commands.ts';
import { GroupCommands } from './group-commands.ts';
import { MeterCommands, type MeterApi } from './meter-commands.ts';
import { meterText } from './meter-format.ts';
import { checkActions, FlowCommands } from './flow-commands.ts';
import { CtSave } from './ct-save.ts';

export interface SwitchOptions {
  logger?: { info: (...a: unknown[]) => void; warn: (...a: unknown[]) => void; error: (...a: unknown[]) => void };
  /** Create br0 with p1/p2 when there is no configuration. */
  defaultBridge?: boolean;
  now?: () => number;
  /** Idle time before a datapath flow is removed (default MEGAFLOW_IDLE_MS). */
  maxIdleMs?: number;
  /** The datapath flow cache in front of the megaflow classifier (src/datapath/emc.ts); unset fields keep the defaults. */
  flowCache?: FlowCacheOptions;
  /** PMD threads for system and tap ports (default 1; 0: on the main thread). */
  pmdThreads?: number;
  /** The conntrack save file: restored before the first port opens, written by saveConntrack(). */
  ctSaveFile?: string;
  /** The logger of a named module (swd's vlog modules); default: `logger` for all. */
  logFor?: (module: string) => NonNullable<SwitchOptions['logger']>;
}

const LOCAL_DP_BASE = 100;
/** Port types add-port accepts (system: an existing interface; tap: a TAP device swd creates). */
export const PORT_TYPES = ['dummy', 'pcap', 'system', 'tap'];
export const LIMIT_LOG_INTERVAL_MS = 10_000;

export class Switch implements SwitchApi {
  readonly bridges = new Map<string, Bridge>();
  readonly recirc = new RecircIds();
  readonly dp: UpcallAdapter;
  readonly ct: CtCommands;
  readonly ipf: IpfCommands;
  readonly groups: GroupCommands;
  readonly meters: MeterCommands;
  readonly flows: FlowCommands;
  readonly offload = new OffloadCommands(() => this.dp.dpif);
  private readonly now: () => number;
  private readonly log: NonNullable<SwitchOptions['logger']>;
  private seenGenerations = new Map<string, number>();
  /** Conntrack across a restart (null without a save file). */
  readonly ctSave: CtSave | null;

  constructor(opts: SwitchOptions = {}) {
    this.now = opts.now ?? Date.now;
    const noop = () => {};
    this.log = opts.logger ?? { info: noop, warn: noop, error: noop };
    const logFor = (m: string) => opts.logFor?.(m) ?? this.log;
    this.dp = new UpcallAdapter((key, learn) => this.upcall(key, learn), logFor('dpif'), this.now, () => this.revalidate(), opts.pmdThreads ?? 1);
    if (opts.maxIdleMs !== undefined) this.dp.setMaxIdle(opts.maxIdleMs);
    if (opts.flowCache) {
      const fc = this.dp.dpif.datapath.flowCache;
      this.dp.dpif.setFlowCache(opts.flowCache.emcInsertInvProb ?? fc.emc.insertInvProb, opts.flowCache.smc ?? fc.smc !== null);
    }
    this.dp.onPortState = (p) => {
      for (const br of this.bridges.values()) if (br.portsByDp.get(p.dpPort) === p) br.generation++;
      this.revalidate(true);
    };
    this.ct = new CtCommands(this.dp.conntrack, this.now);
    this.ctSave = opts.ctSaveFile ? new CtSave(opts.ctSaveFile, this.dp.conntrack, this.now, logFor('conntrack')) : null;
    this.ipf = new IpfCommands(this.dp.conntrack);
    this.groups = new GroupCommands({
      bridge: (name) => this.bridge(name),
      checkActions: (acts) => checkActions(acts, null),
      revalidate: () => this.revalidate(),
      now: () => this.now(),
    });
    this.meters = new MeterCommands({
      bridge: (name) => this.bridge(name),
      meters: () => this.dp.dpif.meters,
      revalidate: () => this.revalidate(),
      now: () => this.now(),
    });
    this.flows = new FlowCommands({
      bridge: (name) => this.bridge(name),
      revalidate: () => this.revalidate(),
      pushStats: () => this.dp.pushStats(),
      now: () => this.now(),
    });
  }

  static fromConfig(cfg: SwitchConfig | null, opts: SwitchOptions = {}): Switch {
    const sw = new Switch(opts);
    // Before any port opens: no packet sees the table before it is whole.
    sw.ctSave?.restoreNow();
    if (!cfg) {
      if (opts.defaultBridge !== false) {
        sw.addBridge('br0');
        sw.addPort('br0', { name: 'p1', type: 'dummy', ofport: 1 });
        sw.addPort('br0', { name: 'p2', type: 'dummy', ofport: 2 });
      }
      return sw;
    }
    for (const b of cfg.bridges) {
      sw.addBridge(b.name);
      // A port whose device is missing is kept (LINK_DOWN) rather than stopping the start.
      for (const p of b.ports) sw.addPort(b.name, { name: p.name, type: p.type, ofport: p.ofport, options: p.options }, true);
      for (const m of b.meters ?? []) sw.addMeter(b.name, m);
      if (b.groups?.length) sw.addGroups(b.name, b.groups.join('\n'), `${b.name} (saved groups)`);
      if (b.flows.length) sw.addFlows(b.name, b.flows.join('\n'), `${b.name} (saved flows)`);
      if (b.offload) sw.offloadSet(b.name, b.offload.split(' '));
    }
    return sw;
  }

  // ------------------------------------------------------------ helpers

  private bridge(name: string): Bridge {
    const b = this.bridges.get(name);
    if (!b) throw new SwitchError('ENOBRIDGE', `no bridge named ${name}`);
    return b;
  }

  private allocDpPort(wanted: number | null): number {
    if (wanted !== null && wanted < LOCAL_DP_BASE && !this.dp.hasPort(wanted)) return wanted;
    let n = LOCAL_DP_BASE;
    while (this.dp.hasPort(n)) n++;
    return n;
  }

  /** The datapath upcall: find the bridge owning the input port and translate. */
  private upcall(key: Uint32Array, learn: boolean) {
    const dpPort = key[FK_IN_PORT];
    for (const br of this.bridges.values()) {
      if (br.portsByDp.has(dpPort)) return xlate(br, key, this.now(), null, learn);
    }
    return null;
  }

  /** Revalidate megaflows if any bridge changed since the last time. */
  revalidate(force = false): void {
    let changed = force;
    for (const br of this.bridges.values()) {
      const g = br.generation * 1_000_003 + br.macs.generation;
      if (this.seenGenerations.get(br.name) !== g) {
        this.seenGenerations.set(br.name, g);
        changed = true;
      }
    }
    if (changed) this.dp.revalidate();
  }

  /** Periodic work: rule timeouts, MAC aging, megaflow expiry and stats push. */
  tick(nowMs = this.now()): void {
    this.dp.pushStats();
    for (const br of this.bridges.values()) {
      br.expireRules(nowMs);
      br.macs.expire(nowMs);
    }
    this.revalidate();
    this.dp.tick(nowMs);
    this.logLimitDrops(nowMs);
  }

  private limitDropsSeen = { global: 0, zone: 0, nat: 0 };
  private limitLogMs = 0;

  /** A rate-limited log line (at most one per LIMIT_LOG_INTERVAL_MS) when connection limits refused commits. */
  private logLimitDrops(nowMs: number): void {
    if (nowMs - this.limitLogMs < LIMIT_LOG_INTERVAL_MS) return;
    const c = this.dp.conntrack.counters();
    const global = c.limitDrops - this.limitDropsSeen.global;
    const zone = c.zoneLimitDrops - this.limitDropsSeen.zone;
    const nat = c.natExhausted - this.limitDropsSeen.nat;
    if (global <= 0 && zone <= 0 && nat <= 0) return;
    this.limitDropsSeen = { global: c.limitDrops, zone: c.zoneLimitDrops, nat: c.natExhausted };
    this.limitLogMs = nowMs;
    if (nat > 0) this.log.warn({ natExhausted: nat }, `conntrack: ${nat} packets dropped: unable to NAT due to tuple space exhaustion`);
    if (global <= 0 && zone <= 0) return;
    this.log.warn(
      { maxconnsRefused: global, zoneLimitRefused: zone },
      `conntrack: ${global} new connections not committed (table full, maxconns ${this.dp.conntrack.getMaxConns()}), ${zone} refused by zone limits`,
    );
  }

  /** Counters for monitoring (swd start --metrics). */
  stats(): SwitchStats {
    return collectSwitchStats(this.bridges.values(), this.dp, this.now());
  }

  close(): void {
    this.dp.close();
  }

  /** Save the connection table (after close(): the threads are stopping); reports, never throws. */
  saveConntrack() {
    return this.ctSave?.saveNow() ?? null;
  }

  ctSaveNow() { return this.ctSaveOrThrow().saveCommand(); }
  ctSaveShow() { return this.ctSaveOrThrow().show(); }

  private ctSaveOrThrow(): CtSave {
    if (!this.ctSave) throw new SwitchError('ENOTSUP', 'this switch has no conntrack save file');
    return this.ctSave;
  }

  // ------------------------------------------------------------ bridges and ports

  addBridge(name: string): void {
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) throw new SwitchError('EINVAL', `invalid bridge name '${name}'`);
    if (this.bridges.has(name)) throw new SwitchError('EEXIST', `bridge ${name} already exists`);
    for (const b of this.bridges.values()) {
      if (b.portByName(name)) throw new SwitchError('EEXIST', `${name} is already a port of bridge ${b.name}`);
    }
    const dpid = BigInt(0xa0000000 + this.bridges.size + 1);
    const br = new Bridge(name, this.recirc, dpid);
    this.bridges.set(name, br);
    this.bridgeSetChanged = true;
    // The bridge's own LOCAL port, like OVS's internal port named after the bridge.
    const dpPort = this.allocDpPort(null);
    const port: BridgePort = { name, ofport: OFPP_LOCAL, dpPort, up: true, type: 'internal', options: {} };
    this.dp.addPort(port, {});
    br.addPort(port);
  }

  delBridge(name: string): void {
    const br = this.bridge(name);
    for (const p of br.sortedPorts()) this.dp.removePort(p.dpPort);
    this.offload.set(br, ['off']);
    this.bridges.delete(name);
    this.bridgeSetChanged = true;
    this.recirc.dropBridge(name);
    this.revalidate(true);
    // Its meters' datapath ids go back to the pool (after the megaflows that used them).
    for (const m of br.meters.values()) this.dp.dpif.meters.free(m.dpId);
  }

  listBridges(): string[] {
    return [...this.bridges.keys()].sort();
  }

  addPort(bridge: string, req: { name: string; type?: string; ofport?: number; options?: Record<string, string> }, restoring = false): PortConfig {
    const br = this.bridge(bridge);
    const type = req.type ?? 'dummy';
    if (!PORT_TYPES.includes(type)) throw new SwitchError('EINVAL', `unsupported port type '${type}' (supported: ${PORT_TYPES.join(', ')})`);
    if (!/^[A-Za-z0-9_.:-]{1,15}$/.test(req.name)) throw new SwitchError('EINVAL', `invalid port name '${req.name}'`);
    for (const b of this.bridges.values()) {
      if (b.portByName(req.name) || b.name === req.name) throw new SwitchError('EEXIST', `port ${req.name} already exists on bridge ${b.name}`);
    }
    let ofport = req.ofport ?? br.freeOfport();
    if (!Number.isInteger(ofport) || ofport < 1 || ofport >= 0xff00) throw new SwitchError('EINVAL', `invalid ofport ${req.ofport}`);
    if (br.portsByOf.has(ofport)) throw new SwitchError('EEXIST', `ofport ${ofport} is already used on bridge ${bridge}`);
    const options = { ...(req.options ?? {}) };
    const dpPort = this.allocDpPort(ofport);
    const port: BridgePort = { name: req.name, ofport, dpPort, up: true, type, options };
    this.dp.addPort(port, options, restoring); // throws (and adds nothing) when the backend cannot open, unless restoring
    br.addPort(port);
    this.offload.applyPort(bridge, dpPort);
    this.revalidate(true);
    if (type === 'pcap' && options.rx_pcap) this.dp.replay(dpPort);
    return { name: port.name, type: type as PortConfig['type'], ofport, options };
  }

  delPort(bridge: string, name: string): void {
    const br = this.bridge(bridge);
    const p = br.portByName(name);
    if (!p || p.ofport === OFPP_LOCAL) throw new SwitchError('ENOPORT', `bridge ${bridge} has no port named ${name}`);
    br.removePort(p);
    this.dp.removePort(p.dpPort);
    this.revalidate(true);
  }

  show(bridge: string) {
    const br = this.bridge(bridge);
    const lines = formatShow(br, (n) => this.dp.portStatus(n).error);
    const state = new Map(br.sortedPorts().map((p) => [p.ofport, p]));
    const ports = this.portConfigs(br).map((c) => {
      const p = state.get(c.ofport)!;
      const st = this.dp.portStatus(p.dpPort);
      return { ...c, state: p.up ? 'up' : 'LINK_DOWN', error: st.error, linkResets: st.linkResets };
    });
    return { bridge, ports, lines };
  }

  private portConfigs(br: Bridge): PortConfig[] {
    return br
      .sortedPorts()
      .filter((p) => p.ofport !== OFPP_LOCAL)
      .map((p) => ({ name: p.name, type: p.type as PortConfig['type'], ofport: p.ofport, options: { ...p.options } }));
  }

  dumpPorts(bridge: string, port?: string) {
    const br = this.bridge(bridge);
    let ports = br.sortedPorts();
    if (port !== undefined) {
      const p = br.portByName(port) ?? (/^\d+$/.test(port) ? br.portsByOf.get(Number(port)) : undefined);
      if (!p) throw new SwitchError('ENOPORT', `bridge ${bridge} has no port ${port}`);
      ports = [p];
    }
    // OVS lists LOCAL first in port stats replies.
    ports.sort((a, b) => (a.ofport === OFPP_LOCAL ? -1 : b.ofport === OFPP_LOCAL ? 1 : a.ofport - b.ofport));
    const stats: PortStats[] = ports.map((p) => ({ ofport: p.ofport, name: p.name, ...this.dp.portStats(p.dpPort) }));
    return { ports: stats, lines: formatPortStats(stats) };
  }

  // ------------------------------------------------------------ flows

  addFlows(bridge: string, text: string, file: string) { return this.flows.addFlows(bridge, text, file); }
  replaceFlows(bridge: string, text: string, file: string) { return this.flows.replaceFlows(bridge, text, file); }
  diffFlows(bridge: string, text: string, file: string, opts: { names?: boolean } = {}) { return this.flows.diffFlows(bridge, text, file, opts); }
  modFlows(bridge: string, text: string, file: string, strict: boolean) { return this.flows.modFlows(bridge, text, file, strict); }
  delFlows(bridge: string, match: string | null, strict: boolean) { return this.flows.delFlows(bridge, match, strict); }
  dumpFlows(bridge: string, match: string | null, opts: { noStats?: boolean; names?: boolean }) { return this.flows.dumpFlows(bridge, match, opts); }

  // ------------------------------------------------------------ packets

  private port(bridge: string, name: string): BridgePort {
    const br = this.bridge(bridge);
    const p = br.portByName(name) ?? (/^\d+$/.test(name) ? br.portsByOf.get(Number(name)) : undefined);
    if (!p) throw new SwitchError('ENOPORT', `bridge ${bridge} has no port ${name}`);
    return p;
  }

  inject(bridge: string, portName: string, packet: string, count: number) {
    const p = this.port(bridge, portName);
    if (!Number.isInteger(count) || count < 1 || count > 1_000_000) throw new SwitchError('EINVAL', `invalid count ${count}`);
    const n = this.dp.injectText(p.dpPort, packet, count);
    this.revalidate();
    return { injected: n };
  }

  pcapReplay(bridge: string, portName: string) {
    const p = this.port(bridge, portName);
    const n = this.dp.replay(p.dpPort);
    this.revalidate();
    return { replayed: n };
  }

  trace(bridge: string, flowText: string) {
    const br = this.bridge(bridge);
    const key = this.dp.traceKey(br, flowText);
    const r = traceXlate(br, key, this.now(), (a) => this.dp.formatActions(a));
    this.revalidate();
    return r;
  }

  // ------------------------------------------------------------ datapath

  dumpDpFlows(opts: { verbose?: boolean }): { flows: DpFlowEntry[]; lines: string[] } {
    const flows = this.dp.dumpFlows(!!opts.verbose);
    return { flows, lines: flows.map((f) => f.text) };
  }

  delDpFlows() {
    return { deleted: this.dp.delFlows() };
  }

  fdbShow(bridge: string) {
    const br = this.bridge(bridge);
    const now = this.now();
    const entries = br.macs.list().map((e) => ({ port: e.port, vlan: e.vlan, mac: e.mac, age: Math.floor((now - e.seenMs) / 1000) }));
    return { entries, lines: br.macs.formatShow(now) };
  }

  // ------------------------------------------------------------ PMD threads (dpif-netdev/pmd-*)

  pmdStatsShow() {
    return this.dp.pmdStats();
  }

  pmdSetThreads(n: number) {
    this.dp.setPmdThreads(n);
    return { threads: n, lines: [] as string[] };
  }

  // ------------------------------------------------------------ flowtable (offload-*)

  offloadSet(bridge: string, args: string[]) { return this.offload.set(this.bridge(bridge), args); }
  offloadShow(bridge: string) { return this.offload.show(this.bridge(bridge).name); }
  dumpOffloaded(bridge: string | null) {
    return this.offload.dump(bridge === null ? [...this.bridges.values()] : [this.bridge(bridge)]);
  }

  // ------------------------------------------------------------ conntrack (dpctl/*)

  dumpConntrack(o: { zone?: number; verbose?: boolean; stats?: boolean; format?: string }) { return this.ct.dump(o); }
  flushConntrack(o: { zone?: number; tuple?: string }) {
    const r = this.ct.flush(o);
    this.revalidate(true);
    return r;
  }
  ctStatsShow(o: { zone?: number; verbose?: boolean }) { return this.ct.stats(o); }
  dumpConntrackExp(o: { zone?: number }) { return this.ct.dumpExp(o); }
  ctSetMaxconns(n: number) { return this.ct.setMaxconns(n); }
  ctGetMaxconns() { return this.ct.getMaxconns(); }
  ctGetNconns() { return this.ct.getNconns(); }
  ctSetLimits(args: string) { return this.ct.setLimits(args); }
  ctGetLimits(args: string) { return this.ct.getLimits(args); }
  ctDelLimits(args: string) { return this.ct.delLimits(args); }
  ctSetTcpSeqChk(on: boolean) { return this.ct.setTcpSeqChk(on); }
  ctGetTcpSeqChk() { return this.ct.getTcpSeqChk(); }
  ctSetTimeoutPolicy(args: string) { return this.ct.setTimeoutPolicy(args); }
  ctGetTimeoutPolicy(zone: number) { return this.ct.getTimeoutPolicy(zone); }
  /** ct-events: the conntrack whose event rings the daemon reads, and the clock events carry. */
  eventSource() { return { conntrack: this.dp.conntrack, now: this.now }; }
  // fragment reassembly (dpctl/ipf-*)
  ipfSetEnabled(family: string, on: boolean) { return this.ipf.setEnabled(family, on); }
  ipfSetMinFrag(family: string, size: string) { return this.ipf.setMinFrag(family, size); }
  ipfSetMaxNfrags(n: string) { return this.ipf.setMaxNfrags(n); }
  ipfGetStatus(verbose: boolean) { return this.ipf.getStatus(verbose); }

  // ------------------------------------------------------------ groups (ovs-ofctl *-group*)

  addGroups(bridge: string, text: string, file: string) { return this.groups.addGroups(bridge, text, file); }
  modGroups(bridge: string, text: string, file: string, mayCreate: boolean) { return this.groups.modGroups(bridge, text, file, mayCreate); }
  delGroups(bridge: string, match: string | null) { return this.groups.delGroups(bridge, match); }
  dumpGroups(bridge: string, groupId: number | null) { return this.groups.dumpGroups(bridge, groupId); }
  dumpGroupStats(bridge: string, groupId: number | null) {
    this.dp.pushStats();
    return this.groups.dumpGroupStats(bridge, groupId);
  }

  // ------------------------------------------------------------ meters (ovs-ofctl *-meter*)

  addMeter(bridge: string, text: string) { return this.meters.addMeter(bridge, text); }
  modMeter(bridge: string, text: string) { return this.meters.modMeter(bridge, text); }
  delMeters(bridge: string, text: string | null) { return this.meters.delMeters(bridge, text); }
  dumpMeters(bridge: string, text: string | null) { return this.meters.dumpMeters(bridge, text); }
  meterStats(bridge: string, text: string | null) { return this.meters.meterStats(bridge, text); }
  meterFeatures(bridge: string): ReturnType<MeterApi['meterFeatures']> { return this.meters.meterFeatures(bridge); }

  config(): SwitchConfig {
    return this.configOf((br) => fullFlows(br, false));
  }

  // The database's journal (ctl/db-journal.ts): a full save takes a
  // baseline, later saves take only the flows that changed since.
  private tracking = false;
  private bridgeSetChanged = false;

  /** The configuration for a full save; from here on, flow changes are tracked for takeFlowDeltas. */
  configForSave(): SwitchConfig {
    this.tracking = true;
    this.bridgeSetChanged = false;
    return this.configOf((br) => fullFlows(br, true));
  }

  /** The configuration without its flows (each bridge's `flows` empty). */
  configWithoutFlows(): SwitchConfig {
    return this.configOf(() => []);
  }

  /** Each bridge's flow changes since the last save (taken), or null when only a full save can hold them (bridges came or went). */
  takeFlowDeltas(): Map<string, FlowDelta> | null {
    if (!this.tracking || this.bridgeSetChanged) return null;
    const out = new Map<string, FlowDelta>();
    for (const br of this.bridges.values()) out.set(br.name, takeFlowDelta(br));
    return out;
  }

  private configOf(flows: (br: Bridge) => string[]): SwitchConfig {
    return {
      version: 1,
      bridges: [...this.bridges.values()].map((br) => ({
        name: br.name,
        ports: this.portConfigs(br),
        groups: [...br.groups.values()].sort((a, b) => a.id - b.id).map((g) => formatGroup(g.spec)),
        ...(br.meters.size ? { meters: [...br.meters.values()].sort((a, b) => a.id - b.id).map((m) => meterText(m.config)) } : {}),
        ...(this.offload.get(br.name).protos ? { offload: formatOffload(this.offload.get(br.name)) } : {}),
        flows: flows(br),
      })),
    };
  }
}

