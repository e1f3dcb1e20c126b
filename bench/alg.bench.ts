// The FTP helper's cost on the control connection, beside its baselines in
// the same run: batches of 32 PORT commands through ct(nat) under SNAT (each
// one parsed, its address rewritten, the payload grown by 2 bytes, IP length
// and checksums recomputed, the expectation refreshed), the same connection
// carrying other commands of the same length (the helper only looks), and
// a connection without the helper.

import { Conntrack } from '../src/conntrack/conntrack.ts';
import type { CtExec } from '../src/conntrack/execute.ts';
import { ALG_FTP } from '../src/conntrack/alg/helper.ts';
import { compileNat, type NatRange } from '../src/nat/range.ts';
import { PacketBatch, BATCH_MAX } from '../src/packet/batch.ts';
import { extractHeaders } from '../src/packet/extract.ts';
import { FK_WORDS } from '../src/packet/flow-key.ts';
import { setIpv4HeaderChecksum, setL4Checksum } from '../src/packet/checksum.ts';
import type { BenchRow } from './run.ts';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const SNAT = compileNat({ kind: 'src', addrMin: '10.1.1.240' });
const APPLY = compileNat({ kind: null });

function ctExec(commit: boolean, nat: NatRange | null, alg: number): CtExec {
  return { zone: 0, commit, force: false, mark: null, label: null, nat, alg };
}

/** An Ethernet + IPv4 + TCP frame 10.1.1.1:34567 -> 10.1.1.2:21 (or back), checksums filled in. */
function frame(reply: boolean, flags: number, seq: number, ack: number, data: string): Uint8Array {
  const pl = new TextEncoder().encode(data);
  const f = new Uint8Array(14 + 40 + pl.length);
  const dv = new DataView(f.buffer);
  f.set([0x50, 0x54, 0, 0, 0, 2, 0x50, 0x54, 0, 0, 0, 1, 0x08, 0x00]);
  const d = f.subarray(14);
  d[0] = 0x45; dv.setUint16(16, d.length); d[8] = 64; d[9] = 6;
  d.set(reply ? [10, 1, 1, 2, 10, 1, 1, 240] : [10, 1, 1, 1, 10, 1, 1, 2], 12);
  dv.setUint16(34, reply ? 21 : 34567); dv.setUint16(36, reply ? 34567 : 21);
  dv.setUint32(38, seq); dv.setUint32(42, ack);
  d[32] = 0x50; d[33] = flags; dv.setUint16(48, 65535);
  d.set(pl, 40);
  setIpv4HeaderChecksum(d, 0);
  setL4Checksum(d, 0, 20, d.length, 6);
  return f;
}

function load(b: PacketBatch, bytes: Uint8Array): void {
  b.clear();
  const i = b.push(bytes);
  extractHeaders(b.data[i], b.start[i], b.len[i], b.keys, 0, b.l3, b.l4, i);
}

/** Packets per second of `data` segments on an established control connection. */
function control(batches: number, alg: number, data: string): number {
  const ct = Conntrack.create({ capacity: 1024 });
  ct.setTcpSeqCheck(false); // the same segment again and again
  const one = new PacketBatch(2048);
  const now = Date.now();
  const commit = ctExec(true, SNAT, alg);
  for (const [reply, fl, seq, ack] of [[false, 2, 1000, 0], [true, 0x12, 5000, 1001], [false, 0x10, 1001, 5001]] as const) {
    load(one, frame(reply, fl, seq, ack, ''));
    one.ctConn[0] = 0; // a new packet carries no connection
    ct.execute(one, 0, one.keys, 0, reply ? ctExec(false, APPLY, 0) : commit, now);
  }
  const b = new PacketBatch(2048);
  const copy = new PacketBatch(2048);
  const seg = frame(false, 0x18, 1001, 5001, data);
  for (let j = 0; j < BATCH_MAX; j++) {
    b.push(seg);
    copy.push(seg);
    extractHeaders(copy.data[j], copy.start[j], copy.len[j], copy.keys, j * FK_WORDS, copy.l3, copy.l4, j);
  }
  b.l3.set(copy.l3);
  b.l4.set(copy.l4);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < batches; i++) {
    // Each batch starts from the original packets (the rewrite changes them in place).
    for (let j = 0; j < BATCH_MAX; j++) {
      b.data[j].set(copy.data[j].subarray(copy.start[j], copy.start[j] + copy.len[j]), b.start[j]);
      b.len[j] = copy.len[j];
      b.keys.set(copy.keys.subarray(j * FK_WORDS, j * FK_WORDS + FK_WORDS), j * FK_WORDS);
    }
    b.ctConn.fill(0); // fresh packets carry no connection
    for (let j = 0; j < BATCH_MAX; j++) ct.execute(b, j, b.keys, j * FK_WORDS, commit, now);
  }
  const pps = (batches * BATCH_MAX) / (Number(process.hrtime.bigint() - t0) / 1e9);
  if (alg !== 0 && data.startsWith('PORT') && b.len[0] !== copy.len[0] + 2) throw new Error('PORT was not rewritten');
  return pps;
}

export async function rows(): Promise<BenchRow[]> {
  const batches = Math.round(50_000 * Math.max(SCALE, 0.1));
  const port = 'PORT 10,1,1,1,156,64\r\n';
  const other = 'NOOP abcdefghijklmno\r\n'; // same length, not a command the helper follows
  const plain = control(batches, 0, port);
  const looking = control(batches, ALG_FTP, other);
  const rewriting = control(batches, ALG_FTP, port);
  return [
    { bench: 'alg', case: 'FTP control segments, batches of 32, SNAT, no helper', value: plain, unit: 'packets/s' },
    { bench: 'alg', case: 'FTP control segments, batches of 32, SNAT, helper=ftp, other commands', value: looking, unit: 'packets/s', note: `${(looking / plain).toFixed(2)}× the rate without the helper` },
    { bench: 'alg', case: 'FTP control segments, batches of 32, SNAT, helper=ftp, every one a PORT rewritten', value: rewriting, unit: 'packets/s', note: `${(rewriting / plain).toFixed(2)}× the rate without the helper` },
  ];
}
