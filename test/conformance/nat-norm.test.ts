// The NAT normaliser masks a translated address or port only after checking
// it: inside a range of the flow table that offers a choice, and the same
// for the connection everywhere it appears. Anything else stays literal (and
// so fails a comparison with another run) or is marked inconsistent.

import { describe, expect, it } from 'vitest';
import { parsePacketArg } from '../../src/packet/compose.ts';
import { NatNormaliser, natRanges } from './nat-norm.ts';

const E12 = 'eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02)';
const udp = (src: string, dst: string, sport: number, dport: number) =>
  `in_port(1),${E12},eth_type(0x0800),ipv4(src=${src},dst=${dst},proto=17,tos=0,ttl=64,frag=no),udp(src=${sport},dst=${dport})`;
const frame = (text: string) => parsePacketArg(text).bytes;
const SNAT = ['in_port=1,ip,action=ct(commit,zone=1,nat(src=10.1.1.240-10.1.1.255)),2'];
const conn = (natIp: string, sport = 1000) =>
  `udp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=1000,dport=53),reply=(src=10.1.1.2,dst=${natIp},sport=53,dport=${sport}),zone=1`;

describe('NAT normalisation', () => {
  it('reads the ranges of a flow table, IPv4 and IPv6, with and without ports', () => {
    expect(natRanges(['ct(commit,nat(src=10.0.0.1-10.0.0.255:5000-50000))', 'ct(nat(dst=[fd00::100]-[fd00::103]:8080-8081))', 'ct(nat)']))
      .toEqual([
        { kind: 'src', v6: false, lo: 0x0a000001n, hi: 0x0a0000ffn, pLo: 5000, pHi: 50000 },
        { kind: 'dst', v6: true, lo: 0xfd000000000000000000000000000100n, hi: 0xfd000000000000000000000000000103n, pLo: 8080, pHi: 8081 },
      ]);
  });

  it('masks a chosen address inside the range, the same symbol wherever the connection appears', () => {
    const n = new NatNormaliser(SNAT);
    n.injecting(udp('10.1.1.1', '10.1.1.2', 1000, 53));
    const tx = n.txLine('p2', frame(udp('10.1.1.249', '10.1.1.2', 1000, 53)));
    expect(tx).toMatch(/ipv4\(src=<nat-ip-1>,dst=10\.1\.1\.2,.*udp\(src=1000,dst=53\) len=106 nat-sha1=[0-9a-f]{8} csums=ok$/);
    expect(n.conntrack([conn('10.1.1.249')])).toEqual([conn('<nat-ip-1>')]);
    expect(n.substitute(['dst=<nat-ip-1>'])).toEqual(['dst=10.1.1.249']);
  });

  it('the digest still covers everything but the masked bytes and checksums', () => {
    const a = new NatNormaliser(SNAT), b = new NatNormaliser(SNAT);
    a.injecting(udp('10.1.1.1', '10.1.1.2', 1000, 53));
    b.injecting(udp('10.1.1.1', '10.1.1.2', 1000, 53));
    const fa = frame(udp('10.1.1.249', '10.1.1.2', 1000, 53));
    const fb = frame(udp('10.1.1.241', '10.1.1.2', 1000, 53));
    expect(a.txLine('p2', fa)).toBe(b.txLine('p2', fb));
    const c = new NatNormaliser(SNAT);
    c.injecting(udp('10.1.1.1', '10.1.1.2', 1000, 53));
    const fc = frame(udp('10.1.1.241', '10.1.1.2', 1000, 53));
    fc[fc.length - 1] ^= 1; // payload differs (checksum then fails too)
    expect(c.txLine('p2', fc)).not.toBe(a.txLine('p2', fa));
  });

  it('a broken checksum is reported', () => {
    const n = new NatNormaliser(SNAT);
    n.injecting(udp('10.1.1.1', '10.1.1.2', 1000, 53));
    const f = frame(udp('10.1.1.249', '10.1.1.2', 1000, 53));
    f[14 + 10] ^= 0xff; // IPv4 header checksum
    expect(n.txLine('p2', f)).toMatch(/csums=BAD\(ip\)$/);
  });

  it('a value outside every range stays literal', () => {
    const n = new NatNormaliser(SNAT);
    expect(n.conntrack([conn('10.1.2.249')])).toEqual([conn('10.1.2.249')]);
    n.injecting(udp('10.1.1.1', '10.1.1.2', 1000, 53));
    expect(n.txLine('p2', frame(udp('10.1.1.239', '10.1.1.2', 1000, 53)))).toMatch(/src=10\.1\.1\.239,.* sha1=[0-9a-f]{8}$/);
  });

  it('a different value for a known connection is marked inconsistent', () => {
    const n = new NatNormaliser(SNAT);
    n.injecting(udp('10.1.1.1', '10.1.1.2', 1000, 53));
    n.txLine('p2', frame(udp('10.1.1.249', '10.1.1.2', 1000, 53)));
    expect(n.conntrack([conn('10.1.1.250')])).toEqual([conn('<nat-ip-1:inconsistent=10.1.1.250>')]);
  });

  it('deterministic choices are not masked: a single address, the original port kept', () => {
    const n = new NatNormaliser(['ct(commit,nat(src=10.1.1.240))']);
    expect(n.conntrack([conn('10.1.1.240')])).toEqual([conn('10.1.1.240')]);
    const p = new NatNormaliser(['ct(commit,nat(src=10.1.1.240:1000-1001))']);
    expect(p.conntrack([conn('10.1.1.240', 1001)])).toEqual([conn('10.1.1.240', '<nat-port-1>' as unknown as number)]);
    expect(p.conntrack([conn('10.1.1.240', 1000)])).toEqual([conn('10.1.1.240', 1000)]);
  });

  it('two connections with the same translated reply tuple fail', () => {
    const n = new NatNormaliser(SNAT);
    const other = 'udp,orig=(src=10.1.1.3,dst=10.1.1.2,sport=1000,dport=53),reply=(src=10.1.1.2,dst=10.1.1.249,sport=53,dport=1000),zone=1';
    const out = n.conntrack([conn('10.1.1.249'), other]);
    expect(out.at(-1)).toBe('<nat: duplicate reply tuple udp,src=10.1.1.2,dst=10.1.1.249,sport=53,dport=1000,zone=1>');
  });
});
