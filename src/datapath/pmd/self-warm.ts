// A PMD thread's packet path warmed up before it serves a port. A fresh
// thread runs its first few thousand packets in V8's interpreter and
// baseline code, and compiles the hot functions while they arrive: a fresh
// switch's idle pings were 0.4-0.5 ms at p50 and 1.5-5 ms at p99 through
// seed 001's ACL, where the same switch after a thousand pings gave 0.3 and
// 0.6 (bench/e2e/probe.ts PROBE_PREWARM). So the thread first sends
// synthetic traffic through a Datapath of its own: two in-memory ports, its
// own conntrack table, an ACL like seed 001's (ct(zone=1) and recirculate;
// commit the new connections from port 1; established both ways), ICMP
// echoes, UDP exchanges and whole TCP connections, one packet per batch and
// 32 at a time, with the flowtable off and on. The classes are the real
// ones, so their compiled code is what the real ports then run. Nothing
// of it is shared: the switch's conntrack, caches, counters and ports never
// see these packets. Bounded by WARM_MS (SWD_PMD_SELF_WARM_MS; 0: off).

import { Conntrack } from '../../conntrack/conntrack.ts';
import { wr16, wr32 } from '../../packet/bytes.ts';
import { setIpv4HeaderChecksum, setL4Checksum } from '../../packet/checksum.ts';
import type { PacketBatch } from '../../packet/batch.ts';
import {
  CS_ESTABLISHED, CS_NEW, FK_CT_STATE, FK_ETH_TYPE, FK_IN_PORT, FK_NW_FRAG, FK_NW_PROTO, FK_RECIRC_ID, FK_WORDS,
  IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP,
} from '../../packet/flow-key.ts';
import { conntrackHook, Datapath } from '../datapath.ts';
import { ct, output, recirc, type DpAction } from '../dp-actions.ts';
import type { UpcallResult } from '../dp-types.ts';
import { FT_TCP, FT_UDP } from '../flowtable.ts';
import { DpPort, type PortCounters, type RxBackend } from '../port.ts';
import { tracedHook } from '../rx/rx-trace.ts';

const WARM_MS = Number(process.env.SWD_PMD_SELF_WARM_MS ?? 250);
/** Rounds of traffic at most (each: a few connections of every kind, both batch sizes). */
const MAX_ROUNDS = 400;

/** An in-memory port: what it is given to receive, and a count of what it sent. */
class WarmBackend implements RxBackend {
  readonly type = 'dummy';
  readonly rxFd = -1;
  private queue: Uint8Array[] = [];
  private at = 0;
  sent = 0;
  give(frames: Uint8Array[]): void {
    this.queue = frames;
    this.at = 0;
  }
  receive(b: PacketBatch, max: number, stats: PortCounters): number {
    let n = 0;
    while (n < max && this.at < this.queue.length) {
      const f = this.queue[this.at++];
      if (b.push(f) < 0) continue;
      stats.rxPackets++;
      stats.rxBytes += f.length;
      n++;
    }
    return n;
  }
  transmit(): boolean {
    this.sent++;
    return true;
  }
  flush(): void {}
  close(): void {}
}

const A = 0x0a010101; // 10.1.1.1 behind port 1
const B = 0x0a010102; // 10.1.1.2 behind port 2

/** Ethernet + IPv4 + `l4Len` bytes of L4 header and payload; the caller fills the L4 header, then sums(). */
function ipv4(proto: number, src: number, dst: number, l4Len: number): Uint8Array {
  const d = new Uint8Array(14 + 20 + l4Len);
  wr16(d, 0, 0x5054); wr32(d, 2, src === A ? 0x00000002 : 0x00000001);
  wr16(d, 6, 0x5054); wr32(d, 8, src === A ? 0x00000001 : 0x00000002);
  wr16(d, 12, 0x0800);
  d[14] = 0x45; wr16(d, 16, 20 + l4Len); d[22] = 64; d[23] = proto;
  wr32(d, 26, src >>> 0); wr32(d, 30, dst >>> 0);
  return d;
}

function sums(d: Uint8Array, proto: number): Uint8Array {
  setIpv4HeaderChecksum(d, 14);
  setL4Checksum(d, 14, 34, d.length, proto);
  return d;
}

function icmpEcho(src: number, dst: number, reply: boolean, id: number, seq: number): Uint8Array {
  const d = ipv4(IPPROTO_ICMP, src, dst, 64);
  d[34] = reply ? 0 : 8;
  wr16(d, 38, id); wr16(d, 40, seq);
  return sums(d, IPPROTO_ICMP);
}

function udp(src: number, dst: number, sport: number, dport: number): Uint8Array {
  const d = ipv4(IPPROTO_UDP, src, dst, 8 + 32);
  wr16(d, 34, sport); wr16(d, 36, dport); wr16(d, 38, 8 + 32);
  return sums(d, IPPROTO_UDP);
}

const SYN = 0x02, ACK = 0x10, FIN = 0x01, PSH = 0x08;

function tcp(src: number, dst: number, sport: number, dport: number, seq: number, ack: number, flags: number, payload: number): Uint8Array {
  const d = ipv4(IPPROTO_TCP, src, dst, 20 + payload);
  wr16(d, 34, sport); wr16(d, 36, dport); wr32(d, 38, seq >>> 0); wr32(d, 42, ack >>> 0);
  d[46] = 5 << 4; d[47] = flags; wr16(d, 48, 65535);
  return sums(d, IPPROTO_TCP);
}

/** One TCP connection from A:sport to B:80, as (port, frame) steps: handshake, data both ways, FIN both ways. */
function tcpConversation(sport: number): [number, Uint8Array][] {
  const c = 1000 + sport * 7, s = 5000 + sport * 13;
  return [
    [1, tcp(A, B, sport, 80, c, 0, SYN, 0)],
    [2, tcp(B, A, 80, sport, s, c + 1, SYN | ACK, 0)],
    [1, tcp(A, B, sport, 80, c + 1, s + 1, ACK, 0)],
    [1, tcp(A, B, sport, 80, c + 1, s + 1, ACK | PSH, 64)],
    [2, tcp(B, A, 80, sport, s + 1, c + 65, ACK | PSH, 64)],
    [1, tcp(A, B, sport, 80, c + 65, s + 65, ACK | PSH, 64)],
    [2, tcp(B, A, 80, sport, s + 65, c + 129, ACK, 0)],
    [1, tcp(A, B, sport, 80, c + 129, s + 65, FIN | ACK, 0)],
    [2, tcp(B, A, 80, sport, s + 65, c + 130, FIN | ACK, 0)],
    [1, tcp(A, B, sport, 80, c + 130, s + 66, ACK, 0)],
  ];
}

/** Seed 001's shape: ct(zone=1) and recirculate; new from port 1 committed; established both ways. */
function aclTranslator(): (key: Uint32Array) => UpcallResult {
  const ctLookup = ct({ zone: 1, commit: false, force: false, mark: null, label: null, nat: null, alg: null });
  const ctCommit = ct({ zone: 1, commit: true, force: false, mark: null, label: null, nat: null, alg: null });
  const first: DpAction[] = [ctLookup, recirc(1)];
  const out = (p: number): DpAction[] => [output(p)];
  const commitOut: DpAction[] = [ctCommit, output(2)];
  const none: DpAction[] = [];
  return (key) => {
    const m = new Uint32Array(FK_WORDS);
    for (const w of [FK_RECIRC_ID, FK_IN_PORT, FK_ETH_TYPE]) m[w] = 0xffffffff;
    m[FK_NW_FRAG] = 3;
    m[FK_NW_PROTO] = 0xff;
    if (key[FK_RECIRC_ID] === 0) return { actions: first, mask: m };
    m[FK_CT_STATE] = CS_NEW | CS_ESTABLISHED;
    const st = key[FK_CT_STATE];
    const from1 = key[FK_IN_PORT] === 1;
    if ((st & CS_ESTABLISHED) !== 0) return { actions: out(from1 ? 2 : 1), mask: m };
    if ((st & CS_NEW) !== 0 && from1) return { actions: commitOut, mask: m };
    return { actions: none, mask: m };
  };
}

export interface SelfWarmResult {
  packets: number;
  ms: number;
  /** Connections the warm-up's conntrack committed, packets it found invalid. */
  commits: number;
  invalid: number;
  /** Packets sent on its port 1 and port 2. */
  sent: [number, number];
}

/** The private datapath, its ports and conntrack table: the warm-up's, and the keep-warm tick's (keepWarm). */
class WarmRig {
  readonly ct = Conntrack.create({ capacity: 4096 });
  private readonly dp: Datapath;
  private readonly bes = [new WarmBackend(), new WarmBackend()];
  private readonly ports: DpPort[];
  packets = 0;
  now = Date.now();
  private echo: [number, Uint8Array][] = [];

  constructor() {
    const translate = aclTranslator();
    this.dp = new Datapath(translate, tracedHook(conntrackHook(this.ct)), translate);
    this.ports = [new DpPort(1, 'warm1', this.bes[0], {}), new DpPort(2, 'warm2', this.bes[1], {})];
    for (const p of this.ports) this.dp.addPort(p);
  }

  get sent(): [number, number] {
    return [this.bes[0].sent, this.bes[1].sent];
  }

  /** Packets sent on both ports (no array: read twice per keep-warm tick). */
  get sentTotal(): number {
    return this.bes[0].sent + this.bes[1].sent;
  }

  /** Steps one packet per batch (as idle traffic arrives), or each port's run of steps in batches. */
  run(steps: [number, Uint8Array][], single: boolean): void {
    const { dp, bes, ports } = this;
    if (single) {
      for (const [port, f] of steps) {
        bes[port - 1].give([f]);
        this.packets += dp.pollPort(ports[port - 1], 1, this.now);
      }
      return;
    }
    for (let i = 0; i < steps.length; ) {
      const port = steps[i][0];
      const frames: Uint8Array[] = [];
      while (i < steps.length && steps[i][0] === port) frames.push(steps[i++][1]);
      bes[port - 1].give(frames);
      this.packets += dp.pollPort(ports[port - 1], 4, this.now);
    }
  }

  /** One round of every kind of traffic (`round` picks identifiers, batch sizes and whether offload is on). */
  round(round: number): void {
    this.now = Date.now();
    const offload = round % 4 === 3;
    for (const p of [1, 2]) this.dp.flowtable.config.set(p, offload ? FT_TCP | FT_UDP : 0, 30);
    const single = round % 2 === 0;
    // Pings: request and reply, a new identifier each round.
    const pings: [number, Uint8Array][] = [];
    for (let s = 0; s < 8; s++) {
      pings.push([1, icmpEcho(A, B, false, round & 0xffff, s)], [2, icmpEcho(B, A, true, round & 0xffff, s)]);
    }
    this.run(pings, true);
    // UDP: request/response pairs, and a burst of one flow in batches.
    const sport = 1024 + ((round * 16) & 0x7fff);
    const udps: [number, Uint8Array][] = [];
    for (let s = 0; s < 4; s++) udps.push([1, udp(A, B, sport + s, 53)], [2, udp(B, A, 53, sport + s)]);
    this.run(udps, single);
    const burst: [number, Uint8Array][] = [];
    for (let s = 0; s < 64; s++) burst.push([1, udp(A, B, sport, 53)]);
    this.run(burst, false);
    // TCP: whole connections, one packet per batch and as bursts.
    for (let s = 0; s < 2; s++) this.run(tcpConversation(sport + 8 + s), single);
  }

  /** One echo request and its reply, one packet per batch, offload off: the idle ping's path. */
  ping(): void {
    if (this.echo.length === 0) {
      for (const p of [1, 2]) this.dp.flowtable.config.set(p, 0, 30);
      this.echo = [[1, icmpEcho(A, B, false, 0xfffe, 1)], [2, icmpEcho(B, A, true, 0xfffe, 1)]];
    }
    this.now = Date.now();
    this.run(this.echo, true);
  }

  dispose(): void {
    this.dp.flushFlows();
    for (const n of [...this.dp.ports.keys()]) this.dp.removePort(n);
    this.ct.flush();
  }
}

/** Run the synthetic traffic for up to `budgetMs`. Returns what it did (zero when turned off). */
export function selfWarm(budgetMs = WARM_MS): SelfWarmResult {
  if (!(budgetMs > 0)) return { packets: 0, ms: 0, commits: 0, invalid: 0, sent: [0, 0] };
  const t0 = performance.now();
  try {
    const rig = new WarmRig();
    for (let round = 0; round < MAX_ROUNDS && performance.now() - t0 < budgetMs; round++) rig.round(round);
    const { commits, invalid } = rig.ct.counters();
    const sent = rig.sent;
    rig.dispose();
    return { packets: rig.packets, ms: performance.now() - t0, commits, invalid, sent };
  } catch {
    // A warm-up that fails leaves the thread to serve its ports cold, never not at all (the test sees 0 packets).
    return { packets: 0, ms: performance.now() - t0, commits: 0, invalid: 0, sent: [0, 0] };
  }
}

let tickRig: WarmRig | undefined;
let tickBroken = false;

/**
 * A keep-warm tick: one synthetic echo and reply through the private
 * datapath, so the packet path's code and the data it needs stay in the
 * caches while the thread sleeps between packets (see idle-pace.ts).
 * Returns the packets its ports sent (2: the request and the reply both
 * passed the ACL).
 */
export function keepWarm(): number {
  if (tickBroken) return 0;
  try {
    tickRig ??= new WarmRig();
    const before = tickRig.sentTotal;
    tickRig.ping();
    return tickRig.sentTotal - before;
  } catch {
    // Never at the real traffic's expense: a tick that fails is not tried again (the test sees 0).
    tickBroken = true;
    return 0;
  }
}
