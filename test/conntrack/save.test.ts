// Saving the connection table and restoring it into a new table (another
// hash seed): every connection comes back with both keys, NAT mapping, TCP
// window state, mark, label and counters; limits and timeout policies too;
// the time the daemon was stopped is taken off every timeout; a truncated,
// damaged or mismatched file is refused whole and leaves the table empty;
// the file is written atomically and a full disk leaves the old one.

import { mkdtempSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Conntrack } from '../../src/conntrack/conntrack.ts';
import { REC_WORDS, R_BKT_ORIG, R_BKT_REPLY, R_NEXT_ORIG, R_NEXT_REPLY, R_ID } from '../../src/conntrack/layout.ts';
import { CtSaveError, HEADER_BYTES, SECTION_HEAD_BYTES, parseSave, type SaveClock } from '../../src/conntrack/save-format.ts';
import { restoreTable, saveTable, type SaveSection } from '../../src/conntrack/save.ts';
import { restoreConntrackFile, saveConntrackFile } from '../../src/conntrack/save-file.ts';
import { compileNat } from '../../src/nat/range.ts';
import { FK_NW_DST, FK_NW_SRC, FK_TP_SRC } from '../../src/packet/flow-key.ts';
import { Harness } from './helpers.ts';
import { checkTable } from '../../src/conntrack/check.ts';

const snat1 = compileNat({ kind: 'src', addrMin: '10.1.1.240', portMin: 5000, portMax: 5000 });
const bare = compileNat({ kind: null });
const clock = (wallMs: number, monoMs: number, bootId = 'boot-a'): SaveClock => ({ wallMs, monoMs, bootId });

/** A table with a bit of everything in it. */
function populated(): Harness {
  const h = new Harness(Conntrack.create({ capacity: 4096, seed: 0x1234 }));
  // TCP handshake and data in zone 5, with mark and label.
  const mark = { value: 0x2a, mask: 0xffffffff };
  const label = { value: Uint32Array.from([1, 2, 3, 4]), mask: Uint32Array.from([~0, ~0, ~0, ~0]) };
  expect(h.send('10.0.0.1', '10.0.0.2', { proto: 6, sport: 40000, dport: 80, flags: 'S', seq: 1000, wscale: 7 }, { zone: 5, mark, label })).toBe('+trk+new');
  expect(h.send('10.0.0.2', '10.0.0.1', { proto: 6, sport: 80, dport: 40000, flags: 'SA', seq: 5000, ack: 1001, wscale: 7 }, { zone: 5 })).toBe('+trk+est+rpl');
  expect(h.send('10.0.0.1', '10.0.0.2', { proto: 6, sport: 40000, dport: 80, flags: 'A', seq: 1001, ack: 5001, payload: 100 }, { zone: 5 })).toBe('+trk+est');
  // SNAT UDP in zone 1, the only tuple of its range.
  expect(h.send('10.1.1.1', '10.1.1.2', { proto: 17, sport: 1000, dport: 53 }, { zone: 1, nat: snat1 })).toBe('+trk+new+snat');
  // ICMP and IPv6.
  expect(h.send('10.0.0.1', '10.0.0.9', { proto: 1, type: 8, id: 77 })).toBe('+trk+new');
  expect(h.send('fd00::1', 'fd00::2', { proto: 17, sport: 7, dport: 9 }, { zone: 2 })).toBe('+trk+new');
  h.ct.setLimits(100, [{ zone: 5, limit: 10 }]);
  h.ct.setMaxConns(5000);
  h.ct.setTimeoutPolicy(1, { udp_first: 90 });
  return h;
}

/** Records by id, without the index links (which differ by seed). */
function records(ct: Conntrack): Map<number, number[]> {
  const t = ct.table;
  const out = new Map<number, number[]>();
  for (let r = 0; r < t.highWater(); r++) {
    if (!t.isInUse(r)) continue;
    const w = Array.from(t.rec.subarray(r * REC_WORDS, (r + 1) * REC_WORDS));
    for (const i of [R_NEXT_ORIG, R_NEXT_REPLY, R_BKT_ORIG, R_BKT_REPLY]) w[i] = 0;
    out.set(w[R_ID], w);
  }
  return out;
}

function bytesOf(chunks: Uint8Array[]): Buffer {
  return Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)));
}

describe('conntrack save and restore', () => {
  it('round trip into a table with another seed: every connection, limit and policy comes back', () => {
    const a = populated();
    const saved = saveTable(a.ct.table, a.now, clock(5000, 100));
    expect(saved.conns).toBe(4);
    const b = new Harness(Conntrack.create({ capacity: 4096, seed: 0x9999 }));
    expect(b.ct.table.seed).not.toBe(a.ct.table.seed);
    b.now = a.now; // no time passed
    const rep = restoreTable(b.ct.table, bytesOf(saved.chunks), b.now, clock(5000, 100));
    expect(rep).toEqual({ restored: 4, expired: 0, duplicates: 0, noRoom: 0, elapsedMs: 0, skippedSections: [] });
    expect(b.dump(true)).toEqual(a.dump(true));
    expect(records(b.ct)).toEqual(records(a.ct));
    expect(b.ct.nconns()).toBe(4);
    expect(b.ct.zoneCount(5)).toBe(1);
    expect(b.ct.getLimits([5, 6])).toEqual({ defaultLimit: 100, zones: [{ zone: 5, limit: 10, count: 1 }, { zone: 6, limit: 100, count: 0 }] });
    expect(b.ct.getMaxConns()).toBe(5000);
    expect(b.ct.getTimeoutPolicy(1).udp_first).toBe(90);
    expect(b.ct.getTimeoutPolicy(2).udp_first).toBe(60);

    // The connections go on in the new table, found by both keys.
    expect(b.send('10.0.0.2', '10.0.0.1', { proto: 6, sport: 80, dport: 40000, flags: 'A', seq: 5001, ack: 1101 }, { zone: 5 })).toBe('+trk+est+rpl');
    expect(b.send('10.0.0.1', '10.0.0.2', { proto: 6, sport: 40000, dport: 80, flags: 'A', seq: 1101, ack: 5001, payload: 10 }, { zone: 5 })).toBe('+trk+est');
    expect(b.send('10.1.1.2', '10.1.1.240', { proto: 17, sport: 53, dport: 5000 }, { zone: 1, commit: false, nat: bare })).toBe('+trk+est+rpl+dnat');
    expect(b.key()[FK_NW_DST] >>> 0).toBe(0x0a010101);
    expect(b.send('10.1.1.1', '10.1.1.2', { proto: 17, sport: 1000, dport: 53 }, { zone: 1, nat: bare })).toBe('+trk+est+snat');
    expect(b.key()[FK_NW_SRC] >>> 0).toBe(0x0a0101f0);
    expect(b.key()[FK_TP_SRC]).toBe(5000);
    // The restored mapping holds its tuple: a second client finds the range exhausted.
    expect(b.send('10.1.1.3', '10.1.1.2', { proto: 17, sport: 1000, dport: 53 }, { zone: 1, nat: snat1 })).toBe('+trk+new');
    expect(b.batch.dropped[0]).toBe(1);
    expect(b.ct.counters().natExhausted).toBe(1);
    // New ids continue after the restored ones.
    expect(b.send('10.0.0.7', '10.0.0.8', { proto: 17, sport: 1, dport: 2 })).toBe('+trk+new');
    const ids = b.ct.dump().map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('restores a file of format 1 (records before the cache-line layout, written by the swd before it) into today\'s layout', () => {
    // fixtures/ct-save-v1.bin: populated() above, saved by that swd at now = 1,000,000 with clock(5000, 100).
    const file = readFileSync(join(import.meta.dirname, 'fixtures/ct-save-v1.bin'));
    expect(parseSave(file).sections.find((s) => s.id === 3)?.version).toBe(1);
    const b = new Harness(Conntrack.create({ capacity: 4096, seed: 0x5678 }));
    const rep = restoreTable(b.ct.table, file, b.now, clock(5000, 100));
    expect(rep).toEqual({ restored: 4, expired: 0, duplicates: 0, noRoom: 0, elapsedMs: 0, skippedSections: [] });
    expect(b.dump(true)).toEqual([
      'icmp,orig=(src=10.0.0.1,dst=10.0.0.9,id=77,type=8,code=0),reply=(src=10.0.0.9,dst=10.0.0.1,id=77,type=0,code=0),id=3,status=0',
      'tcp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=40000,dport=80),reply=(src=10.0.0.2,dst=10.0.0.1,sport=80,dport=40000),id=1,zone=5,status=0,mark=42,labels=0x1000000020000000300000004,protoinfo=(state_orig=ESTABLISHED,state_reply=ESTABLISHED,wscale_orig=7,wscale_reply=7,flags_orig=WINDOW_SCALE,flags_reply=WINDOW_SCALE)',
      'udp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=1000,dport=53),reply=(src=10.1.1.2,dst=10.1.1.240,sport=53,dport=5000),id=2,zone=1,status=0',
      'udp,orig=(src=fd00::1,dst=fd00::2,sport=7,dport=9),reply=(src=fd00::2,dst=fd00::1,sport=9,dport=7),id=4,zone=2,status=0',
    ]);
    // Counters, time left and timeout class, as that swd had them.
    expect(b.ct.dump(undefined, b.now).map((c) => [c.id, c.packetsOrig, c.packetsReply, c.bytesOrig, c.bytesReply, c.expiryMs - b.now, c.timeoutClass]))
      .toEqual([[1, 2, 1, 212, 58, 86400000, 2], [2, 1, 0, 42, 0, 60000, 6], [3, 1, 0, 42, 0, 60000, 9], [4, 1, 0, 62, 0, 60000, 6]]);
    expect(checkTable(b.ct.table).problems).toEqual([]);
    // The TCP window state came across: in-window packets go on both ways, one outside the window is invalid.
    expect(b.send('10.0.0.2', '10.0.0.1', { proto: 6, sport: 80, dport: 40000, flags: 'A', seq: 5001, ack: 1101 }, { zone: 5 })).toBe('+trk+est+rpl');
    expect(b.send('10.0.0.1', '10.0.0.2', { proto: 6, sport: 40000, dport: 80, flags: 'A', seq: 1101, ack: 5001, payload: 10 }, { zone: 5 })).toBe('+trk+est');
    expect(b.send('10.0.0.1', '10.0.0.2', { proto: 6, sport: 40000, dport: 80, flags: 'A', seq: 1101 + 0x40000000, ack: 5001, payload: 10 }, { zone: 5 })).toBe('+trk+inv');
    // The NAT mapping too: the reply is un-NATed, and a second client finds the range taken.
    expect(b.send('10.1.1.2', '10.1.1.240', { proto: 17, sport: 53, dport: 5000 }, { zone: 1, commit: false, nat: bare })).toBe('+trk+est+rpl+dnat');
    expect(b.key()[FK_NW_DST] >>> 0).toBe(0x0a010101);
    expect(b.send('10.1.1.3', '10.1.1.2', { proto: 17, sport: 1000, dport: 53 }, { zone: 1, nat: snat1 })).toBe('+trk+new');
    expect(b.batch.dropped[0]).toBe(1);
    // What this swd writes is format 2, and reads back the same.
    const again = bytesOf(saveTable(b.ct.table, b.now, clock(5000, 100)).chunks);
    expect(parseSave(again).sections.find((s) => s.id === 3)?.version).toBe(2);
    const c = new Harness(Conntrack.create({ capacity: 4096 }));
    c.now = b.now;
    expect(restoreTable(c.ct.table, again, c.now, clock(5000, 100)).restored).toBe(4);
    expect(c.dump(true)).toEqual(b.dump(true));
    expect(records(c.ct)).toEqual(records(b.ct));
  });

  it('takes the time swd was stopped off every timeout, by the monotonic clock within a boot', () => {
    const a = populated();
    const bytes = bytesOf(saveTable(a.ct.table, a.now, clock(5000, 100)).chunks);
    const udpLeft = (h: Harness) => h.ct.dump().find((c) => c.proto === 17 && !c.v6)!.expiryMs - h.now;
    expect(udpLeft(a)).toBe(60_000); // udp_first, policy set after the commit
    // 20 s later on the monotonic clock (the wall clock jumped an hour: ignored).
    const b = new Harness(Conntrack.create({ capacity: 4096 }));
    b.now = 9_000_000;
    const rep = restoreTable(b.ct.table, bytes, b.now, clock(5000 + 3_600_000, 20_100));
    expect(rep.elapsedMs).toBe(20_000);
    expect(udpLeft(b)).toBe(40_000);
    // 70 s: UDP (60 s) and ICMP (60 s) ran out, TCP established (24 h) did not.
    const c = new Harness(Conntrack.create({ capacity: 4096 }));
    const rep2 = restoreTable(c.ct.table, bytes, c.now, clock(0, 70_100));
    expect([rep2.restored, rep2.expired]).toEqual([1, 3]);
    expect(c.dump().map((l) => l.split(',')[0])).toEqual(['tcp']);
    expect(c.ct.nconns()).toBe(1);
    // Another boot: the wall clock; one that went backwards counts as no time.
    const d = new Harness(Conntrack.create({ capacity: 4096 }));
    expect(restoreTable(d.ct.table, bytes, d.now, clock(5000 + 30_000, 0, 'boot-b')).elapsedMs).toBe(30_000);
    const e = new Harness(Conntrack.create({ capacity: 4096 }));
    expect(restoreTable(e.ct.table, bytes, e.now, clock(1000, 0, 'boot-b')).elapsedMs).toBe(0);
  });

  it('refuses a file truncated at every length, and leaves the table empty', () => {
    const a = populated();
    const bytes = bytesOf(saveTable(a.ct.table, a.now, clock(5000, 100)).chunks);
    // One table for every length: each refused file must leave it empty for the next (a
    // fresh table per length made thousands of tables, gigabytes before a GC).
    const b = Conntrack.create({ capacity: 64 });
    for (let n = 0; n < bytes.length; n++) {
      let err: unknown = null;
      try {
        restoreTable(b.table, bytes.subarray(0, n), 0, clock(5000, 100));
      } catch (e) {
        err = e;
      }
      expect(err, `truncated to ${n} bytes`).toBeInstanceOf(CtSaveError);
      expect((err as CtSaveError).code).toBe('ECTSAVE_CORRUPT');
      expect(b.nconns()).toBe(0);
      expect(b.getMaxConns()).toBe(3_000_000);
    }
    // A byte flipped anywhere in a section is caught by its checksum.
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 20] ^= 0x40;
    expect(() => restoreTable(Conntrack.create({ capacity: 64 }).table, flipped, 0, clock(0, 0))).toThrow(/checksum mismatch/);
    expect(() => restoreTable(Conntrack.create({ capacity: 64 }).table, Buffer.concat([bytes, Buffer.from('x')]), 0, clock(0, 0))).toThrow(/bad trailer/);
  });

  it('refuses a mismatched format or record layout, and skips sections it does not know', () => {
    const a = populated();
    const bytes = bytesOf(saveTable(a.ct.table, a.now, clock(5000, 100)).chunks);
    const v2 = Buffer.from(bytes);
    v2.writeUInt32LE(2, 8);
    v2.writeUInt32LE(crc32(v2.subarray(0, 68)), 68);
    expect(() => restoreTable(Conntrack.create({ capacity: 64 }).table, v2, 0, clock(0, 0))).toThrow(
      expect.objectContaining({ code: 'ECTSAVE_VERSION', message: 'format version 2, this swd reads version 1' }),
    );
    // Records of another size (an swd with more or fewer record words).
    const p = parseSave(bytes);
    let at = HEADER_BYTES;
    for (const s of p.sections) {
      if (s.id === 3) break;
      at += SECTION_HEAD_BYTES + s.payload.byteLength;
    }
    const other = Buffer.from(bytes);
    other.writeUInt32LE(REC_WORDS + 8, at + SECTION_HEAD_BYTES);
    other.writeUInt32LE(crc32(other.subarray(at + SECTION_HEAD_BYTES, at + SECTION_HEAD_BYTES + other.readUInt32LE(at + 8))), at + 12);
    const t = Conntrack.create({ capacity: 64 });
    expect(() => restoreTable(t.table, other, 0, clock(0, 0))).toThrow(
      expect.objectContaining({ code: 'ECTSAVE_VERSION', message: `connection records of ${REC_WORDS + 8} words (keys 10), this swd has ${REC_WORDS} (keys 10)` }),
    );
    expect(t.getMaxConns()).toBe(3_000_000);
    // A section from a later swd (id 99) is skipped; an extra section of ours round-trips.
    const seen: number[] = [];
    const extra = (id: number): SaveSection => ({
      id, version: 1,
      encode: () => Uint8Array.from([id, 1, 2, 3]),
      check: (pl) => (pl.byteLength === 4 ? null : 'bad'),
      apply: (pl) => seen.push(...pl),
    });
    const withExtra = bytesOf(saveTable(a.ct.table, a.now, clock(5000, 100), { extra: [extra(99), extra(4)] }).chunks);
    const rep = restoreTable(Conntrack.create({ capacity: 64 }).table, withExtra, a.now, clock(5000, 100), { extra: [extra(4)] });
    expect(rep.skippedSections).toEqual([99]);
    expect(rep.restored).toBe(4);
    expect(seen).toEqual([4, 1, 2, 3]);
  });

  it('files: atomic save, restore removes the file, a corrupt file is set aside, a full disk keeps the old file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'swd-ctsave-'));
    const file = join(dir, 'swd.db.conntrack');
    const a = populated();
    const res = saveConntrackFile(a.ct, file, a.now);
    expect(res.conns).toBe(4);
    expect(readFileSync(file).byteLength).toBe(res.bytes);
    const good = readFileSync(file);

    // ENOSPC in the middle of the write: reported with its code, the old file intact, no temp file left.
    let written = 0;
    const full = (_fd: number, b: Uint8Array) => {
      if ((written += b.byteLength) > 200) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    };
    a.send('10.0.0.5', '10.0.0.6', { proto: 17, sport: 5, dport: 6 });
    expect(() => saveConntrackFile(a.ct, file, a.now, { write: full })).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
    expect(readFileSync(file).equals(good)).toBe(true);
    expect(readdirSync(dir)).toEqual(['swd.db.conntrack']);

    const b = Conntrack.create({ capacity: 4096 });
    const out = restoreConntrackFile(b, file, a.now);
    expect(out).toMatchObject({ status: 'restored', restored: 4, bytes: good.byteLength });
    expect(existsSync(file)).toBe(false);
    expect(restoreConntrackFile(Conntrack.create({ capacity: 64 }), file, 0)).toEqual({ file, status: 'none' });

    writeFileSync(file, good.subarray(0, 100));
    const c = Conntrack.create({ capacity: 64 });
    const len = good.readUInt32LE(HEADER_BYTES + 8);
    expect(restoreConntrackFile(c, file, 0)).toEqual({
      file, status: 'ignored', code: 'ECTSAVE_CORRUPT',
      error: `${file}: truncated in section 1 (${100 - HEADER_BYTES - SECTION_HEAD_BYTES} of ${len} bytes)`,
    });
    expect(c.nconns()).toBe(0);
    expect(existsSync(`${file}.bad`)).toBe(true);
  });
});
