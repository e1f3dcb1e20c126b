// The packet fuzzer's runner: an in-process switch (br0 with dummy ports
// p1 and p2, the datapath's own receive path, as swctl inject and every
// port backend use) under a flow table with conntrack, zones and SNAT into
// a small range (so NAT exhaustion happens too), fed batches of packets
// from the families of packets.ts. Afterwards every packet received must
// be accounted for: sent on a port, or dropped for a counted reason; and
// the connection table must pass the consistency walker.

import { Switch } from '../../src/ofproto/switch.ts';
import { checkTable, type TableCheck } from '../../src/conntrack/check.ts';
import { FUZZ_FAMILIES, Rng, validPacket, type FuzzFamily } from './packets.ts';
import { setIpv4HeaderChecksum } from '../../src/packet/checksum.ts';

/** The table the fuzz runs through (table-driven too: add rows, e.g. ct(alg=ftp)). */
export const FUZZ_FLOWS: string[] = [
  'table=0,priority=100,ip,actions=ct(table=1,zone=1,nat)',
  'table=0,priority=100,ipv6,actions=ct(table=1,zone=2)',
  'table=0,priority=0,in_port=1,actions=2',
  'table=0,priority=0,in_port=2,actions=1',
  'table=1,priority=10,ct_state=+new+trk,in_port=1,ip,actions=ct(commit,zone=1,nat(src=10.99.0.1-10.99.0.2:2000-2100)),2',
  'table=1,priority=10,ct_state=+new+trk,in_port=1,ipv6,actions=ct(commit,zone=2),2',
  'table=1,priority=10,ct_state=+inv+trk,actions=drop',
  'table=1,priority=5,ct_state=+est+trk,in_port=1,actions=2',
  'table=1,priority=5,ct_state=+est+trk,in_port=2,actions=1',
  'table=1,priority=5,ct_state=+rel+trk,in_port=1,actions=2',
  'table=1,priority=5,ct_state=+rel+trk,in_port=2,actions=1',
  'table=1,priority=0,actions=drop',
];

export interface FuzzResult {
  received: number;
  forwarded: number;
  /** Reasons a packet was not forwarded, each a counter swd keeps. */
  drops: Record<string, number>;
  perFamily: Record<string, number>;
  table: TableCheck;
  connections: number;
  /** A well-formed packet sent after the fuzz was forwarded (swd alive). */
  aliveAfter: boolean;
}

export interface FuzzOptions {
  count: number;
  seed?: number;
  families?: FuzzFamily[];
  flows?: string[];
  /** Called every `progressEvery` packets (soak progress, memory samples). */
  progress?: (done: number) => void;
  progressEvery?: number;
}

export function runPacketFuzz(o: FuzzOptions): FuzzResult {
  let now = 1_000_000;
  const noop = () => {};
  const sw = Switch.fromConfig(null, { now: () => now, logger: { info: noop, warn: noop, error: noop }, pmdThreads: 0 });
  try {
    sw.addFlows('br0', (o.flows ?? FUZZ_FLOWS).join('\n'), 'fuzz');
    const br = sw.bridges.get('br0')!;
    const p1 = br.portsByOf.get(1)!.dpPort;
    const p2 = br.portsByOf.get(2)!.dpPort;
    const dp = sw.dp.datapath;
    const families = o.families ?? FUZZ_FAMILIES;
    const r = new Rng(o.seed ?? 1);
    const perFamily: Record<string, number> = {};
    const batch: Uint8Array[] = [];
    const every = o.progressEvery ?? 100_000;
    let done = 0;
    while (done < o.count) {
      const inPort = r.int(4) === 0 ? p2 : p1;
      batch.length = 0;
      const n = Math.min(32, o.count - done);
      for (let k = 0; k < n; k++) {
        const f = families[(done + k) % families.length];
        perFamily[f.name] = (perFamily[f.name] ?? 0) + 1;
        batch.push(f.make(r, Math.floor((done + k) / families.length)));
      }
      dp.receive(inPort, batch, now);
      done += n;
      now += 1; // 32 packets a millisecond: connections live, expire and are swept
      if (done % 8192 < 32) sw.tick(now);
      if (o.progress && done % every < 32) o.progress(done);
    }
    sw.tick(now);
    const before = sw.dp.portStats(p2).txPackets;
    dp.receive(p1, [validUdp()], now);
    const aliveAfter = sw.dp.portStats(p2).txPackets === before + 1;

    const s1 = sw.dp.portStats(p1);
    const s2 = sw.dp.portStats(p2);
    const ds = dp.stats;
    const ct = sw.dp.conntrack.counters();
    const ipf = sw.dp.conntrack.ipf.shared.status();
    return {
      received: s1.rxPackets + s2.rxPackets + s1.rxDropped + s2.rxDropped - 1,
      forwarded: s1.txPackets + s2.txPackets - 1,
      drops: {
        'rx dropped (no buffer)': s1.rxDropped + s2.rxDropped,
        'drop action': ds.dropped,
        'translation failed': ds.lost,
        'recirculation too deep': ds.recircTooDeep,
        'NAT exhausted': ct.natExhausted,
        'tx failed': s1.txDropped + s2.txDropped + s1.txErrors + s2.txErrors,
        // Fragments of datagrams that never completed: still held, or dropped by the list timeout (ipf-get-status).
        'fragments held': ipf.nfrag,
        'fragments expired': ipf.v4.expired + ipf.v6.expired,
        'fragments purged': ipf.v4.purged + ipf.v6.purged,
      },
      perFamily,
      table: checkTable(sw.dp.conntrack.table),
      connections: sw.dp.conntrack.nconns(),
      aliveAfter,
    };
  } finally {
    sw.close();
  }
}

/** A fresh UDP connection out of p1 (new source port from outside the pool). */
function validUdp(): Uint8Array {
  const r = new Rng(7);
  let p = validPacket(r);
  while (p[23] !== 17 || p[12] !== 0x08) p = validPacket(r);
  p[34] = 0xfe; p[35] = 0xef; // sport 65263: not in the pool
  p[40] = 0; p[41] = 0; // no UDP checksum
  p[30] = 10; p[31] = 1; p[32] = 0; p[33] = 2; // dst 10.1.0.2
  setIpv4HeaderChecksum(p, 14); // conntrack checks it, as OVS's does
  return p;
}
