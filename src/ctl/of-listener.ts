// The OpenFlow side of the daemon, bridge by bridge (of-connmgr.ts): each
// bridge listens on unix:<rundir>/<bridge>.mgmt (mode 0600, as OVS's
// br0.mgmt), so `ovs-ofctl -O OpenFlow13 dump-flows unix:<rundir>/br0.mgmt`
// works, and has the controllers and fail mode `set-controller` and
// `set-fail-mode` gave it. `sync` follows the switch's bridges and drives the
// controllers' timers (called after every change and on tick); the
// controllers and fail modes are kept in the database beside the switch's
// configuration (`saveInto`, `restore`); `close` removes the sockets.

import { join } from 'node:path';
import type { Switch } from '../ofproto/switch.ts';
import { SwitchError } from '../ofproto/api.ts';
import type { ControllerLog, ControllerStatus } from './of-controller.ts';
import { BridgeConnMgr, type ControllerConfig } from './of-connmgr.ts';
import type { FailMode } from './of-failmode.ts';
import type { SavedConfig } from './db.ts';
import { OfAsync } from './of-async.ts';
import { bareMeta } from '../ofproto/packet-in-table.ts';

export const MGMT_SUFFIX = '.mgmt';

export function mgmtPath(rundir: string, bridge: string): string {
  return join(rundir, `${bridge}${MGMT_SUFFIX}`);
}

export class OpenFlowListeners {
  private readonly bridges = new Map<string, BridgeConnMgr>();
  private closed = false;
  /** [ofwire] FLOW_REMOVED and PORT_STATUS for the bridges' connections. */
  private readonly async: OfAsync;

  constructor(
    private readonly sw: Switch,
    private readonly rundir: string,
    private readonly log: ControllerLog,
    private readonly onChange: () => void,
  ) {
    this.async = new OfAsync(sw, (br) => this.bridges.get(br)?.connections() ?? []); // [ofwire]
    // Packet-ins: the datapath (the main thread's, and the PMD threads' through it) hands controller-bound packets up.
    sw.dp.datapath.onUserspace = (dpInPort, packet, userdata) => {
      for (const br of sw.bridges.values()) {
        const port = br.portsByDp.get(dpInPort);
        if (!port) continue;
        this.bridges.get(br.name)?.packetIn(port.ofport, packet, br.packetIns.lookup(userdata) ?? bareMeta(userdata));
        return;
      }
    };
  }

  /** Listen for every bridge that has no listener; stop for removed bridges; run the controllers' timers. */
  sync(now = Date.now()): void {
    if (this.closed) return;
    const names = new Set(this.sw.listBridges());
    for (const name of names) {
      if (!this.bridges.has(name)) {
        this.bridges.set(name, new BridgeConnMgr(this.sw, name, mgmtPath(this.rundir, name), this.log, this.onChange));
        this.log.info({ bridge: name, path: mgmtPath(this.rundir, name) }, 'listening for OpenFlow');
      }
    }
    for (const [name, m] of this.bridges) {
      if (!names.has(name)) {
        void m.close();
        this.bridges.delete(name);
      } else m.run(now);
    }
    this.async.sync(); // [ofwire]
  }

  /** Connections on the bridge's management socket. */
  connections(bridge: string): number {
    return this.bridges.get(bridge)?.mgmtConnections ?? 0;
  }

  private mgr(bridge: string): BridgeConnMgr {
    this.sync();
    const m = this.bridges.get(bridge);
    if (!m) throw new SwitchError('ENOBRIDGE', `no bridge named ${bridge}`);
    return m;
  }

  // ------------------------------------------------------------ configuration (swctl)

  setControllers(bridge: string, cfgs: ControllerConfig[]): void {
    this.mgr(bridge).setControllers(cfgs, this.rundir);
  }

  getControllers(bridge: string): ControllerConfig[] {
    return this.mgr(bridge).controllerConfigs();
  }

  controllerStatus(bridge: string, now = Date.now()): ControllerStatus[] {
    return this.mgr(bridge).status(now);
  }

  failOpenActive(bridge: string): boolean {
    return this.mgr(bridge).failOpenActive;
  }

  setFailMode(bridge: string, mode: FailMode | null): void {
    this.mgr(bridge).failMode = mode;
    this.sync();
  }

  getFailMode(bridge: string): FailMode | null {
    return this.mgr(bridge).failMode;
  }

  /** Add each bridge's controllers and fail mode to the switch's configuration, for the database. */
  saveInto(cfg: SavedConfig): SavedConfig {
    return {
      ...cfg,
      bridges: cfg.bridges.map((b) => {
        const m = this.bridges.get(b.name);
        if (!m) return b;
        const controllers = m.controllerConfigs();
        return { ...b, ...(controllers.length ? { controllers } : {}), ...(m.failMode ? { failMode: m.failMode } : {}) };
      }),
    };
  }

  /** Configure what the database saved (at start); a target that no longer parses is logged and left out. */
  restore(cfg: SavedConfig): void {
    this.sync();
    for (const b of cfg.bridges) {
      const m = this.bridges.get(b.name);
      if (!m) continue;
      if (b.failMode) m.failMode = b.failMode;
      for (const c of b.controllers ?? []) {
        try {
          m.setControllers([...m.controllerConfigs(), c], this.rundir);
        } catch (e) {
          this.log.error({ bridge: b.name, controller: c.target, err: e }, `${b.name}: saved controller "${c.target}" left out: ${(e as Error).message}`);
        }
      }
    }
  }

  async close(): Promise<void> {
    this.sw.dp.datapath.onUserspace = null;
    this.closed = true;
    this.async.close(); // [ofwire]
    // The managers stay (closed) so that the final save still has each bridge's controllers.
    await Promise.all([...this.bridges.values()].map((m) => m.close()));
  }
}
