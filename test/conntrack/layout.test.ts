// The shared-memory contract between threads: the word offsets of the
// connection record and key (src/conntrack/layout.ts, src/packet/tuple.ts)
// are pinned, and a connection (record plus its index entries) fits in 256
// bytes.

import { describe, it, expect } from 'vitest';
import * as L from '../../src/conntrack/layout.ts';
import { ConnTable } from '../../src/conntrack/table.ts';

describe('shared record layout', () => {
  it('pins the connection record words and size', () => {
    expect([L.R_FLAGS, L.R_ID, L.R_EXPIRY, L.R_MARK, L.R_LABEL, L.R_KEY_ORIG, L.R_KEY_REPLY, L.R_NEXT_ORIG,
      L.R_NEXT_REPLY, L.R_BKT_ORIG, L.R_BKT_REPLY, L.R_TCP_STATES, L.R_SEQLO_ORIG, L.R_SEQHI_ORIG, L.R_MAXWIN_ORIG,
      L.R_SEQLO_REPLY, L.R_SEQHI_REPLY, L.R_MAXWIN_REPLY, L.R_NAT_INFO, L.R_NAT_INFO2, L.R_RESERVED,
      L.R_PKTS_ORIG, L.R_PKTS_REPLY, L.R_BYTES_ORIG, L.R_BYTES_REPLY, L.R_HELPER, L.R_PARENT_ID, L.R_SEQADJ_ORIG,
      L.R_SEQADJ_REPLY, L.REC_WORDS])
      .toEqual([0, 1, 2, 15, 20, 4, 32, 27, 43, 14, 42, 26, 48, 49, 50, 51, 52, 53, 28, 29, 30, 16, 44, 18, 46, 24, 25, 54, 57, 64]);
    expect([L.H_CNT_EXP_CREATED, L.H_CNT_EXP_MATCHED, L.H_CNT_EXP_EXPIRED, L.H_CNT_ALG_MALFORMED]).toEqual([23, 24, 25, 26]);
    expect([L.K_META, L.K_SRC, L.K_DST, L.K_PORTS, L.KEY_WORDS]).toEqual([0, 1, 5, 9, 10]);
    // f64 fields must be 8-byte aligned.
    for (const w of [L.R_EXPIRY, L.R_PKTS_ORIG, L.R_PKTS_REPLY, L.R_BYTES_ORIG, L.R_BYTES_REPLY]) expect(w % 2).toBe(0);
    expect(L.REC_BYTES).toBe(256);
    // What a lookup of an orig-direction key reads sits in the record's first 64-byte line.
    for (const w of [L.R_FLAGS, L.R_ID, L.R_EXPIRY + 1, L.R_KEY_ORIG, L.R_KEY_ORIG + L.KEY_WORDS - 1, L.R_BKT_ORIG, L.R_MARK]) expect(w).toBeLessThan(16);
  });

  it('bytes per connection: a 256-byte record plus at most 12 bytes of index at the default capacity', () => {
    const t = ConnTable.create({ capacity: 3_000_000 });
    // 256 B record + 8 M index slots * 4 B / 3 M = 267.2 B
    expect(t.bytesPerConn()).toBeCloseTo(256 + (4 * 8388608) / 3_000_000, 0);
    expect(t.bytesPerConn()).toBeLessThanOrEqual(256 + 12);
  });
});
