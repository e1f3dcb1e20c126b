// The main-thread receive loop: the datapath runs on the main thread and
// this loop feeds it from the real-traffic ports (system, tap). A waiter
// thread (poll-waiter.ts) sleeps in poll(2) on the ports' descriptors and an
// eventfd; when one is readable it fires, the main thread reads every port's
// ring or device without blocking (a bounded number of batches per port, so
// the control socket keeps its turn), and reads again on the next turn of
// the event loop for as long as packets come; only when the ports are empty
// does it re-arm the waiter. Nothing spins while no traffic comes.
//
// Port changes: update() rewrites the descriptor list and kicks the eventfd
// so the waiter polls the new list at once. A port's descriptor is closed
// only after update() dropped it; a poll still sleeping on it returns
// within POLL_MS, and a spurious wake-up only costs an empty drain.

import type { Worker } from 'node:worker_threads';
import type { Datapath } from '../datapath.ts';
import { eventFd, eventFdDrain, eventFdSignal, closeFd } from '../native/native.ts';
import { isRxBackend, type DpPort, type RxBackend } from '../port.ts';
import { RX_ARMED, RX_FDS_OFS, RX_MAX_FDS, RX_SAB_BYTES, RX_STOP } from './rx-shared.ts';
import { startTsWorker } from './worker-boot.ts';

/** Atomics.waitAsync (Node 20 has it; TypeScript's ES2022 library does not declare it). */
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: Promise<string> | string };
}).waitAsync;

/** Batches read from one port per wake-up before the event loop gets a turn. */
const BATCHES_PER_PORT = 16;

export class RxLoop {
  private readonly sab = new SharedArrayBuffer(RX_SAB_BYTES);
  private readonly ctl = new Int32Array(this.sab);
  private worker: Worker | null = null;
  private wakeFd = -1;
  private ports: DpPort[] = [];
  private waiting = false;
  private emptyDrains = 0;

  constructor(
    private readonly dp: Datapath,
    private readonly now: () => number,
    /** Called after packets were processed (e.g. to revalidate after MAC learning). */
    private readonly afterWork: () => void,
  ) {}

  /** Re-read the datapath's ports; starts or stops the waiter as needed. */
  update(): void {
    this.ports = [...this.dp.ports.values()].filter((p) => isRxBackend(p.backend));
    if (this.ports.length === 0) {
      this.stop();
      return;
    }
    if (this.worker === null) {
      this.wakeFd = eventFd();
      Atomics.store(this.ctl, 0, RX_ARMED);
      this.worker = startTsWorker(new URL('./poll-waiter.ts', import.meta.url).href, { workerData: { sab: this.sab } });
      this.worker.unref();
      this.wait();
    }
    const fds = [this.wakeFd, ...this.ports.map((p) => (p.backend as RxBackend).rxFd)].slice(0, RX_MAX_FDS);
    for (let i = 0; i < fds.length; i++) Atomics.store(this.ctl, RX_FDS_OFS + i, fds[i]);
    Atomics.store(this.ctl, 1, fds.length);
    eventFdSignal(this.wakeFd);
  }

  private wait(): void {
    if (this.waiting || this.worker === null) return;
    this.waiting = true;
    const r = waitAsync(this.ctl, 0, RX_ARMED);
    if (r.async) void (r.value as Promise<string>).then(() => this.drain());
    else setImmediate(() => this.drain());
  }

  private drain(): void {
    this.waiting = false;
    if (this.worker === null) return;
    eventFdDrain(this.wakeFd);
    let n = 0;
    const now = this.now();
    for (const p of this.ports) n += this.dp.pollPort(p, BATCHES_PER_PORT, now);
    if (n > 0) {
      this.emptyDrains = 0;
      this.afterWork();
      // Traffic: look again on the next turn of the event loop, without the
      // round trip through the waiter (its poll(2), the notify, the wake of
      // this thread); the waiter is re-armed only once the ports are empty.
      // Timers and the control socket still run between two drains.
      setImmediate(() => this.drain());
      return;
    }
    // Woken for nothing: a socket error (the interface went away) keeps poll(2) firing until taken.
    for (const p of this.ports) if ((p.backend as RxBackend).takeError?.()) p.stats.rxErrors++;
    this.emptyDrains++;
    Atomics.store(this.ctl, 0, RX_ARMED);
    Atomics.notify(this.ctl, 0);
    // Pace a waiter that keeps waking us for nothing instead of spinning.
    if (this.emptyDrains > 3) setTimeout(() => this.wait(), 10);
    else this.wait();
  }

  stop(): void {
    if (this.worker === null) return;
    Atomics.store(this.ctl, 0, RX_STOP);
    Atomics.notify(this.ctl, 0);
    eventFdSignal(this.wakeFd);
    const w = this.worker;
    const fd = this.wakeFd;
    this.worker = null;
    this.wakeFd = -1;
    // The waiter leaves poll() on the eventfd; close that only once it is gone.
    void w.terminate().finally(() => closeFd(fd));
  }
}
