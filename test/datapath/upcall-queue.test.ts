// The PMD thread's queue of upcalls in flight (src/datapath/pmd/upcall-queue.ts)
// and the datapath's resumption of the packets that waited for them: a miss
// queues the packet instead of waiting, further packets of the same key join
// the same upcall, everything is bounded and counted, and once the megaflow
// is installed the packets run from where they missed, in arrival order.

import { describe, expect, it } from 'vitest';
import { Datapath, UPCALL_QUEUED, type UpcallResult } from '../../src/datapath/datapath.ts';
import { output, recirc } from '../../src/datapath/dp-actions.ts';
import { DpPort } from '../../src/datapath/port.ts';
import { UpcallQueue, type PendingUpcall } from '../../src/datapath/pmd/upcall-queue.ts';
import { BATCH_MAX, PacketBatch } from '../../src/packet/batch.ts';
import { composePacket } from '../../src/packet/compose.ts';
import { FK_HEADER_FIRST } from '../../src/packet/extract.ts';
import { FK_IN_PORT, FK_RECIRC_ID, FK_TP_SRC, FK_WORDS } from '../../src/packet/flow-key.ts';
import { parseOdpFlow } from '../../src/packet/odp-parse.ts';
import { hex, Recorder } from './recorder.ts';

const udp = (sport: number) =>
  composePacket(
    parseOdpFlow(
      `eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=no),udp(src=${sport},dst=53)`,
    ).key,
  );

/** A batch holding `packets`, with keys whose in_port, recirc id and source port are set. */
function batchOf(packets: Uint8Array[], recircId = 0): PacketBatch {
  const b = new PacketBatch();
  for (const p of packets) b.push(p);
  for (let i = 0; i < b.count; i++) {
    b.keys[i * FK_WORDS + FK_IN_PORT] = 1;
    b.keys[i * FK_WORDS + FK_RECIRC_ID] = recircId;
    b.keys[i * FK_WORDS + FK_TP_SRC] = 1000 + i;
  }
  return b;
}

function drainAll(q: UpcallQueue, u: PendingUpcall): { bytes: string[]; depth: number[]; recirc: number[] } {
  const out = { bytes: [] as string[], depth: [] as number[], recirc: [] as number[] };
  const b = new PacketBatch();
  const meta = new Uint32Array(BATCH_MAX * FK_HEADER_FIRST);
  const depth = new Uint8Array(BATCH_MAX);
  while (u.packets.length > 0) {
    b.clear();
    const n = q.drainInto(u, b, meta, depth);
    for (let i = 0; i < n; i++) {
      out.bytes.push(hex(b.bytes(i)));
      out.depth.push(depth[i]);
      out.recirc.push(meta[i * FK_HEADER_FIRST + FK_RECIRC_ID]);
    }
  }
  return out;
}

describe('UpcallQueue', () => {
  it('a miss makes an upcall; more packets of the same key join it; another key makes another', () => {
    const q = new UpcallQueue();
    const b = batchOf([udp(1), udp(2), udp(3)]);
    b.keys.copyWithin(FK_WORDS, 0, FK_WORDS); // packet 1 has packet 0's key
    expect(q.miss(b.keys, 0, b, 0, 0, 0)).toBe('new');
    const first = q.last!;
    expect(q.miss(b.keys, FK_WORDS, b, 1, 0, 0)).toBe('joined');
    expect(q.miss(b.keys, 2 * FK_WORDS, b, 2, 0, 0)).toBe('new');
    const second = q.last!;
    expect(second.seq).not.toBe(first.seq);
    expect([q.inFlight, q.waiting, q.stats.queued]).toEqual([2, 3, 3]);
    expect(q.take(first.seq)).toBe(first);
    expect(q.take(first.seq)).toBeUndefined();
    expect(drainAll(q, first).bytes).toEqual([hex(udp(1)), hex(udp(2))]);
    // The key is free again: a new miss for it is a new upcall.
    expect(q.miss(b.keys, 0, b, 0, 0, 0)).toBe('new');
    expect(q.inFlight).toBe(2);
  });

  it('keeps each packet with its recirculation depth, metadata words and offload word', () => {
    const q = new UpcallQueue();
    const b = batchOf([udp(7)], 5);
    b.gso[0] = (1 << 16) | 1448;
    q.miss(b.keys, 0, b, 0, 2, 0);
    const u = q.take(q.last!.seq)!;
    const out = new PacketBatch();
    const meta = new Uint32Array(BATCH_MAX * FK_HEADER_FIRST);
    const depth = new Uint8Array(BATCH_MAX);
    expect(q.drainInto(u, out, meta, depth)).toBe(1);
    expect([hex(out.bytes(0)), out.gso[0], depth[0], meta[FK_RECIRC_ID], meta[FK_IN_PORT]]).toEqual([
      hex(udp(7)), (1 << 16) | 1448, 2, 5, 1,
    ]);
  });

  it('is bounded: upcalls in flight, packets per upcall and buffers; what finds no room is counted', () => {
    const q = new UpcallQueue({ maxUpcalls: 2, maxPerUpcall: 2, smallSlots: 4, largeSlots: 1 });
    const b = batchOf([udp(1), udp(2), udp(3)]);
    expect(q.miss(b.keys, 0, b, 0, 0, 0)).toBe('new');
    expect(q.miss(b.keys, FK_WORDS, b, 1, 0, 0)).toBe('new');
    expect(q.miss(b.keys, 2 * FK_WORDS, b, 2, 0, 0)).toBe('full'); // a third upcall
    expect(q.miss(b.keys, 0, b, 0, 0, 0)).toBe('joined');
    expect(q.miss(b.keys, 0, b, 0, 0, 0)).toBe('full'); // a third packet under one upcall
    expect(q.miss(b.keys, FK_WORDS, b, 1, 0, 0)).toBe('joined'); // the 4th small buffer
    expect([q.stats.queued, q.stats.full, q.waiting]).toEqual([4, 2, 4]);
    // A super-packet takes the large buffer; a second one finds none.
    const big = new PacketBatch();
    const jumbo = new Uint8Array(9000);
    jumbo.set(udp(9));
    big.push(jumbo);
    big.push(jumbo);
    big.keys[FK_TP_SRC] = 1;
    big.keys[FK_WORDS + FK_TP_SRC] = 2;
    const q2 = new UpcallQueue({ maxUpcalls: 8, maxPerUpcall: 8, smallSlots: 1, largeSlots: 1 });
    expect(q2.miss(big.keys, 0, big, 0, 0, 0)).toBe('new');
    expect(q2.miss(big.keys, FK_WORDS, big, 1, 0, 0)).toBe('full');
    expect(q2.stats.full).toBe(1);
    expect(drainAll(q2, q2.take(q2.last!.seq)!).bytes).toEqual([hex(jumbo)]);
    expect(q2.miss(big.keys, FK_WORDS, big, 1, 0, 0)).toBe('new'); // the buffer came back
  });

  it('gives up on an upcall whose answer does not come, freeing its buffers', () => {
    const q = new UpcallQueue({ maxUpcalls: 1, maxPerUpcall: 4, smallSlots: 2, largeSlots: 0 });
    const b = batchOf([udp(1), udp(2)]);
    expect(q.miss(b.keys, 0, b, 0, 0, 1000)).toBe('new');
    const seq = q.last!.seq;
    q.miss(b.keys, 0, b, 0, 0, 1500);
    expect(q.miss(b.keys, FK_WORDS, b, 1, 0, 1500)).toBe('full');
    expect(q.expire(2999, 2000)).toBe(0);
    expect(q.expire(3000, 2000)).toBe(1);
    expect([q.inFlight, q.stats.timedOut]).toEqual([0, 2]);
    expect(q.take(seq)).toBeUndefined(); // a late answer finds nothing
    expect(q.miss(b.keys, FK_WORDS, b, 1, 0, 3000)).toBe('new');
  });
});

describe('Datapath.processResumed', () => {
  it('runs queued packets from where they missed (after a recirculation), in order, each counted once', () => {
    const q = new UpcallQueue();
    const dp = new Datapath((key, _len, b, idx, depth): UpcallResult | null => {
      if (b === undefined || idx === undefined) return null;
      // Recirc 0 is translated at once, as on the main thread; recirc 7 goes to the queue, as in a PMD thread.
      if (key[FK_RECIRC_ID] === 0) return { actions: [recirc(7)], mask: maskWords([FK_RECIRC_ID, FK_IN_PORT]) };
      q.miss(key, 0, b, idx, depth ?? 0, 0);
      return UPCALL_QUEUED;
    });
    const p2 = new Recorder();
    dp.addPort(new DpPort(1, 'p1', new Recorder(), {}));
    dp.addPort(new DpPort(2, 'p2', p2, {}));
    dp.receive(1, [udp(1), udp(1), udp(2)], 0);
    // Nothing went out yet, and nothing was lost: two upcalls for recirc 7 wait (the second udp(1) joined the first).
    expect(p2.sent).toEqual([]);
    expect(dp.stats).toMatchObject({ hit: 2, missed: 4, lost: 0 });
    expect([q.inFlight, q.waiting]).toEqual([2, 3]);
    // The answer: one megaflow for recirc 7; the packets run again, oldest first.
    const ups = [q.take(1)!, q.take(2)!];
    const mf = dp.cache.insert(ups[0].key, 0, maskWords([FK_RECIRC_ID]), [output(2)], 0, null)!;
    const b = new PacketBatch();
    const meta = new Uint32Array(BATCH_MAX * FK_HEADER_FIRST);
    const depth = new Uint8Array(BATCH_MAX);
    const credited = new Uint8Array(BATCH_MAX);
    for (const u of ups) {
      b.clear();
      q.drainInto(u, b, meta, depth);
      expect(depth[0]).toBe(1);
      credited.fill(0);
      credited[0] = 1; // the packet translation credited to the rules
      dp.processResumed(b, meta, depth, credited, 1);
    }
    expect(p2.sent).toEqual([hex(udp(1)), hex(udp(1)), hex(udp(2))]);
    // Resumed lookups are not hits (the packets were counted as misses); only the joined packet counts in the megaflow.
    expect(dp.stats).toMatchObject({ hit: 2, missed: 4, lost: 0 });
    expect([mf.packets, q.inFlight, q.waiting]).toEqual([1, 0, 0]);
  });
});

function maskWords(words: number[]): Uint32Array {
  const m = new Uint32Array(FK_WORDS);
  for (const w of words) m[w] = 0xffffffff;
  return m;
}
