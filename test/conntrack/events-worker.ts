// A second thread for events.test.ts: attaches to the table and commits 50 UDP connections.
import { parentPort, workerData } from 'node:worker_threads';
import { Conntrack } from '../../src/conntrack/conntrack.ts';
import { Harness } from './helpers.ts';

const h = new Harness(Conntrack.attach(workerData));
for (let i = 0; i < 50; i++) h.send('10.9.0.1', '10.9.0.2', { proto: 17, sport: 1000 + i, dport: 53 });
parentPort!.postMessage(50);
