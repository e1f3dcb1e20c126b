// Output actions: to a port, IN_PORT, TABLE, NORMAL (MAC learning and
// forwarding, which reads the MACs and VLAN, so the megaflow matches them),
// FLOOD/ALL and CONTROLLER.

import {
  FK_ETH_DST_HI, FK_ETH_DST_LO, FK_ETH_SRC_HI, FK_ETH_SRC_LO, FK_ETH_TYPE, FK_IN_PORT, FK_NW_DST,
  FK_NW_PROTO, FK_NW_SRC, FK_VLAN_TCI, ETH_TYPE_ARP, VLAN_CFI, macFromKey,
} from '../packet/flow-key.ts';
import { OFPP_ALL, OFPP_CONTROLLER, OFPP_FLOOD, OFPP_IN_PORT, OFPP_NONE, OFPP_NORMAL, OFPP_TABLE } from './actions.ts';
import { commitChanges } from './xlate-commit.ts';
import { packetInUserdata, type Ctx } from './xlate-ctx.ts';
import * as dp from '../datapath/dp-actions.ts';

export function outputPort(ctx: Ctx, port: number): void {
  const f = ctx.flow;
  const inPort = f[FK_IN_PORT];
  switch (port) {
    case OFPP_IN_PORT:
      emitOutput(ctx, inPort);
      return;
    case OFPP_TABLE:
      ctx.depth++;
      ctx.pipeline.lookupAndExecute(ctx, 0);
      ctx.depth--;
      return;
    case OFPP_NORMAL:
      normal(ctx);
      return;
    case OFPP_FLOOD:
    case OFPP_ALL:
      flood(ctx);
      return;
    case OFPP_CONTROLLER:
      commitChanges(ctx);
      ctx.out.push(dp.userspace('controller', packetInUserdata(ctx)));
      ctx.br.onControllerPacket?.();
      return;
    case OFPP_NONE:
      return;
    default:
      // Output to the input port is skipped unless asked for with in_port
      // (OpenFlow rule). The packet's real input port counts, not the one a
      // resubmit(PORT,TABLE) looked up with, as in OVS.
      if (port === ctx.packetInPort) {
        ctx.tr(`    >>>> skipping output to input port`);
        return;
      }
      emitOutput(ctx, port);
  }
}

function emitOutput(ctx: Ctx, ofport: number): void {
  const p = ctx.br.portsByOf.get(ofport);
  if (!p) {
    ctx.tr(`    >>>> Nonexistent output port`);
    return;
  }
  if (!p.up) return;
  commitChanges(ctx);
  ctx.out.push(dp.output(p.dpPort));
}

function flood(ctx: Ctx): void {
  const inPort = ctx.flow[FK_IN_PORT];
  const ports = [...ctx.br.portsByOf.values()].sort((a, b) => a.dpPort - b.dpPort);
  for (const p of ports) {
    // FLOOD and ALL both leave out the input port (OpenFlow).
    if (p.ofport === inPort) continue;
    emitOutput(ctx, p.ofport);
  }
}

function normal(ctx: Ctx): void {
  const f = ctx.flow;
  ctx.unwild(FK_ETH_SRC_HI, 0xffff);
  ctx.unwild(FK_ETH_SRC_LO);
  ctx.unwild(FK_ETH_DST_HI, 0xffff);
  ctx.unwild(FK_ETH_DST_LO);
  ctx.unwild(FK_VLAN_TCI, f[FK_VLAN_TCI] & VLAN_CFI ? VLAN_CFI | 0x0fff : VLAN_CFI);
  unwildGratuitousArp(ctx);
  const vlan = f[FK_VLAN_TCI] & VLAN_CFI ? f[FK_VLAN_TCI] & 0x0fff : 0;
  const src = macFromKey(f, FK_ETH_SRC_HI);
  const dst = macFromKey(f, FK_ETH_DST_HI);
  const inPort = f[FK_IN_PORT];
  const srcIsMulticast = (f[FK_ETH_SRC_HI] >>> 8) & 1;
  if (!srcIsMulticast && ctx.br.portsByOf.has(inPort)) ctx.learned.push({ macs: ctx.br.macs, vlan, mac: src, port: inPort });
  if (ctx.learn && !srcIsMulticast && ctx.br.portsByOf.has(inPort)) {
    const changed = ctx.br.macs.learn(vlan, src, inPort, ctx.nowMs);
    if (changed) ctx.tr(`     -> learned that ${src} is on port ${portName(ctx, inPort)} in VLAN ${vlan}`);
  }
  const dstIsMulticast = (f[FK_ETH_DST_HI] >>> 8) & 1;
  const port = dstIsMulticast ? null : ctx.br.macs.lookup(vlan, dst, ctx.nowMs);
  if (port === null) {
    ctx.tr(dstIsMulticast ? '     -> multicast/broadcast, flooding' : '     -> no learned MAC for destination, flooding');
    flood(ctx);
    return;
  }
  if (port === inPort) {
    ctx.tr('     -> learned port is input port, dropping');
    return;
  }
  ctx.tr(`     -> forwarding to learned port`);
  emitOutput(ctx, port);
}

/**
 * NORMAL asks, as OVS does for every packet, whether a broadcast ARP is
 * gratuitous (a reply, or a request whose sender and target addresses are
 * equal), so the megaflow of a broadcast ARP matches the opcode and, for a
 * request, both addresses.
 */
const ARP_OP_REQUEST = 1;

function unwildGratuitousArp(ctx: Ctx): void {
  const f = ctx.flow;
  if (f[FK_ETH_TYPE] !== ETH_TYPE_ARP) return;
  if ((f[FK_ETH_DST_HI] & 0xffff) !== 0xffff || f[FK_ETH_DST_LO] >>> 0 !== 0xffffffff) return;
  ctx.unwild(FK_NW_PROTO, 0xff);
  if (f[FK_NW_PROTO] === ARP_OP_REQUEST) {
    ctx.unwild(FK_NW_SRC);
    ctx.unwild(FK_NW_DST);
  }
}

function portName(ctx: Ctx, ofport: number): string {
  return ctx.br.portsByOf.get(ofport)?.name ?? String(ofport);
}
