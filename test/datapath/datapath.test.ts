// The datapath with a hand-written upcall: misses are translated once and
// installed as megaflows, later packets hit them; actions rewrite packets
// with valid checksums; recirculation, revalidation and expiry behave as in
// OVS's dpif-netdev.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Datapath, MAX_RECIRC_DEPTH, type ConntrackHook, type UpcallResult } from '../../src/datapath/datapath.ts';
import {
  ct, ctClear, formatDpActions, output, popVlan, pushVlan, recirc, set, setPktMark, userspace, type DpAction,
} from '../../src/datapath/dp-actions.ts';
import { DpPort } from '../../src/datapath/port.ts';
import { DummyBackend } from '../../src/datapath/ports/dummy.ts';
import { ipv4HeaderChecksum, verifyL4Checksum } from '../../src/packet/checksum.ts';
import { rd16 } from '../../src/packet/bytes.ts';
import { composePacket } from '../../src/packet/compose.ts';
import {
  CS_NEW, CS_TRACKED, FK_CT_STATE, FK_ETH_DST_HI, FK_ETH_DST_LO, FK_ETH_SRC_HI, FK_ETH_SRC_LO, FK_IN_PORT, FK_IPV6_LABEL, FK_IPV6_SRC, FK_NW_DST, FK_NW_SRC, FK_NW_TOS, FK_NW_TTL, FK_PKT_MARK,
  FK_RECIRC_ID, FK_TP_DST, FK_TP_SRC,
} from '../../src/packet/flow-key.ts';
import { formatOdpFlowKey } from '../../src/packet/odp-format.ts';
import { parseOdpFlow } from '../../src/packet/odp-parse.ts';
import { readPcap } from '../../src/packet/pcap.ts';
import { hex, Recorder } from './recorder.ts';

const ETH = 'eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02)';
const ip4 = (proto: number, l4: string, ip = 'src=10.1.1.1,dst=10.1.1.2', tos = 0, ttl = 64) =>
  `${ETH},eth_type(0x0800),ipv4(${ip},proto=${proto},tos=${tos},ttl=${ttl},frag=no),${l4}`;
const UDP = ip4(17, 'udp(src=1000,dst=53)');
const TCP = ip4(6, 'tcp(src=34567,dst=80),tcp_flags(ack)');
const UDP6 = `${ETH},eth_type(0x86dd),ipv6(src=fc00::1,dst=fc00::2,label=0,proto=17,tclass=0,hlimit=64,frag=no),udp(src=1000,dst=53)`;
const VLAN_UDP = `${ETH},eth_type(0x8100),vlan(vid=10,pcp=3),encap(eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1000,dst=53))`;

const pkt = (text: string) => composePacket(parseOdpFlow(text).key);
const maskOf = (text: string) => parseOdpFlow(text).mask;
const IP_FRAG_MASK = maskOf('recirc_id(0),in_port(1),eth_type(0x0800),ipv4(frag=no)');

interface Rig {
  dp: Datapath;
  p2: Recorder;
  upcalls: { key: Uint32Array; len: number }[];
}

/** Ports 1 and 2 (2 records what it sends); `translate` decides each miss. */
function rig(translate: (key: Uint32Array) => UpcallResult | null, conntrack: ConntrackHook | null = null): Rig {
  const upcalls: Rig['upcalls'] = [];
  const dp = new Datapath(
    (key, len) => {
      upcalls.push({ key, len });
      return translate(key);
    },
    conntrack,
    (key) => translate(key),
  );
  const p2 = new Recorder();
  dp.addPort(new DpPort(1, 'p1', new DummyBackend(), {}));
  dp.addPort(new DpPort(2, 'p2', p2, {}));
  return { dp, p2, upcalls };
}

const fixed = (actions: DpAction[], mask = IP_FRAG_MASK) => () => ({ actions, mask });

/** dump-dp-flows lines of the cache, without `used:` (as dpif prints them). */
function dump(dp: Datapath): string[] {
  return dp.cache.entries().map((mf) =>
    `${formatOdpFlowKey(mf.key, 0, mf.mask, 0, false)}, packets:${mf.packets}, bytes:${mf.bytes}, actions:${formatDpActions(mf.actions)}`);
}

describe('datapath: miss, upcall, install, hit', () => {
  it('upcalls once, installs the megaflow and forwards later packets from the cache', () => {
    const { dp, p2, upcalls } = rig(fixed([output(2)]));
    const a = pkt(UDP), b = pkt(ip4(17, 'udp(src=2000,dst=53)'));
    dp.receive(1, [a], 1000);
    dp.receive(1, [b], 2000);
    expect(upcalls.map((u) => [u.key[FK_IN_PORT], u.key[FK_RECIRC_ID], u.key[FK_TP_SRC], u.len])).toEqual([[1, 0, 1000, a.length]]);
    // A different key: the classifier, not a flow cache, finds the megaflow.
    expect(dp.stats).toEqual({ hit: 1, emcHit: 0, smcHit: 0, recirc: 0, missed: 1, lost: 0, dropped: 0, recircTooDeep: 0, ctUnavailable: 0, controller: 0 });
    // Like OVS, the upcalled packet is not counted in the megaflow's stats.
    expect(dump(dp)).toEqual([`recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(frag=no), packets:1, bytes:${b.length}, actions:2`]);
    expect(p2.sent).toEqual([hex(a), hex(b)]);
    expect(dp.cache.entries()[0].usedMs).toBe(2000);
    const [s1, s2] = [dp.ports.get(1)!.stats, dp.ports.get(2)!.stats];
    expect([s1.rxPackets, s1.rxBytes, s2.txPackets, s2.txBytes]).toEqual([2, a.length + b.length, 2, a.length + b.length]);
  });

  it('installs a separate megaflow for a packet outside the first one\'s mask', () => {
    const mask = maskOf('recirc_id(0),in_port(1),eth_type(0x0800),ipv4(proto=17,frag=no),udp(dst=53)');
    const { dp, upcalls } = rig((key) => ({ actions: key[FK_TP_DST] === 53 ? [output(2)] : [], mask }));
    dp.receive(1, [pkt(UDP), pkt(ip4(17, 'udp(src=1000,dst=54)')), pkt(ip4(17, 'udp(src=7,dst=54)')), pkt(UDP)], 0);
    expect(upcalls.length).toBe(2);
    expect(dump(dp).sort()).toEqual([
      'recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(proto=17,frag=no),udp(dst=53), packets:1, bytes:106, actions:2',
      'recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(proto=17,frag=no),udp(dst=54), packets:1, bytes:106, actions:drop',
    ]);
    expect([dp.stats.hit, dp.stats.missed, dp.stats.dropped]).toEqual([2, 2, 2]);
  });

  it('processes more than a batch (32) of packets', () => {
    const { dp, p2 } = rig(fixed([output(2)]));
    const pkts = Array.from({ length: 70 }, (_, i) => pkt(ip4(17, `udp(src=${i + 1},dst=53)`)));
    expect(dp.receive(1, pkts, 0)).toBe(70);
    expect([dp.stats.missed, dp.stats.hit, p2.sent.length]).toEqual([1, 69, 70]);
    expect(dp.cache.entries()[0].packets).toBe(69);
  });

  it('accumulates TCP flags of hits', () => {
    const { dp } = rig(fixed([output(2)]));
    dp.receive(1, [pkt(ip4(6, 'tcp(src=1,dst=2),tcp_flags(syn)')), pkt(ip4(6, 'tcp(src=1,dst=2),tcp_flags(ack)')), pkt(ip4(6, 'tcp(src=1,dst=2),tcp_flags(fin|ack)'))], 0);
    expect(dp.cache.entries()[0].tcpFlags).toBe(0x011);
  });

  it('counts lost upcalls (null, error, exception) and installs nothing', () => {
    let mode = 0;
    const { dp } = rig(() => {
      if (mode === 0) return null;
      if (mode === 1) return { actions: [output(2)], mask: IP_FRAG_MASK, error: 'translation failed' };
      throw new Error('boom');
    });
    for (mode = 0; mode < 3; mode++) dp.receive(1, [pkt(UDP)], 0);
    expect([dp.stats.lost, dp.stats.missed, dp.cache.size]).toEqual([3, 3, 0]);
  });

  it('ignores packets on unknown ports and outputs to unknown ports', () => {
    const { dp, p2 } = rig(fixed([output(9), output(2)]));
    expect(dp.receive(7, [pkt(UDP)], 0)).toBe(0);
    dp.receive(1, [pkt(UDP)], 0);
    expect(p2.sent.length).toBe(1);
  });

  it('writes what a port sends to its tx_pcap file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'swd-dp-'));
    try {
      const dp = new Datapath(fixed([output(2)]));
      dp.addPort(new DpPort(1, 'p1', new DummyBackend(), {}));
      dp.addPort(new DpPort(2, 'p2', new DummyBackend(), { tx_pcap: join(dir, 'p2.pcap') }));
      const a = pkt(UDP), b = pkt(TCP);
      dp.receive(1, [a, b], 1_700_000_000_123);
      dp.removePort(2); // closes the file
      expect(readPcap(join(dir, 'p2.pcap')).map((p) => [p.tsSec, p.tsUsec, p.origLen, hex(p.data)])).toEqual([
        [1_700_000_000, 123_000, a.length, hex(a)],
        [1_700_000_000, 123_000, b.length, hex(b)],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a second port with the same number', () => {
    const { dp } = rig(fixed([]));
    expect(() => dp.addPort(new DpPort(1, 'again', new DummyBackend(), {}))).toThrow('datapath port 1 already exists');
  });
});

describe('datapath: set actions keep checksums right', () => {
  const run = (text: string, actions: DpAction[]) => {
    const { dp, p2 } = rig(fixed([...actions, output(2)]));
    dp.receive(1, [pkt(text), pkt(text)], 0); // the upcalled packet and a megaflow hit
    expect(p2.sent[0]).toBe(p2.sent[1]);
    return Uint8Array.from(Buffer.from(p2.sent[1], 'hex'));
  };

  for (const [name, text, proto] of [['UDP', UDP, 17], ['TCP', TCP, 6]] as const) {
    it(`set(ipv4(src,dst)) on ${name}: the bytes of a packet composed with the new addresses`, () => {
      const out = run(text, [set('ipv4', [FK_NW_SRC, FK_NW_DST], [0x0a090909, 0xc0a80101])]);
      expect(hex(out)).toBe(hex(pkt(text.replace('src=10.1.1.1,dst=10.1.1.2', 'src=10.9.9.9,dst=192.168.1.1'))));
      expect(ipv4HeaderChecksum(out, 14)).toBe(rd16(out, 24));
      expect(verifyL4Checksum(out, 14, 34, out.length, proto)).toBe(true);
    });

    it(`set(${name.toLowerCase()}(src,dst)): new ports, valid checksum`, () => {
      const out = run(text, [set(name === 'UDP' ? 'udp' : 'tcp', [FK_TP_SRC, FK_TP_DST], [4444, 5555])]);
      expect(hex(out)).toBe(hex(pkt(text.replace(/(tcp|udp)\(src=\d+,dst=\d+\)/, '$1(src=4444,dst=5555)'))));
      expect(verifyL4Checksum(out, 14, 34, out.length, proto)).toBe(true);
    });
  }

  it('set(ipv4(tos,ttl)) updates the header checksum', () => {
    const out = run(UDP, [set('ipv4', [FK_NW_TOS, FK_NW_TTL], [0x10, 9])]);
    expect(hex(out)).toBe(hex(pkt(ip4(17, 'udp(src=1000,dst=53)', undefined, 0x10, 9))));
  });

  it('set(ipv6(src)) updates the UDP checksum over the pseudo-header', () => {
    const src = parseOdpFlow('ipv6(src=fc00::99)').key.subarray(FK_IPV6_SRC, FK_IPV6_SRC + 4);
    const out = run(UDP6, [set('ipv6', [0, 1, 2, 3].map((i) => FK_IPV6_SRC + i), Array.from(src))]);
    expect(hex(out)).toBe(hex(pkt(UDP6.replace('src=fc00::1', 'src=fc00::99'))));
    expect(verifyL4Checksum(out, 14, 54, out.length, 17)).toBe(true);
  });

  it('set(ipv6(label,tclass,hlimit)) rewrites the header (IPv6 has no header checksum)', () => {
    const out = run(UDP6, [set('ipv6', [FK_IPV6_LABEL, FK_NW_TOS, FK_NW_TTL], [0x12345, 0xb8, 7])]);
    expect(hex(out)).toBe(hex(pkt(UDP6.replace('label=0', 'label=0x12345').replace('tclass=0', 'tclass=0xb8').replace('hlimit=64', 'hlimit=7'))));
    expect(verifyL4Checksum(out, 14, 54, out.length, 17)).toBe(true);
  });

  it('set(eth(src,dst)) rewrites the addresses', () => {
    const out = run(UDP, [set('eth', [FK_ETH_SRC_HI, FK_ETH_SRC_LO, FK_ETH_DST_HI, FK_ETH_DST_LO], [0xaabb, 0xccddeeff, 0x0211, 0x22334455])]);
    expect(hex(out)).toBe(hex(pkt(UDP.replace(ETH, 'eth(src=aa:bb:cc:dd:ee:ff,dst=02:11:22:33:44:55)'))));
  });

  it('leaves a zero UDP checksum zero', () => {
    const { dp, p2 } = rig(fixed([set('ipv4', [FK_NW_SRC], [0x0a090909]), set('udp', [FK_TP_DST], [99]), output(2)]));
    const p = pkt(UDP);
    p[40] = 0;
    p[41] = 0;
    dp.receive(1, [p], 0);
    const out = Buffer.from(p2.sent[0], 'hex');
    expect([out.readUInt16BE(40), out.readUInt16BE(36), out.readUInt32BE(26)]).toEqual([0, 99, 0x0a090909]);
    expect(ipv4HeaderChecksum(out, 14)).toBe(rd16(out, 24));
  });

  it('set(skb_mark) sets the key for what follows (a recirculation sees it)', () => {
    const { dp, upcalls } = rig((key) => ({ actions: key[FK_RECIRC_ID] === 0 ? [setPktMark(7), recirc(1)] : [output(2)], mask: maskOf('recirc_id(0)') }));
    dp.receive(1, [pkt(UDP)], 0);
    expect(upcalls.map((u) => [u.key[FK_RECIRC_ID], u.key[FK_PKT_MARK]])).toEqual([[0, 0], [1, 7]]);
  });
});

describe('datapath: VLAN actions', () => {
  it('push_vlan gives the bytes OVS composes for the tagged packet', () => {
    const { dp, p2 } = rig(fixed([pushVlan(0x8100, 0x1000 | (3 << 13) | 10), output(2)]));
    dp.receive(1, [pkt(UDP), pkt(UDP)], 0);
    expect(p2.sent).toEqual([hex(pkt(VLAN_UDP)), hex(pkt(VLAN_UDP))]);
  });

  it('pop_vlan removes the tag', () => {
    const { dp, p2 } = rig(fixed([popVlan(), output(2)], maskOf('recirc_id(0),in_port(1)')));
    dp.receive(1, [pkt(VLAN_UDP), pkt(VLAN_UDP)], 0);
    expect(p2.sent).toEqual([hex(pkt(UDP)), hex(pkt(UDP))]);
  });

  it('set after push_vlan rewrites the right bytes (header offsets follow the tag)', () => {
    const { dp, p2 } = rig(fixed([pushVlan(0x8100, 0x1000 | (3 << 13) | 10), set('ipv4', [FK_NW_SRC], [0x0a090909]), set('udp', [FK_TP_DST], [99]), output(2)]));
    dp.receive(1, [pkt(UDP)], 0);
    expect(p2.sent).toEqual([hex(pkt(VLAN_UDP.replace('src=10.1.1.1', 'src=10.9.9.9').replace('dst=53', 'dst=99')))]);
  });

  it('output before and after push_vlan sends both forms', () => {
    const { dp, p2 } = rig(fixed([output(2), pushVlan(0x8100, 0x1000 | (3 << 13) | 10), output(2), popVlan(), output(2)]));
    dp.receive(1, [pkt(UDP)], 0);
    expect(p2.sent).toEqual([hex(pkt(UDP)), hex(pkt(VLAN_UDP)), hex(pkt(UDP))]);
  });
});

describe('datapath: recirculation and conntrack', () => {
  it('recirculates with the recirc id and installs one megaflow per pass', () => {
    const ctHook: ConntrackHook = {
      execute(_b, _i, key, k) {
        key[k + FK_CT_STATE] = CS_TRACKED | CS_NEW;
      },
    };
    const ctAct = ct({ zone: 0, commit: false, force: false, mark: null, label: null, nat: null, alg: null });
    const { dp, p2, upcalls } = rig((key) => key[FK_RECIRC_ID] === 0
      ? { actions: [ctAct, recirc(8)], mask: IP_FRAG_MASK }
      : { actions: [output(2)], mask: maskOf('recirc_id(0x8),in_port(1),ct_state(+new+trk),eth_type(0x0800),ipv4(frag=no)') }, ctHook);
    dp.receive(1, [pkt(UDP), pkt(UDP)], 0);
    expect(upcalls.map((u) => [u.key[FK_RECIRC_ID], u.key[FK_CT_STATE]])).toEqual([[0, 0], [8, CS_TRACKED | CS_NEW]]);
    expect(p2.sent.length).toBe(2);
    expect(dump(dp).sort()).toEqual([
      'ct_state(+new+trk),recirc_id(0x8),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(frag=no), packets:1, bytes:106, actions:2',
      'recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(frag=no), packets:1, bytes:106, actions:ct,recirc(0x8)',
    ]);
    expect([dp.stats.missed, dp.stats.hit]).toEqual([2, 2]);
  });

  it(`stops a packet that recirculates more than ${MAX_RECIRC_DEPTH} times, as OVS does`, () => {
    const { dp, p2, upcalls } = rig(fixed([recirc(1), output(2)], maskOf('recirc_id(0)')));
    dp.receive(1, [pkt(UDP)], 0);
    // Passes 0..MAX_RECIRC_DEPTH: two translations (recirc_id 0 and 1), the rest hit.
    expect([upcalls.length, dp.stats.missed, dp.stats.hit, dp.stats.recircTooDeep]).toEqual([2, 2, MAX_RECIRC_DEPTH - 1, 1]);
    // Each pass goes on with its own actions after the recirculation returns, except the one stopped.
    expect(p2.sent.length).toBe(MAX_RECIRC_DEPTH);
  });

  it('counts ct() without a conntrack hook and stops the packet', () => {
    const ctAct = ct({ zone: 1, commit: true, force: false, mark: null, label: null, nat: null, alg: null });
    const { dp, p2 } = rig(fixed([ctAct, output(2)]));
    dp.receive(1, [pkt(UDP)], 0);
    expect([dp.stats.ctUnavailable, p2.sent.length]).toEqual([1, 0]);
  });

  it('ct_clear zeroes the ct fields; userspace() is counted', () => {
    const hook: ConntrackHook = { execute: (_b, _i, key, k) => void (key[k + FK_CT_STATE] = CS_TRACKED | CS_NEW) };
    const ctAct = ct({ zone: 0, commit: false, force: false, mark: null, label: null, nat: null, alg: null });
    const { dp, upcalls } = rig((key) => ({
      actions: key[FK_RECIRC_ID] === 0 ? [ctAct, recirc(1)] : key[FK_RECIRC_ID] === 1 ? [ctClear(), userspace('controller'), recirc(2)] : [],
      mask: maskOf('recirc_id(0)'),
    }), hook);
    dp.receive(1, [pkt(UDP)], 0);
    expect(upcalls.map((u) => [u.key[FK_RECIRC_ID], u.key[FK_CT_STATE]])).toEqual([[0, 0], [1, CS_TRACKED | CS_NEW], [2, 0]]);
    expect(dp.stats.controller).toBe(1);
  });
});

describe('datapath: revalidate and expire', () => {
  it('revalidate updates in place the megaflows whose actions changed (counters kept, as OVS) and keeps the others', () => {
    let port = 2;
    const mask = maskOf('recirc_id(0),in_port(1),eth_type(0x0800),ipv4(proto=17,frag=no),udp(dst=53)');
    const { dp } = rig((key) => ({ actions: key[FK_TP_DST] === 53 ? [output(port)] : [output(3)], mask }));
    const removed: string[] = [];
    dp.onRemove = (mf) => removed.push(formatDpActions(mf.actions));
    dp.receive(1, [pkt(UDP), pkt(ip4(17, 'udp(src=1,dst=54)'))], 0);
    expect(dp.revalidate()).toBe(0);
    port = 4;
    expect(dp.revalidate()).toBe(1);
    // Its counters were pushed to its old owner before the change (onRemove), and it stays.
    expect(removed).toEqual(['2']);
    expect(dump(dp).sort()).toEqual([
      'recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(proto=17,frag=no),udp(dst=53), packets:0, bytes:0, actions:4',
      'recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(proto=17,frag=no),udp(dst=54), packets:0, bytes:0, actions:3',
    ]);
  });

  it('revalidate removes megaflows whose mask changed or whose translation now fails', () => {
    let mode = 0;
    const { dp } = rig(() => (mode === 2 ? null : { actions: [output(2)], mask: mode === 0 ? IP_FRAG_MASK : maskOf('recirc_id(0),in_port(1)') }));
    dp.receive(1, [pkt(UDP)], 0);
    mode = 1;
    expect([dp.revalidate(), dp.cache.size]).toEqual([1, 0]);
    dp.receive(1, [pkt(UDP)], 0);
    mode = 2;
    expect([dp.revalidate(), dp.cache.size]).toEqual([1, 0]);
  });

  it('expires megaflows idle for more than 10 s', () => {
    const { dp } = rig(fixed([output(2)]));
    dp.receive(1, [pkt(UDP)], 1_000);
    expect(dp.expire(11_000)).toBe(0); // created at 1 s, idle exactly 10 s
    dp.receive(1, [pkt(UDP)], 5_000); // hit: used at 5 s
    expect(dp.expire(15_000)).toBe(0);
    const gone: number[] = [];
    dp.onRemove = (mf) => gone.push(mf.packets);
    expect(dp.expire(15_001)).toBe(1);
    expect([gone, dp.cache.size]).toEqual([[1], 0]);
  });

  it('flushFlows empties the cache', () => {
    const { dp } = rig(fixed([output(2)]));
    dp.receive(1, [pkt(UDP), pkt(TCP)], 0);
    expect([dp.flushFlows(), dp.cache.size]).toEqual([1, 0]);
  });
});

describe('datapath: malformed packets', () => {
  it('never throws on truncated packets; counts them and still translates them', () => {
    const { dp, upcalls } = rig(fixed([set('ipv4', [FK_NW_SRC], [1]), set('udp', [FK_TP_SRC], [1]), popVlan(), output(2)], maskOf('recirc_id(0),in_port(1)')));
    const good = pkt(UDP);
    const cuts = [0, 1, 10, 13, 14, 20, 33, 34, 40, 41];
    expect(() => dp.receive(1, cuts.map((n) => good.slice(0, n)), 0)).not.toThrow();
    expect(dp.parseStats.packets).toBe(cuts.length);
    expect(dp.parseStats.malformed).toBe(cuts.length);
    expect(upcalls.length).toBe(1);
  });
});

describe('formatDpActions', () => {
  const nat = (addrMin: string, addrMax: string) => ({ kind: 'src' as const, addrMin, addrMax });
  const ctOf = (o: Partial<Parameters<typeof ct>[0]>) => ct({ zone: 0, commit: false, force: false, mark: null, label: null, nat: null, alg: null, ...o });
  it('prints actions as dpctl/dump-flows does', () => {
    const lines = [
      [output(2)],
      [],
      [ctOf({ commit: true, zone: 1 })],
      [ctOf({}), recirc(8)],
      [ctOf({ commit: true, nat: nat('10.1.1.240', '10.1.1.255') })],
      [set('ipv4', [FK_NW_SRC], [0x0a090909])],
      [pushVlan(0x8100, 0x1000 | 10), output(2)],
      [popVlan()],
      [ctClear(), setPktMark(0x10), userspace('controller')],
    ].map((a) => formatDpActions(a));
    expect(lines).toEqual([
      '2',
      'drop',
      'ct(commit,zone=1)',
      'ct,recirc(0x8)',
      'ct(commit,nat(src=10.1.1.240-10.1.1.255))',
      'set(ipv4(src=10.9.9.9))',
      'push_vlan(vid=10,pcp=0),2',
      'pop_vlan',
      'ct_clear,set(skb_mark(0x10)),userspace(pid=0,controller)',
    ]);
    expect(formatDpActions([output(2)], (n) => `p${n}`)).toBe('p2');
  });
});
