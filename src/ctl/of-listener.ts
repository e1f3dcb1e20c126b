// The OpenFlow management sockets: each bridge listens on
// unix:<rundir>/<bridge>.mgmt (mode 0600, as OVS's br0.mgmt), so
// `ovs-ofctl -O OpenFlow13 dump-flows unix:<rundir>/br0.mgmt` works. `sync`
// follows the switch's bridges (called after every change and on tick);
// `close` removes the sockets.

import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Switch } from '../ofproto/switch.ts';
import { OfBridge } from './of-bridge.ts';
import { OfConnection, type OfConnLog } from './of-conn.ts';
import { OfAsync } from './of-async.ts';

export const MGMT_SUFFIX = '.mgmt';

export function mgmtPath(rundir: string, bridge: string): string {
  return join(rundir, `${bridge}${MGMT_SUFFIX}`);
}

interface Listener {
  server: Server;
  path: string;
  conns: Set<OfConnection>;
  sockets: Set<Socket>;
}

export class OpenFlowListeners {
  private readonly listeners = new Map<string, Listener>();
  /** [ofwire] FLOW_REMOVED and PORT_STATUS for the bridges' connections. */
  private readonly async: OfAsync;

  constructor(
    private readonly sw: Switch,
    private readonly rundir: string,
    private readonly log: OfConnLog & { info(obj: object, msg: string): void },
    private readonly onChange: () => void,
  ) {
    this.async = new OfAsync(sw, (br) => this.listeners.get(br)?.conns ?? []); // [ofwire]
    // Packet-ins: the switch's datapath hands controller-bound packets up; each goes to the bridge's connections.
    sw.dp.datapath.onUserspace = (dpInPort, packet, userdata) => {
      for (const br of sw.bridges.values()) {
        const port = br.portsByDp.get(dpInPort);
        if (!port) continue;
        for (const c of this.listeners.get(br.name)?.conns ?? []) c.packetIn(port.ofport, packet, userdata >> 8, userdata & 0xff);
        return;
      }
    };
  }

  /** Listen for every bridge that has no listener; stop listening for removed bridges. */
  sync(): void {
    const names = new Set(this.sw.listBridges());
    for (const name of names) if (!this.listeners.has(name)) this.listen(name);
    for (const [name, l] of this.listeners) if (!names.has(name)) this.stop(name, l);
    this.async.sync(); // [ofwire]
  }

  connections(bridge: string): number {
    return this.listeners.get(bridge)?.conns.size ?? 0;
  }

  private listen(name: string): void {
    const path = mgmtPath(this.rundir, name);
    if (existsSync(path)) unlinkSync(path);
    const l: Listener = { server: createServer(), path, conns: new Set(), sockets: new Set() };
    l.server.on('connection', (sock) => {
      l.sockets.add(sock);
      const conn = new OfConnection(sock, new OfBridge(this.sw, name, this.onChange), this.log);
      l.conns.add(conn);
      sock.on('close', () => {
        l.conns.delete(conn);
        l.sockets.delete(sock);
      });
    });
    l.server.on('error', (err) => this.log.warn({ err, path }, 'OpenFlow listener failed'));
    // Owner-only from the start: umask while binding, chmod after (as the JSON-RPC socket).
    const old = process.umask(0o177);
    try {
      l.server.listen(path, () => {
        try {
          chmodSync(path, 0o600);
        } catch {
          // the socket went away (bridge removed meanwhile)
        }
      });
    } finally {
      process.umask(old);
    }
    this.listeners.set(name, l);
    this.log.info({ bridge: name, path }, 'listening for OpenFlow');
  }

  private stop(name: string, l: Listener): void {
    for (const s of l.sockets) s.destroy();
    l.server.close();
    try {
      unlinkSync(l.path);
    } catch {
      // already gone
    }
    this.listeners.delete(name);
  }

  async close(): Promise<void> {
    this.sw.dp.datapath.onUserspace = null;
    this.async.close(); // [ofwire]
    const all = [...this.listeners];
    for (const [name, l] of all) this.stop(name, l);
    await Promise.all(all.map(([, l]) => new Promise<void>((r) => (l.server.listening ? l.server.once('close', () => r()) : r()))));
  }
}
