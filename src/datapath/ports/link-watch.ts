// Interface arrivals and departures, from rtnetlink (RTM_NEWLINK /
// RTM_DELLINK on the RTMGRP_LINK multicast group), for ports whose
// interface is missing or goes away (dpif attaches and detaches them).
//
// A worker thread (link-watch-worker.ts) owns the netlink socket: it sleeps
// in poll(2), reads every pending message without blocking and posts the
// decoded events to the main thread; the main thread never blocks. When the
// kernel reports that our receive buffer overflowed (ENOBUFS: events were
// lost), the worker posts a `resync`, and the owner re-checks every port it
// waits for by name. Stopping sets a flag the worker sees within POLL_MS.

import type { Worker } from 'node:worker_threads';
import { startTsWorker } from '../rx/worker-boot.ts';
import type { LinkMessage } from './link-msg.ts';

export type { LinkMessage };

/** Watches interfaces appear and disappear; `onEvent` runs on the owner's thread. */
export class LinkWatcher {
  private worker: Worker | null = null;
  private readonly ctl = new Int32Array(new SharedArrayBuffer(8));

  constructor(private readonly onEvent: (m: LinkMessage) => void) {}

  get running(): boolean {
    return this.worker !== null;
  }

  start(): void {
    if (this.worker) return;
    const w = startTsWorker(new URL('./link-watch-worker.ts', import.meta.url).href, { workerData: { ctl: this.ctl } });
    w.unref();
    w.on('message', (m: LinkMessage) => this.onEvent(m));
    w.on('error', (e) => this.onEvent({ kind: 'error', message: e.message }));
    w.on('exit', () => {
      if (this.worker === w) this.worker = null;
    });
    this.worker = w;
  }

  stop(): void {
    if (!this.worker) return;
    Atomics.store(this.ctl, 0, 1);
    this.worker = null;
  }
}
