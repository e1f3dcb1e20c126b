// OpenFlow packet-out: a packet and an action list from a controller (or
// `ovs-ofctl packet-out`), translated like a flow's actions and executed by
// the datapath as if the packet had arrived on its in_port (OVS's
// ofproto_packet_out). An in_port that is no bridge port (CONTROLLER, NONE)
// enters through the bridge's LOCAL port.

import { OFPP_LOCAL, type OfAction } from './actions.ts';
import { SwitchError } from './api.ts';
import type { Bridge } from './bridge.ts';
import { checkActions } from './flow-commands.ts';
import type { UpcallAdapter } from './upcall.ts';
import { xlateActions } from './xlate.ts';

export function packetOut(dp: UpcallAdapter, br: Bridge, inPort: number, actions: OfAction[], packet: Uint8Array, nowMs: number): void {
  checkActions(actions, br);
  const port = br.portsByOf.get(inPort) ?? br.portsByOf.get(OFPP_LOCAL);
  if (!port) throw new SwitchError('ENOPORT', `bridge ${br.name} has no port ${inPort}`);
  let error: string | null = null;
  dp.executePacket(port.dpPort, packet, (key) => {
    const res = xlateActions(br, key, inPort, actions, nowMs);
    error = res.error;
    return res.actions;
  });
  if (error) throw new SwitchError('EINVAL', `packet-out: ${error}`);
}
