// A PMD (poll-mode driver) thread, as in OVS's dpif-netdev: it owns a
// Datapath of its own (its own megaflow cache, like OVS's per-PMD flow
// tables), reads its share of the real-traffic ports' receive queues, runs
// the packets through its cache and the shared conntrack table, and sends
// them out on its own transmit sockets. Misses go to the main thread as
// upcalls (pmd-protocol.ts). When no port has work it sleeps in poll(2) on
// the ports and its eventfd (the main thread kicks that after posting a
// control message), so an idle switch burns no CPU.
//
// This thread never returns to its event loop: control messages and upcall
// replies are taken with receiveMessageOnPort. Everything here is
// single-threaded per worker; shared state is the conntrack table (its own
// locks) and the counters block this worker alone writes.

import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import { Conntrack } from '../../conntrack/conntrack.ts';
import type { PacketBatch } from '../../packet/batch.ts';
import { Datapath, type UpcallResult } from '../datapath.ts';
import type { DpCtAction } from '../dp-actions.ts';
import type { Megaflow } from '../megaflow.ts';
import { eventFdDrain, poll, POLLERR, POLLHUP, POLLIN, POLLNVAL } from '../native/native.ts';
import { DpPort, isRxBackend, type PortBackend, type RxBackend } from '../port.ts';
import { DummyBackend } from '../ports/dummy.ts';
import { SystemBackend } from '../ports/system.ts';
import { TapBackend } from '../ports/tap.ts';
import {
  FLOW_REC, GEN, PC_RX_BYTES, PC_RX_DROPPED, PC_RX_ERRORS, PC_RX_PACKETS, PC_TX_BYTES, PC_TX_DROPPED, PC_TX_ERRORS,
  PC_TX_PACKETS, PORT_BASE, PORT_WORDS, PS_BATCHES, PS_BUSY_NS, PS_HITS, PS_IDLE_NS, PS_LOST, PS_MISSES, PS_PACKETS,
  UPCALL_TIMEOUT_MS, type PmdControl, type PmdPortInfo, type PmdWorkerData, type UpcallReply,
} from './pmd-protocol.ts';

const wd = workerData as PmdWorkerData;
const stats = new Float64Array(wd.stats);
const shared = new Int32Array(wd.shared);
const upWord = new Int32Array(wd.upcallWord);
const ct = Conntrack.attach(wd.conntrack);

/** Idle sleep bound: control messages also kick the eventfd, so this only paces housekeeping. */
const IDLE_POLL_MS = 100;
const PUSH_INTERVAL_MS = 100;
const EXPIRE_INTERVAL_MS = 1000;
const BATCHES_PER_PORT = 4;

let upSeq = 0;
let emptyWakes = 0;
const pace = new Int32Array(new SharedArrayBuffer(4));

/** Clear socket errors poll(2) reported (POLLERR), counting them as rx errors. */
function takeErrors(): void {
  const v = new DataView(pfd.buffer);
  for (let i = 1; i < nfds; i++) {
    const re = v.getInt16(i * 8 + 6, true);
    if ((re & (POLLERR | POLLHUP | POLLNVAL)) === 0) continue;
    const p = rxPorts[i - 1];
    const be = p.backend as RxBackend;
    if (be.takeError?.()) p.stats.rxErrors++;
  }
}

function upcall(key: Uint32Array, len: number): UpcallResult | null {
  if (len === 0) return null; // workers never revalidate: a generation change flushes instead
  const seq = ++upSeq;
  Atomics.store(upWord, 0, 0);
  wd.upcallPort.postMessage({ seq, key, len });
  const deadline = Date.now() + UPCALL_TIMEOUT_MS;
  for (;;) {
    const m = receiveMessageOnPort(wd.upcallPort);
    if (m) {
      const r = m.message as UpcallReply;
      if (r.seq !== seq) continue; // the answer to an upcall that timed out
      if (r.actions === null || r.mask === null) return { actions: [], mask: new Uint32Array(0), error: r.error ?? 'upcall failed' };
      return { actions: r.actions, mask: r.mask, owner: r.flowId, error: r.error };
    }
    const left = deadline - Date.now();
    if (left <= 0) return null;
    Atomics.wait(upWord, 0, 0, left);
    Atomics.store(upWord, 0, 0);
  }
}

const dp = new Datapath(upcall, {
  execute(batch: PacketBatch, idx: number, key: Uint32Array, keyOfs: number, a: DpCtAction, nowMs: number) {
    ct.execute(batch, idx, key, keyOfs, a.exec, nowMs);
  },
});

const removed: number[] = [];
dp.onRemove = (mf: Megaflow) => {
  if (typeof mf.owner === 'number') removed.push(mf.owner, mf.packets, mf.bytes, mf.usedMs, mf.tcpFlags);
};

const slots = new Map<number, number>();
let rxPorts: DpPort[] = [];
let pfd = new Uint8Array(8);
let nfds = 1;

function rebuildPollSet(): void {
  rxPorts = [...dp.ports.values()].filter((p) => isRxBackend(p.backend) && (p.backend as RxBackend).rxFd >= 0 && rxOf.get(p.number));
  nfds = 1 + rxPorts.length;
  pfd = new Uint8Array(nfds * 8);
  const v = new DataView(pfd.buffer);
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
  void FLOW_REC;
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
  let gen = Atomics.load(shared, GEN);
  let lastPush = Date.now();
  let lastExpire = lastPush;
  let packets = 0;
  for (;;) {
    for (let m = receiveMessageOnPort(wd.ctlPort); m; m = receiveMessageOnPort(wd.ctlPort)) {
      if (!handle(m.message as PmdControl)) return;
    }
    const g = Atomics.load(shared, GEN);
    if (g !== gen) {
      gen = g;
      dp.flushFlows();
    }
    const t0 = process.hrtime.bigint();
    const now = Date.now();
    let n = 0;
    for (let i = 0; i < rxPorts.length; i++) n += dp.pollPort(rxPorts[i], BATCHES_PER_PORT, now);
    const t1 = process.hrtime.bigint();
    if (n > 0) {
      packets += n;
      stats[PS_PACKETS] = packets;
      stats[PS_BUSY_NS] += Number(t1 - t0);
    } else {
      if (poll(pfd, nfds, IDLE_POLL_MS) > 0) takeErrors();
      eventFdDrain(wd.wakeFd);
      // Ready but nothing to read, again and again (a descriptor stuck in an
      // error state): pace the loop instead of spinning.
      if (++emptyWakes > 3) Atomics.wait(pace, 0, 0, 10);
      stats[PS_IDLE_NS] += Number(process.hrtime.bigint() - t0);
    }
    if (n > 0) emptyWakes = 0;
    const t = Date.now();
    if (t - lastPush >= PUSH_INTERVAL_MS || n === 0) {
      if (t - lastExpire >= EXPIRE_INTERVAL_MS) {
        lastExpire = t;
        dp.expire(t);
        for (const p of rxPorts) p.refreshStats();
      }
      lastPush = t;
      publishCounters();
      pushFlows();
    }
  }
}

try {
  run();
} finally {
  for (const n of [...dp.ports.keys()]) dp.removePort(n);
  publishCounters();
  process.exit(0);
}
