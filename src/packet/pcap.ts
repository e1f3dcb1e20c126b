// Classic pcap files (microsecond timestamps, LINKTYPE_ETHERNET), the format
// tcpdump reads and writes. Reading is whole-file (slow path); writing
// appends one record per packet with a synchronous write, so a file is
// complete the moment `swctl` returns.

import { closeSync, fstatSync, openSync, readFileSync, writeSync } from 'node:fs';

const MAGIC_US = 0xa1b2c3d4;
const MAGIC_NS = 0xa1b23c4d;
const LINKTYPE_ETHERNET = 1;
const SNAPLEN = 262144;

export class PcapError extends Error {
  readonly code = 'EPCAP';
}

export interface PcapPacket {
  tsSec: number;
  tsUsec: number;
  data: Uint8Array;
  origLen: number;
}

export function readPcap(pathOrBuf: string | Uint8Array): PcapPacket[] {
  const b = typeof pathOrBuf === 'string' ? readFileSync(pathOrBuf) : Buffer.from(pathOrBuf);
  if (b.length < 24) throw new PcapError('pcap file is shorter than its 24-byte header');
  let le: boolean;
  const m = b.readUInt32LE(0);
  if (m === MAGIC_US || m === MAGIC_NS) le = true;
  else if (b.readUInt32BE(0) === MAGIC_US || b.readUInt32BE(0) === MAGIC_NS) le = false;
  else throw new PcapError('not a pcap file (bad magic number)');
  const nano = (le ? b.readUInt32LE(0) : b.readUInt32BE(0)) === MAGIC_NS;
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const linktype = u32(20);
  if (linktype !== LINKTYPE_ETHERNET) throw new PcapError(`unsupported pcap link type ${linktype} (only Ethernet)`);
  const out: PcapPacket[] = [];
  let o = 24;
  while (o + 16 <= b.length) {
    const incl = u32(o + 8);
    if (incl > SNAPLEN || o + 16 + incl > b.length) throw new PcapError(`truncated pcap record at byte ${o}`);
    out.push({
      tsSec: u32(o),
      tsUsec: nano ? Math.floor(u32(o + 4) / 1000) : u32(o + 4),
      data: Uint8Array.from(b.subarray(o + 16, o + 16 + incl)),
      origLen: u32(o + 12),
    });
    o += 16 + incl;
  }
  return out;
}

export class PcapWriter {
  private fd: number;
  private readonly rec = Buffer.alloc(16);

  /** Opens `path`, truncating it and writing a fresh header (as OVS does for tx_pcap). */
  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
    const h = Buffer.alloc(24);
    h.writeUInt32LE(MAGIC_US, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeUInt32LE(SNAPLEN, 16);
    h.writeUInt32LE(LINKTYPE_ETHERNET, 20);
    writeSync(this.fd, h);
  }

  write(d: Uint8Array, start: number, len: number, nowMs = Date.now()): void {
    if (this.fd < 0) return;
    const r = this.rec;
    r.writeUInt32LE(Math.floor(nowMs / 1000), 0);
    r.writeUInt32LE((nowMs % 1000) * 1000, 4);
    r.writeUInt32LE(len, 8);
    r.writeUInt32LE(len, 12);
    writeSync(this.fd, r);
    writeSync(this.fd, d, start, len);
  }

  size(): number {
    return this.fd >= 0 ? fstatSync(this.fd).size : 0;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
