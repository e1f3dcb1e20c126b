// ALG expectations across a restart (conntrack save file, section 4): an
// FTP PORT announced before the save is still expected after the restore
// into a table with another seed, with its parent, zone and mark; the time
// spent stopped counts against its timeout; a damaged section is refused.

import { describe, expect, it } from 'vitest';
import { PacketBatch } from '../../../src/packet/batch.ts';
import { FK_CT_STATE } from '../../../src/packet/flow-key.ts';
import { setIpv4HeaderChecksum, setL4Checksum } from '../../../src/packet/checksum.ts';
import { Conntrack } from '../../../src/conntrack/conntrack.ts';
import { formatExp } from '../../../src/conntrack/format.ts';
import { restoreTable, saveTable } from '../../../src/conntrack/save.ts';
import { parseSave, SEC_EXPECTATIONS, type SaveClock } from '../../../src/conntrack/save-format.ts';
import { expectationsSection } from '../../../src/conntrack/alg/exp-save.ts';
import { ALG_FTP } from '../../../src/conntrack/alg/helper.ts';
import { EXP_TIMEOUT_MS } from '../../../src/conntrack/alg/expect.ts';
import { ctExec, ctStateText, loadPacket, type L4Spec } from '../helpers.ts';

const clock = (wallMs: number, monoMs: number): SaveClock => ({ wallMs, monoMs, bootId: 'boot-a' });
const C = '10.1.1.1', S = '10.1.1.2';

function send(ct: Conntrack, now: number, src: string, dst: string, s: L4Spec, o: Parameters<typeof ctExec>[0]): string {
  const b = new PacketBatch(4096);
  loadPacket(b, src, dst, s);
  setIpv4HeaderChecksum(b.data[0], b.l3[0]);
  setL4Checksum(b.data[0], b.l3[0], b.l4[0], b.start[0] + b.len[0], s.proto);
  ct.execute(b, 0, b.keys, 0, ctExec(o), now);
  return ctStateText(b.keys[FK_CT_STATE]);
}

function announced(now: number): Conntrack {
  const ct = Conntrack.create({ capacity: 1024, seed: 7 });
  const ctl = { commit: true, alg: ALG_FTP, zone: 3, mark: { value: 9, mask: 0xffffffff } };
  send(ct, now, C, S, { proto: 6, sport: 34567, dport: 21, flags: 'S', seq: 1000 }, ctl);
  send(ct, now, S, C, { proto: 6, sport: 21, dport: 34567, flags: 'SA', seq: 5000, ack: 1001 }, { zone: 3 });
  send(ct, now, C, S, { proto: 6, sport: 34567, dport: 21, flags: 'A', seq: 1001, ack: 5001 }, { zone: 3 });
  expect(send(ct, now, C, S, { proto: 6, sport: 34567, dport: 21, flags: 'PA', seq: 1001, ack: 5001, data: 'PORT 10,1,1,1,156,64\r\n' }, { zone: 3 }))
    .toBe('+trk+est');
  return ct;
}

const bytesOf = (chunks: Uint8Array[]) => Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)));

describe('ALG expectations in the conntrack save file', () => {
  it('an announced data connection is still expected after the restore, and is related to its parent', () => {
    const now = 1_000_000;
    const a = announced(now);
    const before = a.dumpExpectations(undefined, now).map(formatExp);
    expect(before).toEqual(['tcp,orig=(src=10.1.1.2,dst=10.1.1.1,sport=0,dport=40000),zone=3,mark=9,parent=(src=10.1.1.1,dst=10.1.1.2,sport=34567,dport=21)']);
    const file = bytesOf(saveTable(a.table, now, clock(5000, 100), { extra: a.saveSections }).chunks);
    expect(parseSave(file).sections.map((s) => s.id)).toContain(SEC_EXPECTATIONS);

    const later = now + 50_000;
    const b = Conntrack.create({ capacity: 1024, seed: 99 });
    restoreTable(b.table, file, later, clock(5000 + 20_000, 20_100), { extra: b.saveSections });
    expect(b.dumpExpectations(undefined, later).map(formatExp)).toEqual(before);
    // Its time left is what it had minus the 20 s stopped.
    const left = b.dumpExpectations(undefined, later)[0].expiryMs - later;
    expect(left).toBe(EXP_TIMEOUT_MS - 20_000);
    // The server's data connection matches it: +new+rel, committed with the parent's mark.
    expect(send(b, later, S, C, { proto: 6, sport: 20, dport: 40000, flags: 'S', seq: 9000 }, { zone: 3, commit: true })).toBe('+trk+new+rel');
    expect(b.dumpExpectations(undefined, later)).toEqual([]);
    expect(b.dump(3, later).find((c) => c.orig.dport === 40000)?.mark).toBe(9);
  });

  it('an expectation whose time ran out while stopped is not restored', () => {
    const now = 1_000_000;
    const a = announced(now);
    const file = bytesOf(saveTable(a.table, now, clock(5000, 100), { extra: a.saveSections }).chunks);
    const b = Conntrack.create({ capacity: 1024 });
    restoreTable(b.table, file, now, clock(5000 + EXP_TIMEOUT_MS + 1000, EXP_TIMEOUT_MS + 1100), { extra: b.saveSections });
    expect(b.dumpExpectations(undefined, now)).toEqual([]);
  });

  it('a damaged expectation section is refused', () => {
    expect(expectationsSection.check(new Uint8Array(3), 1)).toMatch(/truncated/);
    const w = new Int32Array([40, 2]);
    expect(expectationsSection.check(new Uint8Array(w.buffer), 1)).toMatch(/count/);
    expect(expectationsSection.check(new Uint8Array(new Int32Array([12, 0]).buffer), 1)).toMatch(/words/);
    expect(expectationsSection.check(new Uint8Array(8), 2)).toMatch(/version/);
  });
});
