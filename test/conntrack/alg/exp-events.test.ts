// ct-events sees the FTP helper's expectations: a PORT command posts a
// `[NEW]` expect event (conntrack -E expect's words) naming the data
// connection to come and its master; without a listener nothing is posted.

import { describe, expect, it } from 'vitest';
import { PacketBatch } from '../../../src/packet/batch.ts';
import { setIpv4HeaderChecksum, setL4Checksum } from '../../../src/packet/checksum.ts';
import { Conntrack } from '../../../src/conntrack/conntrack.ts';
import { decodeEvent } from '../../../src/conntrack/event-format.ts';
import { ALG_FTP } from '../../../src/conntrack/alg/helper.ts';
import { ctExec, loadPacket, type L4Spec } from '../helpers.ts';

const C = '10.1.1.1', S = '10.1.1.2';
const NOW = 1_000_000;

function send(ct: Conntrack, src: string, dst: string, s: L4Spec, o: Parameters<typeof ctExec>[0]): void {
  const b = new PacketBatch(4096);
  loadPacket(b, src, dst, s);
  setIpv4HeaderChecksum(b.data[0], b.l3[0]);
  setL4Checksum(b.data[0], b.l3[0], b.l4[0], b.start[0] + b.len[0], s.proto);
  ct.execute(b, 0, b.keys, 0, ctExec(o), NOW);
}

function ftpPort(ct: Conntrack): void {
  send(ct, C, S, { proto: 6, sport: 34567, dport: 21, flags: 'S', seq: 1000 }, { commit: true, alg: ALG_FTP, zone: 3 });
  send(ct, S, C, { proto: 6, sport: 21, dport: 34567, flags: 'SA', seq: 5000, ack: 1001 }, { zone: 3 });
  send(ct, C, S, { proto: 6, sport: 34567, dport: 21, flags: 'A', seq: 1001, ack: 5001 }, { zone: 3 });
  send(ct, C, S, { proto: 6, sport: 34567, dport: 21, flags: 'PA', seq: 1001, ack: 5001, data: 'PORT 10,1,1,1,156,64\r\n' }, { zone: 3 });
}

function lines(ct: Conntrack): string[] {
  const out: string[] = [];
  ct.events.drain((t, rec, f64, r, tm) => {
    const ev = decodeEvent(t, rec, f64, r, tm, NOW);
    if (ev.kind === 'expect') out.push(ev.line);
  });
  return out;
}

describe('FTP expectations in ct-events', () => {
  it('a PORT command posts the expectation, with the data connection and its master', () => {
    const ct = Conntrack.create({ capacity: 1024 });
    ct.events.addListener();
    ftpPort(ct);
    expect(lines(ct)).toEqual([
      '    [NEW] 300 proto=6 src=10.1.1.2 dst=10.1.1.1 sport=0 dport=40000 mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 master-src=10.1.1.1 master-dst=10.1.1.2 sport=34567 dport=21 zone=3',
    ]);
  });

  it('nothing is posted without a listener', () => {
    const ct = Conntrack.create({ capacity: 1024 });
    ftpPort(ct);
    expect(ct.dumpExpectations(undefined, NOW)).toHaveLength(1);
    expect(ct.events.counters().posted).toBe(0);
  });
});
