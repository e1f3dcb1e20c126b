// Test packets for conntrack without src/packet/build.ts: raw IPv4/IPv6
// headers plus the flow-key words conntrack reads (what extract would set).

import { PacketBatch } from '../../src/packet/batch.ts';
import {
  FK_WORDS, FK_ETH_TYPE, FK_NW_SRC, FK_NW_DST, FK_IPV6_SRC, FK_IPV6_DST, FK_NW_PROTO, FK_TP_SRC, FK_TP_DST,
  FK_CT_STATE, ETH_TYPE_IP, ETH_TYPE_IPV6,
} from '../../src/packet/flow-key.ts';
import { ipv4FromText, ipv6FromText } from '../../src/packet/addr.ts';
import { Conntrack } from '../../src/conntrack/conntrack.ts';
import type { CtExec, LabelSet, MarkSet } from '../../src/conntrack/execute.ts';
import { formatConn } from '../../src/conntrack/format.ts';
import { setIpv4HeaderChecksum, setL4Checksum } from '../../src/packet/checksum.ts';
import type { NatRange } from '../../src/nat/range.ts';

export interface L4Spec {
  proto: number;
  sport?: number;
  dport?: number;
  /** TCP */
  flags?: string; // letters of SFRPA
  seq?: number;
  ack?: number;
  win?: number;
  wscale?: number;
  payload?: number;
  /** TCP/UDP: these payload bytes (instead of `payload` filler bytes). */
  data?: Uint8Array | string;
  /** ICMP */
  type?: number;
  code?: number;
  id?: number;
  /** ICMP error: the embedded packet (an L3 packet from ipPacket()). */
  inner?: Uint8Array;
}

const FL: Record<string, number> = { F: 1, S: 2, R: 4, P: 8, A: 16 };

function l4Bytes(s: L4Spec): Uint8Array {
  if (s.proto === 6) {
    const opts = s.wscale !== undefined ? [3, 3, s.wscale, 1] : [];
    const hl = 20 + opts.length;
    const data = typeof s.data === 'string' ? new TextEncoder().encode(s.data) : s.data;
    const b = new Uint8Array(hl + (data ? data.length : s.payload ?? 0)).fill(0x61);
    if (data) b.set(data, hl);
    const dv = new DataView(b.buffer);
    dv.setUint16(0, s.sport ?? 0); dv.setUint16(2, s.dport ?? 0);
    dv.setUint32(4, (s.seq ?? 0) >>> 0); dv.setUint32(8, (s.ack ?? 0) >>> 0);
    b[12] = (hl / 4) << 4;
    let f = 0;
    for (const c of s.flags ?? '') f |= FL[c] ?? 0;
    b[13] = f;
    dv.setUint16(14, s.win ?? 65535); dv.setUint16(16, 0); dv.setUint16(18, 0);
    opts.forEach((x, i) => (b[20 + i] = x));
    return b;
  }
  if (s.proto === 1 || s.proto === 58) {
    const inner = s.inner ?? new Uint8Array(0);
    const b = new Uint8Array(8 + inner.length);
    b[0] = s.type ?? 8; b[1] = s.code ?? 0;
    if (!s.inner) { b[4] = (s.id ?? 0) >> 8; b[5] = (s.id ?? 0) & 255; }
    b.set(inner, 8);
    return b;
  }
  const data = typeof s.data === 'string' ? new TextEncoder().encode(s.data) : s.data;
  const b = new Uint8Array(8 + (data ? data.length : s.payload ?? 0)).fill(0x62);
  if (data) b.set(data, 8);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, s.sport ?? 0); dv.setUint16(2, s.dport ?? 0); dv.setUint16(4, b.length); dv.setUint16(6, 0);
  return b;
}

/** An IPv4 or IPv6 packet (no Ethernet header). */
export function ipPacket(src: string, dst: string, s: L4Spec): Uint8Array {
  const l4 = l4Bytes(s);
  const v6 = src.includes(':');
  const hl = v6 ? 40 : 20;
  const b = new Uint8Array(hl + l4.length);
  const dv = new DataView(b.buffer);
  if (v6) {
    b[0] = 0x60; dv.setUint16(4, l4.length); b[6] = s.proto; b[7] = 64;
    ipv6FromText(src)!.forEach((w, i) => dv.setUint32(8 + i * 4, w >>> 0));
    ipv6FromText(dst)!.forEach((w, i) => dv.setUint32(24 + i * 4, w >>> 0));
  } else {
    b[0] = 0x45; dv.setUint16(2, b.length); b[8] = 64; b[9] = s.proto;
    dv.setUint32(12, ipv4FromText(src)! >>> 0); dv.setUint32(16, ipv4FromText(dst)! >>> 0);
  }
  b.set(l4, hl);
  // Right checksums, as conntrack checks them (src/conntrack/csum.ts).
  if (!v6) setIpv4HeaderChecksum(b, 0);
  setL4Checksum(b, 0, hl, b.length, s.proto);
  return b;
}

/** Load one packet into slot 0 of `batch` with its flow key. */
export function loadPacket(batch: PacketBatch, src: string, dst: string, s: L4Spec): void {
  batch.clear();
  const ip = ipPacket(src, dst, s);
  const frame = new Uint8Array(14 + ip.length);
  const v6 = src.includes(':');
  frame[12] = v6 ? 0x86 : 0x08; frame[13] = v6 ? 0xdd : 0x00;
  frame.set(ip, 14);
  const i = batch.push(frame);
  batch.l3[i] = batch.start[i] + 14;
  batch.l4[i] = batch.l3[i] + (v6 ? 40 : 20);
  const k = batch.keys;
  k.fill(0, 0, FK_WORDS);
  k[FK_ETH_TYPE] = v6 ? ETH_TYPE_IPV6 : ETH_TYPE_IP;
  if (v6) {
    ipv6FromText(src)!.forEach((w, j) => (k[FK_IPV6_SRC + j] = w));
    ipv6FromText(dst)!.forEach((w, j) => (k[FK_IPV6_DST + j] = w));
  } else {
    k[FK_NW_SRC] = ipv4FromText(src)!;
    k[FK_NW_DST] = ipv4FromText(dst)!;
  }
  k[FK_NW_PROTO] = s.proto;
  if (s.proto === 1 || s.proto === 58) { k[FK_TP_SRC] = s.type ?? 8; k[FK_TP_DST] = s.code ?? 0; }
  else { k[FK_TP_SRC] = s.sport ?? 0; k[FK_TP_DST] = s.dport ?? 0; }
}

const NAMES: [number, string][] = [[0x20, 'trk'], [0x01, 'new'], [0x02, 'est'], [0x04, 'rel'], [0x08, 'rpl'], [0x10, 'inv'], [0x40, 'snat'], [0x80, 'dnat']];

export function ctStateText(st: number): string {
  return NAMES.filter(([b]) => (st & b) !== 0).map(([, n]) => `+${n}`).join('');
}

/** A conntrack and a batch, with a clock, for scenario tests. */
export class Harness {
  ct: Conntrack;
  batch = new PacketBatch(2048);
  now = 1_000_000;
  constructor(ct?: Conntrack) {
    this.ct = ct ?? Conntrack.create({ capacity: 4096 });
  }
  /** Send one packet through ct(); returns ct_state as '+trk+new' text. */
  send(src: string, dst: string, s: L4Spec, o: { zone?: number; commit?: boolean; force?: boolean; mark?: MarkSet; label?: LabelSet; nat?: NatRange | null; alg?: number } = {}): string {
    loadPacket(this.batch, src, dst, s);
    this.ct.execute(this.batch, 0, this.batch.keys, 0, ctExec(o), this.now);
    return ctStateText(this.batch.keys[FK_CT_STATE]);
  }
  key(): Uint32Array {
    return this.batch.keys;
  }
  dump(verbose = false, zone?: number): string[] {
    return this.ct.dump(zone, this.now).map((c) => formatConn(c, verbose)).sort();
  }
}

/** A compiled ct() action: commit unless told otherwise, zone 0, nothing else. */
export function ctExec(o: Partial<CtExec> = {}): CtExec {
  return { zone: o.zone ?? 0, commit: o.commit ?? true, force: o.force ?? false, mark: o.mark ?? null, label: o.label ?? null, nat: o.nat ?? null, alg: o.alg ?? 0 };
}
