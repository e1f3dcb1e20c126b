// ct-events sees the FTP helper's expectations: a PORT command posts a
// `[NEW]` expect event (conntrack -E expect's words) naming the data
// connection to come and its master; its end posts `[DESTROY]` with the
// seconds it had left, whether the data connection used it, it timed out,
// or its master went away; without a listener nothing is posted.

import { describe, expect, it } from 'vitest';
import { PacketBatch } from '../../../src/packet/batch.ts';
import { setIpv4HeaderChecksum, setL4Checksum } from '../../../src/packet/checksum.ts';
import { Conntrack } from '../../../src/conntrack/conntrack.ts';
import { decodeEvent } from '../../../src/conntrack/event-format.ts';
import { ALG_FTP } from '../../../src/conntrack/alg/helper.ts';
import { ctExec, loadPacket, type L4Spec } from '../helpers.ts';

const C = '10.1.1.1', S = '10.1.1.2';
const NOW = 1_000_000;

function send(ct: Conntrack, src: string, dst: string, s: L4Spec, o: Parameters<typeof ctExec>[0], now = NOW): void {
  const b = new PacketBatch(4096);
  loadPacket(b, src, dst, s);
  setIpv4HeaderChecksum(b.data[0], b.l3[0]);
  setL4Checksum(b.data[0], b.l3[0], b.l4[0], b.start[0] + b.len[0], s.proto);
  ct.execute(b, 0, b.keys, 0, ctExec(o), now);
}

function ftpPort(ct: Conntrack): void {
  send(ct, C, S, { proto: 6, sport: 34567, dport: 21, flags: 'S', seq: 1000 }, { commit: true, alg: ALG_FTP, zone: 3 });
  send(ct, S, C, { proto: 6, sport: 21, dport: 34567, flags: 'SA', seq: 5000, ack: 1001 }, { zone: 3 });
  send(ct, C, S, { proto: 6, sport: 34567, dport: 21, flags: 'A', seq: 1001, ack: 5001 }, { zone: 3 });
  send(ct, C, S, { proto: 6, sport: 34567, dport: 21, flags: 'PA', seq: 1001, ack: 5001, data: 'PORT 10,1,1,1,156,64\r\n' }, { zone: 3 });
}

function lines(ct: Conntrack, now = NOW, kinds: string[] = ['expect']): string[] {
  const out: string[] = [];
  ct.events.drain((t, rec, f64, r, tm) => {
    const ev = decodeEvent(t, rec, f64, r, tm, now);
    if (kinds.includes(ev.kind)) out.push(ev.line);
  });
  return out;
}

const EXP = 'proto=6 src=10.1.1.2 dst=10.1.1.1 sport=0 dport=40000 mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 master-src=10.1.1.1 master-dst=10.1.1.2 sport=34567 dport=21 zone=3';

describe('FTP expectations in ct-events', () => {
  it('a PORT command posts the expectation, with the data connection and its master', () => {
    const ct = Conntrack.create({ capacity: 1024 });
    ct.events.addListener();
    ftpPort(ct);
    expect(lines(ct)).toEqual([
      '    [NEW] 300 proto=6 src=10.1.1.2 dst=10.1.1.1 sport=0 dport=40000 mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 master-src=10.1.1.1 master-dst=10.1.1.2 sport=34567 dport=21 zone=3',
    ]);
  });

  it('the data connection uses the expectation up: [DESTROY] with the seconds it had left', () => {
    const ct = Conntrack.create({ capacity: 1024 });
    ct.events.addListener();
    ftpPort(ct);
    expect(lines(ct)).toEqual([`    [NEW] 300 ${EXP}`]);
    send(ct, S, C, { proto: 6, sport: 20, dport: 40000, flags: 'S', seq: 7000 }, { commit: true, zone: 3 }, NOW + 13_000);
    expect(ct.dumpExpectations(undefined, NOW + 13_000)).toEqual([]);
    expect(lines(ct, NOW + 13_000, ['expect', 'conn'])).toEqual([
      `[DESTROY] 287 ${EXP}`,
      '    [NEW] tcp      6 30 SYN_SENT src=10.1.1.2 dst=10.1.1.1 sport=20 dport=40000 [UNREPLIED] src=10.1.1.1 dst=10.1.1.2 sport=40000 dport=20 zone=3',
    ]);
  });

  it('an expectation nobody used times out: [DESTROY] 0, from the sweep', () => {
    const ct = Conntrack.create({ capacity: 1024 });
    ct.events.addListener();
    ftpPort(ct);
    lines(ct);
    // The control connection stays (established: 5 days); the expectation goes after 300 s.
    ct.sweep(NOW + 301_000, 4096);
    expect(lines(ct, NOW + 301_000)).toEqual([`[DESTROY] 0 ${EXP}`]);
    expect(ct.dumpExpectations(undefined, NOW + 301_000)).toEqual([]);
  });

  it('an expectation goes with its master: flushing the control connection destroys both', () => {
    const ct = Conntrack.create({ capacity: 1024 });
    ct.events.addListener();
    ftpPort(ct);
    lines(ct);
    ct.flush({ zone: 3 });
    const out = lines(ct, NOW + 2_000, ['expect', 'conn']);
    expect(out).toContain(`[DESTROY] 298 ${EXP}`);
    expect(out.filter((l) => l.startsWith('[DESTROY] tcp      6 src=10.1.1.1 dst=10.1.1.2 sport=34567 dport=21 '))).toHaveLength(1);
    expect(out).toHaveLength(2);
  });

  it('nothing is posted without a listener', () => {
    const ct = Conntrack.create({ capacity: 1024 });
    ftpPort(ct);
    expect(ct.dumpExpectations(undefined, NOW)).toHaveLength(1);
    expect(ct.events.counters().posted).toBe(0);
  });
});
