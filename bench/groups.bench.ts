// Select-group cost, beside the same traffic without a group in the same
// run: the whole switch in process (no socket), established UDP traffic of
// 256 connections to a VIP, batches of 32 packets from port 1, each packet
// going through ct(commit,zone=1,nat(dst=...),table=4) and recirculating to
// an output. "plain" is one rule with that ct(nat); "group" sends to a
// select group of three such buckets (one backend each), so every
// connection has its own megaflow (the hash reads the addresses) where the
// plain rule needs one. Also: new connections per second through each
// (best of alternating runs: see established()).

import { PacketBatch } from '../src/packet/batch.ts';
import { composePacket } from '../src/packet/compose.ts';
import { parseOdpFlow } from '../src/packet/odp-parse.ts';
import { Switch } from '../src/ofproto/switch.ts';
import type { BenchRow } from './run.ts';
import { packetsPerSecond } from './slices.ts';

const VIP = '10.0.0.100';
const N_CONN = 256;

function packet(conn: number, reply: string | null): Uint8Array {
  const client = `10.9.${conn >> 8}.${conn & 255}`;
  const sport = 20000 + conn;
  const text = reply
    ? `eth(src=50:54:00:00:00:02,dst=50:54:00:00:00:01),eth_type(0x0800),ipv4(src=${reply},dst=${client},proto=17,tos=0,ttl=64,frag=no),udp(src=8080,dst=${sport})`
    : `eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=${client},dst=${VIP},proto=17,tos=0,ttl=64,frag=no),udp(src=${sport},dst=80)`;
  return composePacket(parseOdpFlow(text).key);
}

const TAIL = ['table=4,ip,actions=2', 'in_port=2,ip,actions=ct(zone=1,nat,table=5)', 'table=5,ip,actions=1'];

function setup(useGroup: boolean): Switch {
  const sw = Switch.fromConfig(null, { defaultBridge: true });
  if (useGroup) {
    const buckets = ['10.1.1.2', '10.1.1.3', '10.1.1.4'].map((b) => `bucket=ct(commit,zone=1,nat(dst=${b}:8080),table=4)`).join(',');
    sw.addGroups('br0', `group_id=1,type=select,${buckets}`, 'bench');
    sw.addFlows('br0', [`in_port=1,udp,nw_dst=${VIP},tp_dst=80,actions=group:1`, ...TAIL].join('\n'), 'bench');
  } else {
    sw.addFlows('br0', [`in_port=1,udp,nw_dst=${VIP},tp_dst=80,actions=ct(commit,zone=1,nat(dst=10.1.1.2:8080),table=4)`, ...TAIL].join('\n'), 'bench');
  }
  return sw;
}

/** A switch carrying established traffic: every connection answered once; `slice(s)` measures packets/s for s seconds. */
function establishedRig(useGroup: boolean): { slice: (seconds: number) => number; close: () => void } {
  const sw = setup(useGroup);
  const dp = sw.dp.datapath;
  const now = Date.now();
  const first = Array.from({ length: N_CONN }, (_, c) => packet(c, null));
  dp.receive(1, first, now);
  // Answer each connection from the backend conntrack chose for it.
  const backends = new Map<number, string>();
  for (const l of sw.dumpConntrack({ zone: 1 }).lines as string[]) {
    const m = /sport=(\d+),dport=80\),reply=\(src=([\d.]+)/.exec(l);
    if (m) backends.set(Number(m[1]) - 20000, m[2]);
  }
  if (backends.size !== N_CONN) throw new Error(`expected ${N_CONN} connections, have ${backends.size}`);
  dp.receive(2, [...backends].map(([c, b]) => packet(c, b)), now);
  const batches: PacketBatch[] = [];
  for (let i = 0; i < N_CONN; i += 32) {
    const b = new PacketBatch(256);
    for (let j = 0; j < 32; j++) b.push(first[i + j]);
    batches.push(b);
  }
  const originals = batches.map((b) => b.data.map((d) => Uint8Array.from(d)));
  const run = (iters: number) => {
    for (let it = 0; it < iters; it++) {
      const k = it % batches.length;
      const b = batches[k];
      // NAT rewrites in place: start every batch from the client's packets.
      for (let j = 0; j < 32; j++) b.data[j].set(originals[k][j]);
      b.count = 32;
      dp.processBatch(b, 1, now);
    }
  };
  run(batches.length * 4);
  const missed = dp.stats.missed;
  const slice = (seconds: number) => {
    const pps = packetsPerSecond(run, seconds);
    if (dp.stats.missed !== missed) throw new Error('established traffic missed the megaflows');
    if (sw.ct.getNconns().nconns !== N_CONN) throw new Error('connections were created during the run');
    return pps;
  };
  return { slice, close: () => sw.close() };
}

/**
 * The machine is shared and noisy: both cases run in alternating slices of
 * 0.5 s and each reports its best slice, so that both saw the same quiet
 * moments.
 */
export function established(seconds: number): { plain: number; group: number } {
  const plain = establishedRig(false);
  const group = establishedRig(true);
  let bp = 0, bg = 0;
  for (let t = 0; t < seconds; t += 0.5) {
    bp = Math.max(bp, plain.slice(0.5));
    bg = Math.max(bg, group.slice(0.5));
  }
  plain.close();
  group.close();
  return { plain: bp, group: bg };
}

/** New connections: every packet a new client, through translation and a commit. */
export function newConns(useGroup: boolean, n: number): number {
  const sw = setup(useGroup);
  const dp = sw.dp.datapath;
  const pkts = Array.from({ length: n }, (_, c) => packet(c, null));
  const now = Date.now();
  const t0 = process.hrtime.bigint();
  dp.receive(1, pkts, now);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  sw.close();
  return n / secs;
}

export async function rows(): Promise<BenchRow[]> {
  const secs = Number(process.env.BENCH_SECONDS ?? 3);
  const { plain, group } = established(secs);
  const nNew = 20_000;
  // Best of three alternating runs each, as for established traffic.
  let plainNew = 0, groupNew = 0;
  for (let r = 0; r < 3; r++) {
    plainNew = Math.max(plainNew, newConns(false, nNew));
    groupNew = Math.max(groupNew, newConns(true, nNew));
  }
  return [
    { bench: 'groups', case: `established UDP, ${N_CONN} connections, batches of 32, ct(commit,nat(dst)) rule`, value: plain, unit: 'packets/s' },
    { bench: 'groups', case: `established UDP, ${N_CONN} connections, batches of 32, select group of 3 ct(commit,nat(dst)) buckets`, value: group, unit: 'packets/s', note: `${(group / plain).toFixed(2)}× the plain rule` },
    { bench: 'groups', case: `new connections, ${nNew.toLocaleString('en-US')}, ct(commit,nat(dst)) rule`, value: plainNew, unit: 'conns/s' },
    { bench: 'groups', case: `new connections, ${nNew.toLocaleString('en-US')}, select group (one upcall per connection: the megaflow matches the hashed addresses)`, value: groupNew, unit: 'conns/s', note: `${(groupNew / plainNew).toFixed(2)}× the plain rule` },
  ];
}
