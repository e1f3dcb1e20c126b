// Worker thread for the multi-threaded conntrack benchmark: attaches to the
// shared table and pushes batches of its own connection through ct(commit).
// As OVS's benchmark, the same 32 packets go round again and again, and what
// conntrack learnt about their checksums stays with them (OVS keeps it in
// the packets' offload flags); with `freshCsum` every batch comes as from a
// port that knew nothing, and every checksum is summed.

import { parentPort, workerData } from 'node:worker_threads';
import { Conntrack, type ConntrackDescriptor } from '../src/conntrack/conntrack.ts';
import { conntrackHook } from '../src/datapath/datapath.ts';
import { ct as ctAction, type DpCtAction } from '../src/datapath/dp-actions.ts';
import { FK_WORDS } from '../src/packet/flow-key.ts';
import { batchOfOneConn } from './ct-packets.ts';

const { desc, conn, packets, freshCsum } = workerData as { desc: ConntrackDescriptor; conn: number; packets: number; freshCsum: boolean };
// The datapath's entry point: the ct() hook a PMD thread calls per packet with the megaflow's compiled action.
const COMMIT = ctAction({ zone: 0, commit: true, force: false, mark: null, label: null, nat: null, alg: null }) as DpCtAction;
const hook = conntrackHook(Conntrack.attach(desc));
const b = batchOfOneConn(conn);
parentPort!.once('message', () => {
  const now = Date.now();
  const t0 = process.hrtime.bigint();
  for (let n = 0; n < packets; n += 32) {
    b.count = 32;
    b.ctConn.fill(0); // the packets carry no connection (OVS: pkt_metadata_init_conn)
    if (freshCsum) b.csum.fill(0);
    for (let i = 0; i < 32; i++) hook.execute(b, i, b.keys, i * FK_WORDS, COMMIT, now);
    hook.endBatch?.(); // as the datapath at the end of each batch
  }
  parentPort!.postMessage(Number(process.hrtime.bigint() - t0) / 1e6);
});
parentPort!.postMessage('ready');
