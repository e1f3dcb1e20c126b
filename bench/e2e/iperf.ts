// iperf3 between two namespaces: 64-byte UDP frames at the highest rate the
// sender reaches, and TCP throughput. Figures are the receiver's (the server
// in the second namespace), as iperf3 reports them at the end of the run.

import type { Topology } from '../../test/netns/topology.ts';

/** UDP payload that makes a 64-byte Ethernet frame: 14 + 20 + 8 + 18 + 4 (FCS). */
export const UDP_PAYLOAD_64B_FRAME = 18;
const LISTEN_WAIT_MS = 5_000;

export interface UdpResult {
  /** Packets per second the client sent (sum of its intervals). */
  offeredPps: number;
  /** Packets per second the server received (highest sequence minus lost). */
  rxPps: number;
  /** Share of the packets sent that never arrived. */
  lossPct: number;
  /** Server intervals (1 s each) in which nothing arrived: the path stalled. */
  emptyIntervals: number;
}

export interface TcpResult {
  /** Bits per second the server received. */
  bps: number;
  /** Segments the client retransmitted (a sign of loss in the path). */
  retransmits: number;
}

export interface Endpoints {
  topo: Topology;
  clientNs: string;
  serverNs: string;
  serverIp: string;
  port: number;
}

export class IperfError extends Error {
  readonly code = 'EIPERF';
}

export async function udp64(ep: Endpoints, seconds: number): Promise<UdpResult> {
  const { server, client } = await runPair(ep, seconds, ['-u', '-l', String(UDP_PAYLOAD_64B_FRAME), '-b', '0']);
  const sum = server.end?.sum;
  if (!sum || typeof sum.packets !== 'number') throw new IperfError('iperf3 server printed no UDP summary');
  const secs = sum.seconds || seconds;
  const received = sum.packets - (sum.lost_packets ?? 0);
  let sent = 0;
  for (const iv of client.intervals ?? []) sent += iv.sum?.packets ?? 0;
  const clientSecs = client.end?.sum?.seconds || seconds;
  // iperf3's own lost_percent counts only gaps in the sequence; packets lost
  // after the last one received (a path that stops forwarding) show only here.
  const lossPct = sent > 0 ? Math.max(0, (100 * (sent - received)) / sent) : 0;
  const emptyIntervals = (server.intervals ?? []).filter((iv) => (iv.sum?.packets ?? 0) === 0).length;
  return { offeredPps: sent / clientSecs, rxPps: received / secs, lossPct, emptyIntervals };
}

export async function tcp(ep: Endpoints, seconds: number): Promise<TcpResult> {
  const { server, client } = await runPair(ep, seconds, []);
  const bps = server.end?.sum_received?.bits_per_second;
  if (typeof bps !== 'number') throw new IperfError('iperf3 server printed no TCP summary');
  return { bps, retransmits: client.end?.sum_sent?.retransmits ?? 0 };
}

interface IperfJson {
  error?: string;
  intervals?: { sum?: { packets?: number } }[];
  end?: {
    sum?: { seconds?: number; packets?: number; lost_packets?: number; lost_percent?: number };
    sum_received?: { bits_per_second?: number };
    sum_sent?: { retransmits?: number };
  };
}

/** A one-off server in serverNs, a client in clientNs; both JSON reports. */
async function runPair(ep: Endpoints, seconds: number, clientArgs: string[]): Promise<{ server: IperfJson; client: IperfJson }> {
  const { topo, clientNs, serverNs, serverIp, port } = ep;
  const srv = topo.spawn(serverNs, ['iperf3', '-s', '-1', '-J', '-B', serverIp, '-p', String(port)]);
  try {
    await waitListening(topo, serverNs, port, srv.exited);
    const c = await topo.exec(
      clientNs,
      ['iperf3', '-c', serverIp, '-p', String(port), '-t', String(seconds), '-J', '--connect-timeout', '3000', ...clientArgs],
      { timeoutMs: (seconds + 30) * 1000 },
    );
    const client = parse(c.stdout, 'client');
    if (c.timedOut) throw new IperfError('iperf3 client ran past its time bound');
    if (client.error) throw new IperfError(`iperf3 client: ${client.error}`);
    const exit = await Promise.race([srv.exited, sleep(10_000).then(() => 'late' as const)]);
    if (exit === 'late') throw new IperfError('iperf3 server did not finish after the client');
    const server = parse(srv.stdout, 'server');
    if (server.error) throw new IperfError(`iperf3 server: ${server.error}`);
    return { server, client };
  } finally {
    await srv.stop('SIGTERM', 1_000);
  }
}

async function waitListening(topo: Topology, ns: string, port: number, exited: Promise<number>): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + LISTEN_WAIT_MS;
  while (Date.now() < deadline && !gone) {
    const r = topo.execSync(ns, ['ss', '-Hltn', `sport = :${port}`], { timeoutMs: 5_000 });
    if (r.code === 0 && r.stdout.trim().length > 0) return;
    await sleep(50);
  }
  throw new IperfError(gone ? 'iperf3 server exited before listening' : `iperf3 server not listening on ${port}`);
}

function parse(text: string, who: string): IperfJson {
  try {
    return JSON.parse(text) as IperfJson;
  } catch {
    throw new IperfError(`iperf3 ${who} printed no JSON: ${text.slice(0, 200)}`);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
