// Datapath throughput, in process (no socket): batches of 32 64-byte UDP
// packets that hit 1, 1,000 and 100,000 megaflows and are output to a dummy
// port; and the upcall rate (misses translated per second) through a
// 1,000-rule OpenFlow table with the real translator.

import { Datapath } from '../src/datapath/datapath.ts';
import { output } from '../src/datapath/dp-actions.ts';
import { DpPort } from '../src/datapath/port.ts';
import { DummyBackend } from '../src/datapath/ports/dummy.ts';
import { PacketBatch } from '../src/packet/batch.ts';
import { setIpv4HeaderChecksum, setL4Checksum } from '../src/packet/checksum.ts';
import { wr16, wr32 } from '../src/packet/bytes.ts';
import {
  FK_ETH_TYPE, FK_IN_PORT, FK_NW_DST, FK_NW_FRAG, FK_NW_PROTO, FK_NW_SRC, FK_RECIRC_ID, FK_TP_DST, FK_TP_SRC, FK_WORDS,
} from '../src/packet/flow-key.ts';
import { Switch } from '../src/ofproto/switch.ts';
import type { BenchRow } from './run.ts';

/** A 64-byte Ethernet/IPv4/UDP frame for flow number i. */
export function udp64(i: number): Uint8Array {
  const d = new Uint8Array(64);
  wr16(d, 0, 0x5054); wr32(d, 2, 0x00000002);
  wr16(d, 6, 0x5054); wr32(d, 8, 0x00000001);
  wr16(d, 12, 0x0800);
  d[14] = 0x45; wr16(d, 16, 50); d[22] = 64; d[23] = 17;
  wr32(d, 26, (0x0a000000 | (i >>> 16)) >>> 0); wr32(d, 30, 0x0b000001);
  setIpv4HeaderChecksum(d, 14);
  wr16(d, 34, 1024 + (i & 0xffff)); wr16(d, 36, 53); wr16(d, 38, 30);
  setL4Checksum(d, 14, 34, 64, 17);
  return d;
}

/** Exact 5-tuple mask, output to port 2: one megaflow per flow. */
function exactUpcall() {
  const mask = new Uint32Array(FK_WORDS);
  for (const w of [FK_RECIRC_ID, FK_IN_PORT, FK_ETH_TYPE, FK_NW_SRC, FK_NW_DST, FK_NW_PROTO, FK_TP_SRC, FK_TP_DST]) mask[w] = 0xffffffff;
  mask[FK_NW_FRAG] = 3;
  const actions = [output(2)];
  return () => ({ actions, mask });
}

function hitRate(nFlows: number, seconds: number): number {
  const dp = new Datapath(exactUpcall());
  dp.addPort(new DpPort(1, 'p1', new DummyBackend(), {}));
  dp.addPort(new DpPort(2, 'p2', new DummyBackend(), {}));
  const pkts = Array.from({ length: nFlows }, (_, i) => udp64(i));
  // Preload one batch per 32 flows, then replay the batches.
  const batches: PacketBatch[] = [];
  const nb = Math.min(Math.ceil(nFlows / 32), 4096);
  for (let b = 0; b < nb; b++) {
    const batch = new PacketBatch(256);
    for (let j = 0; j < 32; j++) batch.push(pkts[(b * 32 + j) % nFlows]);
    batches.push(batch);
  }
  // Warm up: install every megaflow.
  for (let i = 0; i < nFlows; i += 32) dp.receive(1, pkts.slice(i, i + 32), Date.now());
  let n = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(seconds * 1e9));
  let now = Date.now();
  for (let iter = 0; ; iter++) {
    const batch = batches[iter % batches.length];
    batch.count = 32;
    dp.processBatch(batch, 1, now);
    n += 32;
    if ((iter & 255) === 0) {
      now = Date.now();
      if (process.hrtime.bigint() > end) break;
    }
  }
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  if (dp.stats.missed > nFlows) throw new Error('megaflows were not hit');
  return n / secs;
}

function upcallRate(seconds: number): number {
  const sw = Switch.fromConfig(null, { defaultBridge: true });
  const flows: string[] = [];
  for (let i = 0; i < 1000; i++) flows.push(`priority=${1000 + i},udp,nw_src=10.0.${(i >> 8) & 255}.${i & 255},tp_dst=53,actions=output:2`);
  flows.push('priority=1,actions=drop');
  sw.addFlows('br0', flows.join('\n'), 'bench');
  const key = new Uint32Array(FK_WORDS);
  key[FK_IN_PORT] = 1;
  key[FK_ETH_TYPE] = 0x0800;
  key[FK_NW_PROTO] = 17;
  key[FK_TP_DST] = 53;
  const br = sw.bridges.get('br0')!;
  let n = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(seconds * 1e9));
  const now = Date.now();
  const xlateOnce = (i: number) => {
    key[FK_NW_SRC] = (0x0a000000 | (i % 1200)) >>> 0;
    key[FK_TP_SRC] = i & 0xffff;
    return importXlate(br, key, now);
  };
  while (process.hrtime.bigint() < end) {
    for (let i = 0; i < 256; i++) xlateOnce(n + i);
    n += 256;
  }
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  sw.close();
  return n / secs;
}

import { xlate } from '../src/ofproto/xlate.ts';
function importXlate(br: Parameters<typeof xlate>[0], key: Uint32Array, now: number) {
  return xlate(br, key, now, null, false);
}

export async function rows(): Promise<BenchRow[]> {
  const secs = Number(process.env.BENCH_SECONDS ?? 3);
  const out: BenchRow[] = [];
  for (const n of [1, 1000, 100_000]) {
    out.push({ bench: 'datapath', case: `megaflow hit, ${n.toLocaleString('en-US')} flows, 64 B UDP, batch 32`, value: hitRate(n, secs), unit: 'packets/s' });
  }
  out.push({ bench: 'datapath', case: 'upcall (translation) through 1,000 rules', value: upcallRate(secs), unit: 'upcalls/s' });
  return out;
}
