// The flow key layout: every field has its own words, nothing overlaps, the
// key is exactly FK_WORDS words; and the packet batch that holds keys.

import { describe, expect, it } from 'vitest';
import { BATCH_MAX, HEADROOM, PacketBatch } from '../../src/packet/batch.ts';
import { FK_HEADER_FIRST } from '../../src/packet/extract.ts';
import * as FK from '../../src/packet/flow-key.ts';

/** Every field and how many words it spans. */
const WIDTHS: Record<string, number> = {
  FK_CT_LABEL: 4, FK_CT_IPV6_SRC: 4, FK_CT_IPV6_DST: 4, FK_IPV6_SRC: 4, FK_IPV6_DST: 4, FK_ND_TARGET: 4,
};

describe('flow key layout', () => {
  it('gives every word to exactly one field, in the documented order', () => {
    const fields = Object.entries(FK).filter(([n, v]) => n.startsWith('FK_') && n !== 'FK_WORDS' && typeof v === 'number') as [string, number][];
    const REG_WORDS = 16; // FK_REG0 covers reg0..reg15
    const owner: string[] = new Array(FK.FK_WORDS).fill('');
    for (const [name, w] of fields) {
      const width = name === 'FK_REG0' ? REG_WORDS : WIDTHS[name] ?? 1;
      for (let i = w; i < w + width; i++) {
        expect([name, i, owner[i]]).toEqual([name, i, '']);
        owner[i] = name;
      }
    }
    expect(owner.filter((o) => o === '')).toEqual([]);
    expect([FK.FK_WORDS, FK.FK_WORDS * 4]).toEqual([73, 292]);
    expect([FK.FK_RECIRC_ID, FK.FK_REG0, FK.FK_DP_HASH, FK_HEADER_FIRST, FK.FK_ND_TARGET]).toEqual([0, 23, 40, FK.FK_ETH_SRC_HI, 69]);
  });

  it('keeps the protocol constants OVS uses', () => {
    expect([FK.CS_NEW, FK.CS_ESTABLISHED, FK.CS_RELATED, FK.CS_REPLY_DIR, FK.CS_INVALID, FK.CS_TRACKED, FK.CS_SRC_NAT, FK.CS_DST_NAT]).toEqual([1, 2, 4, 8, 16, 32, 64, 128]);
    expect([FK.FRAG_ANY, FK.FRAG_LATER, FK.VLAN_CFI, FK.ETH_TYPE_NONE]).toEqual([1, 2, 0x1000, 0x05ff]);
  });

  it('copies keys between offsets and prints MAC words', () => {
    const src = new Uint32Array(FK.FK_WORDS * 2);
    for (let i = 0; i < src.length; i++) src[i] = i;
    const dst = FK.newKey();
    FK.copyKey(dst, 0, src, FK.FK_WORDS);
    expect([dst[0], dst[FK.FK_WORDS - 1], dst.length]).toEqual([FK.FK_WORDS, 2 * FK.FK_WORDS - 1, FK.FK_WORDS]);
    const k = FK.newKey();
    k[FK.FK_ETH_SRC_HI] = 0x5054;
    k[FK.FK_ETH_SRC_LO] = 0x00ab00cd;
    expect(FK.macFromKey(k, FK.FK_ETH_SRC_HI)).toBe('50:54:00:ab:00:cd');
  });
});

describe('packet batch', () => {
  it('holds up to 32 packets after a headroom, and refuses more or too large ones', () => {
    const b = new PacketBatch(256);
    for (let i = 0; i < BATCH_MAX; i++) expect(b.push(Uint8Array.of(i, i + 1, i + 2))).toBe(i);
    expect(b.push(Uint8Array.of(1))).toBe(-1);
    expect([b.count, b.start[5], b.len[5], Array.from(b.bytes(5)), b.l3[5], b.l4[5], b.dropped[5]]).toEqual([32, HEADROOM, 3, [5, 6, 7], -1, -1, 0]);
    b.clear();
    expect(b.push(new Uint8Array(256 - HEADROOM * 2 + 1))).toBe(-1);
    expect(b.push(Uint8Array.of(9, 8, 7, 6), 1, 2)).toBe(0);
    expect(Array.from(b.bytes(0))).toEqual([8, 7]);
    expect(b.keys.length).toBe(BATCH_MAX * FK.FK_WORDS);
  });
});
