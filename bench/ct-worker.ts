// Worker thread for the multi-threaded conntrack benchmark: attaches to the
// shared table and pushes batches of its own connection through ct(commit).

import { parentPort, workerData } from 'node:worker_threads';
import { Conntrack, type ConntrackDescriptor } from '../src/conntrack/conntrack.ts';
import type { CtExec } from '../src/conntrack/execute.ts';
import { FK_WORDS } from '../src/packet/flow-key.ts';
import { batchOfOneConn } from './ct-packets.ts';

const { desc, conn, packets } = workerData as { desc: ConntrackDescriptor; conn: number; packets: number };
const COMMIT: CtExec = { zone: 0, commit: true, force: false, mark: null, label: null, nat: null, alg: 0 };
const ct = Conntrack.attach(desc);
const b = batchOfOneConn(conn);
parentPort!.once('message', () => {
  const now = Date.now();
  const t0 = process.hrtime.bigint();
  for (let n = 0; n < packets; n += 32) {
    b.count = 32;
    ct.executeBatch(b, COMMIT, now, FK_WORDS);
  }
  parentPort!.postMessage(Number(process.hrtime.bigint() - t0) / 1e6);
});
parentPort!.postMessage('ready');
