// The poll waiter thread of the main-thread receive loop (rx-loop.ts). It
// sleeps in poll(2) on the descriptors the main thread lists in shared
// memory and, when one is readable, flips the state word to FIRED and
// notifies; the main thread (woken through Atomics.waitAsync) drains the
// ports and re-arms. It never touches a ring or a packet.
//
// Shared layout (Int32Array over a SharedArrayBuffer):
//   [0] state: ARMED (waiter polls) | FIRED (main drains) | STOP
//   [1] number of descriptors, [2] list generation
//   [16..] the descriptors

import { workerData } from 'node:worker_threads';
import { poll, POLLIN } from '../native/native.ts';
import { RX_ARMED, RX_FDS_OFS, RX_FIRED, RX_MAX_FDS, RX_STOP } from './rx-shared.ts';

const ctl = new Int32Array(workerData.sab as SharedArrayBuffer);
const pfd = new Uint8Array(RX_MAX_FDS * 8);
const pv = new DataView(pfd.buffer);
const POLL_MS = 200;

for (;;) {
  const st = Atomics.load(ctl, 0);
  if (st === RX_STOP) break;
  if (st === RX_FIRED) {
    Atomics.wait(ctl, 0, RX_FIRED, POLL_MS);
    continue;
  }
  const n = Math.min(Atomics.load(ctl, 1), RX_MAX_FDS);
  for (let i = 0; i < n; i++) {
    pv.setInt32(i * 8, Atomics.load(ctl, RX_FDS_OFS + i), true);
    pv.setInt16(i * 8 + 4, POLLIN, true);
    pv.setInt16(i * 8 + 6, 0, true);
  }
  if (poll(pfd, n, POLL_MS) > 0 && Atomics.compareExchange(ctl, 0, RX_ARMED, RX_FIRED) === RX_ARMED) {
    Atomics.notify(ctl, 0);
  }
}
