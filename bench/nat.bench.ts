// NAT cost, each figure beside the same traffic without NAT in the same run:
// new connections per second (every packet a new connection; SNAT to a /24
// with the full port range), and packets per second of established traffic
// (batches of 32 packets of one connection through ct(nat)).

import { Conntrack } from '../src/conntrack/conntrack.ts';
import type { CtExec } from '../src/conntrack/execute.ts';
import { compileNat, type NatRange } from '../src/nat/range.ts';
import { PacketBatch } from '../src/packet/batch.ts';
import { FK_WORDS } from '../src/packet/flow-key.ts';
import { batchOfOneConn, loadConn, TEMPLATE } from './ct-packets.ts';
import type { BenchRow } from './run.ts';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const SNAT = compileNat({ kind: 'src', addrMin: '10.200.0.1', addrMax: '10.200.0.254', portMin: 1, portMax: 65535 });
const APPLY = compileNat({ kind: null });

/** ct(commit?, nat) in zone 0. */
function ctExec(commit: boolean, nat: NatRange | null): CtExec {
  return { zone: 0, commit, force: false, mark: null, label: null, nat, alg: 0 };
}

function newConns(n: number, nat: NatRange | null): number {
  const ct = Conntrack.create({ capacity: n + 1024 });
  const b = new PacketBatch(256);
  b.push(TEMPLATE);
  const now = Date.now();
  const commit = ctExec(true, nat);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    loadConn(b, 0, i);
    b.dropped[0] = 0;
    b.ctConn[0] = 0; // a new packet carries no connection
    ct.execute(b, 0, b.keys, 0, commit, now);
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (ct.nconns() !== n) throw new Error(`expected ${n} connections, have ${ct.nconns()}`);
  return n / secs;
}

function established(batches: number, nat: NatRange | null, apply: NatRange | null): number {
  const ct = Conntrack.create({ capacity: 1024 });
  const b = batchOfOneConn(7);
  const now = Date.now();
  // Commit the connection once, then push batches through ct(nat) as the datapath would.
  b.ctConn[0] = 0;
  ct.execute(b, 0, b.keys, 0, ctExec(true, nat), now);
  const pass = ctExec(false, apply);
  const copy = batchOfOneConn(7);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < batches; i++) {
    // Each batch starts from the original packets (a rewrite changes them in place).
    for (let j = 0; j < 32; j++) {
      b.data[j].set(copy.data[j].subarray(copy.start[j], copy.start[j] + copy.len[j]), b.start[j]);
      b.keys.set(copy.keys.subarray(j * FK_WORDS, j * FK_WORDS + FK_WORDS), j * FK_WORDS);
    }
    b.count = 32;
    b.ctConn.fill(0); // fresh packets carry no connection
    for (let j = 0; j < 32; j++) ct.execute(b, j, b.keys, j * FK_WORDS, pass, now);
  }
  return (batches * 32) / (Number(process.hrtime.bigint() - t0) / 1e9);
}

export async function rows(): Promise<BenchRow[]> {
  const n = Math.round(1_000_000 * SCALE);
  const batches = Math.round(200_000 * Math.max(SCALE, 0.1));
  const plainNew = newConns(n, null);
  const natNew = newConns(n, SNAT);
  const plainEst = established(batches, null, null);
  const natEst = established(batches, SNAT, APPLY);
  return [
    { bench: 'nat', case: `new connections, ${n.toLocaleString('en-US')}, without NAT`, value: plainNew, unit: 'conns/s' },
    { bench: 'nat', case: `new connections, ${n.toLocaleString('en-US')}, SNAT to a /24 with ports 1-65535`, value: natNew, unit: 'conns/s', note: `${(natNew / plainNew).toFixed(2)}× the rate without NAT` },
    { bench: 'nat', case: 'established traffic, batches of 32, without NAT', value: plainEst, unit: 'packets/s' },
    { bench: 'nat', case: 'established traffic, batches of 32, ct(nat) rewriting every packet', value: natEst, unit: 'packets/s', note: `${(natEst / plainEst).toFixed(2)}× the rate without NAT` },
  ];
}
