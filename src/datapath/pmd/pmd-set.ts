// The main thread's side of the PMD threads: starts N workers
// (pmd-worker.ts), tells them about ports, answers their upcalls with the
// owner's translation, mirrors the megaflows they installed (so that
// dump-dp-flows lists them and their counters reach the OpenFlow rules),
// sums their port counters, and bumps the flow-table generation that makes
// every worker flush its cache after a flow-table change.
//
// Port sharing: every worker reads every system port, each through its own
// socket in one PACKET_FANOUT group per port (symmetric hash: both
// directions of a connection go to the same thread); a tap port is read by
// one worker (round robin). Every worker can send on every port.
//
// Lifetimes: a tap descriptor belongs to the main thread and is closed only
// after every worker acknowledged the port's removal (removePort resolves
// then). Counters of a stopped worker (set-threads) are kept as a base.

import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import type { Conntrack } from '../../conntrack/conntrack.ts';
import { FK_WORDS } from '../../packet/flow-key.ts';
import type { UpcallResult } from '../datapath.ts';
import { newMegaflow, type Megaflow } from '../megaflow.ts';
import { DEFAULT_EMC_INSERT_INV_PROB, DEFAULT_SMC_ENABLE } from '../emc.ts';
import { closeFd, eventFd, eventFdSignal } from '../native/native.ts';
import type { PortCounters } from '../port.ts';
import { startTsWorker } from '../rx/worker-boot.ts';
import { log } from '../../packet/log.ts';
import {
  FLOW_REC, GEN, MAX_PORT_SLOTS, PC_RX_BYTES, PC_RX_DROPPED, PC_RX_ERRORS, PC_RX_PACKETS, PC_TX_BYTES, PC_TX_DROPPED,
  PC_TX_ERRORS, PC_TX_PACKETS, PMD_SAB_BYTES, PORT_BASE, PORT_WORDS, PS_BATCHES, PS_BUSY_NS, PS_HEAP_USED, PS_HITS, PS_IDLE_NS, PS_LOCK_CONTENDED, PS_LOCK_SLEPT, PS_LOCK_SLEPT_US,
  PS_LOST, PS_MISSES, PS_PACKETS, PS_UPCALL_INFLIGHT, PS_UPCALL_QUEUE_FULL, PS_UPCALL_QUEUED, PS_UPCALL_TIMEOUTS, PS_PIN_SENT, PS_PIN_DROPPED, SHARED_WORDS, MAX_IDLE, EMC_INV_PROB, SMC_ENABLE, PS_EMC_HITS, PS_SMC_HITS, PS_RECIRC, PS_SUBTABLE_PROBES, type PmdControl, type PmdEvent, type PmdPortInfo, type UpcallRequest,
} from './pmd-protocol.ts';

export const MAX_PMD_THREADS = 64;
const ACK_TIMEOUT_MS = 3000;

export interface PmdHost {
  /** Translate a worker's miss (credits the packet to the rules); null when no bridge owns the port. */
  translate(key: Uint32Array, len: number): UpcallResult | null;
  /** After an upcall was answered (MAC learning may have changed the tables). */
  afterUpcall(): void;
  /** A mirrored megaflow's counters moved or it went away: credit its rules. */
  pushMegaflow(mf: Megaflow): void;
  /** A controller-bound packet from a worker (the main datapath's onUserspace). */
  packetIn?(dpInPort: number, packet: Uint8Array, userdata: number): void;
  log: { warn: (...a: unknown[]) => void; error: (...a: unknown[]) => void };
  now(): number;
}

export interface PmdThreadStats {
  index: number;
  packets: number;
  batches: number;
  hits: number;
  misses: number;
  lost: number;
  busyNs: number;
  idleNs: number;
  /** The thread's V8 heap resident in memory, bytes (0 until its first expiry step). */
  heapUsed?: number;
  /** Packets that waited for an upcall, dropped for want of queue room, dropped when no reply came; upcalls in flight. */
  upcallQueued?: number;
  upcallQueueFull?: number;
  upcallTimeouts?: number;
  upcallsInFlight?: number;
  /** Packet-ins posted to the main thread; dropped because too many were waiting. */
  packetIns?: number;
  packetInsDropped?: number;
  /** Flow cache (emc.ts): lookups answered by the EMC and the SMC (within `hits`), recirculations, subtables probed by classifier hits. */
  emcHits?: number;
  smcHits?: number;
  recirc?: number;
  subtableProbes?: number;
  /** Conntrack lock takes that found the lock held; of them, those that slept, and for how long (µs). */
  lockContended?: number;
  lockSlept?: number;
  lockSleptUs?: number;
}

interface Thread {
  index: number;
  worker: Worker;
  stats: Float64Array;
  wakeFd: number;
  pinAck: Int32Array;
  upPort: MessagePort;
  ctlPort: MessagePort;
  exited: boolean;
}

interface PortEntry {
  number: number;
  name: string;
  type: string;
  slot: number;
  fd?: number;
  fanoutGroup: number;
  /** Which worker reads a tap port. */
  tapReader: number;
}

export class PmdSet {
  private readonly shared = new Int32Array(new SharedArrayBuffer(SHARED_WORDS * 4));
  private threads: Thread[] = [];
  private readonly ports = new Map<number, PortEntry>();
  private readonly freeSlots: number[] = [];
  private readonly mirrors = new Map<number, Megaflow>();
  private nextFlowId = 1;
  private nextAck = 1;
  private readonly acks = new Map<number, () => void>();
  private tapCount = 0;
  private closed = false;
  /** Counters of workers that were stopped, per port slot. */
  private readonly base = new Float64Array(MAX_PORT_SLOTS * PORT_WORDS);

  constructor(
    private readonly host: PmdHost,
    private readonly conntrack: Conntrack,
    threads: number,
    private readonly offload: SharedArrayBuffer,
    /** The datapath's meters (meter.ts), shared by every thread. */
    private readonly meters?: SharedArrayBuffer,
  ) {
    for (let s = MAX_PORT_SLOTS - 1; s >= 0; s--) this.freeSlots.push(s);
    this.setFlowCache(DEFAULT_EMC_INSERT_INV_PROB, DEFAULT_SMC_ENABLE);
    this.setThreads(threads);
  }

  /** Every thread's flow cache: emc-insert-inv-prob (0 = off) and the SMC on or off (emc.ts). */
  setFlowCache(emcInsertInvProb: number, smc: boolean): void {
    Atomics.store(this.shared, EMC_INV_PROB, emcInsertInvProb);
    Atomics.store(this.shared, SMC_ENABLE, smc ? 1 : 0);
  }

  /** Megaflow idle time of every thread (OVS other_config:max-idle), read at each expiry step. */
  setMaxIdle(ms: number): void {
    Atomics.store(this.shared, MAX_IDLE, ms);
  }

  get threadCount(): number {
    return this.threads.length;
  }

  /** Stop every worker and start n new ones (traffic pauses while they boot). */
  setThreads(n: number): void {
    if (!Number.isInteger(n) || n < 1 || n > MAX_PMD_THREADS) throw new RangeError(`pmd threads must be 1..${MAX_PMD_THREADS}`);
    this.stopThreads();
    for (let i = 0; i < n; i++) this.threads.push(this.startThread(i));
    for (const p of this.ports.values()) this.announce(p);
  }

  private startThread(index: number): Thread {
    const stats = new Float64Array(new SharedArrayBuffer(PMD_SAB_BYTES));
    const up = new MessageChannel();
    const ctl = new MessageChannel();
    const wakeFd = eventFd();
    const pinAck = new Int32Array(new SharedArrayBuffer(4));
    const worker = startTsWorker(new URL('./pmd-worker.ts', import.meta.url).href, {
      workerData: {
        index, stats: stats.buffer, shared: this.shared.buffer,
        conntrack: this.conntrack.shared(), offload: this.offload, meters: this.meters, wakeFd, pinAck: pinAck.buffer, upcallPort: up.port2, ctlPort: ctl.port2,
      },
      transferList: [up.port2, ctl.port2],
    });
    const t: Thread = { index, worker, stats, wakeFd, pinAck, upPort: up.port1, ctlPort: ctl.port1, exited: false };
    up.port1.on('message', (m: UpcallRequest) => this.onUpcall(t, m));
    ctl.port1.on('message', (m: PmdEvent) => {
      if (m.t === 'packet-in') {
        Atomics.add(pinAck, 0, 1);
        this.host.packetIn?.(m.inPort, m.packet, m.userdata);
      } else this.onEvent(m, index);
    });
    worker.on('error', (err) => this.host.log.error({ err, pmd: index }, 'pmd thread failed'));
    worker.on('exit', (code) => {
      t.exited = true;
      up.port1.close();
      ctl.port1.close();
      closeFd(wakeFd);
      // A thread that died on its own (a bug) is replaced, so its ports keep being read.
      const i = this.threads.indexOf(t);
      if (i >= 0 && !this.closed) {
        this.host.log.error({ pmd: index, code }, 'pmd thread exited; starting a new one');
        this.foldIntoBase(t);
        const fresh = this.startThread(index);
        this.threads[i] = fresh;
        for (const p of this.ports.values()) this.announce(p, fresh);
      }
    });
    worker.unref();
    up.port1.unref();
    ctl.port1.unref();
    return t;
  }

  private stopThreads(): void {
    for (const t of this.threads) {
      this.foldIntoBase(t);
      this.post(t, { t: 'stop' });
      // The worker leaves poll() on its eventfd and exits; its sockets close with it.
    }
    this.threads = [];
    this.offloaded.clear();
    this.dropMirrors();
  }

  private foldIntoBase(t: Thread): void {
    for (let i = 0; i < MAX_PORT_SLOTS * PORT_WORDS; i++) this.base[i] += t.stats[PORT_BASE + i];
  }

  private post(t: Thread, m: PmdControl): void {
    if (t.exited) return;
    t.ctlPort.postMessage(m);
    eventFdSignal(t.wakeFd);
  }

  private onUpcall(t: Thread, m: UpcallRequest): void {
    if (t.exited) return;
    const gen = Atomics.load(this.shared, GEN);
    let res: UpcallResult | null = null;
    try {
      res = this.host.translate(m.key, m.len);
    } catch (e) {
      this.host.log.error({ err: e }, 'upcall translation failed');
    }
    let flowId = 0;
    if (res && !res.error) {
      flowId = this.nextFlowId++;
      const key = new Uint32Array(FK_WORDS);
      for (let w = 0; w < FK_WORDS; w++) key[w] = m.key[w] & res.mask[w];
      this.mirrors.set(flowId, newMegaflow(key, Uint32Array.from(m.key), res.mask, res.actions, this.host.now(), res.owner ?? null));
    }
    t.upPort.postMessage({
      seq: m.seq, flowId, actions: res ? res.actions : null, mask: res ? res.mask : null,
      error: res ? (res.error ?? null) : 'no bridge owns the input port', gen,
    });
    eventFdSignal(t.wakeFd);
    this.host.afterUpcall();
  }

  /** Each thread's flowtable entries, as it last published them. */
  private readonly offloaded = new Map<number, string[]>();

  offloadedLines(): string[] {
    return [...this.offloaded.values()].flat();
  }

  private onEvent(m: PmdEvent, index = -1): void {
    switch (m.t) {
      case 'offloaded':
        this.offloaded.set(index, m.lines);
        break;
      case 'flow-stats':
      case 'flows-removed': {
        const r = m.records;
        for (let i = 0; i + FLOW_REC <= r.length; i += FLOW_REC) {
          const mf = this.mirrors.get(r[i]);
          if (!mf) continue;
          mf.packets = r[i + 1];
          mf.bytes = r[i + 2];
          mf.usedMs = r[i + 3];
          mf.tcpFlags |= r[i + 4];
          this.host.pushMegaflow(mf);
          if (m.t === 'flows-removed') this.mirrors.delete(r[i]);
        }
        break;
      }
      case 'ack':
        this.acks.get(m.ack)?.();
        this.acks.delete(m.ack);
        break;
      case 'error':
        this.host.log.warn({ pmd: true }, m.message);
        break;
      case 'log':
        log(m.module, m.level, { ...m.fields, pmd: true }, m.msg);
        break;
    }
  }

  // ------------------------------------------------------------ ports

  /** A real-traffic port (system or tap) or any other port the workers may send to. */
  addPort(number: number, name: string, type: string, fd?: number): void {
    const slot = this.freeSlots.pop();
    if (slot === undefined) throw new RangeError('too many ports');
    for (let i = 0; i < PORT_WORDS; i++) this.base[slot * PORT_WORDS + i] = 0;
    const p: PortEntry = {
      number, name, type, slot, fd, fanoutGroup: (process.pid * 131 + number * 7919) & 0xffff,
      tapReader: type === 'tap' ? this.tapCount++ : 0,
    };
    this.ports.set(number, p);
    this.announce(p);
  }

  private announce(p: PortEntry, only?: Thread): void {
    const n = this.threads.length;
    for (const t of this.threads) {
      if (only && t !== only) continue;
      const rx = p.type === 'system' || (p.type === 'tap' && p.tapReader % n === t.index);
      const info: PmdPortInfo = {
        number: p.number, name: p.name, type: p.type, slot: p.slot, rx, fd: p.fd,
        fanoutGroup: p.type === 'system' && n > 1 ? p.fanoutGroup : undefined,
      };
      this.post(t, { t: 'add-port', port: info });
    }
  }

  /** Resolves once no worker uses the port any more (or after a bound, if a worker is stuck). */
  removePort(number: number): Promise<void> {
    const p = this.ports.get(number);
    if (!p) return Promise.resolve();
    this.ports.delete(number);
    const waits = this.threads.filter((t) => !t.exited).map((t) => {
      const ack = this.nextAck++;
      return new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ACK_TIMEOUT_MS);
        this.acks.set(ack, () => {
          clearTimeout(timer);
          resolve();
        });
        this.post(t, { t: 'del-port', number, ack });
      });
    });
    return Promise.all(waits).then(() => {
      this.freeSlots.push(p.slot);
    });
  }

  /** The workers' counters for a port, summed. */
  addCounters(number: number, into: PortCounters): void {
    const p = this.ports.get(number);
    if (!p) return;
    const sum = (k: number) => {
      let v = this.base[p.slot * PORT_WORDS + k];
      for (const t of this.threads) v += t.stats[PORT_BASE + p.slot * PORT_WORDS + k];
      return v;
    };
    into.rxPackets += sum(PC_RX_PACKETS);
    into.rxBytes += sum(PC_RX_BYTES);
    into.rxDropped += sum(PC_RX_DROPPED);
    into.rxErrors += sum(PC_RX_ERRORS);
    into.txPackets += sum(PC_TX_PACKETS);
    into.txBytes += sum(PC_TX_BYTES);
    into.txDropped += sum(PC_TX_DROPPED);
    into.txErrors += sum(PC_TX_ERRORS);
  }

  // ------------------------------------------------------------ flows

  /** Flow tables changed: every worker flushes its megaflows before its next batch. */
  bumpGeneration(): void {
    Atomics.add(this.shared, GEN, 1);
    this.dropMirrors();
  }

  private dropMirrors(): void {
    for (const mf of this.mirrors.values()) this.host.pushMegaflow(mf);
    this.mirrors.clear();
  }

  megaflows(): Megaflow[] {
    return [...this.mirrors.values()];
  }

  threadStats(): PmdThreadStats[] {
    return this.threads.map(readThread);
  }

  close(): void {
    this.closed = true;
    this.stopThreads();
    for (const t of this.acks.values()) t();
    this.acks.clear();
  }
}

function readThread(t: Thread): PmdThreadStats {
  const s = t.stats;
  return {
    index: t.index, packets: s[PS_PACKETS], batches: s[PS_BATCHES], hits: s[PS_HITS], misses: s[PS_MISSES],
    lost: s[PS_LOST], busyNs: s[PS_BUSY_NS], idleNs: s[PS_IDLE_NS], heapUsed: s[PS_HEAP_USED], upcallQueued: s[PS_UPCALL_QUEUED],
    upcallQueueFull: s[PS_UPCALL_QUEUE_FULL], upcallTimeouts: s[PS_UPCALL_TIMEOUTS], upcallsInFlight: s[PS_UPCALL_INFLIGHT],
    packetIns: s[PS_PIN_SENT], packetInsDropped: s[PS_PIN_DROPPED],
    emcHits: s[PS_EMC_HITS], smcHits: s[PS_SMC_HITS], recirc: s[PS_RECIRC], subtableProbes: s[PS_SUBTABLE_PROBES],
    lockContended: s[PS_LOCK_CONTENDED], lockSlept: s[PS_LOCK_SLEPT], lockSleptUs: s[PS_LOCK_SLEPT_US],
  };
}
