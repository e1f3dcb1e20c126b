// Field actions: set_field, load, move, the mod_* shorthands, dec_ttl and
// the VLAN tag edits. They change `flow` only (xlate-commit.ts turns the
// changes into datapath set actions later) and unwildcard what they read or
// write.

import {
  FK_ETH_DST_HI, FK_ETH_DST_LO, FK_ETH_SRC_HI, FK_ETH_SRC_LO, FK_NW_DST, FK_NW_SRC, FK_NW_TOS, FK_NW_TTL,
  FK_TP_DST, FK_TP_SRC, FK_VLAN_TCI, ETH_TYPE_IP, VLAN_CFI,
} from '../packet/flow-key.ts';
import type { OfAction } from './actions.ts';
import { readSlice, writeField, writeSlice } from './fields.ts';
import { isL4, isIp, type Ctx } from './xlate-ctx.ts';
import { ipv4FromText } from '../packet/addr.ts';

/** Apply a field action to the flow; false when `a` is not one (the pipeline handles it). */
export function xlateFieldAction(ctx: Ctx, a: OfAction): boolean {
  const f = ctx.flow;
  switch (a.type) {
    case 'set_field':
      writeField(f, 0, a.field, a.value, a.mask ?? -1n);
      ctx.unwildField(a.field);
      return true;
    case 'load':
      ctx.unwildField(a.dst.field, a.dst.ofs, a.dst.nbits);
      writeSlice(f, 0, a.dst, a.value);
      return true;
    case 'move': {
      ctx.unwildField(a.src.field, a.src.ofs, a.src.nbits);
      ctx.unwildField(a.dst.field, a.dst.ofs, a.dst.nbits);
      writeSlice(f, 0, a.dst, readSlice(f, 0, a.src));
      return true;
    }
    case 'mod_dl_src':
      ctx.unwild(FK_ETH_SRC_HI, 0xffff);
      ctx.unwild(FK_ETH_SRC_LO);
      setMac(f, FK_ETH_SRC_HI, a.mac);
      return true;
    case 'mod_dl_dst':
      ctx.unwild(FK_ETH_DST_HI, 0xffff);
      ctx.unwild(FK_ETH_DST_LO);
      setMac(f, FK_ETH_DST_HI, a.mac);
      return true;
    case 'mod_nw_src':
    case 'mod_nw_dst': {
      if (!isIp(ctx, ETH_TYPE_IP)) return true;
      const w = a.type === 'mod_nw_src' ? FK_NW_SRC : FK_NW_DST;
      ctx.unwild(w);
      f[w] = ipv4FromText(a.addr) ?? 0; // the parser accepted only an address
      return true;
    }
    case 'mod_tp_src':
    case 'mod_tp_dst': {
      if (!isL4(ctx)) return true;
      const w = a.type === 'mod_tp_src' ? FK_TP_SRC : FK_TP_DST;
      ctx.unwild(w, 0xffff);
      f[w] = a.port & 0xffff;
      return true;
    }
    case 'mod_nw_tos':
      if (isIp(ctx)) {
        ctx.unwild(FK_NW_TOS, 0xfc);
        f[FK_NW_TOS] = (f[FK_NW_TOS] & 0x03) | (a.tos & 0xfc);
      }
      return true;
    case 'mod_nw_ecn':
      if (isIp(ctx)) {
        ctx.unwild(FK_NW_TOS, 0x03);
        f[FK_NW_TOS] = (f[FK_NW_TOS] & 0xfc) | (a.ecn & 0x03);
      }
      return true;
    case 'mod_nw_ttl':
      if (isIp(ctx)) {
        ctx.unwild(FK_NW_TTL, 0xff);
        f[FK_NW_TTL] = a.ttl & 0xff;
      }
      return true;
    case 'dec_ttl': {
      if (!isIp(ctx)) return true;
      ctx.unwild(FK_NW_TTL, 0xff);
      if (f[FK_NW_TTL] <= 1) {
        // TTL exceeded: OVS hands the packet to the controller (none here) and stops.
        ctx.tr('    >>>> TTL exceeded: drop');
        ctx.br.onControllerPacket?.();
        ctx.exit = true;
        return true;
      }
      f[FK_NW_TTL] = f[FK_NW_TTL] - 1;
      return true;
    }
    case 'push_vlan':
      // The new tag takes the current TCI, or 0 with CFI when untagged (OVS semantics).
      ctx.unwild(FK_VLAN_TCI, 0xffff);
      f[FK_VLAN_TCI] = (f[FK_VLAN_TCI] & 0xffff) | VLAN_CFI;
      return true;
    case 'pop_vlan':
    case 'strip_vlan':
      ctx.unwild(FK_VLAN_TCI, 0xffff);
      f[FK_VLAN_TCI] = 0;
      return true;
    case 'mod_vlan_vid':
      ctx.unwild(FK_VLAN_TCI, 0xffff);
      // set_vlan_vid (OpenFlow 1.1's) changes a tag but never pushes one.
      if (a.noPush && (f[FK_VLAN_TCI] & VLAN_CFI) === 0) return true;
      // OVS: on an untagged packet, mod_vlan_vid pushes a tag with PCP 0.
      f[FK_VLAN_TCI] = (f[FK_VLAN_TCI] & 0xe000) | VLAN_CFI | (a.vid & 0x0fff);
      return true;
    case 'mod_vlan_pcp':
      ctx.unwild(FK_VLAN_TCI, 0xffff);
      if (a.noPush && (f[FK_VLAN_TCI] & VLAN_CFI) === 0) return true;
      f[FK_VLAN_TCI] = (f[FK_VLAN_TCI] & 0x1fff) | VLAN_CFI | ((a.pcp & 7) << 13);
      return true;
    case 'write_metadata': {
      const m = a.mask ?? 0xffffffffffffffffn;
      writeField(f, 0, 'metadata', a.value, m);
      return true;
    }
  }
  return false;
}

function setMac(f: Uint32Array, hiWord: number, mac: string): void {
  const b = mac.split(':').map((x) => parseInt(x, 16));
  f[hiWord] = (b[0] << 8) | b[1];
  f[hiWord + 1] = ((b[2] << 24) | (b[3] << 16) | (b[4] << 8) | b[5]) >>> 0;
}
