// The flow cache in front of the megaflow classifier (src/datapath/emc.ts):
// EMC hits, misses on a key its megaflow does not match, colliding hashes,
// the insertion probability, the SMC's check of a reused slot — and
// that no megaflow removal (revalidation, del-dp-flows, idle expiry) is ever
// outlived by a cache entry, with counters that stay exact.

import fcheck from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Datapath, type UpcallResult } from '../../src/datapath/datapath.ts';
import { output } from '../../src/datapath/dp-actions.ts';
import {
  EMC_CELL_WORDS, EMC_ENTRIES, EMC_PROBE_PACKETS, EMC_SHIFT, EMC_SKIP_MIN, ExactMatchCache, FlowCache, flowHash, LOOKUP_EMC, LOOKUP_MEGAFLOW, LOOKUP_MISS, LOOKUP_SMC,
  SignatureMatchCache,
} from '../../src/datapath/emc.ts';
import { megaflowMatches, MegaflowCache } from '../../src/datapath/megaflow.ts';
import { DpPort } from '../../src/datapath/port.ts';
import { DummyBackend } from '../../src/datapath/ports/dummy.ts';
import { composePacket } from '../../src/packet/compose.ts';
import { FK_IN_PORT, FK_NW_DST, FK_NW_SRC, FK_NW_TTL, FK_TP_DST, FK_TP_SRC, FK_WORDS } from '../../src/packet/flow-key.ts';
import { BATCH_MAX } from '../../src/packet/batch.ts';
import { parseOdpFlow } from '../../src/packet/odp-parse.ts';
import { Switch } from '../../src/ofproto/switch.ts';
import { Recorder } from './recorder.ts';

function key(src: number, sport = 1000, ttl = 64): Uint32Array {
  const k = new Uint32Array(FK_WORDS);
  k[FK_IN_PORT] = 1;
  k[FK_NW_SRC] = src;
  k[FK_TP_SRC] = sport;
  k[FK_NW_TTL] = ttl;
  return k;
}
const maskOf = (words: number[]) => {
  const m = new Uint32Array(FK_WORDS);
  for (const w of words) m[w] = 0xffffffff;
  return m;
};
const SRC_MASK = maskOf([FK_IN_PORT, FK_NW_SRC]);

describe('exact-match cache', () => {
  it('answers for keys its megaflow matches, and only while the megaflow lives', () => {
    const mc = new MegaflowCache();
    const fc = new FlowCache(mc, 1, false, 7);
    const k = key(0x0a000001);
    expect([fc.lookup(k, 0), fc.level]).toEqual([null, LOOKUP_MISS]);
    const mf = mc.insert(k, 0, SRC_MASK, [output(2)], 0, null)!;
    expect([fc.lookup(k, 0), fc.level]).toEqual([mf, LOOKUP_MEGAFLOW]); // and entered (probability 1)
    expect([fc.lookup(k, 0), fc.level]).toEqual([mf, LOOKUP_EMC]);
    // Another key of the same hash (the TTL is not hashed) inside the megaflow: the same answer.
    const k2 = key(0x0a000001, 1000, 63);
    expect([fc.lookup(k2, 0), fc.level]).toEqual([mf, LOOKUP_EMC]);
    // A key outside the megaflow, even under the same hash: a miss.
    expect(fc.emc.lookup(key(0x0a000002), 0, flowHash(k, 0, 7))).toBeNull();
    // A key of another batch slot is the same key.
    const many = new Uint32Array(FK_WORDS * 3);
    many.set(k, FK_WORDS * 2);
    expect([fc.lookup(many, FK_WORDS * 2), fc.level]).toEqual([mf, LOOKUP_EMC]);
    mc.remove(mf);
    expect([fc.lookup(k, 0), fc.level]).toEqual([null, LOOKUP_MISS]);
    expect(fc.emc.size).toBe(0);
  });

  it('tells colliding keys of different megaflows apart: two per hash, the third replaces one', () => {
    const mc = new MegaflowCache();
    const emc = new ExactMatchCache(mc, 1, 1);
    const mfs = [0, 1, 2].map((i) => mc.insert(key(0x0a000000 + i), 0, SRC_MASK, [output(2)], 0, null)!);
    const h = 0x12345 | (0x2a7 << EMC_SHIFT); // two different entries
    expect((h & (EMC_ENTRIES - 1)) !== ((h >>> EMC_SHIFT) & (EMC_ENTRIES - 1))).toBe(true);
    const [a, b, c] = [key(0x0a000000), key(0x0a000001), key(0x0a000002)];
    emc.insert(a, 0, h, mfs[0]);
    expect(emc.lookup(b, 0, h)).toBeNull(); // same hash, other key
    emc.insert(b, 0, h, mfs[1]);
    expect([emc.lookup(a, 0, h), emc.lookup(b, 0, h)]).toEqual([mfs[0], mfs[1]]);
    emc.insert(c, 0, h, mfs[2]);
    expect([emc.lookup(a, 0, h), emc.lookup(b, 0, h), emc.lookup(c, 0, h)]).toEqual([null, mfs[1], mfs[2]]);
    // A key an entry already answers for rewrites that entry rather than taking the other.
    emc.insert(c, 0, h, mfs[2]);
    expect([emc.lookup(b, 0, h), emc.lookup(c, 0, h), emc.inserts]).toEqual([mfs[1], mfs[2], 3]);
    // Equal keys hash equal wherever they sit; keys differing in a hashed word mostly do not.
    const many = new Uint32Array(FK_WORDS * 2);
    many.set(a, FK_WORDS);
    expect(flowHash(many, FK_WORDS, 9)).toBe(flowHash(a, 0, 9));
    expect(flowHash(b, 0, 9)).not.toBe(flowHash(a, 0, 9));
  });

  it('names megaflows by slot and generation: a slot reused by another megaflow, a wide mask, generations starting over', () => {
    const mc = new MegaflowCache();
    const fc = new FlowCache(mc, 1, false, 3);
    const a = key(0x0a000001);
    const mfA = mc.insert(a, 0, SRC_MASK, [output(2)], 0, null)!;
    fc.lookup(a, 0);
    expect([fc.lookup(a, 0), fc.level]).toEqual([mfA, LOOKUP_EMC]);
    mc.remove(mfA);
    // The slot taken by another megaflow that a's key also matches: the classifier's answer, not the stale entry's.
    const mfB = mc.insert(a, 0, maskOf([FK_NW_SRC, FK_TP_SRC]), [output(3)], 0, null)!;
    expect(mfB.index).toBe(mfA.index);
    expect([fc.lookup(a, 0), fc.level]).toEqual([mfB, LOOKUP_MEGAFLOW]);
    expect([fc.lookup(a, 0), fc.level]).toEqual([mfB, LOOKUP_EMC]);
    // A mask wider than a cell holds is compared through the megaflow.
    const wide = Array.from({ length: EMC_CELL_WORDS + 4 }, (_, i) => FK_IN_PORT + i);
    const c = key(0x0a000003);
    const mfC = mc.insert(c, 0, maskOf(wide), [output(2)], 0, null)!;
    fc.lookup(c, 0);
    expect([fc.lookup(c, 0), fc.level]).toEqual([mfC, LOOKUP_EMC]);
    const c2 = key(0x0a000003);
    c2[wide[wide.length - 1]] = 1;
    expect(fc.lookup(c2, 0)).toBeNull(); // the last masked word differs
    // Generations start over: every entry goes (one of them could name a new megaflow by an old number).
    mc.nextGen = 0x3fffffff;
    mc.insert(key(0x0a000004), 0, SRC_MASK, [output(2)], 0, null);
    expect(fc.emc.size).toBe(2);
    expect([fc.lookup(c, 0), fc.level]).toEqual([mfC, LOOKUP_MEGAFLOW]);
    expect(fc.emc.size).toBe(1);
  });

  it('inserts with probability 1/emc-insert-inv-prob; 0 turns the EMC off', () => {
    const mc = new MegaflowCache();
    const mf = mc.insert(key(1), 0, SRC_MASK, [output(2)], 0, null)!;
    const k = key(1);
    const tries = (invProb: number) => {
      const emc = new ExactMatchCache(mc, invProb, 12345);
      for (let i = 0; i < 100_000; i++) {
        k[FK_TP_SRC] = i;
        emc.maybeInsert(k, 0, i * 2654435761, mf);
      }
      return emc.inserts;
    };
    const n100 = tries(100);
    expect(n100).toBeGreaterThan(800);
    expect(n100).toBeLessThan(1200);
    const n10 = tries(10);
    expect(n10).toBeGreaterThan(9000);
    expect(n10).toBeLessThan(11000);
    expect([tries(1), tries(0)]).toEqual([100_000, 0]);
    expect(() => new ExactMatchCache(mc, -1)).toThrow(/emc-insert-inv-prob/);
    // Turning it off empties it.
    const emc = new ExactMatchCache(mc, 1, 3);
    emc.insert(k, 0, 5, mf);
    emc.insertInvProb = 0;
    expect([emc.enabled, emc.lookup(k, 0, 5)]).toEqual([false, null]);
  });
});

describe('adaptive EMC bypass (lookupBatch)', () => {
  it('skips the EMC lookups while they seldom hit, with the same answers, and takes them up again when they would', () => {
    const mc = new MegaflowCache();
    const mfs = Array.from({ length: 128 }, (_, i) => mc.insert(key(0x0a000000 + i), 0, SRC_MASK, [output(2)], 0, null)!);
    const fc = new FlowCache(mc, 1, false, 21);
    const keys = new Uint32Array(BATCH_MAX * FK_WORDS);
    const pkt = Int32Array.from({ length: BATCH_MAX }, (_, j) => j);
    const slots = new Int32Array(BATCH_MAX), levels = new Uint8Array(BATCH_MAX);
    let next = 0;
    /** One batch of the next BATCH_MAX flows of [first, first + n) round robin; returns the stages that answered. */
    const batch = (first: number, n: number) => {
      const want: number[] = [];
      for (let j = 0; j < BATCH_MAX; j++) {
        const f = first + (next++ % n);
        keys.set(key(0x0a000000 + f), j * FK_WORDS);
        want.push(mfs[f].index + 1);
      }
      fc.lookupBatch(keys, pkt, BATCH_MAX, slots, levels);
      expect([...slots]).toEqual(want); // skipped or not, every packet gets its megaflow
      return [...new Set(levels)];
    };
    const windowBatches = EMC_PROBE_PACKETS / BATCH_MAX;
    // No inserts: every EMC lookup misses; after one window the lookups are skipped.
    fc.emc.insertInvProb = 1_000_000_000;
    for (let i = 0; i < windowBatches; i++) expect(batch(0, 64)).toEqual([LOOKUP_MEGAFLOW]);
    expect(fc.emcSkip).toBe(EMC_SKIP_MIN);
    // Every hit now enters the EMC, skipped batches too: once the skip is over, the EMC answers again.
    fc.emc.insertInvProb = 1;
    for (let i = 0; i < EMC_SKIP_MIN; i++) batch(0, 64);
    expect([fc.emcSkip, fc.emcSkipped]).toEqual([0, EMC_SKIP_MIN * BATCH_MAX]);
    for (let i = 0; i < windowBatches; i++) expect(batch(0, 64)).toEqual([LOOKUP_EMC]);
    expect(fc.emcSkip).toBe(0);
    // Traffic the EMC does not hold (and will not, inserts being rare again): skipped, twice as long after a second poor probe.
    fc.emc.insertInvProb = 1_000_000_000;
    for (let i = 0; i < windowBatches; i++) batch(64, 64);
    expect(fc.emcSkip).toBe(EMC_SKIP_MIN);
    for (let i = 0; i < EMC_SKIP_MIN + windowBatches; i++) batch(64, 64);
    expect(fc.emcSkip).toBe(EMC_SKIP_MIN * 2);
    // Emptying the cache (del-dp-flows) forgets the measure: the next batch probes.
    fc.clear();
    expect(fc.emcSkip).toBe(0);
  });
  it('property: batches answer with a live megaflow that matches each key, and miss exactly when the classifier misses, through inserts and removals', () => {
    const wide = Array.from({ length: EMC_CELL_WORDS + 2 }, (_, i) => FK_IN_PORT + i);
    const masks = [SRC_MASK, maskOf([FK_IN_PORT, FK_NW_SRC, FK_TP_SRC]), maskOf([FK_IN_PORT, FK_NW_DST, FK_TP_DST]), maskOf(wide)];
    const pk = (v: number) => {
      const k = key(0x0a000000 + (v & 7), 1000 + ((v >> 3) & 3));
      k[FK_NW_DST] = (v >> 5) & 3;
      k[FK_TP_DST] = (v >> 7) & 1;
      return k;
    };
    fcheck.assert(fcheck.property(
      fcheck.array(fcheck.tuple(fcheck.integer({ min: 0, max: 2 }), fcheck.integer({ min: 0, max: 255 }), fcheck.integer({ min: 0, max: 3 })), { maxLength: 300 }),
      fcheck.boolean(), fcheck.integer(),
      (ops, smc, seed) => {
        const mc = new MegaflowCache();
        const cache = new FlowCache(mc, 1, smc, seed);
        const keys = new Uint32Array(BATCH_MAX * FK_WORDS);
        const pkt = Int32Array.from({ length: BATCH_MAX }, (_, j) => j);
        const slots = new Int32Array(BATCH_MAX), levels = new Uint8Array(BATCH_MAX);
        for (const [op, v, m] of ops) {
          if (op === 0) {
            if (mc.lookup(pk(v), 0) === null) mc.insert(pk(v), 0, masks[m], [output(2)], 0, null);
          } else if (op === 1) {
            const all = mc.entries();
            if (all.length > 0) mc.remove(all[v % all.length]);
          } else {
            for (let j = 0; j < BATCH_MAX; j++) keys.set(pk((v + j * m) & 255), j * FK_WORDS);
            cache.lookupBatch(keys, pkt, BATCH_MAX, slots, levels);
            for (let j = 0; j < BATCH_MAX; j++) {
              const want = mc.lookup(keys, j * FK_WORDS);
              if (want === null) expect(slots[j]).toBe(0);
              else {
                const got = mc.flows[slots[j] - 1];
                expect(got != null && megaflowMatches(got, keys, j * FK_WORDS)).toBe(true);
              }
            }
          }
        }
      },
    ), { numRuns: 150 });
  });
});

describe('signature-match cache', () => {
  it('answers by slot, checks the key against the megaflow, and never returns a slot reused by another flow', () => {
    const mc = new MegaflowCache();
    const smc = new SignatureMatchCache(5);
    const a = key(0x0a000001), b = key(0x0a000002);
    const mfA = mc.insert(a, 0, SRC_MASK, [output(2)], 0, null)!;
    const h = 0x7777_1234;
    smc.insert(h, mfA);
    expect(smc.lookup(a, 0, h, mc.flows)).toBe(mfA);
    expect(smc.lookup(b, 0, h, mc.flows)).toBeNull(); // same signature, key outside the megaflow
    mc.remove(mfA);
    expect(smc.lookup(a, 0, h, mc.flows)).toBeNull();
    const mfB = mc.insert(b, 0, SRC_MASK, [output(3)], 0, null)!;
    expect(mfB.index).toBe(mfA.index); // the slot is reused...
    expect(smc.lookup(a, 0, h, mc.flows)).toBeNull(); // ...but a's key does not match b's megaflow
    // Through the FlowCache: an SMC hit enters the EMC.
    const fc = new FlowCache(mc, 1, true, 11);
    expect([fc.lookup(b, 0), fc.level]).toEqual([mfB, LOOKUP_MEGAFLOW]);
    fc.emc.clear();
    expect([fc.lookup(b, 0), fc.level]).toEqual([mfB, LOOKUP_SMC]);
    expect([fc.lookup(b, 0), fc.level]).toEqual([mfB, LOOKUP_EMC]);
    mc.clear();
    fc.clear();
    expect([fc.lookup(b, 0), fc.level]).toEqual([null, LOOKUP_MISS]);
  });
});

// ------------------------------------------------------------ in the datapath

const ETH = 'eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800)';
const udp = (sport: number) => composePacket(parseOdpFlow(`${ETH},ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=no),udp(src=${sport},dst=53)`).key);
const PORT_MASK = parseOdpFlow('recirc_id(0),in_port(1),eth_type(0x0800),ipv4(frag=no)').mask;

/** A datapath whose translation is `t.result` (changed by the test); every EMC insert happens. */
function rig(smc: boolean) {
  const t: { result: UpcallResult | null; upcalls: number } = { result: { actions: [output(2)], mask: PORT_MASK }, upcalls: 0 };
  const dp = new Datapath((): UpcallResult | null => {
    t.upcalls++;
    return t.result;
  }, null, () => t.result);
  dp.flowCache.configure(1, smc);
  const p2 = new Recorder(), p3 = new Recorder();
  dp.addPort(new DpPort(1, 'p1', new DummyBackend(), {}));
  dp.addPort(new DpPort(2, 'p2', p2, {}));
  dp.addPort(new DpPort(3, 'p3', p3, {}));
  const a = udp(1000);
  /** Send n copies; returns [to p2, to p3] of those. */
  const send = (n: number, now = 1000) => {
    const before = [p2.sent.length, p3.sent.length];
    dp.receive(1, Array.from({ length: n }, () => a), now);
    return [p2.sent.length - before[0], p3.sent.length - before[1]];
  };
  return { dp, t, send, len: a.length };
}

describe('flow cache in the datapath: megaflow removal is honoured at once', () => {
  for (const smc of [false, true]) {
    const name = smc ? 'EMC and SMC' : 'EMC';
    it(`${name}: hits keep the megaflow's counters exact`, () => {
      const { dp, send, len } = rig(smc);
      expect(send(10)).toEqual([10, 0]);
      const mf = dp.cache.entries()[0];
      expect([mf.packets, mf.bytes, dp.stats.missed, dp.stats.hit, dp.stats.emcHit]).toEqual([9, 9 * len, 1, 9, 9]);
    });

    it(`${name}: revalidation that changes the actions: the cached megaflow carries the new ones`, () => {
      const { dp, t, send } = rig(smc);
      send(3);
      t.result = { actions: [output(3)], mask: PORT_MASK };
      expect(dp.revalidate()).toBe(1);
      const emcBefore = dp.stats.emcHit;
      expect(send(2)).toEqual([0, 2]);
      expect([t.upcalls, dp.stats.emcHit - emcBefore]).toEqual([1, 2]);
    });

    it(`${name}: revalidation that removes the megaflow (new mask, failed translation): the next packet upcalls`, () => {
      const { dp, t, send } = rig(smc);
      send(3);
      t.result = { actions: [output(3)], mask: parseOdpFlow('recirc_id(0),in_port(1),eth_type(0x0800),ipv4(proto=17,frag=no)').mask };
      expect(dp.revalidate()).toBe(1);
      expect(send(2)).toEqual([0, 2]);
      expect(t.upcalls).toBe(2);
      t.result = null;
      expect(dp.revalidate()).toBe(1);
      const lost = dp.stats.lost;
      expect(send(1)).toEqual([0, 0]);
      expect([t.upcalls, dp.stats.lost - lost]).toEqual([3, 1]);
    });

    it(`${name}: del-dp-flows and max-idle expiry: the next packet upcalls`, () => {
      const { dp, t, send } = rig(smc);
      send(3, 1000);
      dp.flushFlows();
      t.result = { actions: [output(3)], mask: PORT_MASK };
      expect(send(2, 2000)).toEqual([0, 2]);
      expect(t.upcalls).toBe(2);
      t.result = { actions: [output(2)], mask: PORT_MASK };
      expect(dp.expire(2000 + dp.maxIdleMs + 1)).toBe(1);
      expect(send(2, 20_000)).toEqual([2, 0]);
      expect(t.upcalls).toBe(3);
    });
  }

  it('with the EMC off (emc-insert-inv-prob 0) and no SMC, every hit is a classifier hit', () => {
    const { dp, send } = rig(false);
    dp.flowCache.configure(0, false);
    send(5);
    expect([dp.stats.hit, dp.stats.emcHit, dp.stats.smcHit]).toEqual([4, 0, 0]);
  });
});

describe('flow cache behind OpenFlow: a flow-table change is honoured at once with the EMC warm', () => {
  it('mod-flows, add-flow of a higher priority and del-flows each take effect on the next packet; rule counters exact', () => {
    const sw = Switch.fromConfig(null, { defaultBridge: true, flowCache: { emcInsertInvProb: 1 } });
    try {
      const pkt = `in_port(1),${ETH},ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1,dst=2)`;
      const tx = (port: string) => Number(/tx pkts=(\d+)/.exec(sw.dumpPorts('br0', port).lines.join('\n'))![1]);
      sw.addFlows('br0', 'priority=10,udp,actions=output:2', 'test');
      sw.inject('br0', 'p1', pkt, 20);
      expect(sw.dp.datapath.stats.emcHit).toBe(19); // 1 miss, whose new megaflow entered the EMC
      expect(tx('p2')).toBe(20);
      sw.modFlows('br0', 'priority=10,udp,actions=drop', 'test', false);
      sw.inject('br0', 'p1', pkt, 5);
      expect(tx('p2')).toBe(20);
      sw.addFlows('br0', 'priority=20,udp,tp_src=1,actions=in_port', 'test');
      sw.inject('br0', 'p1', pkt, 5);
      expect([tx('p2'), tx('p1')]).toEqual([20, 5]);
      sw.delFlows('br0', 'udp,tp_src=1', false);
      sw.inject('br0', 'p1', pkt, 5);
      expect([tx('p2'), tx('p1')]).toEqual([20, 5]);
      // Every packet counted once, by the rule that forwarded it, EMC hits included.
      expect(sw.dumpFlows('br0', null, {}).lines.map((l) => l.replace(/ duration=[^,]+,/, '').replace(/ idle_age=[^,]+,/, ''))).toEqual([
        'NXST_FLOW reply (xid=0x4):',
        ` cookie=0x0, table=0, n_packets=30, n_bytes=${30 * 106}, priority=10,udp actions=drop`,
      ]);
      const s = sw.pmdStatsShow().lines;
      expect(s.filter((l) => /^  (emc|smc|megaflow) hits|^  miss with/.test(l))).toEqual([
        `  emc hits: ${sw.dp.datapath.stats.emcHit}`,
        `  smc hits: ${sw.dp.datapath.stats.smcHit}`,
        `  megaflow hits: ${sw.dp.datapath.stats.hit - sw.dp.datapath.stats.emcHit - sw.dp.datapath.stats.smcHit}`,
        `  miss with success upcall: ${sw.dp.datapath.stats.missed}`,
        '  miss with failed upcall: 0',
      ]);
    } finally {
      sw.close();
    }
  });
});
