// Datapath throughput, in process (no socket): 64-byte UDP packets of 1,
// 1,000 and 100,000 flows (one exact 5-tuple megaflow each, in one mask; and
// 1,000 and 100,000 over 16 masks) received by a port 32 at a time through
// Datapath.pollPort, as a PMD thread reads its ports, and output to a dummy
// port — with the flow cache (emc.ts) in each of its modes
// (BENCH_CACHE_MODES=EMC,no picks some); and the upcall rate (misses
// translated per second) through a 1,000-rule OpenFlow table with the real
// translator. The wire sends the flows' frames round robin, one packet of
// each in turn: every packet of a batch is a different flow, and a flow
// comes back only after all the others (no locality for the caches to use).
// bench/mf-prof.ts runs one case alone (for profiles and old/new pairs).

import { Datapath } from '../src/datapath/datapath.ts';
import { output } from '../src/datapath/dp-actions.ts';
import { DpPort, type PortCounters, type RxBackend } from '../src/datapath/port.ts';
import { DummyBackend } from '../src/datapath/ports/dummy.ts';
import { HEADROOM, PacketBatch } from '../src/packet/batch.ts';
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

/**
 * Exact 5-tuple mask, output to port 2: one megaflow per flow. With
 * `subtables` > 1 the mask also covers a prefix of nw_dst whose length
 * depends on the flow (tp_src), so the megaflows spread over that many
 * subtables and the classifier probes several per lookup.
 */
export function exactUpcallFor(subtables = 1) {
  const base = new Uint32Array(FK_WORDS);
  for (const w of [FK_RECIRC_ID, FK_IN_PORT, FK_ETH_TYPE, FK_NW_SRC, FK_NW_PROTO, FK_TP_SRC, FK_TP_DST]) base[w] = 0xffffffff;
  base[FK_NW_FRAG] = 3;
  const masks = Array.from({ length: subtables }, (_, i) => {
    const m = Uint32Array.from(base);
    m[FK_NW_DST] = subtables === 1 ? 0xffffffff : (0xffffffff << (32 - 16 - i)) >>> 0;
    return m;
  });
  const actions = [output(2)];
  return (key: Uint32Array) => ({ actions, mask: masks[key[FK_TP_SRC] % subtables] });
}

/**
 * The wire: frames of `nFlows` flows, one after the other, handed to the
 * datapath 32 at a time by a port's receive() (copied into the thread's
 * batch, as the AF_PACKET ring's frames are), so the bench drives
 * Datapath.pollPort — the PMD thread's entry point.
 */
export class WireBackend implements RxBackend {
  readonly type = 'system';
  readonly rxFd = -1;
  private pos = 0;
  /** One view per frame, made once (a ring's frames are fixed places too). */
  private readonly views: Uint8Array[] = [];
  constructor(frames: Uint8Array, private readonly count: number) {
    for (let i = 0; i < count; i++) this.views.push(frames.subarray(i * 64, i * 64 + 64));
  }
  receive(b: PacketBatch, max: number, stats: PortCounters): number {
    let n = 0;
    while (n < max) {
      // As SystemBackend: the frame copied into the batch's slot at HEADROOM.
      b.data[b.count].set(this.views[this.pos], HEADROOM);
      b.commit(64);
      if (++this.pos === this.count) this.pos = 0;
      n++;
    }
    stats.rxPackets += n;
    stats.rxBytes += n * 64;
    return n;
  }
  transmit(): boolean {
    return true;
  }
  close(): void {}
}

/** The flow cache settings a row runs with (emc.ts); null on a tree that has none. */
interface CacheMode {
  name: string;
  emcInsertInvProb: number;
  smc: boolean;
}
export const CACHE_MODES: CacheMode[] = [
  { name: 'EMC (default)', emcInsertInvProb: 100, smc: false },
  { name: 'EMC+SMC', emcInsertInvProb: 100, smc: true },
  { name: 'SMC only', emcInsertInvProb: 0, smc: true },
  { name: 'no flow cache', emcInsertInvProb: 0, smc: false },
];

/** hitRate's extras for bench/mf-prof.ts: the rate per CPU second (out), a call once warm (in). */
export interface HitRateProbe {
  cpuPps?: number;
  /** Share of the timed packets the EMC answered, and whose EMC lookup was skipped (emc.ts's bypass). */
  emcShare?: number;
  skippedShare?: number;
  afterWarmUp?: () => void;
}

export function hitRate(nFlows: number, seconds: number, mode: CacheMode, subtables = 1, probe?: HitRateProbe): number {
  const dp = new Datapath(exactUpcallFor(subtables));
  // A tree without the flow cache (the baseline) runs every mode as "no flow cache".
  (dp as { flowCache?: { configure(p: number, s: boolean): void } }).flowCache?.configure(mode.emcInsertInvProb, mode.smc);
  const frames = new Uint8Array(nFlows * 64);
  for (let i = 0; i < nFlows; i++) frames.set(udp64(i), i * 64);
  const rx = new DpPort(1, 'p1', new WireBackend(frames, nFlows), {});
  dp.addPort(rx);
  dp.addPort(new DpPort(2, 'p2', new DummyBackend(), {}));
  let now = Date.now();
  // Warm up: every megaflow installed, the caches filled as traffic fills them.
  const warm = Date.now() + 300;
  for (let i = 0; i < nFlows || Date.now() < warm; i += 128) dp.pollPort(rx, 4, now);
  const missed = dp.stats.missed;
  const emc0 = dp.stats.emcHit, skip0 = dp.flowCache.emcSkipped;
  probe?.afterWarmUp?.();
  let n = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(seconds * 1e9));
  const cpu0 = process.cpuUsage();
  for (let iter = 0; ; iter++) {
    n += dp.pollPort(rx, 4, now);
    if ((iter & 63) === 0) {
      now = Date.now();
      if (process.hrtime.bigint() > end) break;
    }
  }
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  if (probe) {
    probe.cpuPps = n / ((cpu.user + cpu.system) / 1e6);
    probe.emcShare = (dp.stats.emcHit - emc0) / n;
    probe.skippedShare = ((dp.flowCache.emcSkipped) - skip0) / n;
  }
  if (dp.stats.missed !== missed) throw new Error('megaflows were not hit');
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
  const only = process.env.BENCH_CACHE_MODES;
  const modes = only ? CACHE_MODES.filter((m) => only.split(',').some((o) => m.name.startsWith(o))) : CACHE_MODES;
  const cases: [number, number][] = [[1, 1], [1000, 1], [100_000, 1], [1000, 16], [100_000, 16]];
  for (const [n, st] of cases) {
    for (const m of modes) {
      const what = `${n.toLocaleString('en-US')} megaflows${st > 1 ? ` in ${st} subtables` : ''}`;
      out.push({ bench: 'datapath', case: `megaflow hit, ${what}, 64 B UDP, pollPort 4×32, ${m.name}`, value: hitRate(n, secs, m, st), unit: 'packets/s' });
    }
  }
  out.push({ bench: 'datapath', case: 'upcall (translation) through 1,000 rules', value: upcallRate(secs), unit: 'upcalls/s' });
  return out;
}
