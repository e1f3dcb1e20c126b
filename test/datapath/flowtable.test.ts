// The flowtable in the datapath: with seed 000's SNAT as datapath actions
// (ct(commit,nat(src)) out, ct(nat)+recirc back), the packets of an
// established UDP connection forwarded from the flowtable leave byte for
// byte as they do through the full path, with the same megaflow and
// conntrack counters; a path through userspace() is not offloaded; a
// flushed connection or a changed mark makes the entry go.

import { describe, expect, it } from 'vitest';
import { meter, output, userspace, type DpAction } from '../../src/datapath/dp-actions.ts';
import { DP_METER_PKTPS } from '../../src/datapath/meter.ts';
import { FT_UDP } from '../../src/datapath/flowtable.ts';
import { composePacket } from '../../src/packet/compose.ts';
import { parseOdpFlow } from '../../src/packet/odp-parse.ts';
import { ctA, ftRig, snat, type Rig } from './ft-rig.ts';

const ETH = 'eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02)';
const OUT = composePacket(parseOdpFlow(`in_port(1),${ETH},eth_type(0x0800),ipv4(src=192.168.1.10,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1000,dst=53)`).key);

/** Ports 1 (inside) and 2 (outside); `outActions` for packets from port 1; the way back un-NATs. */
function rig(offload: boolean, outActions: DpAction[] = [ctA({ commit: true, nat: snat }), output(2)]): Rig {
  return ftRig(offload ? FT_UDP : 0, outActions, ctA({ commit: false, nat: { kind: null } }));
}

/** The reply to what p2 sent last: addresses and ports swapped. */
function replyTo(sentHex: string): Uint8Array {
  const b = Uint8Array.from(Buffer.from(sentHex, 'hex'));
  const swap = (a: number, bb: number, n: number) => {
    for (let i = 0; i < n; i++) [b[a + i], b[bb + i]] = [b[bb + i], b[a + i]];
  };
  swap(0, 6, 6);
  swap(26, 30, 4);
  swap(34, 36, 2);
  return b;
}

function run(r: Rig, rounds: number): void {
  let t = 1000;
  for (let i = 0; i < rounds; i++) {
    r.dp.receive(1, [OUT], t++);
    r.dp.receive(2, [replyTo(r.p2.sent[r.p2.sent.length - 1])], t++);
  }
}

const counters = (r: Rig) => ({
  megaflows: r.dp.cache.entries().map((m) => [m.packets, m.bytes]).sort(),
  conns: r.c.dump(undefined, 0).map((x) => [x.packetsOrig, x.bytesOrig, x.packetsReply, x.bytesReply]),
});

describe('datapath flowtable', () => {
  it("seed 000's SNAT: offloaded packets leave as the full path sends them, counters equal; one entry per direction", () => {
    const on = rig(true), off = rig(false);
    run(on, 6);
    run(off, 6);
    expect(on.dp.flowtable.size).toBe(2);
    expect(on.dp.flowtable.stats.hits).toBeGreaterThanOrEqual(6);
    expect(off.dp.flowtable.size).toBe(0);
    expect(on.p2.sent).toEqual(off.p2.sent);
    expect(on.p1.sent).toEqual(off.p1.sent);
    expect(on.p2.sent[5].slice(26 * 2, 30 * 2)).toBe('0a000001'); // 10.0.0.1: translated
    expect(counters(on)).toEqual(counters(off));
    expect(on.c.dump(undefined, 0)[0].offload).toBe(true);
  });

  it('a flushed connection or a changed mark makes the entries go: the packet takes the full path again', () => {
    const r = rig(true);
    run(r, 3);
    expect(r.dp.flowtable.size).toBe(2);
    r.c.flush();
    run(r, 1);
    expect(r.dp.flowtable.stats.stale).toBe(1);
    // A commit that changes the mark: the old entries no longer describe the connection.
    const m = rig(true);
    run(m, 3);
    const entries = m.dp.flowtable.size;
    expect(entries).toBe(2);
    m.dp.flowtable.entries()[0].state[0] = 0x77; // as if made under another mark
    run(m, 1);
    expect(m.dp.flowtable.stats.stale).toBe(1);
  });

  it('a path through userspace() is not offloaded', () => {
    const r = rig(true, [ctA({ commit: true, nat: snat }), userspace('controller'), output(2)]);
    run(r, 4);
    expect(r.dp.flowtable.entries().filter((e) => e.outputs[0] === 2)).toEqual([]);
  });

  it('a path through a meter is not offloaded: every packet still meets the bucket', () => {
    const r = rig(true, [meter(0), ctA({ commit: true, nat: snat }), output(2)]);
    // 2 packets of burst, rate 1/s; run() sends one packet a millisecond.
    r.dp.meters.set(r.dp.meters.alloc(), { flags: DP_METER_PKTPS, bands: [{ rate: 1, burstSize: 2 }] }, 1000);
    r.dp.receive(1, [OUT], 1000);
    for (let i = 0; i < 5; i++) {
      r.dp.receive(2, [replyTo(r.p2.sent[0])], 1001 + 2 * i);
      r.dp.receive(1, [OUT], 1002 + 2 * i);
    }
    expect(r.dp.flowtable.entries().filter((e) => e.outputs[0] === 2)).toEqual([]);
    expect(r.p2.sent.length).toBe(2);
    expect(r.dp.meters.stats(0)).toEqual({ packets: 6, bytes: 6 * OUT.length, bands: [{ packets: 4, bytes: 4 * OUT.length }] });
  });
});
