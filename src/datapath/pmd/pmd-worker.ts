// A PMD (poll-mode driver) thread, as in OVS's dpif-netdev: it owns a
// Datapath of its own (its own megaflow cache, like OVS's per-PMD flow
// tables), reads its share of the real-traffic ports' receive queues, runs
// the packets through its cache and the shared conntrack table, and sends
// them out on its own transmit sockets. Misses go to the main thread as
// upcalls (pmd-protocol.ts) without waiting for the answer: the packet is
// queued (upcall-queue.ts) and the thread goes on with its other traffic.
// When no port has work it sleeps in poll(2) on the ports and its eventfd
// (the main thread kicks that after posting a control message or an upcall
// answer), so an idle switch burns no CPU. Transmit queues are flushed at
// the end of every batch (Datapath.processBatch).
//
// This thread never returns to its event loop: control messages and upcall
// replies are taken with receiveMessageOnPort. Everything here is
// single-threaded per worker; shared state is the conntrack table (its own
// locks) and the counters block this worker alone writes.

import { getHeapStatistics } from 'node:v8';
import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import { Conntrack } from '../../conntrack/conntrack.ts';
import { BATCH_MAX, PacketBatch } from '../../packet/batch.ts';
import { FK_HEADER_FIRST } from '../../packet/extract.ts';
import { conntrackHook, Datapath, UPCALL_QUEUED, type UpcallResult } from '../datapath.ts';
import type { Megaflow } from '../megaflow.ts';
import { FlowtableConfig, formatFtEntry } from '../flowtable.ts';
import { MeterTable } from '../meter.ts';
import { eventFdDrain, poll, POLLERR, POLLHUP, POLLIN, POLLNVAL, setThreadNice } from '../native/native.ts';
import { DpPort, isRxBackend, type PortBackend, type RxBackend } from '../port.ts';
import { DummyBackend } from '../ports/dummy.ts';
import { SystemBackend } from '../ports/system.ts';
import { TapBackend } from '../ports/tap.ts';
import { UpcallQueue } from './upcall-queue.ts';
import { keepWarm, selfWarm, startWarmUp, warmedUp, warming } from './warm-up.ts';
import { IdlePace } from './idle-pace.ts';
import { rxTrace, traceBegin, traceEnd, traceNow, traceWrite, tracedHook } from '../rx/rx-trace.ts';
import { flushAllSuppressed, setLogSink } from '../../packet/log.ts';
import { lockWaits } from '../../conntrack/lock.ts';
import {
  GEN, MAX_IDLE, PC_RX_BYTES, PC_RX_DROPPED, PC_RX_ERRORS, PC_RX_PACKETS, PC_TX_BYTES, PC_TX_DROPPED, PC_TX_ERRORS,
  PC_TX_PACKETS, PORT_BASE, PORT_WORDS, PS_BATCHES, PS_BUSY_NS, PS_HEAP_USED, PS_HITS, PS_IDLE_NS, PS_LOST, PS_MISSES, PS_PACKETS,
  PS_UPCALL_INFLIGHT, PS_UPCALL_QUEUE_FULL, PS_UPCALL_QUEUED, PS_UPCALL_TIMEOUTS, PS_PIN_SENT, PS_PIN_DROPPED, PIN_MAX_INFLIGHT,
  PS_EMC_HITS, PS_SMC_HITS, PS_RECIRC, PS_SUBTABLE_PROBES, EMC_INV_PROB, SMC_ENABLE, PS_LOCK_CONTENDED, PS_LOCK_SLEPT,
  PS_LOCK_SLEPT_US, UPCALL_TIMEOUT_MS, type PmdControl, type PmdPortInfo, type PmdWorkerData, type UpcallReply,
} from './pmd-protocol.ts';

startWarmUp();

const wd = workerData as PmdWorkerData;
// This thread's log calls (rate-limited at the source, src/packet/log.ts) go to the main thread, which logs them.
setLogSink((module, level, fields, msg) => wd.ctlPort.postMessage({ t: 'log', module, level, fields, msg }));
const stats = new Float64Array(wd.stats);
const shared = new Int32Array(wd.shared);
const ct = Conntrack.attach(wd.conntrack);

const PUSH_INTERVAL_MS = 100;
const EXPIRE_INTERVAL_MS = 1000;
/** Batches read from one port before the next port's turn (SWD_PMD_BATCHES_PER_PORT, for measurements). */
const BATCHES_PER_PORT = Number(process.env.SWD_PMD_BATCHES_PER_PORT ?? 4) || 4;
/** Under load (no poll(2) that would see the eventfd) control messages are looked for this often. */
const CTL_CHECK_MS = 1;
/**
 * Busy-poll before sleeping, right after traffic (see spinForRx). Measured
 * on 2 shared cores (ping p50 through the ACL, 10 ms apart): no spin 0.25 ms,
 * 30 us 0.30 ms, 100 us 0.38 ms — the spin takes the CPU the other end needs
 * to answer. So by default it is one look at the rings, no spin; a machine
 * with cores to spare may gain from a few tens of microseconds.
 */
const SPIN_MS = Number(process.env.SWD_PMD_SPIN_US ?? 0) / 1000; // SWD_PMD_SPIN_US: for measurements

/**
 * A thread woken by a packet goes to it before the control port and
 * housekeeping (SWD_PMD_FAST_WAKE=0: as before, for measurements). The loop
 * between poll(2) and the read went from 45-52 to 30-37 us (probe.ts, rx
 * trace, 3 rounds). It once held the first packets of a new flow about a
 * second: the round it started skipped the flow-table generation check with
 * the control port, so a megaflow from before a table change dropped them;
 * the check now runs every round (syncGeneration).
 */
const FAST_WAKE = process.env.SWD_PMD_FAST_WAKE !== '0';

let emptyWakes = 0;
/** When poll(2) last returned (rx-trace.ts; 0 when the thread did not sleep before this round). */
let wakeUs = 0;
const pace = new Int32Array(new SharedArrayBuffer(4));
const idlePace = new IdlePace();

/** Clear socket errors poll(2) reported (POLLERR), counting them as rx errors. */
function takeErrors(): void {
  const v = pfdView;
  for (let i = 1; i < nfds; i++) {
    const re = v.getInt16(i * 8 + 6, true);
    if ((re & (POLLERR | POLLHUP | POLLNVAL)) === 0) continue;
    const p = rxPorts[i - 1];
    const be = p.backend as RxBackend;
    if (be.takeError?.()) p.stats.rxErrors++;
  }
}

// ------------------------------------------------------------ upcalls
//
// A miss never waits: the packet is queued under its upcall (a new one is
// posted, or it joins one in flight for the same key) and the thread goes
// on. takeReplies() installs what the main thread answered and runs the
// waiting packets; expireUpcalls() gives up on answers that never came.

const upq = new UpcallQueue();
const resumeBatch = new PacketBatch();
const resumeMeta = new Uint32Array(BATCH_MAX * FK_HEADER_FIRST);
const resumeDepth = new Uint8Array(BATCH_MAX);
const resumeCredited = new Uint8Array(BATCH_MAX);
/** The generation this thread's megaflow cache was last flushed for. */
let cacheGen = Atomics.load(shared, GEN);

function upcall(key: Uint32Array, len: number, b?: PacketBatch, idx?: number, depth?: number): UpcallResult | null {
  if (b === undefined || idx === undefined) return null;
  const o = upq.miss(key, 0, b, idx, depth ?? 0, Date.now());
  publishUpcallStats();
  if (o === 'full') return null;
  if (o === 'new') {
    const u = upq.last!;
    wd.upcallPort.postMessage({ seq: u.seq, key: u.key, len });
  }
  return UPCALL_QUEUED;
}

function publishUpcallStats(): void {
  stats[PS_UPCALL_QUEUED] = upq.stats.queued;
  stats[PS_UPCALL_QUEUE_FULL] = upq.stats.full;
  stats[PS_UPCALL_TIMEOUTS] = upq.stats.timedOut;
  stats[PS_UPCALL_INFLIGHT] = upq.inFlight;
}

/**
 * Flush the megaflow cache if the flow tables changed: before every round
 * of batches and before anything is installed. The main thread bumps the
 * generation without a kick, so this must not wait for the control port's
 * turn (a round woken by a packet skips that turn with FAST_WAKE).
 */
function syncGeneration(): void {
  const g = Atomics.load(shared, GEN);
  if (g !== cacheGen) {
    cacheGen = g;
    dp.flushFlows();
  }
}

/** emc: the flow cache's configuration (emc.ts), set by the main thread; looked at with the control port. */
function syncCacheConfig(): void {
  dp.flowCache.configure(Atomics.load(shared, EMC_INV_PROB), Atomics.load(shared, SMC_ENABLE) !== 0);
}

/** Install the answers that came, and run the packets that waited for them. */
function takeReplies(nowMs: number): void {
  syncGeneration();
  for (let m = receiveMessageOnPort(wd.upcallPort); m; m = receiveMessageOnPort(wd.upcallPort)) {
    const r = m.message as UpcallReply;
    const u = upq.take(r.seq);
    if (u === undefined) {
      // Given up on (timed out): the main thread's mirror of it goes away.
      if (r.flowId) removed.push(r.flowId, 0, 0, 0, 0);
      continue;
    }
    if (r.actions === null || r.mask === null || r.error) {
      dp.stats.lost += u.packets.length;
      upq.discard(u);
      continue;
    }
    if (r.gen === cacheGen && dp.cache.lookup(u.key, 0) === null) {
      if (dp.cache.insert(u.key, 0, r.mask, r.actions, nowMs, r.flowId) === null) {
        // The cache is full: the packets would only miss again.
        dp.stats.lost += u.packets.length;
        upq.discard(u);
        removed.push(r.flowId, 0, 0, 0, 0);
        continue;
      }
    } else if (r.flowId) {
      // Translated under older tables, or an earlier answer already covers
      // the key: nothing installed (the packets look up, or upcall, again).
      removed.push(r.flowId, 0, 0, 0, 0);
    }
    let first = true;
    while (u.packets.length > 0) {
      resumeBatch.clear();
      const n = upq.drainInto(u, resumeBatch, resumeMeta, resumeDepth);
      for (let i = 0; i < n; i++) resumeCredited[i] = 0;
      if (first) resumeCredited[0] = 1; // the packet translation credited to the rules
      first = false;
      dp.processResumed(resumeBatch, resumeMeta, resumeDepth, resumeCredited, nowMs);
    }
  }
  publishUpcallStats();
}

function expireUpcalls(nowMs: number): void {
  if (upq.inFlight > 0 && upq.expire(nowMs, UPCALL_TIMEOUT_MS) > 0) publishUpcallStats();
}

const dp = new Datapath(upcall, tracedHook(conntrackHook(ct)), null, new FlowtableConfig(wd.offload));
if (wd.meters) dp.meters = new MeterTable(wd.meters);
// A reassembled packet that waited for an upcall and is dropped frees its fragments (counted purged).
upq.onDropFragments = (list) => ct.ipf.release(list, false);

// Packet-ins go to the main thread, which owns the OpenFlow connections; bounded by PIN_MAX_INFLIGHT.
const pinAck = new Int32Array(wd.pinAck);
let pinSent = 0;
dp.onUserspace = (inPort, packet, userdata) => {
  if (((pinSent - Atomics.load(pinAck, 0)) | 0) >= PIN_MAX_INFLIGHT) {
    stats[PS_PIN_DROPPED]++;
    return;
  }
  pinSent = (pinSent + 1) | 0;
  stats[PS_PIN_SENT]++;
  wd.ctlPort.postMessage({ t: 'packet-in', inPort, userdata, packet }, [packet.buffer as ArrayBuffer]);
};

const removed: number[] = [];
dp.onRemove = (mf: Megaflow) => {
  if (typeof mf.owner === 'number') removed.push(mf.owner, mf.packets, mf.bytes, mf.usedMs, mf.tcpFlags);
};

const slots = new Map<number, number>();
let rxPorts: DpPort[] = [];
/** The rx ports whose rings can be looked at without a system call (the system ports). */
let spinPorts: SystemBackend[] = [];
/** Per rx port: its system backend, or null (tap, dummy). */
let sysOf: (SystemBackend | null)[] = [];
let pfd = new Uint8Array(8);
let pfdView = new DataView(pfd.buffer);
let nfds = 1;

function rebuildPollSet(): void {
  rxPorts = [...dp.ports.values()].filter((p) => isRxBackend(p.backend) && (p.backend as RxBackend).rxFd >= 0 && rxOf.get(p.number));
  nfds = 1 + rxPorts.length;
  spinPorts = rxPorts.map((p) => p.backend).filter((b): b is SystemBackend => b instanceof SystemBackend);
  sysOf = rxPorts.map((p) => (p.backend instanceof SystemBackend ? p.backend : null));
  pfd = new Uint8Array(nfds * 8);
  pfdView = new DataView(pfd.buffer);
  const v = pfdView;
  const fds = [wd.wakeFd, ...rxPorts.map((p) => (p.backend as RxBackend).rxFd)];
  fds.forEach((fd, i) => {
    v.setInt32(i * 8, fd, true);
    v.setInt16(i * 8 + 4, POLLIN, true);
  });
}

const rxOf = new Map<number, boolean>();

function addPort(info: PmdPortInfo): void {
  let backend: PortBackend;
  if (info.type === 'system') backend = new SystemBackend(info.name, { rx: info.rx, fanoutGroup: info.fanoutGroup });
  else if (info.type === 'tap') backend = TapBackend.attach(info.name, info.fd!);
  else backend = new DummyBackend();
  dp.addPort(new DpPort(info.number, info.name, backend, {}));
  slots.set(info.number, info.slot);
  rxOf.set(info.number, info.rx);
}

function publishCounters(): void {
  const s = dp.stats;
  stats[PS_HITS] = s.hit;
  stats[PS_MISSES] = s.missed;
  stats[PS_LOST] = s.lost;
  stats[PS_BATCHES] = dp.batches;
  // emc: flow cache counters (emc.ts).
  stats[PS_EMC_HITS] = s.emcHit;
  stats[PS_SMC_HITS] = s.smcHit;
  stats[PS_RECIRC] = s.recirc;
  stats[PS_SUBTABLE_PROBES] = dp.cache.hitProbes;
  stats[PS_LOCK_CONTENDED] = lockWaits.contended;
  stats[PS_LOCK_SLEPT] = lockWaits.slept;
  stats[PS_LOCK_SLEPT_US] = lockWaits.sleptUs;
  for (const p of dp.ports.values()) {
    const slot = slots.get(p.number);
    if (slot === undefined) continue;
    const o = PORT_BASE + slot * PORT_WORDS;
    const c = p.stats;
    stats[o + PC_RX_PACKETS] = c.rxPackets;
    stats[o + PC_RX_BYTES] = c.rxBytes;
    stats[o + PC_RX_DROPPED] = c.rxDropped;
    stats[o + PC_RX_ERRORS] = c.rxErrors;
    stats[o + PC_TX_PACKETS] = c.txPackets;
    stats[o + PC_TX_BYTES] = c.txBytes;
    stats[o + PC_TX_DROPPED] = c.txDropped;
    stats[o + PC_TX_ERRORS] = c.txErrors;
  }
}

/** Send the counters of megaflows that moved, and the megaflows that went away. */
function pushFlows(): void {
  const recs: number[] = [];
  for (const mf of dp.cache.entries()) {
    if (mf.packets === mf.pushedPackets || typeof mf.owner !== 'number') continue;
    mf.pushedPackets = mf.packets;
    recs.push(mf.owner, mf.packets, mf.bytes, mf.usedMs, mf.tcpFlags);
  }
  if (recs.length) wd.ctlPort.postMessage({ t: 'flow-stats', records: Float64Array.from(recs) });
  if (removed.length) {
    wd.ctlPort.postMessage({ t: 'flows-removed', records: Float64Array.from(removed) });
    removed.length = 0;
  }
}

function handle(m: PmdControl): boolean {
  switch (m.t) {
    case 'add-port':
      try {
        addPort(m.port);
      } catch (e) {
        wd.ctlPort.postMessage({ t: 'error', message: `port ${m.port.name}: ${(e as Error).message}` });
      }
      rebuildPollSet();
      return true;
    case 'del-port':
      dp.removePort(m.number);
      slots.delete(m.number);
      rxOf.delete(m.number);
      rebuildPollSet();
      wd.ctlPort.postMessage({ t: 'ack', ack: m.ack });
      return true;
    case 'stop':
      return false;
  }
}

function run(): void {
  selfWarm(); // the packet path compiled before the first real packet (self-warm.ts)
  let lastPush = Date.now();
  let lastExpire = lastPush;
  let lastCtl = lastPush;
  let packets = 0;
  // Counters moved since they were last published: published at once when
  // the thread falls idle (PUBLISH_IDLE_MS without a packet, idle-pace.ts), every
  // PUSH_INTERVAL_MS under load — never per wake-up, which under light
  // traffic is per packet.
  let dirty = false;
  let woken = true;
  let hadPackets = false;
  /** This round follows a wake-up by a port: the control port is looked at after the packets. */
  let fromPoll = false;
  for (;;) {
    const now = Date.now();
    if (woken || (!fromPoll && now - lastCtl >= CTL_CHECK_MS)) {
      lastCtl = now;
      woken = false;
      for (let m = receiveMessageOnPort(wd.ctlPort); m; m = receiveMessageOnPort(wd.ctlPort)) {
        if (!handle(m.message as PmdControl)) return;
      }
      syncCacheConfig();
    }
    fromPoll = false;
    syncGeneration();
    if (upq.inFlight > 0) takeReplies(now);
    const t0 = process.hrtime.bigint();
    let n = 0;
    if (rxTrace.on) {
      for (let i = 0; i < rxPorts.length; i++) {
        traceBegin();
        const k = pollOne(i, now);
        traceEnd(rxPorts[i].number, k, wakeUs);
        if (k > 0) wakeUs = 0; // the wake-up is the first port's with packets
        n += k;
      }
    } else for (let i = 0; i < rxPorts.length; i++) n += pollOne(i, now);
    if (n > 0) {
      packets += n;
      idlePace.sawPackets(now);
      if (warming) warmedUp(packets);
      stats[PS_PACKETS] = packets;
      stats[PS_BUSY_NS] += Number(process.hrtime.bigint() - t0);
      emptyWakes = 0;
      dirty = true;
      hadPackets = true;
    } else {
      // Packets in the last round: look at the rings (for SPIN_MS) before
      // sleeping — a wake-up from poll(2) costs more than a look, on both
      // sides (the kernel wakes a sleeper per frame). Only right after
      // a batch, so an idle thread never spins and a descriptor stuck in an
      // error state reaches the paced poll below.
      const spin = hadPackets;
      hadPackets = false;
      if (spin && spinForRx()) continue;
      const r = poll(pfd, nfds, idlePace.timeoutMs(now, dirty));
      if (rxTrace.on) wakeUs = traceNow();
      if (r > 0) {
        if (pfdView.getInt16(6, true) !== 0) {
          eventFdDrain(wd.wakeFd);
          woken = true;
        }
        takeErrors();
        // Ready but nothing to read, again and again (a descriptor stuck in an
        // error state): pace the loop instead of spinning.
        if (++emptyWakes > 3) Atomics.wait(pace, 0, 0, 10);
        else if (!woken && FAST_WAKE) {
          // Woken by a packet: straight to it. The control port and the
          // housekeeping below wait until it is sent (the next round).
          stats[PS_IDLE_NS] += Number(process.hrtime.bigint() - t0);
          fromPoll = true;
          continue;
        }
      } else if (!idlePace.tick(Date.now()) || keepWarm() === 0) woken = true; // a quiet moment: look at the control port too
      stats[PS_IDLE_NS] += Number(process.hrtime.bigint() - t0);
      if (r === 0 && dirty) {
        dirty = false;
        publish();
        lastPush = Date.now();
      }
    }
    const t = Date.now();
    if (t - lastPush >= PUSH_INTERVAL_MS) {
      lastPush = t;
      if (t - lastExpire >= EXPIRE_INTERVAL_MS) {
        lastExpire = t;
        const maxIdle = Atomics.load(shared, MAX_IDLE);
        if (maxIdle > 0) dp.maxIdleMs = maxIdle;
        dp.expire(t);
        flushAllSuppressed(t);
        expireUpcalls(t);
        ct.ipf.expire(t);
        for (const p of rxPorts) p.refreshStats();
        stats[PS_HEAP_USED] = getHeapStatistics().total_physical_size;
        traceWrite();
      }
      publish();
    }
  }
}

/**
 * Up to BATCHES_PER_PORT batches from rx port i. A batch that took a lone
 * packet ahead of the port's backlog (a request beside a bulk stream,
 * rx-sparse.ts) ends the port's turn: its answer is likely to come in on
 * another port, and should not wait for more of this port's backlog.
 */
function pollOne(i: number, now: number): number {
  const p = rxPorts[i];
  const sys = sysOf[i];
  if (sys === null) return dp.pollPort(p, BATCHES_PER_PORT, now);
  let n = 0;
  for (let k = 0; k < BATCHES_PER_PORT; k++) {
    const early = sys.earlyTaken;
    const m = dp.pollPort(p, 1, now);
    n += m;
    if (m === 0 || sys.earlyTaken !== early) break;
  }
  return n;
}

/**
 * Busy-poll the rx ports for up to SPIN_MS; true when one has a packet.
 * System ports' rings are looked at directly; with a tap among the ports
 * (its queue is only seen through a system call) poll(2) with timeout 0
 * looks at all of them.
 */
function spinForRx(): boolean {
  if (rxPorts.length === 0) return false;
  const end = performance.now() + SPIN_MS;
  if (spinPorts.length === rxPorts.length) {
    do {
      for (let i = 0; i < spinPorts.length; i++) if (spinPorts[i].rxReady()) return true;
    } while (performance.now() < end);
    return false;
  }
  do {
    if (poll(pfd, nfds, 0) > 0) {
      // A port, not just the eventfd (that one the sleeping poll below takes).
      for (let i = 1; i < nfds; i++) if (pfdView.getInt16(i * 8 + 6, true) !== 0) return true;
      return false;
    }
  } while (performance.now() < end);
  return false;
}

function publish(): void {
  publishCounters();
  pushFlows();
  publishOffloaded();
}

/** The flowtable entries, for dump-offloaded (names are the main thread's to add: ports by number). */
let offloadedShown = false;
function publishOffloaded(): void {
  const ft = dp.flowtable;
  if (ft.size === 0 && !offloadedShown) return;
  offloadedShown = ft.size > 0;
  const now = Date.now();
  wd.ctlPort.postMessage({ t: 'offloaded', lines: ft.entries().map((e) => formatFtEntry(e, now)) });
}

if (process.env.SWD_PMD_NICE) setThreadNice(Number(process.env.SWD_PMD_NICE)); // this thread's nice value, for measurements

try {
  run();
} finally {
  for (const n of [...dp.ports.keys()]) dp.removePort(n);
  publishCounters();
  traceWrite();
  process.exit(0);
}
