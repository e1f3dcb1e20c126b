// Header rewrites of the datapath's set actions (DPA_SET): fields written in
// place with their checksums kept right incrementally (RFC 1624), and the
// packet's flow key kept in sync. Used by the action executor and by the
// flowtable's hits.

import type { PacketBatch } from '../packet/batch.ts';
import { csumUpdate16, csumUpdate32 } from '../packet/checksum.ts';
import { rd16, rd32, wr16, wr32 } from '../packet/bytes.ts';
import {
  ETH_TYPE_IP, ETH_TYPE_IPV6, FK_ETH_DST_HI, FK_ETH_DST_LO, FK_ETH_SRC_HI, FK_ETH_SRC_LO, FK_ETH_TYPE,
  FK_IPV6_DST, FK_IPV6_LABEL, FK_IPV6_SRC, FK_NW_DST, FK_NW_PROTO, FK_NW_SRC, FK_NW_TOS, FK_NW_TTL,
  FK_TP_DST, FK_TP_SRC, FK_WORDS, IPPROTO_TCP, IPPROTO_UDP,
} from '../packet/flow-key.ts';

/** Rewrite header fields in place, keeping checksums right (RFC 1624) and the key in sync. */
export function applySet(b: PacketBatch, i: number, words: Int32Array, values: Uint32Array): void {
  const d = b.data[i];
  const s = b.start[i];
  const l3 = b.l3[i];
  const l4 = b.l4[i];
  const keys = b.keys;
  const k = i * FK_WORDS;
  const proto = keys[k + FK_NW_PROTO];
  const l4csum = l4 < 0 ? -1 : proto === IPPROTO_TCP ? l4 + 16 : proto === IPPROTO_UDP ? l4 + 6 : proto === 58 ? l4 + 2 : -1;
  for (let n = 0; n < words.length; n++) {
    const w = words[n];
    const v = values[n];
    keys[k + w] = v;
    switch (w) {
      case FK_ETH_DST_HI: wr16(d, s, v); break;
      case FK_ETH_DST_LO: wr32(d, s + 2, v); break;
      case FK_ETH_SRC_HI: wr16(d, s + 6, v); break;
      case FK_ETH_SRC_LO: wr32(d, s + 8, v); break;
      case FK_NW_SRC:
      case FK_NW_DST: {
        if (l3 < 0 || keys[k + FK_ETH_TYPE] !== ETH_TYPE_IP) break;
        const o = l3 + (w === FK_NW_SRC ? 12 : 16);
        const old = rd32(d, o);
        wr32(d, o, v);
        wr16(d, l3 + 10, csumUpdate32(rd16(d, l3 + 10), old, v));
        updateL4Csum32(d, l4csum, proto, old, v);
        break;
      }
      case FK_NW_TOS: {
        if (l3 < 0) break;
        if (keys[k + FK_ETH_TYPE] === ETH_TYPE_IP) {
          const old = rd16(d, l3);
          d[l3 + 1] = v;
          wr16(d, l3 + 10, csumUpdate16(rd16(d, l3 + 10), old, rd16(d, l3)));
        } else {
          const first = rd32(d, l3);
          wr32(d, l3, ((first & 0xf00fffff) | ((v & 0xff) << 20)) >>> 0);
        }
        break;
      }
      case FK_NW_TTL: {
        if (l3 < 0) break;
        if (keys[k + FK_ETH_TYPE] === ETH_TYPE_IP) {
          const old = rd16(d, l3 + 8);
          d[l3 + 8] = v;
          wr16(d, l3 + 10, csumUpdate16(rd16(d, l3 + 10), old, rd16(d, l3 + 8)));
        } else d[l3 + 7] = v;
        break;
      }
      case FK_IPV6_LABEL: {
        if (l3 < 0) break;
        const first = rd32(d, l3);
        wr32(d, l3, ((first & 0xfff00000) | (v & 0xfffff)) >>> 0);
        break;
      }
      case FK_TP_SRC:
      case FK_TP_DST: {
        if (l4 < 0) break;
        const o = l4 + (w === FK_TP_SRC ? 0 : 2);
        const old = rd16(d, o);
        wr16(d, o, v);
        if (l4csum >= 0) {
          const c = rd16(d, l4csum);
          if (!(proto === IPPROTO_UDP && c === 0)) {
            let nc = csumUpdate16(c, old, v);
            if (proto === IPPROTO_UDP && nc === 0) nc = 0xffff;
            wr16(d, l4csum, nc);
          }
        }
        break;
      }
      default:
        if (w >= FK_IPV6_SRC && w < FK_IPV6_DST + 4 && l3 >= 0 && keys[k + FK_ETH_TYPE] === ETH_TYPE_IPV6) {
          const o = l3 + 8 + (w - FK_IPV6_SRC) * 4;
          const old = rd32(d, o);
          wr32(d, o, v);
          updateL4Csum32(d, l4csum, proto, old, v);
        }
    }
  }
}

function updateL4Csum32(d: Uint8Array, l4csum: number, proto: number, old: number, v: number): void {
  if (l4csum < 0) return;
  const c = rd16(d, l4csum);
  if (proto === IPPROTO_UDP && c === 0) return; // no checksum stays no checksum
  let nc = csumUpdate32(c, old, v);
  if (proto === IPPROTO_UDP && nc === 0) nc = 0xffff;
  wr16(d, l4csum, nc);
}
