// push_vlan / pop_vlan on a batch slot: the 802.1Q tag goes in (using the
// slot's headroom) or out in place, and the flow key's vlan_tci follows.

import type { PacketBatch } from '../packet/batch.ts';
import { rd16, wr16 } from '../packet/bytes.ts';
import { ETH_TYPE_VLAN, ETH_TYPE_VLAN_8021AD, FK_VLAN_TCI, FK_WORDS, VLAN_CFI } from '../packet/flow-key.ts';

export function pushVlan(b: PacketBatch, i: number, tpid: number, tci: number): void {
  const d = b.data[i];
  const s = b.start[i];
  if (s < 4) return;
  d.copyWithin(s - 4, s, s + 12);
  const ns = s - 4;
  wr16(d, ns + 12, tpid);
  wr16(d, ns + 14, tci & ~VLAN_CFI & 0xffff);
  b.start[i] = ns;
  b.len[i] += 4;
  b.keys[i * FK_WORDS + FK_VLAN_TCI] = (tci | VLAN_CFI) & 0xffff;
}

export function popVlan(b: PacketBatch, i: number): void {
  const d = b.data[i];
  const s = b.start[i];
  if (b.len[i] < 18) return;
  const t = rd16(d, s + 12);
  if (t !== ETH_TYPE_VLAN && t !== ETH_TYPE_VLAN_8021AD) return;
  d.copyWithin(s + 4, s, s + 12);
  b.start[i] = s + 4;
  b.len[i] -= 4;
  b.keys[i * FK_WORDS + FK_VLAN_TCI] = 0;
}
