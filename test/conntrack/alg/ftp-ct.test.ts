// The FTP and TFTP helpers through conntrack, as seed 002's flows use them:
// the control connection committed with alg=ftp keeps its helper, a PORT /
// 227 / EPRT / 229 creates an expectation (inheriting zone, mark, label),
// the data connection's first packet is +new+rel and, once committed,
// +est+rel with its parent in dump-conntrack -m. Under SNAT/DNAT (IPv4 and
// IPv6) the address text is rewritten, IP length and checksums stay valid,
// the length change becomes a sequence offset for the rest of the
// connection, and the data connection is NATed as announced.

import { describe, expect, it } from 'vitest';
import { PacketBatch } from '../../../src/packet/batch.ts';
import { FK_CT_STATE, FK_NW_DST, FK_NW_SRC, FK_TP_DST } from '../../../src/packet/flow-key.ts';
import { setIpv4HeaderChecksum, setL4Checksum, verifyL4Checksum, ipv4HeaderChecksum } from '../../../src/packet/checksum.ts';
import { Conntrack } from '../../../src/conntrack/conntrack.ts';
import { formatConn, formatExp } from '../../../src/conntrack/format.ts';
import { compileNat, type NatRange } from '../../../src/nat/range.ts';
import { ALG_FTP, ALG_TFTP } from '../../../src/conntrack/alg/helper.ts';
import { EXP_TIMEOUT_MS } from '../../../src/conntrack/alg/expect.ts';
import { ctExec, ctStateText, loadPacket, type L4Spec } from '../helpers.ts';

const bare = compileNat({ kind: null });

interface Opt { zone?: number; commit?: boolean; nat?: NatRange | null; alg?: number; mark?: { value: number; mask: number } }

class AlgHarness {
  ct = Conntrack.create({ capacity: 4096 });
  batch = new PacketBatch(4096);
  now = 1_000_000;
  send(src: string, dst: string, s: L4Spec, o: Opt = {}): string {
    loadPacket(this.batch, src, dst, s);
    const b = this.batch;
    const l3 = b.l3[0];
    const end = b.start[0] + b.len[0];
    if (!src.includes(':')) setIpv4HeaderChecksum(b.data[0], l3);
    setL4Checksum(b.data[0], l3, b.l4[0], end, s.proto);
    this.ct.execute(b, 0, b.keys, 0, ctExec(o), this.now);
    return ctStateText(b.keys[FK_CT_STATE]);
  }
  /** The L4 payload of the packet last sent, as text. */
  payload(): string {
    const b = this.batch;
    const d = b.data[0];
    const l4 = b.l4[0];
    const hl = d[l4 + 9 - 9 + 12] >> 4;
    return new TextDecoder().decode(d.subarray(l4 + hl * 4, b.start[0] + b.len[0]));
  }
  seqAck(): [number, number] {
    const dv = new DataView(this.batch.data[0].buffer, this.batch.l4[0]);
    return [dv.getUint32(4), dv.getUint32(8)];
  }
  /** IP total length / payload length field agrees with the packet, checksums verify. */
  valid(): boolean {
    const b = this.batch;
    const d = b.data[0];
    const l3 = b.l3[0];
    const end = b.start[0] + b.len[0];
    const v6 = d[l3] >> 4 === 6;
    const ipLen = v6 ? 40 + ((d[l3 + 4] << 8) | d[l3 + 5]) : (d[l3 + 2] << 8) | d[l3 + 3];
    if (l3 + ipLen !== end) return false;
    if (!v6 && ipv4HeaderChecksum(d, l3) !== ((d[l3 + 10] << 8) | d[l3 + 11])) return false;
    return verifyL4Checksum(d, l3, b.l4[0], end, d[l3 + (v6 ? 6 : 9)]);
  }
  dump(verbose = true): string[] {
    return this.ct.dump(undefined, this.now).map((c) => formatConn(c, verbose).replace(/,id=\d+/, '')).sort();
  }
  exp(zone?: number): string[] {
    return this.ct.dumpExpectations(zone, this.now).map(formatExp).sort();
  }
}

const C = '10.1.1.1', S = '10.1.1.2';

/** Handshake of a control connection C:34567 -> S:21 through `o` (orig) and `r` (reply). */
function handshake(h: AlgHarness, c: string, s: string, sAs: string, o: Opt, r: Opt, cAs = c, dport = 21) {
  expect(h.send(c, s, { proto: 6, sport: 34567, dport, flags: 'S', seq: 1000 }, o)).toMatch(/^\+trk\+new/);
  expect(h.send(sAs, cAs, { proto: 6, sport: dport, dport: 34567, flags: 'SA', seq: 5000, ack: 1001 }, r)).toMatch(/\+est\+rpl/);
  expect(h.send(c, s, { proto: 6, sport: 34567, dport, flags: 'A', seq: 1001, ack: 5001 }, o)).toMatch(/\+est/);
}

describe('FTP helper, no NAT (seed 002)', () => {
  it('active: PORT creates an expectation; the data connection is +new+rel, then +est+rel with its parent', () => {
    const h = new AlgHarness();
    const ctl = { commit: true, alg: ALG_FTP };
    handshake(h, C, S, S, ctl, { commit: false });
    expect(h.dump(false)).toEqual(['tcp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=34567,dport=21),reply=(src=10.1.1.2,dst=10.1.1.1,sport=21,dport=34567),protoinfo=(state=ESTABLISHED),helper=ftp']);
    expect(h.send(C, S, { proto: 6, sport: 34567, dport: 21, flags: 'PA', seq: 1001, ack: 5001, data: 'PORT 10,1,1,1,156,64\r\n' }, ctl)).toBe('+trk+est');
    expect(h.payload()).toBe('PORT 10,1,1,1,156,64\r\n');
    expect(h.exp()).toEqual(['tcp,orig=(src=10.1.1.2,dst=10.1.1.1,sport=0,dport=40000),parent=(src=10.1.1.1,dst=10.1.1.2,sport=34567,dport=21)']);
    expect(h.exp(42)).toEqual([]);
    // The server's data connection: tracked, +new+rel; uncommitted it leaves the expectation.
    expect(h.send(S, C, { proto: 6, sport: 20, dport: 40000, flags: 'S', seq: 9000 }, { commit: false })).toBe('+trk+new+rel');
    expect(h.exp().length).toBe(1);
    expect(h.send(S, C, { proto: 6, sport: 20, dport: 40000, flags: 'S', seq: 9000 }, { commit: true })).toBe('+trk+new+rel');
    expect(h.exp()).toEqual([]);
    expect(h.send(C, S, { proto: 6, sport: 40000, dport: 20, flags: 'SA', seq: 7000, ack: 9001 }, { commit: false })).toBe('+trk+est+rel+rpl');
    expect(h.send(S, C, { proto: 6, sport: 20, dport: 40000, flags: 'A', seq: 9001, ack: 7001 }, { commit: false })).toBe('+trk+est+rel');
    expect(h.dump()).toContain('tcp,orig=(src=10.1.1.2,dst=10.1.1.1,sport=20,dport=40000),reply=(src=10.1.1.1,dst=10.1.1.2,sport=40000,dport=20),status=0,protoinfo=(state_orig=ESTABLISHED,state_reply=ESTABLISHED,flags_orig=0,flags_reply=0),parent=(src=10.1.1.1,dst=10.1.1.2,sport=34567,dport=21)');
    // A connection nobody announced is not related.
    expect(h.send(S, C, { proto: 6, sport: 20, dport: 40001, flags: 'S', seq: 1 }, { commit: false })).toBe('+trk+new');
    const c = h.ct.counters();
    expect([c.expCreated, c.expMatched, c.expExpired, c.algMalformed]).toEqual([1, 1, 0, 0]);
  });

  it('passive: 227 from the server, several outstanding expectations, a later ct() without alg keeps the helper', () => {
    const h = new AlgHarness();
    handshake(h, C, S, S, { commit: true, alg: ALG_FTP, mark: { value: 7, mask: 0xffffffff } }, { commit: false });
    for (const [i, port] of [[0, 30000], [1, 30001]]) {
      const text = `227 Entering Passive Mode (10,1,1,2,${port >> 8},${port & 255}).\r\n`;
      expect(h.send(S, C, { proto: 6, sport: 21, dport: 34567, flags: 'PA', seq: 5001 + i * text.length, ack: 1001, data: text }, { commit: false })).toBe('+trk+est+rpl');
    }
    expect(h.exp()).toEqual([
      'tcp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=0,dport=30000),mark=7,parent=(src=10.1.1.1,dst=10.1.1.2,sport=34567,dport=21)',
      'tcp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=0,dport=30001),mark=7,parent=(src=10.1.1.1,dst=10.1.1.2,sport=34567,dport=21)',
    ]);
    expect(h.send(C, S, { proto: 6, sport: 41000, dport: 30001, flags: 'S', seq: 1 }, { commit: true })).toBe('+trk+new+rel');
    // The data connection inherits the parent's mark.
    expect(h.dump(false).filter((l) => l.includes('dport=30001'))).toEqual(['tcp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=41000,dport=30001),reply=(src=10.1.1.2,dst=10.1.1.1,sport=30001,dport=41000),mark=7,protoinfo=(state=SYN_SENT)']);
    // Removing the parent removes its outstanding expectation.
    expect(h.ct.flush({ orig: { sport: 34567 } })).toBe(1);
    expect(h.exp()).toEqual([]);
    expect(h.ct.counters().expExpired).toBe(1);
  });

  it('expectations time out; a malformed PORT is +inv and counted, and the connection goes on', () => {
    const h = new AlgHarness();
    handshake(h, C, S, S, { commit: true, alg: ALG_FTP }, { commit: false });
    expect(h.send(C, S, { proto: 6, sport: 34567, dport: 21, flags: 'PA', seq: 1001, ack: 5001, data: 'PORT 10,1,1,1,156\r\n' }, {})).toBe('+trk+inv');
    expect(h.ct.counters().algMalformed).toBe(1);
    expect(h.send(C, S, { proto: 6, sport: 34567, dport: 21, flags: 'PA', seq: 1001, ack: 5001, data: 'PORT 10,1,1,1,156,64\r\n' }, {})).toBe('+trk+est');
    expect(h.exp().length).toBe(1);
    h.now += EXP_TIMEOUT_MS + 1;
    expect(h.send(S, C, { proto: 6, sport: 20, dport: 40000, flags: 'S', seq: 9000 }, { commit: false })).toBe('+trk+new');
    expect(h.ct.counters().expExpired).toBe(1);
    expect(h.exp()).toEqual([]);
  });

  it('a PORT naming a third party creates nothing', () => {
    const h = new AlgHarness();
    handshake(h, C, S, S, { commit: true, alg: ALG_FTP }, { commit: false });
    expect(h.send(C, S, { proto: 6, sport: 34567, dport: 21, flags: 'PA', seq: 1001, ack: 5001, data: 'PORT 10,9,9,9,156,64\r\n' }, {})).toBe('+trk+est');
    expect(h.exp()).toEqual([]);
  });
});

describe('FTP helper with NAT', () => {
  it('SNAT, active: PORT rewritten (+2 bytes), seq/ack adjusted both ways, data connection DNATed back', () => {
    const h = new AlgHarness();
    const snat = compileNat({ kind: 'src', addrMin: '10.1.1.240' });
    const o = { commit: true, alg: ALG_FTP, nat: snat };
    const r = { commit: false, nat: bare };
    handshake(h, C, S, S, o, r, '10.1.1.240');
    expect(h.send(C, S, { proto: 6, sport: 34567, dport: 21, flags: 'PA', seq: 1001, ack: 5001, data: 'PORT 10,1,1,1,156,64\r\n' }, o)).toBe('+trk+est+snat');
    expect(h.payload()).toBe('PORT 10,1,1,240,156,64\r\n');
    expect(h.valid()).toBe(true);
    expect(h.seqAck()).toEqual([1001, 5001]);
    // The server acks the longer segment; the client must see its own numbering.
    expect(h.send(S, '10.1.1.240', { proto: 6, sport: 21, dport: 34567, flags: 'A', seq: 5001, ack: 1001 + 24 }, r)).toBe('+trk+est+rpl+dnat');
    expect(h.seqAck()).toEqual([5001, 1001 + 22]);
    expect(h.valid()).toBe(true);
    // The client's next segment moves by the offset.
    expect(h.send(C, S, { proto: 6, sport: 34567, dport: 21, flags: 'PA', seq: 1023, ack: 5001, data: 'RETR f\r\n' }, o)).toBe('+trk+est+snat');
    expect(h.seqAck()).toEqual([1025, 5001]);
    expect(h.valid()).toBe(true);
    // A second PORT: offsets add up.
    expect(h.send(C, S, { proto: 6, sport: 34567, dport: 21, flags: 'PA', seq: 1031, ack: 5001, data: 'PORT 10,1,1,1,156,65\r\n' }, o)).toBe('+trk+est+snat');
    expect(h.seqAck()).toEqual([1033, 5001]);
    expect(h.send(S, '10.1.1.240', { proto: 6, sport: 21, dport: 34567, flags: 'A', seq: 5001, ack: 1033 + 24 }, r)).toBe('+trk+est+rpl+dnat');
    expect(h.seqAck()).toEqual([5001, 1031 + 22]);
    expect(h.exp()).toEqual([
      'tcp,orig=(src=10.1.1.2,dst=10.1.1.240,sport=0,dport=40000),parent=(src=10.1.1.1,dst=10.1.1.2,sport=34567,dport=21)',
      'tcp,orig=(src=10.1.1.2,dst=10.1.1.240,sport=0,dport=40001),parent=(src=10.1.1.1,dst=10.1.1.2,sport=34567,dport=21)',
    ]);
    // The server connects to the translated address; ct(commit,nat) sends it to the client.
    expect(h.send(S, '10.1.1.240', { proto: 6, sport: 20, dport: 40000, flags: 'S', seq: 1 }, { commit: true, nat: bare })).toBe('+trk+new+rel+dnat');
    expect(h.batch.keys[FK_NW_DST] >>> 0).toBe(0x0a010101);
    expect(h.valid()).toBe(true);
    expect(h.send(C, S, { proto: 6, sport: 40000, dport: 20, flags: 'SA', seq: 2, ack: 2 }, { commit: false, nat: bare })).toBe('+trk+est+rel+rpl+snat');
    expect(h.batch.keys[FK_NW_SRC] >>> 0).toBe(0x0a0101f0);
  });

  it('SNAT to a shorter address: the payload shrinks and the offset is negative', () => {
    const h = new AlgHarness();
    const snat = compileNat({ kind: 'src', addrMin: '10.1.1.5' });
    const o = { commit: true, alg: ALG_FTP, nat: snat };
    const r = { commit: false, nat: bare };
    handshake(h, '10.1.1.100', S, S, o, r, '10.1.1.5');
    expect(h.send('10.1.1.100', S, { proto: 6, sport: 34567, dport: 21, flags: 'PA', seq: 1001, ack: 5001, data: 'PORT 10,1,1,100,156,64\r\n' }, o)).toBe('+trk+est+snat');
    expect(h.payload()).toBe('PORT 10,1,1,5,156,64\r\n');
    expect(h.valid()).toBe(true);
    expect(h.send(S, '10.1.1.5', { proto: 6, sport: 21, dport: 34567, flags: 'A', seq: 5001, ack: 1023 }, r)).toBe('+trk+est+rpl+dnat');
    expect(h.seqAck()).toEqual([5001, 1025]);
    expect(h.send('10.1.1.100', S, { proto: 6, sport: 34567, dport: 21, flags: 'A', seq: 1025, ack: 5001 }, o)).toBe('+trk+est+snat');
    expect(h.seqAck()).toEqual([1023, 5001]);
  });

  it('DNAT, passive: the server address in 227 becomes the virtual one; the data connection is DNATed to the server', () => {
    const h = new AlgHarness();
    const dnat = compileNat({ kind: 'dst', addrMin: '10.1.1.2' });
    const o = { commit: true, alg: ALG_FTP, nat: dnat };
    const r = { commit: false, nat: bare };
    handshake(h, C, '10.1.1.100', S, o, r);
    expect(h.send(S, C, { proto: 6, sport: 21, dport: 34567, flags: 'PA', seq: 5001, ack: 1001, data: '227 Entering Passive Mode (10,1,1,2,117,48).\r\n' }, r)).toBe('+trk+est+rpl+snat');
    expect(h.payload()).toBe('227 Entering Passive Mode (10,1,1,100,117,48).\r\n');
    expect(h.valid()).toBe(true);
    expect(h.exp()).toEqual(['tcp,orig=(src=10.1.1.1,dst=10.1.1.100,sport=0,dport=30000),parent=(src=10.1.1.1,dst=10.1.1.100,sport=34567,dport=21)']);
    expect(h.send(C, '10.1.1.100', { proto: 6, sport: 41000, dport: 30000, flags: 'S', seq: 1 }, { commit: true, nat: bare })).toBe('+trk+new+rel+dnat');
    expect(h.batch.keys[FK_NW_DST] >>> 0).toBe(0x0a010102);
    expect(h.batch.keys[FK_TP_DST]).toBe(30000);
    // The client acks the longer reply: seq space of the server is moved back.
    expect(h.send(C, '10.1.1.100', { proto: 6, sport: 34567, dport: 21, flags: 'A', seq: 1001, ack: 5001 + 49 }, o)).toBe('+trk+est+dnat');
    expect(h.seqAck()).toEqual([1001, 5001 + 47]);
  });

  it('IPv6 SNAT: EPRT rewritten, 229 creates an expectation translated back', () => {
    const h = new AlgHarness();
    const snat = compileNat({ kind: 'src', addrMin: 'fc00::240' });
    const o = { commit: true, alg: ALG_FTP, nat: snat };
    const r = { commit: false, nat: bare };
    handshake(h, 'fc00::1', 'fc00::2', 'fc00::2', o, r, 'fc00::240');
    expect(h.send('fc00::1', 'fc00::2', { proto: 6, sport: 34567, dport: 21, flags: 'PA', seq: 1001, ack: 5001, data: 'EPRT |2|fc00::1|40000|\r\n' }, o)).toBe('+trk+est+snat');
    expect(h.payload()).toBe('EPRT |2|fc00::240|40000|\r\n');
    expect(h.valid()).toBe(true);
    expect(h.send('fc00::2', 'fc00::240', { proto: 6, sport: 21, dport: 34567, flags: 'PA', seq: 5001, ack: 1001 + 27, data: '229 Entering Extended Passive Mode (|||6446|)\r\n' }, r)).toBe('+trk+est+rpl+dnat');
    expect(h.seqAck()).toEqual([5001, 1001 + 25]);
    expect(h.exp()).toEqual([
      'tcp,orig=(src=fc00::1,dst=fc00::2,sport=0,dport=6446),parent=(src=fc00::1,dst=fc00::2,sport=34567,dport=21)',
      'tcp,orig=(src=fc00::2,dst=fc00::240,sport=0,dport=40000),parent=(src=fc00::1,dst=fc00::2,sport=34567,dport=21)',
    ]);
    expect(h.send('fc00::1', 'fc00::2', { proto: 6, sport: 41000, dport: 6446, flags: 'S', seq: 1 }, { commit: true, nat: bare })).toBe('+trk+new+rel+snat');
    expect(h.valid()).toBe(true);
  });
});

describe('TFTP helper', () => {
  it('RRQ creates an expectation for the reply from a new port; with SNAT the reply is DNATed back', () => {
    for (const nat of [null, compileNat({ kind: 'src', addrMin: '10.1.1.240', portMin: 5000 })]) {
      const h = new AlgHarness();
      const cAs = nat ? '10.1.1.240' : C;
      const cPort = nat ? 5000 : 3333;
      expect(h.send(C, S, { proto: 17, sport: 3333, dport: 69, data: '\x00\x01file.txt\x00octet\x00' }, { commit: true, alg: ALG_TFTP, nat })).toMatch(/^\+trk\+new/);
      expect(h.exp()).toEqual([`udp,orig=(src=10.1.1.2,dst=${cAs},sport=0,dport=${cPort}),parent=(src=10.1.1.1,dst=10.1.1.2,sport=3333,dport=69)`]);
      expect(h.send(S, cAs, { proto: 17, sport: 7000, dport: cPort, data: '\x00\x03\x00\x01data' }, { commit: true, nat: nat ? bare : null })).toBe(nat ? '+trk+new+rel+dnat' : '+trk+new+rel');
      expect(h.batch.keys[FK_NW_DST] >>> 0).toBe(0x0a010101);
      expect(h.batch.keys[FK_TP_DST]).toBe(3333);
      expect(h.valid()).toBe(true);
      expect(h.send(C, S, { proto: 17, sport: 3333, dport: 7000, data: '\x00\x04\x00\x01' }, { commit: false, nat: nat ? bare : null })).toBe(nat ? '+trk+est+rel+rpl+snat' : '+trk+est+rel+rpl');
    }
  });

  it('a request without a terminated file name is +inv', () => {
    const h = new AlgHarness();
    expect(h.send(C, S, { proto: 17, sport: 3333, dport: 69, data: '\x00\x01file' }, { commit: true, alg: ALG_TFTP })).toBe('+trk+inv');
    expect(h.ct.counters().algMalformed).toBe(1);
  });
});

describe('hostile control messages through conntrack with NAT', () => {
  it('any payload of any length after a command word: never throws, never writes outside the packet, valid or +inv', async () => {
    const fc = (await import('fast-check')).default;
    const h = new AlgHarness();
    const snat = compileNat({ kind: 'src', addrMin: '10.1.1.240' });
    const dnat = compileNat({ kind: 'dst', addrMin: '10.1.1.2' });
    const o = { commit: true, alg: ALG_FTP, nat: snat };
    const r = { commit: false, nat: bare };
    h.ct.setTcpSeqCheck(false);
    handshake(h, C, S, S, o, r, '10.1.1.240');
    const od = { commit: true, alg: ALG_FTP, nat: dnat };
    handshake(h, '10.1.1.3', '10.1.1.100', S, od, r, '10.1.1.3');
    const words = ['PORT ', 'PORT 10,1,1,1,', 'EPRT |1|10.1.1.1|', '227 (10,1,1,2,', '229 (|||', 'EPRT ', '227 '];
    fc.assert(fc.property(fc.constantFrom(...words), fc.uint8Array({ maxLength: 64 }), fc.boolean(), fc.boolean(), (w, tail, reply, useDnat) => {
      const data = new Uint8Array(w.length + tail.length);
      data.set(new TextEncoder().encode(w));
      data.set(tail, w.length);
      const b = h.batch;
      b.data[0].fill(0xee);
      const st = useDnat
        ? (reply ? h.send(S, '10.1.1.3', { proto: 6, sport: 21, dport: 34567, flags: 'PA', seq: 5001, ack: 1001, data }, r)
          : h.send('10.1.1.3', '10.1.1.100', { proto: 6, sport: 34567, dport: 21, flags: 'PA', seq: 1001, ack: 5001, data }, od))
        : (reply ? h.send(S, '10.1.1.240', { proto: 6, sport: 21, dport: 34567, flags: 'PA', seq: 5001, ack: 1001, data }, r)
          : h.send(C, S, { proto: 6, sport: 34567, dport: 21, flags: 'PA', seq: 1001, ack: 5001, data }, o));
      const d = b.data[0];
      for (let i = 0; i < b.start[0]; i++) if (d[i] !== 0xee) throw new Error(`byte ${i} before the packet written`);
      // Up to the growth a rewrite may need (an address text gets at most 8 bytes longer).
      for (let i = b.start[0] + Math.max(b.len[0], 14 + 40 + data.length + 8); i < d.length; i++) {
        if (d[i] !== 0xee) throw new Error(`byte ${i} after the packet written`);
      }
      if (!st.includes('+inv')) expect(h.valid()).toBe(true);
    }), { numRuns: 2000 });
  });
});

describe('data connections', () => {
  it('the payload of a related connection committed with alg=ftp is data, never a control message', () => {
    const h = new AlgHarness();
    handshake(h, C, S, S, { commit: true, alg: ALG_FTP }, { commit: false });
    h.send(S, C, { proto: 6, sport: 21, dport: 34567, flags: 'PA', seq: 5001, ack: 1001, data: '227 Entering Passive Mode (10,1,1,2,117,48).\r\n' }, { commit: false });
    // The passive data connection, committed with the helper as seed 002's port-1 rule does.
    expect(h.send(C, S, { proto: 6, sport: 41000, dport: 30000, flags: 'S', seq: 1 }, { commit: true, alg: ALG_FTP })).toBe('+trk+new+rel');
    expect(h.dump(false).some((l) => l.includes('dport=30000),') && l.endsWith(',helper=ftp'))).toBe(true);
    h.send(S, C, { proto: 6, sport: 30000, dport: 41000, flags: 'SA', seq: 100, ack: 2 }, { commit: false });
    // File contents that happen to look like a broken 227 or a PORT pass untouched.
    expect(h.send(S, C, { proto: 6, sport: 30000, dport: 41000, flags: 'PA', seq: 101, ack: 2, data: '227 (1,2\r\n' }, { commit: false })).toBe('+trk+est+rel+rpl');
    expect(h.send(C, S, { proto: 6, sport: 41000, dport: 30000, flags: 'PA', seq: 2, ack: 111, data: 'PORT 10,1,1,1,1,1\r\n' }, { commit: true, alg: ALG_FTP })).toBe('+trk+est+rel');
    expect(h.exp()).toEqual([]);
    expect(h.ct.counters().algMalformed).toBe(0);
  });
});

describe('expectations are shared by every thread attached to the table', () => {
  it('announced through one handle, matched through another attached from the cloned descriptor', () => {
    const a = new AlgHarness();
    const b = new AlgHarness();
    b.ct = Conntrack.attach(structuredClone(a.ct.shared()));
    b.now = a.now;
    handshake(a, C, S, S, { commit: true, alg: ALG_FTP }, { commit: false });
    expect(a.send(C, S, { proto: 6, sport: 34567, dport: 21, flags: 'PA', seq: 1001, ack: 5001, data: 'PORT 10,1,1,1,156,64\r\n' }, {})).toBe('+trk+est');
    expect(b.exp().length).toBe(1);
    expect(b.send(S, C, { proto: 6, sport: 20, dport: 40000, flags: 'S', seq: 9000 }, { commit: true })).toBe('+trk+new+rel');
    expect(a.exp()).toEqual([]);
    expect(a.dump().some((l) => l.includes('dport=40000),') && l.endsWith(',parent=(src=10.1.1.1,dst=10.1.1.2,sport=34567,dport=21)'))).toBe(true);
  });

  it('the table is bounded: when full, further announcements create nothing and the connection goes on', () => {
    const h = new AlgHarness();
    h.ct.setTcpSeqCheck(false);
    handshake(h, C, S, S, { commit: true, alg: ALG_FTP }, { commit: false });
    const cap = h.ct.table.exp.cap;
    for (let p = 1; p <= cap + 10; p++) {
      const st = h.send(C, S, { proto: 6, sport: 34567, dport: 21, flags: 'PA', seq: 1001, ack: 5001, data: `PORT 10,1,1,1,${p >> 8},${p & 255}\r\n` }, {});
      expect(st).toBe('+trk+est');
    }
    expect(h.ct.dumpExpectations().length).toBe(cap);
    expect(h.ct.counters().expCreated).toBe(cap);
  });
});

describe('the helper stays with the connection', () => {
  it('FTP on port 2121: committed once with alg=ftp, later ct() without alg= still follows PORT', () => {
    const h = new AlgHarness();
    handshake(h, C, S, S, { commit: true, alg: ALG_FTP }, { commit: false }, C, 2121);
    expect(h.send(C, S, { proto: 6, sport: 34567, dport: 2121, flags: 'PA', seq: 1001, ack: 5001, data: 'PORT 10,1,1,1,156,64\r\n' }, { commit: false })).toBe('+trk+est');
    expect(h.exp()).toEqual(['tcp,orig=(src=10.1.1.2,dst=10.1.1.1,sport=0,dport=40000),parent=(src=10.1.1.1,dst=10.1.1.2,sport=34567,dport=2121)']);
    // A connection on port 21 committed without the helper has none.
    handshake(h, C, S, S, { commit: true }, { commit: false }, C, 21);
    h.send(C, S, { proto: 6, sport: 34567, dport: 21, flags: 'PA', seq: 1001, ack: 5001, data: 'PORT 10,1,1,1,156,65\r\n' }, { commit: true, alg: ALG_FTP });
    expect(h.exp().length).toBe(1);
    expect(h.dump(false).filter((l) => l.endsWith('helper=ftp')).length).toBe(1);
  });
});
