// What the main thread and the PMD worker threads share and say to each
// other (pmd-set.ts is the main side, pmd-worker.ts the worker side).
//
// Shared memory per worker (Float64Array, written by the worker only, read
// by the main thread without locks: counters are monotonic doubles, a torn
// read is impossible for an aligned 8-byte element):
//   [0 .. PMD_STAT_WORDS)             the thread's counters (PS_*)
//   [PORT_BASE + slot * PORT_WORDS ..] counters of each port slot (PC_*)
// Shared by all (Int32Array): [GEN] the flow-table generation; a worker that
// sees it change flushes its megaflow cache before its next batch, so a
// flow-table change never leaves stale forwarding behind in any thread.
//
// Upcalls: on a megaflow miss the worker queues the packet (upcall-queue.ts),
// posts {seq, key, len} on its upcall port and goes on with its other
// traffic; the main thread translates (xlate), posts the reply with the
// flow-table generation it translated under, and kicks the worker's eventfd.
// The worker takes the reply with receiveMessageOnPort (no event loop
// needed), installs the megaflow in its own cache under the flow id the
// main thread chose — unless the generation moved on meanwhile — and runs
// the queued packets.

import type { LogLevel } from '../../packet/log.ts';

import type { MessagePort } from 'node:worker_threads';
import type { DpAction } from '../dp-actions.ts';
import type { ConntrackDescriptor } from '../../conntrack/conntrack.ts';

export const PS_PACKETS = 0;
export const PS_BATCHES = 1;
export const PS_HITS = 2;
export const PS_MISSES = 3;
export const PS_LOST = 4;
export const PS_BUSY_NS = 5;
export const PS_IDLE_NS = 6;
/** The thread's V8 heap resident in memory, bytes (a gauge, refreshed with the expiry step). */
export const PS_HEAP_USED = 7;
/** Packets that waited for an upcall; dropped for want of queue room; dropped because the reply never came. */
export const PS_UPCALL_QUEUED = 8;
export const PS_UPCALL_QUEUE_FULL = 9;
export const PS_UPCALL_TIMEOUTS = 10;
/** Upcalls in flight now (a gauge). */
export const PS_UPCALL_INFLIGHT = 11;
/** Flow cache (emc.ts): EMC hits, SMC hits, recirculations, subtables probed by classifier hits. */
export const PS_EMC_HITS = 12;
export const PS_SMC_HITS = 13;
export const PS_RECIRC = 14;
export const PS_SUBTABLE_PROBES = 15;
/** Packet-ins (controller-bound packets) posted to the main thread; dropped because too many were in flight. */
export const PS_PIN_SENT = 16;
export const PS_PIN_DROPPED = 17;
/** Conntrack lock waits (lock.ts): takes that found the lock held, those that slept, µs slept. */
export const PS_LOCK_CONTENDED = 18;
export const PS_LOCK_SLEPT = 19;
export const PS_LOCK_SLEPT_US = 20;
export const PMD_STAT_WORDS = 21;

export const PC_RX_PACKETS = 0;
export const PC_RX_BYTES = 1;
export const PC_RX_DROPPED = 2;
export const PC_RX_ERRORS = 3;
export const PC_TX_PACKETS = 4;
export const PC_TX_BYTES = 5;
export const PC_TX_DROPPED = 6;
export const PC_TX_ERRORS = 7;
export const PORT_WORDS = 8;
export const PORT_BASE = PMD_STAT_WORDS;
export const MAX_PORT_SLOTS = 1024;
export const PMD_SAB_BYTES = (PORT_BASE + MAX_PORT_SLOTS * PORT_WORDS) * 8;

export const GEN = 0;
/** shared[MAX_IDLE]: the megaflow idle time in ms (--max-idle), 0 = the default. */
export const MAX_IDLE = 1;
/** shared[EMC_INV_PROB]: emc-insert-inv-prob (0 = EMC off); shared[SMC_ENABLE]: 1 = SMC on. */
export const EMC_INV_PROB = 2;
export const SMC_ENABLE = 3;
export const SHARED_WORDS = 4;

/**
 * Packet-ins a worker may have posted that the main thread has not taken
 * yet (pinAck[0] counts those it took); beyond, a packet-in is dropped and
 * counted (PS_PIN_DROPPED), as OVS bounds each controller's packet-in queue.
 */
export const PIN_MAX_INFLIGHT = 256;

/** How long a worker keeps the packets of an upcall the main thread has not answered. */
export const UPCALL_TIMEOUT_MS = 2000;

export interface PmdWorkerData {
  index: number;
  stats: SharedArrayBuffer;
  shared: SharedArrayBuffer;
  conntrack: ConntrackDescriptor;
  /** The flowtable configuration (flowtable.ts FlowtableConfig), shared. */
  offload: SharedArrayBuffer;
  /** The datapath's meters (meter.ts MeterTable), shared; absent: this thread has its own (tests). */
  meters?: SharedArrayBuffer;
  wakeFd: number;
  /** Int32Array[1]: packet-ins the main thread has taken from this worker (it adds, the worker reads). */
  pinAck: SharedArrayBuffer;
  upcallPort: MessagePort;
  ctlPort: MessagePort;
}

/** A port as a worker sees it. */
export interface PmdPortInfo {
  number: number;
  name: string;
  type: string;
  slot: number;
  /** This worker reads the port. */
  rx: boolean;
  /** PACKET_FANOUT group when several workers read it. */
  fanoutGroup?: number;
  /** Tap: the device's descriptor (owned by the main thread). */
  fd?: number;
}

export type PmdControl =
  | { t: 'add-port'; port: PmdPortInfo }
  | { t: 'del-port'; number: number; ack: number }
  | { t: 'stop' };

export type PmdEvent =
  /** Megaflow counters: flat [flowId, packets, bytes, usedMs, tcpFlags] records. */
  | { t: 'flow-stats'; records: Float64Array }
  /** Megaflows gone from the worker's cache (expired or flushed), with their last counters. */
  | { t: 'flows-removed'; records: Float64Array }
  | { t: 'ack'; ack: number }
  | { t: 'error'; message: string }
  /** A log line of this thread (src/packet/log.ts), already rate-limited here; the main thread logs it. */
  | { t: 'log'; module: string; level: LogLevel; fields: Record<string, unknown>; msg: string }
  /** A controller-bound packet (the userspace action), for the OpenFlow connections on the main thread. */
  | { t: 'packet-in'; inPort: number; userdata: number; packet: Uint8Array }
  /** The worker's flowtable entries, as dump-offloaded prints them. */
  | { t: 'offloaded'; lines: string[] };

export const FLOW_REC = 5;

export interface UpcallRequest {
  seq: number;
  key: Uint32Array;
  len: number;
}

export interface UpcallReply {
  seq: number;
  flowId: number;
  actions: DpAction[] | null;
  mask: Uint32Array | null;
  error: string | null;
  /** The flow-table generation (shared[GEN]) the translation used. */
  gen: number;
}
