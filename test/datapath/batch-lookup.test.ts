// The datapath's batch lookup (Datapath.lookupAndRun): a batch's megaflows
// are looked up together, then each packet runs in batch order. What must
// hold: packets leave in the order they came; a packet whose megaflow an
// earlier packet's upcall installed is a hit, not a second upcall; a
// megaflow that went away between the lookup and the packet's turn is never
// used; counters are exact; a port that offloads takes the one-by-one path
// with the same result.

import { describe, expect, it } from 'vitest';
import { Datapath, type UpcallResult } from '../../src/datapath/datapath.ts';
import { output } from '../../src/datapath/dp-actions.ts';
import { DpPort } from '../../src/datapath/port.ts';
import { DummyBackend } from '../../src/datapath/ports/dummy.ts';
import { composePacket } from '../../src/packet/compose.ts';
import { FK_TP_SRC } from '../../src/packet/flow-key.ts';
import { parseOdpFlow } from '../../src/packet/odp-parse.ts';
import { Recorder } from './recorder.ts';

const udp = (sport: number) => composePacket(parseOdpFlow(
  `eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=no),udp(src=${sport},dst=53)`).key);
// One megaflow per UDP source port.
const MASK = parseOdpFlow('recirc_id(0),in_port(1),eth_type(0x0800),ipv4(frag=no),udp(src=1)').mask;

function rig(onUpcall: (dp: Datapath, key: Uint32Array) => void = () => {}) {
  const upcalls: number[] = [];
  const dp: Datapath = new Datapath((key) => {
    upcalls.push(key[FK_TP_SRC]);
    onUpcall(dp, key);
    return { actions: [output(2)], mask: MASK } satisfies UpcallResult;
  });
  const p2 = new Recorder();
  dp.addPort(new DpPort(1, 'p1', new DummyBackend(), {}));
  dp.addPort(new DpPort(2, 'p2', p2, {}));
  return { dp, p2, upcalls };
}

const sportsSent = (r: Recorder) => r.sent.map((h) => parseInt(h.slice(68, 72), 16));
const counters = (dp: Datapath) => dp.cache.entries().map((mf) => `${mf.origKey[FK_TP_SRC]}:${mf.packets}/${mf.bytes}`).sort();

describe('datapath: batch lookup', () => {
  it('keeps the order of a batch of hits and misses, one upcall per new flow, exact counters', () => {
    const { dp, p2, upcalls } = rig();
    dp.receive(1, [udp(1), udp(2)], 1000);
    const sports = [1, 3, 2, 3, 1, 4, 4, 2, 3];
    dp.receive(1, sports.map(udp), 2000);
    expect(sportsSent(p2)).toEqual([1, 2, ...sports]);
    // 3 and 4 each upcall once: their later packets in the batch find the megaflow the first installed.
    expect(upcalls).toEqual([1, 2, 3, 4]);
    expect([dp.stats.hit, dp.stats.missed]).toEqual([7, 4]);
    const len = udp(1).length;
    expect(counters(dp)).toEqual([`1:2/${2 * len}`, `2:2/${2 * len}`, `3:2/${2 * len}`, `4:1/${len}`]);
  });

  it('never runs a packet by a megaflow removed after the batch was looked up (the flush an upcall caused)', () => {
    // The upcall for flow 9 empties the cache, as a flow-table change would.
    const { dp, p2, upcalls } = rig((d, key) => {
      if (key[FK_TP_SRC] === 9) d.flushFlows();
    });
    dp.receive(1, [udp(1)], 1000);
    const before = dp.cache.entries()[0];
    dp.receive(1, [udp(1), udp(9), udp(1)], 2000);
    // The first packet of flow 1 used the old megaflow; the one after the flush upcalled again.
    expect([upcalls, sportsSent(p2), before.dead, before.packets]).toEqual([[1, 9, 1], [1, 1, 9, 1], true, 1]);
    expect(counters(dp)).toEqual(['1:0/0', '9:0/0']);
  });

  it('a port that offloads (flowtable on) takes its packets one by one, with the same result', () => {
    const runs = [false, true].map((offload) => {
      const { dp, p2, upcalls } = rig();
      if (offload) dp.flowtable.config.set(1, 3, 30);
      dp.receive(1, [1, 2, 1, 3, 2].map(udp), 1000);
      dp.receive(1, [3, 1, 2, 5].map(udp), 2000);
      return [sportsSent(p2), upcalls, dp.stats.hit, dp.stats.missed, counters(dp)];
    });
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[0].slice(1, 4)).toEqual([[1, 2, 3, 5], 5, 4]);
  });
});
