// Conntrack benchmarks (single thread so far): the equivalent of
// `ovstest test-conntrack benchmark 1 N 32` (batches of 32 UDP packets of
// one connection through ct(commit)) and new connections per second.
// Exported for bench/run.ts; the 2-worker variant is not written yet.
import { Conntrack } from '../src/conntrack/conntrack.ts';
import { loadPacket } from '../test/conntrack/helpers.ts';
import { PacketBatch, BATCH_MAX } from '../src/packet/batch.ts';
import { FK_WORDS } from '../src/packet/flow-key.ts';

/** Packets per second through the commit path, one connection, batches of 32. */
export function benchCommitBatch(batches: number): { pps: number } {
  const ct = Conntrack.create({ capacity: 1024 });
  const one = new PacketBatch(2048);
  loadPacket(one, '10.0.0.1', '10.0.0.2', { proto: 17, sport: 1234, dport: 80, payload: 18 });
  const b = new PacketBatch(2048);
  for (let i = 0; i < BATCH_MAX; i++) {
    b.push(one.bytes(0));
    b.l3[i] = b.start[i] + 14; b.l4[i] = b.l3[i] + 20;
    b.keys.set(one.keys.subarray(0, FK_WORDS), i * FK_WORDS);
  }
  const t0 = performance.now();
  for (let n = 0; n < batches; n++) ct.executeBatch(b, 0, true, false, null, null, t0, FK_WORDS);
  const dt = (performance.now() - t0) / 1000;
  return { pps: (batches * BATCH_MAX) / dt };
}

/** New connections per second (every packet a new UDP connection), then table bytes per connection. */
export function benchNewConns(n: number): { connsPerSec: number; bytesPerConn: number } {
  const ct = Conntrack.create({ capacity: n });
  const b = new PacketBatch(2048);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    loadPacket(b, `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`, '10.255.0.1', { proto: 17, sport: 1000, dport: 53 });
    ct.execute(b, 0, b.keys, 0, 0, true, false, null, null, t0);
  }
  const dt = (performance.now() - t0) / 1000;
  return { connsPerSec: n / dt, bytesPerConn: ct.table.bytesPerConn() };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.table([{ bench: 'commit batch of 32, 1 thread', ...benchCommitBatch(20000) }]);
  console.table([{ bench: 'new connections', ...benchNewConns(100000) }]);
}
