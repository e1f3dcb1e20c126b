// The OpenFlow connections of one bridge, as OVS's connmgr: the management
// socket (punix:<rundir>/<bridge>.mgmt, a service connection OVS adds to
// every bridge), the controllers `set-controller` configured, the fail mode,
// and the packet-ins going to all of them.
//
// Table misses: below OpenFlow 1.3 a miss is a packet-in (OFPR_NO_MATCH); in
// 1.3+ it drops unless a flow sends to the controller. So the bridge sends
// misses up only while some connection below 1.3 would take them
// (`packetInOnMiss`, OVS's want_packet_in_on_miss); each connection then
// filters (of-conn.ts packetIn). Changing it revalidates the megaflows.
//
// Single-threaded (the daemon's event loop); `run(now)` on every tick.

import type { Switch } from '../ofproto/switch.ts';
import type { Bridge } from '../ofproto/bridge.ts';
import type { PacketInMeta } from '../ofproto/packet-in-table.ts';
import { OfBridge } from './of-bridge.ts';
import { createController, DEFAULT_SETTINGS, PassiveController, type Controller, type ControllerLog, type ControllerSettings, type ControllerStatus } from './of-controller.ts';
import type { OfConnection } from './of-conn.ts';
import { FailOpen, type FailMode } from './of-failmode.ts';
import { parseTarget, TargetError, type OfTarget } from './of-target.ts';
import { MGMT_PROBE_MS } from './of-probe.ts';
import { encodeRoleStatus, OFPCRR_PRIMARY_REQUEST } from '../openflow/async-msgs.ts';

/** A controller as the database keeps it. */
const ROLE_MASTER = 2, ROLE_SLAVE = 3;

export interface ControllerConfig {
  target: string;
  inactivityProbeMs?: number;
  maxBackoffMs?: number;
}

export class BridgeConnMgr {
  private readonly mgmt: PassiveController;
  private controllers: Controller[] = [];
  failMode: FailMode | null = null;
  private readonly failOpen: FailOpen;

  constructor(
    private readonly sw: Switch,
    readonly name: string,
    mgmtPath: string,
    private readonly log: ControllerLog,
    private readonly onChange: () => void,
  ) {
    // [ofasync] OVS probes the .mgmt socket's connections every 60 s.
    this.mgmt = new PassiveController({ text: `punix:${mgmtPath}`, kind: 'punix', path: mgmtPath }, { ...DEFAULT_SETTINGS, inactivityProbeMs: MGMT_PROBE_MS }, this.ofBridge, log, (master) => this.onConfig(master));
    this.failOpen = new FailOpen(name, log, () => this.flushFlows());
  }

  private readonly ofBridge = () => new OfBridge(this.sw, this.name, this.onChange);

  private get bridge(): Bridge | undefined {
    return this.sw.bridges.get(this.name);
  }

  /** Replace the controllers (unchanged targets keep their connections); every target is checked first. */
  setControllers(cfgs: ControllerConfig[], rundir: string): void {
    const parsed: { t: OfTarget; s: ControllerSettings }[] = [];
    const seen = new Set<string>();
    for (const c of cfgs) {
      const t = parseTarget(c.target, rundir);
      if (seen.has(t.text)) throw new TargetError(`${t.text}: given twice`);
      seen.add(t.text);
      parsed.push({ t, s: { inactivityProbeMs: c.inactivityProbeMs ?? DEFAULT_SETTINGS.inactivityProbeMs, maxBackoffMs: c.maxBackoffMs ?? DEFAULT_SETTINGS.maxBackoffMs } });
    }
    const old = new Map(this.controllers.map((c) => [c.target.text, c]));
    const next: Controller[] = [];
    for (const { t, s } of parsed) {
      const o = old.get(t.text);
      if (o && o.settings.inactivityProbeMs === s.inactivityProbeMs && o.settings.maxBackoffMs === s.maxBackoffMs) {
        next.push(o);
        old.delete(t.text);
        continue;
      }
      next.push(createController(t, s, this.ofBridge, this.log, (master) => this.onConfig(master)));
      this.log.info({ bridge: this.name, controller: t.text }, `${this.name}: added controller "${t.text}"`);
    }
    for (const o of old.values()) {
      o.close();
      this.log.info({ bridge: this.name, controller: o.target.text }, `${this.name}: removed controller "${o.target.text}"`);
    }
    this.controllers = next;
    this.run(Date.now());
  }

  controllerConfigs(): ControllerConfig[] {
    return this.controllers.map((c) => ({
      target: c.target.text,
      ...(c.settings.inactivityProbeMs !== DEFAULT_SETTINGS.inactivityProbeMs ? { inactivityProbeMs: c.settings.inactivityProbeMs } : {}),
      ...(c.settings.maxBackoffMs !== DEFAULT_SETTINGS.maxBackoffMs ? { maxBackoffMs: c.settings.maxBackoffMs } : {}),
    }));
  }

  status(now: number): ControllerStatus[] {
    return this.controllers.map((c) => c.status(now));
  }

  get failOpenActive(): boolean {
    return this.failOpen.active;
  }

  /** Every connection that may take packet-ins: the management socket's and the controllers'. */
  *connections(): Iterable<OfConnection> {
    yield* this.mgmt.connections();
    for (const c of this.controllers) yield* c.connections();
  }

  get mgmtConnections(): number {
    return this.mgmt.status(0).connections;
  }

  packetIn(ofInPort: number, packet: Uint8Array, meta: PacketInMeta): void {
    for (const c of this.connections()) c.packetIn(ofInPort, packet, meta.reason, meta.table, meta);
  }

  run(now: number): void {
    this.mgmt.run(now);
    for (const c of this.controllers) c.run(now);
    this.refreshMiss();
    const br = this.bridge;
    if (!br) return;
    const was = br.failOpen;
    br.failOpen = this.failOpen.run(now, this.failMode ?? 'standalone', this.controllers);
    if (br.failOpen !== was) this.revalidate(br);
  }

  /** A connection's configuration changed; a new master demotes the other masters to slaves, telling them (ROLE_STATUS), as OVS's connmgr. */
  private onConfig(master?: OfConnection): void {
    if (!master) return this.refreshMiss();
    for (const c of this.connections()) {
      if (c === master || c.role !== ROLE_MASTER) continue;
      c.role = ROLE_SLAVE;
      // [ofasync] Told, as OVS tells it (OpenFlow 1.3+), with the new master's generation id.
      c.sendAsync((v) => encodeRoleStatus(v, 0, ROLE_SLAVE, OFPCRR_PRIMARY_REQUEST, master.generationId));
    }
    this.refreshMiss();
  }

  /** Recompute whether table misses go up (some connection below OpenFlow 1.3 takes them). */
  refreshMiss(): void {
    const br = this.bridge;
    if (!br) return;
    let want = false;
    for (const c of this.connections()) if (c.wantsPacketInOnMiss) want = true;
    if (want !== br.packetInOnMiss) {
      br.packetInOnMiss = want;
      this.revalidate(br);
    }
  }

  private revalidate(br: Bridge): void {
    br.generation++;
    this.sw.revalidate();
  }

  /** Failing open flushes the flow tables, as OVS does (the controller installs them again when it is back). */
  private flushFlows(): void {
    if (!this.bridge) return;
    this.sw.delFlows(this.name, null, false);
    this.onChange();
  }

  close(): Promise<unknown> {
    // The controllers stay listed (not connected): the daemon's last save, after close, still has them.
    const done = Promise.all([this.mgmt.close(), ...this.controllers.map((c) => c.close())]);
    const br = this.bridge;
    if (br && (br.failOpen || br.packetInOnMiss)) {
      br.failOpen = br.packetInOnMiss = false;
      this.revalidate(br);
    }
    return done;
  }
}
