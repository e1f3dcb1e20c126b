// Prometheus metrics (`swd start --metrics [ADDR:]PORT`): an HTTP listener
// serving /metrics in the text exposition format through prom-client. Each
// scrape takes one snapshot of the switch's counters (Switch.stats(),
// src/ofproto/switch-stats.ts) and sets every series from it, so a scrape
// costs the datapath nothing and series of ports or zones that went away
// disappear. Names follow Prometheus conventions: the `swd_` prefix,
// `_total` for counters, seconds and bytes as units. Node's own process
// metrics (resident memory, CPU, event loop lag) come with prom-client's
// defaults.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SwitchStats } from '../ofproto/switch-stats.ts';

type Labels = Record<string, string | number>;
type Kind = 'counter' | 'gauge';
type PromClient = typeof import('prom-client');

interface Series {
  name: string;
  help: string;
  kind: Kind;
  labels: string[];
  values: (s: SwitchStats) => [Labels, number][];
}

const PORT_COUNTERS: [string, keyof SwitchStats['ports'][number], string][] = [
  ['rx_packets', 'rxPackets', 'Packets received on the port'],
  ['rx_bytes', 'rxBytes', 'Bytes received on the port'],
  ['rx_dropped', 'rxDropped', 'Received packets dropped (kernel ring full, frames cut short)'],
  ['rx_errors', 'rxErrors', 'Receive errors'],
  ['tx_packets', 'txPackets', 'Packets sent on the port'],
  ['tx_bytes', 'txBytes', 'Bytes sent on the port'],
  ['tx_dropped', 'txDropped', 'Packets that could not be sent'],
  ['tx_errors', 'txErrors', 'Transmit errors'],
];

const IPF_COUNTERS: [string, keyof SwitchStats['ipf']['v4'], string][] = [
  ['accepted', 'accepted', 'Fragments taken for reassembly'],
  ['completed', 'completed', 'Fragments of completed datagrams, sent on'],
  ['expired', 'expired', 'Fragments of datagrams that did not complete in time'],
  ['too_small', 'tooSmall', 'Non-last fragments below the minimum fragment size (tracked +inv)'],
  ['overlapped', 'overlapped', 'Fragments overlapping one already held (tracked +inv)'],
  ['purged', 'purged', 'Fragments of completed datagrams dropped before they were sent'],
];

const port = (p: SwitchStats['ports'][number]) => ({ bridge: p.bridge, port: p.port });
const thread = (t: SwitchStats['threads'][number]) => ({ thread: t.thread });
const one = (v: number): [Labels, number][] => [[{}, v]];

const SERIES: Series[] = [
  ...PORT_COUNTERS.map(([n, k, help]): Series => ({
    name: `swd_port_${n}_total`, help, kind: 'counter', labels: ['bridge', 'port'],
    values: (s) => s.ports.map((p) => [port(p), p[k] as number]),
  })),
  { name: 'swd_port_up', help: 'Whether the port\'s device is attached (1) or LINK_DOWN (0)', kind: 'gauge', labels: ['bridge', 'port'], values: (s) => s.ports.map((p) => [port(p), p.up ? 1 : 0]) },
  { name: 'swd_datapath_packets_total', help: 'Packets processed by a datapath thread', kind: 'counter', labels: ['thread'], values: (s) => s.threads.map((t) => [thread(t), t.packets]) },
  { name: 'swd_datapath_megaflow_hits_total', help: 'Packets that hit a megaflow', kind: 'counter', labels: ['thread'], values: (s) => s.threads.map((t) => [thread(t), t.hits]) },
  { name: 'swd_datapath_emc_hits_total', help: 'Packets whose megaflow the exact-match cache found (within the megaflow hits)', kind: 'counter', labels: ['thread'], values: (s) => s.threads.map((t) => [thread(t), t.emcHits]) },
  { name: 'swd_datapath_smc_hits_total', help: 'Packets whose megaflow the signature-match cache found (within the megaflow hits)', kind: 'counter', labels: ['thread'], values: (s) => s.threads.map((t) => [thread(t), t.smcHits]) },
  { name: 'swd_datapath_megaflow_misses_total', help: 'Packets that missed the megaflow cache (upcalls)', kind: 'counter', labels: ['thread'], values: (s) => s.threads.map((t) => [thread(t), t.misses]) },
  { name: 'swd_datapath_upcall_failures_total', help: 'Upcalls that failed (packet dropped)', kind: 'counter', labels: ['thread'], values: (s) => s.threads.map((t) => [thread(t), t.lost]) },
  { name: 'swd_datapath_megaflows', help: 'Megaflows installed, all threads', kind: 'gauge', labels: [], values: (s) => one(s.megaflows) },
  { name: 'swd_pmd_busy_seconds_total', help: 'Time a PMD thread spent processing packets', kind: 'counter', labels: ['thread'], values: (s) => s.threads.filter((t) => t.thread !== 'main').map((t) => [thread(t), t.busyNs / 1e9]) },
  { name: 'swd_pmd_idle_seconds_total', help: 'Time a PMD thread spent waiting for packets', kind: 'counter', labels: ['thread'], values: (s) => s.threads.filter((t) => t.thread !== 'main').map((t) => [thread(t), t.idleNs / 1e9]) },
  { name: 'swd_pmd_heap_resident_bytes', help: 'V8 heap of a PMD thread resident in memory', kind: 'gauge', labels: ['thread'], values: (s) => s.threads.filter((t) => t.thread !== 'main').map((t) => [thread(t), t.heapUsed]) },
  { name: 'swd_openflow_rules', help: 'OpenFlow rules per table', kind: 'gauge', labels: ['bridge', 'table'], values: (s) => s.rules.map((r) => [{ bridge: r.bridge, table: r.table }, r.count]) },
  {
    name: 'swd_conntrack_connections', help: 'Tracked connections by zone, protocol and TCP state', kind: 'gauge', labels: ['zone', 'protocol', 'state'],
    values: (s) => s.conntrack.connections.map((c) => [{ zone: c.zone, protocol: c.protocol, state: c.state }, c.count]),
  },
  { name: 'swd_conntrack_max_connections', help: 'The connection table limit (ct-set-maxconns)', kind: 'gauge', labels: [], values: (s) => one(s.conntrack.maxConns) },
  { name: 'swd_conntrack_slab_records', help: 'Connection records ever handed out from the slab (high water; freed records are reused first)', kind: 'gauge', labels: [], values: (s) => one(s.conntrack.slabRecords) },
  { name: 'swd_conntrack_commits_total', help: 'Connections committed', kind: 'counter', labels: [], values: (s) => one(s.conntrack.commits) },
  { name: 'swd_conntrack_expired_total', help: 'Connections removed by expiry', kind: 'counter', labels: [], values: (s) => one(s.conntrack.expired) },
  { name: 'swd_conntrack_invalid_total', help: 'Packets conntrack found invalid', kind: 'counter', labels: [], values: (s) => one(s.conntrack.invalid) },
  { name: 'swd_conntrack_bad_checksum_total', help: 'Packets conntrack found invalid for a wrong IPv4 header or L4 checksum', kind: 'counter', labels: [], values: (s) => one(s.conntrack.badChecksum) },
  { name: 'swd_conntrack_maxconns_drops_total', help: 'New connections not committed: the table was full', kind: 'counter', labels: [], values: (s) => one(s.conntrack.maxconnsDrops) },
  { name: 'swd_conntrack_zone_limit_drops_total', help: 'New connections not committed: their zone was at its limit', kind: 'counter', labels: [], values: (s) => one(s.conntrack.zoneLimitDrops) },
  { name: 'swd_conntrack_nat_exhausted_drops_total', help: 'New NAT connections dropped: no free address or port in the range', kind: 'counter', labels: [], values: (s) => one(s.conntrack.natExhausted) },
  { name: 'swd_conntrack_sweep_seconds_total', help: 'Time spent in conntrack expiry steps', kind: 'counter', labels: [], values: (s) => one(s.conntrack.sweepNs / 1e9) },
  { name: 'swd_conntrack_sweep_steps_total', help: 'Conntrack expiry steps run', kind: 'counter', labels: [], values: (s) => one(s.conntrack.sweepSteps) },
  // fragment reassembly (ipf-get-status)
  ...IPF_COUNTERS.map(([n, k, help]): Series => ({
    name: `swd_ipf_fragments_${n}_total`, help, kind: 'counter', labels: ['family'],
    values: (s) => [[{ family: 'v4' }, s.ipf.v4[k] as number], [{ family: 'v6' }, s.ipf.v6[k] as number]],
  })),
  { name: 'swd_ipf_fragments_held', help: 'Fragments held for reassembly, all threads', kind: 'gauge', labels: [], values: (s) => one(s.ipf.nfrag) },
  { name: 'swd_ipf_max_fragments', help: 'Most fragments held at once (ipf-set-max-nfrags)', kind: 'gauge', labels: [], values: (s) => one(s.ipf.nfragMax) },
];

export interface MetricsAddress {
  host: string;
  port: number;
}

/** `[ADDR:]PORT` as `--metrics` takes it (ADDR default 127.0.0.1; `[::1]:9100` for IPv6). */
export function parseMetricsAddress(text: string): MetricsAddress {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^:\s]+):)?(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new Error(`'${text}' is not [ADDR:]PORT (e.g. 9100 or 127.0.0.1:9100)`);
  const host = m[1] ? m[1].replace(/^\[(.*)\]$/, '$1') : '127.0.0.1';
  return { host, port };
}

export class MetricsServer {
  private constructor(
    private readonly server: Server,
    readonly address: MetricsAddress,
  ) {}

  /** Listen on `addr`; resolves once bound (port 0: an ephemeral port, see `address`). */
  static async start(addr: MetricsAddress, stats: () => SwitchStats, onError: (e: unknown) => void): Promise<MetricsServer> {
    const prom: PromClient = await import('prom-client');
    const registry = new prom.Registry();
    prom.collectDefaultMetrics({ register: registry });
    let snapshot: SwitchStats | null = null;
    const take = () => (snapshot ??= stats());
    for (const s of SERIES) {
      const collect = function (this: { reset(): void; set?(l: Labels, v: number): void; inc?(l: Labels, v: number): void }) {
        this.reset();
        for (const [labels, v] of s.values(take())) {
          if (s.kind === 'gauge') this.set!(labels, v);
          else if (v >= 0) this.inc!(labels, v);
        }
      };
      const cfg = { name: s.name, help: s.help, labelNames: s.labels, registers: [registry], collect };
      if (s.kind === 'gauge') new prom.Gauge(cfg);
      else new prom.Counter(cfg);
    }
    const server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('swd serves /metrics only\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('GET /metrics\n');
        return;
      }
      snapshot = null;
      registry
        .metrics()
        .then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text))
        .catch((e) => {
          onError(e);
          res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
        })
        .finally(() => {
          snapshot = null;
        });
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 10_000;
    server.on('clientError', (_e, sock) => sock.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(addr.port, addr.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const a = server.address() as AddressInfo;
    return new MetricsServer(server, { host: a.address, port: a.port });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
