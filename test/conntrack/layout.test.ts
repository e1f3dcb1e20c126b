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
      .toEqual([0, 1, 2, 4, 5, 9, 19, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 44, 46, 48, 50, 52, 53, 54, 57, 60]);
    expect([L.H_CNT_EXP_CREATED, L.H_CNT_EXP_MATCHED, L.H_CNT_EXP_EXPIRED, L.H_CNT_ALG_MALFORMED]).toEqual([23, 24, 25, 26]);
    expect([L.K_META, L.K_SRC, L.K_DST, L.K_PORTS, L.KEY_WORDS]).toEqual([0, 1, 5, 9, 10]);
    // f64 fields must be 8-byte aligned.
    for (const w of [L.R_EXPIRY, L.R_PKTS_ORIG, L.R_PKTS_REPLY, L.R_BYTES_ORIG, L.R_BYTES_REPLY]) expect(w % 2).toBe(0);
    expect(L.REC_BYTES).toBe(240);
  });

  it('bytes per connection, record plus index, stay within 256', () => {
    const t = ConnTable.create({ capacity: 3_000_000 });
    const per = t.bytesPerConn();
    // 240 B record + 8 M index slots * 4 B / 3 M = 251.2 B
    expect(per).toBeCloseTo(240 + (4 * 8388608) / 3_000_000, 3);
    expect(per).toBeLessThanOrEqual(256);
    const t2 = ConnTable.create({ capacity: 1 << 20 });
    expect(t2.bytesPerConn()).toBe(256);
  });
});
