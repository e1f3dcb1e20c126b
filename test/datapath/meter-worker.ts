// A thread that runs packets through a shared meter (meter.test.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { MeterTable } from '../../src/datapath/meter.ts';

const wd = workerData as { buf: SharedArrayBuffer; id: number; n: number; len: number; now: number };
const m = new MeterTable(wd.buf);
let ok = 0;
for (let i = 0; i < wd.n; i++) if (m.run(wd.id, wd.len, wd.now)) ok++;
parentPort!.postMessage(ok);
