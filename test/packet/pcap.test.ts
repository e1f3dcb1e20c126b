// Classic pcap files: what PcapWriter writes, readPcap and tcpdump read back.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PcapBackend } from '../../src/datapath/ports/pcap.ts';
import { DpPort, PortError } from '../../src/datapath/port.ts';
import { DummyBackend } from '../../src/datapath/ports/dummy.ts';
import { composePacket } from '../../src/packet/compose.ts';
import { parseOdpFlow } from '../../src/packet/odp-parse.ts';
import { PcapError, PcapWriter, readPcap } from '../../src/packet/pcap.ts';

const ETH = 'eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02)';
const UDP = composePacket(parseOdpFlow(`${ETH},eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1000,dst=53)`).key);
const SYN = composePacket(parseOdpFlow(`${ETH},eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=6,tos=0,ttl=64,frag=no),tcp(src=34567,dst=80),tcp_flags(syn)`).key);
const ARP = composePacket(parseOdpFlow(`eth(src=50:54:00:00:00:01,dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806),arp(sip=10.1.1.1,tip=10.1.1.2,op=1,sha=50:54:00:00:00:01,tha=00:00:00:00:00:00)`).key);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

const haveTcpdump = spawnSync('tcpdump', ['--version']).status === 0;
if (!haveTcpdump && process.env.CI === 'true') throw new Error('tcpdump is required in CI (apt-get install tcpdump)');

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'swd-pcap-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeThree(path: string): void {
  const w = new PcapWriter(path);
  // A packet inside a larger buffer, at an offset.
  const buf = new Uint8Array(UDP.length + 10);
  buf.set(UDP, 7);
  w.write(buf, 7, UDP.length, 1_700_000_000_001);
  w.write(SYN, 0, SYN.length, 1_700_000_001_500);
  w.write(ARP, 0, ARP.length, 1_700_000_002_999);
  expect(w.size()).toBe(24 + 3 * 16 + UDP.length + SYN.length + ARP.length);
  w.close();
  w.close(); // idempotent
  w.write(UDP, 0, UDP.length); // after close: ignored
}

describe('pcap', () => {
  it('reads back what it wrote: bytes, lengths, timestamps', () => {
    const path = join(dir, 'three.pcap');
    writeThree(path);
    expect(readPcap(path).map((p) => [p.tsSec, p.tsUsec, p.origLen, hex(p.data)])).toEqual([
      [1_700_000_000, 1_000, UDP.length, hex(UDP)],
      [1_700_000_001, 500_000, SYN.length, hex(SYN)],
      [1_700_000_002, 999_000, ARP.length, hex(ARP)],
    ]);
    expect(readPcap(readFileSync(path)).length).toBe(3);
  });

  it('truncates an existing file when opened, as OVS does for tx_pcap', () => {
    const path = join(dir, 'again.pcap');
    writeThree(path);
    const w = new PcapWriter(path);
    w.write(SYN, 0, SYN.length, 0);
    w.close();
    expect(readPcap(path).map((p) => hex(p.data))).toEqual([hex(SYN)]);
  });

  it('reads big-endian and nanosecond files', () => {
    const h = Buffer.alloc(24);
    h.writeUInt32BE(0xa1b23c4d, 0);
    h.writeUInt16BE(2, 4);
    h.writeUInt16BE(4, 6);
    h.writeUInt32BE(65535, 16);
    h.writeUInt32BE(1, 20);
    const r = Buffer.alloc(16);
    r.writeUInt32BE(5, 0);
    r.writeUInt32BE(123_456_789, 4);
    r.writeUInt32BE(ARP.length, 8);
    r.writeUInt32BE(60, 12);
    expect(readPcap(Buffer.concat([h, r, ARP])).map((p) => [p.tsSec, p.tsUsec, p.origLen, hex(p.data)])).toEqual([[5, 123_456, 60, hex(ARP)]]);
  });

  it('rejects what is not an Ethernet pcap file, with coded errors', () => {
    const errOf = (b: Uint8Array) => {
      try {
        readPcap(b);
        return 'accepted';
      } catch (e) {
        expect(e).toBeInstanceOf(PcapError);
        return `${(e as PcapError).code}: ${(e as Error).message}`;
      }
    };
    const path = join(dir, 'ok.pcap');
    writeThree(path);
    const good = readFileSync(path);
    expect(errOf(good.subarray(0, 10))).toBe('EPCAP: pcap file is shorter than its 24-byte header');
    expect(errOf(Buffer.alloc(24))).toBe('EPCAP: not a pcap file (bad magic number)');
    const raw = Buffer.from(good);
    raw.writeUInt32LE(101, 20);
    expect(errOf(raw)).toBe('EPCAP: unsupported pcap link type 101 (only Ethernet)');
    expect(errOf(good.subarray(0, good.length - 1))).toBe(`EPCAP: truncated pcap record at byte ${24 + 16 + UDP.length + 16 + SYN.length}`);
  });

  it.skipIf(!haveTcpdump)('is readable by tcpdump', () => {
    const path = join(dir, 'tcpdump.pcap');
    writeThree(path);
    const out = execFileSync('tcpdump', ['-q', '-n', '-tt', '-r', path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(out.trim().split('\n')).toEqual([
      '1700000000.001000 IP 10.1.1.1.1000 > 10.1.1.2.53: UDP, length 64',
      '1700000001.500000 IP 10.1.1.1.34567 > 10.1.1.2.80: tcp 0',
      '1700000002.999000 ARP, Request who-has 10.1.1.2 tell 10.1.1.1, length 28',
    ]);
  });
});

describe('pcap and dummy ports', () => {
  it('a pcap port replays its rx_pcap file each time', () => {
    const path = join(dir, 'rx.pcap');
    writeThree(path);
    const b = new PcapBackend(path);
    expect(b.packets().map((p) => hex(p.data))).toEqual([hex(UDP), hex(SYN), hex(ARP)]);
    expect(b.packets().length).toBe(3);
    expect([b.type, b.transmit(), new PcapBackend(null).packets().length]).toEqual(['pcap', true, 0]);
  });

  it('reports missing or unreadable rx_pcap and an unopenable tx_pcap as PortErrors', () => {
    const codeOf = (f: () => unknown) => {
      try {
        f();
        return 'ok';
      } catch (e) {
        expect(e).toBeInstanceOf(PortError);
        return (e as PortError).code;
      }
    };
    expect(codeOf(() => new PcapBackend(join(dir, 'nope.pcap')))).toBe('ERXPCAP');
    const junk = join(dir, 'junk.pcap');
    writeFileSync(junk, 'not a pcap file at all, really not');
    expect(codeOf(() => new PcapBackend(junk).packets())).toBe('ERXPCAP');
    expect(codeOf(() => new DpPort(1, 'p1', new DummyBackend(), { tx_pcap: join(dir, 'no-such-dir', 'x.pcap') }))).toBe('ETXPCAP');
  });

  it('counts transmitted packets and bytes, and drops when the backend refuses', () => {
    let accept = true;
    const port = new DpPort(3, 'p3', { type: 'dummy', transmit: () => accept, close: () => {} }, {});
    port.transmit(UDP, 0, UDP.length, 0);
    accept = false;
    port.transmit(SYN, 0, SYN.length, 0);
    expect(port.stats).toEqual({ rxPackets: 0, rxBytes: 0, rxDropped: 0, rxErrors: 0, txPackets: 1, txBytes: UDP.length, txDropped: 1, txErrors: 0 });
    expect(new DummyBackend().type).toBe('dummy');
  });
});
