// The asynchronous messages of a bridge's OpenFlow connections: FLOW_REMOVED
// for rules with send_flow_rem (idle or hard timeout, delete, group delete;
// told by Bridge.onRuleRemoved) and PORT_STATUS when a port is added,
// deleted or changes state (found by comparing the bridge's ports at each
// sync: after every change and on the switch's tick). Each goes to every
// connection of the bridge whose async config takes it (of-conn.ts
// receives: role, SET_ASYNC masks, a service connection's miss_send_len),
// in that connection's version.

import type { Bridge } from '../ofproto/bridge.ts';
import type { Rule } from '../ofproto/rule.ts';
import type { Switch } from '../ofproto/switch.ts';
import { encodeFlowRemoved, encodePortStatus } from '../openflow/async-msgs.ts';
import { OFPPR_ADD, OFPPR_DELETE, OFPPR_MODIFY, type PortDesc } from '../openflow/switch-msgs.ts';
import { OfBridge } from './of-bridge.ts';
import { OAM_FLOW_REMOVED, OAM_PORT_STATUS } from '../openflow/async-config.ts';
import type { OfConnection } from './of-conn.ts';


export class OfAsync {
  /** Per bridge: its ports as last announced, by OpenFlow port number. */
  private readonly ports = new Map<string, Map<number, PortDesc>>();
  private readonly hooked = new Map<string, Bridge>();

  constructor(
    private readonly sw: Switch,
    private readonly conns: (bridge: string) => Iterable<OfConnection>,
  ) {}

  /** Follow the switch's bridges: hook new ones, announce port changes. */
  sync(): void {
    for (const [name, br] of this.sw.bridges) {
      if (this.hooked.get(name) !== br) {
        br.onRuleRemoved = (r, reason) => this.flowRemoved(name, r, reason);
        this.hooked.set(name, br);
        this.ports.set(name, this.descs(name));
        continue;
      }
      this.portChanges(name);
    }
    for (const name of [...this.hooked.keys()]) {
      if (this.sw.bridges.has(name)) continue;
      this.hooked.delete(name);
      this.ports.delete(name);
    }
  }

  close(): void {
    for (const br of this.hooked.values()) br.onRuleRemoved = null;
    this.hooked.clear();
  }

  private descs(name: string): Map<number, PortDesc> {
    return new Map(new OfBridge(this.sw, name, () => {}).portDescs().map((p) => [p.portNo, p]));
  }

  private portChanges(name: string): void {
    const before = this.ports.get(name) ?? new Map<number, PortDesc>();
    const now = this.descs(name);
    this.ports.set(name, now);
    const send = (reason: number, p: PortDesc) => {
      for (const c of this.conns(name)) c.sendAsync((v) => encodePortStatus(v, 0, reason, p), OAM_PORT_STATUS, reason);
    };
    for (const [no, p] of before) if (!now.has(no)) send(OFPPR_DELETE, p);
    for (const [no, p] of now) {
      const old = before.get(no);
      if (!old) send(OFPPR_ADD, p);
      else if (old.state !== p.state || old.config !== p.config || old.name !== p.name) send(OFPPR_MODIFY, p);
    }
  }

  private flowRemoved(name: string, r: Rule, reason: number): void {
    if (!r.spec.flags.includes('send_flow_rem')) return;
    const ms = Math.max(0, Date.now() - r.createdMs);
    const fr = { spec: r.spec, reason, durationSec: Math.floor(ms / 1000), durationNsec: (ms % 1000) * 1_000_000, packetCount: BigInt(r.nPackets), byteCount: BigInt(r.nBytes) };
    for (const c of this.conns(name)) c.sendAsync((v) => encodeFlowRemoved(v, 0, fr), OAM_FLOW_REMOVED, reason);
  }
}
