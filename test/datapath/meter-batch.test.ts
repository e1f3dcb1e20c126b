// Meters per batch (src/datapath/meter.ts runBatch, src/datapath/meter-batch.ts):
// a run of packets through a meter at once gives exactly what the packets one
// at a time give — which pass, every band's counters, the buckets left — and
// through a switch a megaflow's packets of a batch meet the meter together.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DP_METER_KBPS, DP_METER_PKTPS, MeterTable } from '../../src/datapath/meter.ts';
import { PacketBatch } from '../../src/packet/batch.ts';
import { composePacket } from '../../src/packet/compose.ts';
import { parseOdpFlow } from '../../src/packet/odp-parse.ts';
import { Switch } from '../../src/ofproto/switch.ts';

const band = fc.record({ rate: fc.integer({ min: 1, max: 2000 }), burstSize: fc.integer({ min: 0, max: 50 }) });

describe('runBatch', () => {
  it('passes, drops and counts exactly as run() on each packet in turn', () => {
    fc.assert(fc.property(
      fc.constantFrom(DP_METER_PKTPS, DP_METER_KBPS),
      fc.array(band, { minLength: 1, maxLength: 4 }),
      // Batches: when they arrive (ms after the last) and their packets' lengths.
      fc.array(fc.record({ gap: fc.integer({ min: 0, max: 300 }), lens: fc.array(fc.integer({ min: 60, max: 1500 }), { minLength: 1, maxLength: 32 }) }), { minLength: 1, maxLength: 8 }),
      (flags, bands, batches) => {
        const one = new MeterTable(), many = new MeterTable();
        const id = one.alloc();
        many.alloc();
        one.set(id, { flags, bands }, 0);
        many.set(id, { flags, bands }, 0);
        let t = 0;
        const lens = new Int32Array(32), idx = new Int32Array(32), pass = new Uint8Array(32);
        for (const bt of batches) {
          t += bt.gap;
          const expected = bt.lens.map((l) => (one.run(id, l, t) ? 1 : 0));
          bt.lens.forEach((l, j) => {
            lens[j] = l;
            idx[j] = j;
          });
          many.runBatch(id, lens, idx, bt.lens.length, t, pass);
          expect(Array.from(pass.subarray(0, bt.lens.length))).toEqual(expected);
          expect(many.stats(id)).toEqual(one.stats(id));
        }
      },
    ), { numRuns: 300 });
  });

  it('a meter that is not configured passes the whole run', () => {
    const m = new MeterTable();
    const pass = new Uint8Array(2);
    m.runBatch(7, Int32Array.of(100, 100), Int32Array.of(0, 1), 2, 0, pass);
    expect(Array.from(pass)).toEqual([1, 1]);
    expect(m.any).toBe(false);
  });
});

describe('a metered megaflow, a batch at a time', () => {
  const pkt = (sport: number) => composePacket(parseOdpFlow(`eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=no),udp(src=${sport},dst=53)`).key);

  it('lets through burst_size packets of a batch whose megaflows share the meter, and counts the rest in the band', () => {
    const sw = Switch.fromConfig(null, { defaultBridge: true });
    try {
      sw.addMeter('br0', 'meter=1 pktps burst bands=type=drop rate=1 burst_size=10');
      sw.addFlows('br0', 'udp,tp_src=1,actions=meter:1,output:2\nudp,tp_src=2,actions=mod_nw_tos:4,meter:1,output:2\nudp,actions=output:2', 't');
      const dp = sw.dp.datapath;
      const b = new PacketBatch();
      const now = Date.now();
      // First batch: misses, which install the megaflows (those packets meet the meter one by one).
      for (const s of [1, 2, 3]) b.push(pkt(s));
      dp.processBatch(b, 1, now);
      b.clear();
      // Then 24 packets of three megaflows interleaved: two metered (8 + 8 packets), one not.
      for (let j = 0; j < 24; j++) b.push(pkt(1 + (j % 3)));
      dp.processBatch(b, 1, now);
      const tx = sw.dumpPorts('br0').ports.find((p) => p.ofport === 2)!.txPackets;
      // 2 metered packets of the first batch and 8 of the second take the 10 tokens; 8 unmetered pass.
      expect(tx).toBe(10 + 1 + 8);
      const st = sw.meterStats('br0', null).stats[0];
      expect([st.packetInCount, st.bands[0].packetCount]).toEqual([18, 8]);
    } finally {
      sw.close();
    }
  });
});
