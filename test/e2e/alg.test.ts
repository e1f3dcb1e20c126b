// The FTP helper through a running swd and swctl: seed 002's table on dummy
// ports, a control connection and a PORT command injected as frames;
// `swctl dump-conntrack` shows helper=ftp, `swctl dump-conntrack-exp`
// the outstanding expectation (and nothing for another zone), the server's
// data connection passes as related, `dump-conntrack -m` names its parent
// and `ct-stats-show -m` counts; a malformed PORT is +inv and dropped.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setIpv4HeaderChecksum, setL4Checksum } from '../../src/packet/checksum.ts';
import { SwdInstance } from './harness.ts';

const FL: Record<string, number> = { F: 1, S: 2, R: 4, P: 8, A: 16 };

/** Hex of an Ethernet frame with an IPv4 TCP segment, checksums filled in; from port 1 (or 2). */
function tcpHex(from: 1 | 2, src: string, dst: string, sport: number, dport: number, flags: string, seq: number, ack: number, data = ''): string {
  const pl = new TextEncoder().encode(data);
  const d = new Uint8Array(40 + pl.length);
  const dv = new DataView(d.buffer);
  d[0] = 0x45; dv.setUint16(2, d.length); d[8] = 64; d[9] = 6;
  d.set(src.split('.').map(Number), 12);
  d.set(dst.split('.').map(Number), 16);
  dv.setUint16(20, sport); dv.setUint16(22, dport); dv.setUint32(24, seq); dv.setUint32(28, ack);
  d[32] = 0x50;
  let f = 0;
  for (const c of flags) f |= FL[c];
  d[33] = f; dv.setUint16(34, 65535);
  d.set(pl, 40);
  setIpv4HeaderChecksum(d, 0);
  setL4Checksum(d, 0, 20, d.length, 6);
  const eth = from === 1 ? '505400000002505400000001' : '505400000001505400000002';
  return `${eth}0800${Buffer.from(d).toString('hex')}`;
}

const FLOWS = [
  'table=0,priority=1,action=drop',
  'table=0,priority=100,in_port=1,tcp,action=ct(alg=ftp,commit),2',
  'table=0,priority=100,in_port=2,tcp,ct_state=-trk,action=ct(table=1)',
  'table=1,in_port=2,tcp,ct_state=+trk-new+est,action=1',
  'table=1,in_port=2,tcp,ct_state=+trk+new+rel,action=ct(commit),1',
].join('\n');

const C = '10.1.1.1', S = '10.1.1.2';

describe('FTP helper through swctl', { timeout: 120_000 }, () => {
  const swd = new SwdInstance();
  beforeAll(async () => {
    await swd.start(['--no-default-bridge']);
    swd.ok(['add-br', 'br0']);
    swd.ok(['add-port', 'br0', 'p1', 'ofport=1']);
    swd.ok(['add-port', 'br0', 'p2', 'ofport=2']);
    swd.ok(['add-flows', 'br0', '-'], FLOWS);
  }, 60_000);
  afterAll(() => swd.dispose());

  const inject = (port: string, hex: string) => swd.ok(['inject', 'br0', port, hex]);
  const txPkts = (port: string) => Number(/tx pkts=(\d+)/.exec(swd.ok(['dump-ports', 'br0', port]).join('\n'))![1]);

  it('seed 002: helper=ftp, the expectation dump, the related data connection with its parent, the counters', async () => {
    expect(swd.ok(['dump-flows', 'br0', '--no-stats'])).toContain(' priority=100,tcp,in_port=1 actions=ct(commit,alg=ftp),output:2');
    inject('p1', tcpHex(1, C, S, 34567, 21, 'S', 1000, 0));
    inject('p2', tcpHex(2, S, C, 21, 34567, 'SA', 5000, 1001));
    inject('p1', tcpHex(1, C, S, 34567, 21, 'A', 1001, 5001));
    inject('p1', tcpHex(1, C, S, 34567, 21, 'PA', 1001, 5001, 'PORT 10,1,1,1,156,64\r\n'));
    expect(swd.ok(['dump-conntrack'])).toEqual([
      'tcp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=34567,dport=21),reply=(src=10.1.1.2,dst=10.1.1.1,sport=21,dport=34567),protoinfo=(state=ESTABLISHED),helper=ftp',
    ]);
    expect(swd.ok(['dump-conntrack-exp'])).toEqual([
      'tcp,orig=(src=10.1.1.2,dst=10.1.1.1,sport=0,dport=40000),parent=(src=10.1.1.1,dst=10.1.1.2,sport=34567,dport=21)',
    ]);
    expect(swd.ok(['dump-conntrack-exp', 'zone=42'])).toEqual([]);
    const before = txPkts('1');
    inject('p2', tcpHex(2, S, C, 20, 40000, 'S', 9000, 0));
    expect(txPkts('1')).toBe(before + 1);
    expect(swd.ok(['dump-conntrack-exp'])).toEqual([]);
    const m = swd.ok(['dump-conntrack', '-m']).find((l) => l.includes('dport=40000)'))!;
    expect(m.replace(/,id=\d+/, '')).toBe('tcp,orig=(src=10.1.1.2,dst=10.1.1.1,sport=20,dport=40000),reply=(src=10.1.1.1,dst=10.1.1.2,sport=40000,dport=20),status=0,protoinfo=(state_orig=SYN_SENT,state_reply=CLOSED,flags_orig=0,flags_reply=0),parent=(src=10.1.1.1,dst=10.1.1.2,sport=34567,dport=21)');
    // Nobody announced port 40001: dropped.
    inject('p2', tcpHex(2, S, C, 20, 40001, 'S', 9500, 0));
    expect(txPkts('1')).toBe(before + 1);
    // A PORT that does not parse: +inv, no rule passes it, counted.
    const out = txPkts('2');
    inject('p1', tcpHex(1, C, S, 34567, 21, 'PA', 1023, 5001, 'PORT 10,1,1,1,156\r\n'));
    expect(txPkts('2')).toBe(out + 1); // port 1's rule forwards whatever ct() said
    const st = swd.ok(['ct-stats-show', '-m']);
    expect(st).toContain('  ALG expectations: created 1, matched 1, expired 0');
    expect(st).toContain('  ALG malformed control messages: 1');
    // and logged (rate-limited, from the daemon's housekeeping, not the packet path).
    for (let i = 0; i < 100 && !swd.stderr.includes('malformed FTP/TFTP control message'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(swd.stderr).toContain('1 malformed FTP/TFTP control message(s) marked +inv');
    // Flushing removes everything, expectations with their parents.
    inject('p1', tcpHex(1, C, S, 34567, 21, 'PA', 1023, 5001, 'PORT 10,1,1,1,156,65\r\n'));
    expect(swd.ok(['dump-conntrack-exp']).length).toBe(1);
    swd.ok(['flush-conntrack']);
    expect(swd.ok(['dump-conntrack-exp'])).toEqual([]);
    expect(swd.ok(['--help']).join('\n')).toContain('dump-conntrack-exp');
  });
});
