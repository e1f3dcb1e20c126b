// A commit that fails because its shard's index slots are all taken (a
// table far past its sizing) leaves nothing behind: the ALG expectation
// the new connection matched is still there for the next try, and the NAT
// connection count is as before. The packet is counted as a full table.

import { describe, expect, it } from 'vitest';
import { PacketBatch } from '../../src/packet/batch.ts';
import { FK_CT_STATE } from '../../src/packet/flow-key.ts';
import { setIpv4HeaderChecksum, setL4Checksum } from '../../src/packet/checksum.ts';
import { Conntrack } from '../../src/conntrack/conntrack.ts';
import { formatExp } from '../../src/conntrack/format.ts';
import { compileNat, type NatRange } from '../../src/nat/range.ts';
import { ALG_FTP } from '../../src/conntrack/alg/helper.ts';
import { ctExec, ctStateText, loadPacket, type L4Spec } from './helpers.ts';

const C = '10.1.1.1', S = '10.1.1.2';
const NOW = 1_000_000;
const CAPACITY = 1024;
const bare = compileNat({ kind: null });
const snat = compileNat({ kind: 'src', addrMin: '10.1.1.240' });

interface Opt { commit?: boolean; nat?: NatRange | null; alg?: number }

function send(ct: Conntrack, src: string, dst: string, s: L4Spec, o: Opt): string {
  const b = new PacketBatch(4096);
  loadPacket(b, src, dst, s);
  setIpv4HeaderChecksum(b.data[0], b.l3[0]);
  setL4Checksum(b.data[0], b.l3[0], b.l4[0], b.start[0] + b.len[0], s.proto);
  ct.execute(b, 0, b.keys, 0, ctExec({ commit: false, ...o }), NOW);
  return ctStateText(b.keys[FK_CT_STATE]);
}

/** Every index slot taken by a node of a record nobody uses (the last one:
 *  records are handed out from the front), whose zero key matches nothing.
 *  Returns the slots as they were. */
function fillIndex(ct: Conntrack): Int32Array {
  const t = ct.table;
  const saved = t.bkt.slice();
  const junk = (CAPACITY - 1) * 2 + 1;
  for (let i = 0; i < t.bkt.length; i++) if (t.bkt[i] === 0) t.bkt[i] = junk;
  return saved;
}

/** An FTP control connection C -> S through SNAT to 10.1.1.240 that announced
 *  a data connection to 10.1.1.240:40000. */
function ftpUnderSnat(): Conntrack {
  const ct = Conntrack.create({ capacity: CAPACITY });
  const o = { commit: true, alg: ALG_FTP, nat: snat };
  const r = { nat: bare };
  send(ct, C, S, { proto: 6, sport: 34567, dport: 21, flags: 'S', seq: 1000 }, o);
  send(ct, S, '10.1.1.240', { proto: 6, sport: 21, dport: 34567, flags: 'SA', seq: 5000, ack: 1001 }, r);
  send(ct, C, S, { proto: 6, sport: 34567, dport: 21, flags: 'A', seq: 1001, ack: 5001 }, o);
  expect(send(ct, C, S, { proto: 6, sport: 34567, dport: 21, flags: 'PA', seq: 1001, ack: 5001, data: 'PORT 10,1,1,1,156,64\r\n' }, o))
    .toBe('+trk+est+snat');
  return ct;
}

const EXP = 'tcp,orig=(src=10.1.1.2,dst=10.1.1.240,sport=0,dport=40000),parent=(src=10.1.1.1,dst=10.1.1.2,sport=34567,dport=21)';
const DATA_SYN: L4Spec = { proto: 6, sport: 20, dport: 40000, flags: 'S', seq: 1 };

describe('a commit refused by a full shard', () => {
  it('keeps the expectation it matched and the NAT count; the next try after room is made commits it as related', () => {
    const ct = ftpUnderSnat();
    const before = ct.counters();
    expect(ct.dumpExpectations(undefined, NOW).map(formatExp)).toEqual([EXP]);

    const saved = fillIndex(ct);
    expect(send(ct, S, '10.1.1.240', DATA_SYN, { commit: true, nat: bare })).toBe('+trk+new+rel');
    const after = ct.counters();
    expect(after.limitDrops).toBe(before.limitDrops + 1);
    expect(after.natConns).toBe(before.natConns);
    expect(after.expMatched).toBe(before.expMatched);
    expect(after.commits).toBe(before.commits);
    expect(ct.dumpExpectations(undefined, NOW).map(formatExp)).toEqual([EXP]);

    ct.table.bkt.set(saved);
    expect(send(ct, S, '10.1.1.240', DATA_SYN, { commit: true, nat: bare })).toBe('+trk+new+rel+dnat');
    const done = ct.counters();
    expect(done.natConns).toBe(before.natConns + 1);
    expect(done.expMatched).toBe(before.expMatched + 1);
    expect(ct.dumpExpectations(undefined, NOW)).toEqual([]);
  });

  it('a plain SNAT commit leaves the NAT count as it was', () => {
    const ct = Conntrack.create({ capacity: CAPACITY });
    fillIndex(ct);
    expect(send(ct, C, S, { proto: 17, sport: 1000, dport: 53 }, { commit: true, nat: snat })).toBe('+trk+new');
    expect(ct.counters().natConns).toBe(0);
    expect(ct.dump(undefined, NOW)).toEqual([]);
  });
});
