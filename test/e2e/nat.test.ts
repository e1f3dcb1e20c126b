// NAT through swd and swctl: seed 000's SNAT table for UDP, TCP and ICMP
// echo in both directions, DNAT spreading over a range, port exhaustion, and
// IPv6 SNAT. What leaves the ports is read back from tx_pcap and checked:
// translated addresses inside the range, consistent per connection, valid
// checksums, replies un-NATed to the original client.

import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyL4Checksum, ipv4HeaderChecksum, setIpv4HeaderChecksum, setL4Checksum } from '../../src/packet/checksum.ts';
import { rd16 } from '../../src/packet/bytes.ts';
import { readPcap } from '../../src/packet/pcap.ts';
import { TIMEOUT_ATTRS } from '../../src/conntrack/timeouts.ts';
import { path, SwdInstance } from './harness.ts';
import { sent } from './sent.ts';

const E12 = 'eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02)';
const E21 = 'eth(src=50:54:00:00:00:02,dst=50:54:00:00:00:01)';
const v4 = (src: string, dst: string, l4: string, proto: number) =>
  `eth_type(0x0800),ipv4(src=${src},dst=${dst},proto=${proto},tos=0,ttl=64,frag=no),${l4}`;


/** An IPv4 packet (no options) around `l4`, checksums filled in. */
function ipv4Packet(src: string, dst: string, proto: number, l4: Uint8Array): Uint8Array {
  const d = new Uint8Array(20 + l4.length);
  d.set([0x45, 0, (d.length >> 8) & 0xff, d.length & 0xff, 0, 0, 0, 0, 64, proto]);
  d.set(src.split('.').map(Number), 12);
  d.set(dst.split('.').map(Number), 16);
  d.set(l4, 20);
  setIpv4HeaderChecksum(d, 0);
  if (proto !== 1) setL4Checksum(d, 0, 20, d.length, proto);
  return d;
}

/** An Ethernet frame (hex for swctl inject) carrying an ICMP error that quotes `quoted`. */
function icmpErrorHex(src: string, dst: string, type: number, code: number, quoted: Uint8Array): string {
  const icmp = new Uint8Array(8 + quoted.length);
  icmp.set([type, code]);
  icmp.set(quoted, 8);
  const ip = ipv4Packet(src, dst, 1, icmp);
  setL4Checksum(ip, 0, 20, ip.length, 1);
  return '505400000001505400000002' + '0800' + Buffer.from(ip).toString('hex');
}

const udpHeader = (sport: number, dport: number) => Uint8Array.of(sport >> 8, sport & 0xff, dport >> 8, dport & 0xff, 0, 8, 0, 0);

const inRange = (a: string, lo: number, hi: number, prefix: string) => {
  if (!a.startsWith(prefix)) return false;
  const last = Number(a.slice(prefix.length));
  return last >= lo && last <= hi;
};

// Generous bounds for a loaded machine; nothing here measures time.
describe('NAT end to end', { timeout: 600_000 }, () => {
  const swd = new SwdInstance();
  const p1 = () => path(swd, 'p1.pcap');
  const p2 = () => path(swd, 'p2.pcap');
  beforeAll(async () => {
    // A loaded machine can take minutes over these steps: megaflows and
    // connections must not expire under them (nothing here is about expiry).
    await swd.start(['--no-default-bridge', '--max-idle', '600000']);
    for (const zone of [0, 1, 2, 3]) {
      swd.ok(['ct-set-timeout-policy', `zone=${zone}`, ...TIMEOUT_ATTRS.map((a) => `${a}=3600`)]);
    }
    swd.ok(['add-br', 'br0']);
    swd.ok(['add-port', 'br0', 'p1', 'ofport=1', `options:tx_pcap=${p1()}`]);
    swd.ok(['add-port', 'br0', 'p2', 'ofport=2', `options:tx_pcap=${p2()}`]);
  }, 600_000);
  afterAll(() => swd.dispose());

  it("seed 000's SNAT table: UDP, TCP and ICMP echo out translated, replies back un-NATed", () => {
    writeFileSync(
      path(swd, 'snat.txt'),
      [
        'in_port=1,ip,action=ct(commit,zone=1,nat(src=10.1.1.240-10.1.1.255)),2',
        'in_port=2,ct_state=-trk,ip,action=ct(table=0,zone=1,nat)',
        'in_port=2,ct_state=+est,ct_zone=1,ip,action=1',
      ].join('\n'),
    );
    swd.ok(['add-flows', 'br0', path(swd, 'snat.txt')]);
    swd.ok(['inject', 'br0', 'p1', `in_port(1),${E12},${v4('10.1.1.1', '10.1.1.2', 'udp(src=1000,dst=53)', 17)}`]);
    swd.ok(['inject', 'br0', 'p1', `in_port(1),${E12},${v4('10.1.1.1', '10.1.1.2', 'tcp(src=34567,dst=80),tcp_flags(syn)', 6)}`]);
    swd.ok(['inject', 'br0', 'p1', `in_port(1),${E12},${v4('10.1.1.1', '10.1.1.2', 'icmp(type=8,code=0)', 1)}`]);
    const out = sent(p2());
    expect(out).toHaveLength(3);
    // The translated address comes from a hash of each connection's tuple: in range, fixed per connection.
    const [nUdp, nTcp, nIcmp] = out.map((s) => s.src);
    for (const s of out) {
      expect(inRange(s.src, 240, 255, '10.1.1.')).toBe(true);
      expect(s.dst).toBe('10.1.1.2');
      expect(s.checksumsOk).toBe(true);
    }
    // Without a port range SNAT keeps the original ports when they are free.
    expect(out.map((s) => [s.sport, s.dport])).toEqual([[1000, 53], [34567, 80], [8, 0]]);
    expect(swd.ok(['dump-conntrack']).sort()).toEqual(
      [
        `icmp,orig=(src=10.1.1.1,dst=10.1.1.2,id=0,type=8,code=0),reply=(src=10.1.1.2,dst=${nIcmp},id=0,type=0,code=0),zone=1`,
        `tcp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=34567,dport=80),reply=(src=10.1.1.2,dst=${nTcp},sport=80,dport=34567),zone=1,protoinfo=(state=SYN_SENT)`,
        `udp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=1000,dport=53),reply=(src=10.1.1.2,dst=${nUdp},sport=53,dport=1000),zone=1`,
      ].sort(),
    );
    // Replies to the translated address come back to the real client.
    swd.ok(['inject', 'br0', 'p2', `in_port(2),${E21},${v4('10.1.1.2', nUdp, 'udp(src=53,dst=1000)', 17)}`]);
    swd.ok(['inject', 'br0', 'p2', `in_port(2),${E21},${v4('10.1.1.2', nTcp, 'tcp(src=80,dst=34567),tcp_flags(syn|ack)', 6)}`]);
    swd.ok(['inject', 'br0', 'p2', `in_port(2),${E21},${v4('10.1.1.2', nIcmp, 'icmp(type=0,code=0)', 1)}`]);
    const back = sent(p1());
    expect(back.map((s) => [s.src, s.dst, s.sport, s.dport, s.checksumsOk])).toEqual([
      ['10.1.1.2', '10.1.1.1', 53, 1000, true],
      ['10.1.1.2', '10.1.1.1', 80, 34567, true],
      ['10.1.1.2', '10.1.1.1', 0, 0, true],
    ]);
    const dp = swd.ok(['dump-dp-flows']).map((l) => l.replace(/used:[0-9.]+s/, 'used:X'));
    expect(dp).toContain(
      'recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(frag=no), packets:2, bytes:160, used:X, flags:S, actions:ct(commit,zone=1,nat(src=10.1.1.240-10.1.1.255)),2',
    );
  });

  it('an ICMP port unreachable from behind SNAT reaches the client with its outer and quoted headers un-NATed, checksums valid', () => {
    swd.ok(['del-flows', 'br0']);
    swd.ok(['flush-conntrack']);
    writeFileSync(
      path(swd, 'snat-rel.txt'),
      [
        'in_port=1,ip,action=ct(commit,zone=1,nat(src=10.1.1.240-10.1.1.255)),2',
        'in_port=2,ct_state=-trk,ip,action=ct(table=0,zone=1,nat)',
        'in_port=2,ct_state=+rel+trk,ct_zone=1,ip,action=1',
      ].join('\n'),
    );
    swd.ok(['add-flows', 'br0', path(swd, 'snat-rel.txt')]);
    const before = sent(p2()).length;
    swd.ok(['inject', 'br0', 'p1', `in_port(1),${E12},${v4('10.1.1.1', '10.1.1.2', 'udp(src=1000,dst=53)', 17)}`]);
    const [out] = sent(p2()).slice(before);
    expect(inRange(out.src, 240, 255, '10.1.1.')).toBe(true);
    // The server answers the translated packet: ICMP 3/3 quoting nat-ip:1000 -> 10.1.1.2:53.
    const quoted = ipv4Packet(out.src, '10.1.1.2', 17, udpHeader(1000, 53));
    const backBefore = readPcap(p1()).length;
    swd.ok(['inject', 'br0', 'p2', icmpErrorHex('10.1.1.2', out.src, 3, 3, quoted)]);
    const frames = readPcap(p1()).slice(backBefore).map((p) => p.data);
    expect(frames).toHaveLength(1);
    const d = frames[0];
    const l3 = 14, icmp = 34, inner = 42, innerL4 = 62;
    const addr = (o: number) => Array.from(d.subarray(o, o + 4)).join('.');
    // Outer header: from the server to the real client; IPv4 and ICMP checksums (the latter covers the quote).
    expect([addr(l3 + 12), addr(l3 + 16), d[icmp], d[icmp + 1]]).toEqual(['10.1.1.2', '10.1.1.1', 3, 3]);
    expect(ipv4HeaderChecksum(d, l3)).toBe(rd16(d, l3 + 10));
    expect(verifyL4Checksum(d, l3, icmp, d.length, 1)).toBe(true);
    // Quoted header: the client's own packet as it sent it, checksums valid.
    expect([addr(inner + 12), addr(inner + 16), rd16(d, innerL4), rd16(d, innerL4 + 2)]).toEqual(['10.1.1.1', '10.1.1.2', 1000, 53]);
    expect(ipv4HeaderChecksum(d, inner)).toBe(rd16(d, inner + 10));
    expect(verifyL4Checksum(d, inner, innerL4, d.length, 17)).toBe(true);
    expect(d.length).toBe(14 + 20 + 8 + 20 + 8);
  });

  it('DNAT over a range spreads connections over every address and un-NATs the replies', () => {
    swd.ok(['del-flows', 'br0']);
    swd.ok(['flush-conntrack']);
    writeFileSync(
      path(swd, 'dnat.txt'),
      [
        'in_port=1,ip,action=ct(commit,zone=2,nat(dst=10.0.0.10-10.0.0.12:8080)),2',
        'in_port=2,ct_state=-trk,ip,action=ct(table=0,zone=2,nat)',
        'in_port=2,ct_state=+est,ct_zone=2,ip,action=1',
      ].join('\n'),
    );
    swd.ok(['add-flows', 'br0', path(swd, 'dnat.txt')]);
    const before = sent(p2()).length;
    for (let c = 0; c < 30; c++) {
      swd.ok(['inject', 'br0', 'p1', `in_port(1),${E12},${v4(`10.9.0.${c + 1}`, '10.0.0.100', `udp(src=${4000 + c},dst=80)`, 17)}`]);
    }
    const out = sent(p2()).slice(before);
    expect(out).toHaveLength(30);
    expect(new Set(out.map((s) => s.dst))).toEqual(new Set(['10.0.0.10', '10.0.0.11', '10.0.0.12']));
    expect(out.every((s) => s.dport === 8080 && s.checksumsOk)).toBe(true);
    // The reply from the chosen backend comes back from the address the client used.
    // (Answer the newest connection: on a loaded machine the 30 injections can
    // outlast the oldest one's 30 s UDP timeout.)
    const first = out[out.length - 1];
    const backBefore = sent(p1()).length;
    swd.ok(['inject', 'br0', 'p2', `in_port(2),${E21},${v4(first.dst, first.src, `udp(src=8080,dst=${first.sport})`, 17)}`]);
    const reply = sent(p1()).slice(backBefore);
    expect(reply.map((s) => [s.src, s.dst, s.sport, s.dport, s.checksumsOk])).toEqual([['10.0.0.100', first.src, 80, first.sport, true]]);
  });

  it('drops a connection when the port range is exhausted, and leaves nothing half-made', () => {
    swd.ok(['del-flows', 'br0']);
    swd.ok(['flush-conntrack']);
    swd.ok(['add-flow', 'br0', 'in_port=1,ip,action=ct(commit,zone=3,nat(src=10.1.1.240:5000-5001)),2']);
    const before = sent(p2()).length;
    for (let c = 0; c < 3; c++) {
      swd.ok(['inject', 'br0', 'p1', `in_port(1),${E12},${v4(`10.1.1.${c + 1}`, '10.1.1.2', 'udp(src=1000,dst=53)', 17)}`]);
    }
    const out = sent(p2()).slice(before);
    expect(out.map((s) => s.src)).toEqual(['10.1.1.240', '10.1.1.240']);
    expect(out.map((s) => s.sport).sort()).toEqual([5000, 5001]);
    expect(swd.ok(['dump-conntrack', 'zone=3'])).toHaveLength(2);
    expect(swd.ok(['ct-get-nconns'])).toEqual(['2']);
  });

  it('translates IPv6 sources', () => {
    swd.ok(['del-flows', 'br0']);
    swd.ok(['flush-conntrack']);
    swd.ok(['add-flow', 'br0', 'in_port=1,ipv6,action=ct(commit,nat(src=fd00::240-fd00::241)),2']);
    const before = sent(p2()).length;
    swd.ok(['inject', 'br0', 'p1', `in_port(1),${E12},eth_type(0x86dd),ipv6(src=fd00::1,dst=fd00::2,label=0,proto=17,tclass=0,hlimit=64,frag=no),udp(src=1000,dst=53)`]);
    const out = sent(p2()).slice(before);
    expect(out).toHaveLength(1);
    expect(['fd00::240', 'fd00::241']).toContain(out[0].src);
    expect(out[0].checksumsOk).toBe(true);
    expect(swd.ok(['dump-conntrack'])).toEqual([
      `udp,orig=(src=fd00::1,dst=fd00::2,sport=1000,dport=53),reply=(src=fd00::2,dst=${out[0].src},sport=53,dport=1000)`,
    ]);
  });
});
