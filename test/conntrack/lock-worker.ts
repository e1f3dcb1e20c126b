// Worker for lock.test.ts: takes the lock word the test holds, then reports
// its thread's lockWaits.
import { parentPort, workerData } from 'node:worker_threads';
import { lockWaits, lockWord, unlockWord } from '../../src/conntrack/lock.ts';

const m = new Int32Array(workerData.sab as SharedArrayBuffer);
Atomics.store(m, 1, 1); // started: the test may let go after a while
lockWord(m, 0);
unlockWord(m, 0);
parentPort!.postMessage({ ...lockWaits });
