// Prometheus metrics (`swd start --metrics`): a daemon with the real switch
// serves /metrics; a real HTTP client scrapes it and the exposition text is
// parsed. Counters follow traffic injected through the flow table (ports,
// megaflows, rules per table, conntrack by zone/protocol/state and its drop
// counters); other paths and methods are refused; a port already taken is a
// clear start error.

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DaemonStartError, defaultSwitchFactory, startDaemon, type Daemon } from '../../src/ctl/daemon.ts';
import { parseMetricsAddress } from '../../src/ctl/metrics.ts';
import { silent } from './helpers.ts';
import { fragments } from '../conntrack/frag-packets.ts';

const UDP = (sport: number) =>
  `in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=no),udp(src=${sport},dst=53)`;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The text exposition format: `# HELP`/`# TYPE` lines and `name{l="v",...} value` samples. */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) types.set(t[1], t[2]);
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return { samples, types };
}

async function scrape(d: Daemon, path = '/metrics', method = 'GET') {
  const res = await fetch(`http://${d.metrics!.host}:${d.metrics!.port}${path}`, { method });
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
}

describe('metrics (swd start --metrics)', () => {
  const dirs: string[] = [];
  const daemons: Daemon[] = [];
  afterEach(async () => {
    for (const d of daemons.splice(0)) await d.stop();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const start = async (port = 0) => {
    const dir = mkdtempSync(join(tmpdir(), 'swd-metrics-'));
    dirs.push(dir);
    const d = await startDaemon({
      rundir: join(dir, 'run'), logger: silent, createSwitch: defaultSwitchFactory, pmdThreads: 0, metrics: { host: '127.0.0.1', port },
    });
    daemons.push(d);
    return d;
  };

  it('serves the switch counters in the Prometheus text format', async () => {
    const d = await start();
    const sw = d.sw;
    sw.addFlows('br0', ['table=0,priority=10,udp,action=ct(commit,zone=5),2', 'table=0,priority=1,action=drop', 'table=3,action=drop'].join('\n'), 'f');
    sw.inject('br0', 'p1', UDP(1000), 3);
    sw.inject('br0', 'p1', UDP(1001), 2);
    const r = await scrape(d);
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const { samples, types } = parseExposition(r.body);
    const v = (name: string, labels: Record<string, string> = {}) =>
      samples.filter((s) => s.name === name && Object.entries(labels).every(([k, x]) => s.labels[k] === x)).map((s) => s.value);
    expect(v('swd_port_rx_packets_total', { bridge: 'br0', port: 'p1' })).toEqual([5]);
    expect(v('swd_port_rx_bytes_total', { bridge: 'br0', port: 'p1' })).toEqual([5 * 106]);
    expect(v('swd_port_tx_packets_total', { bridge: 'br0', port: 'p2' })).toEqual([5]);
    expect(v('swd_port_tx_packets_total', { bridge: 'br0', port: 'p1' })).toEqual([0]);
    expect(v('swd_port_up', { bridge: 'br0', port: 'p1' })).toEqual([1]);
    expect(v('swd_openflow_rules', { bridge: 'br0', table: '0' })).toEqual([2]);
    expect(v('swd_openflow_rules', { bridge: 'br0', table: '3' })).toEqual([1]);
    expect(v('swd_conntrack_connections', { zone: '5', protocol: 'udp', state: '' })).toEqual([2]);
    expect(v('swd_conntrack_commits_total')).toEqual([2]);
    // One megaflow (the table never looks at UDP ports): the first packet misses, the other 4 hit;
    // the main thread runs the datapath here (--pmd-threads 0).
    expect(v('swd_datapath_megaflows')).toEqual([1]);
    expect(v('swd_datapath_megaflow_misses_total', { thread: 'main' })).toEqual([1]);
    expect(v('swd_datapath_megaflow_hits_total', { thread: 'main' })).toEqual([4]);
    expect(v('swd_conntrack_maxconns_drops_total')).toEqual([0]);
    expect(v('swd_conntrack_sweep_steps_total')[0]).toBeGreaterThanOrEqual(0);
    expect(types.get('swd_port_rx_packets_total')).toBe('counter');
    expect(types.get('swd_conntrack_connections')).toBe('gauge');
    expect(v('process_resident_memory_bytes')[0]).toBeGreaterThan(0);
    for (const s of samples) if (s.name.startsWith('swd_') && types.get(s.name) === 'counter') expect(s.name).toMatch(/_total$/);

    // A full table: the refused connection shows as a maxconns drop, the gauge follows the table.
    sw.ctSetMaxconns!(2);
    sw.inject('br0', 'p1', UDP(1002), 1);
    const after = parseExposition((await scrape(d)).body).samples;
    const w = (name: string) => after.filter((s) => s.name === name).map((s) => s.value);
    expect(w('swd_conntrack_maxconns_drops_total')).toEqual([1]);
    expect(w('swd_conntrack_max_connections')).toEqual([2]);
  });

  it('counts fragments per family: completed, too small and held', async () => {
    const d = await start();
    const sw = d.sw;
    sw.addFlows('br0', 'table=0,priority=10,ip,action=ct(commit,zone=5),2\ntable=0,priority=10,ipv6,action=ct(commit,zone=5),2', 'f');
    const hx = (b: Uint8Array) => Buffer.from(b).toString('hex');
    for (const f of fragments({ src: '10.1.1.1', dst: '10.1.1.2', proto: 17, size: 3000 }, [1400, 2800])) sw.inject('br0', 'p1', hx(f), 1);
    sw.inject('br0', 'p1', hx(fragments({ src: 'fc00::1', dst: 'fc00::2', proto: 17, size: 3000 }, [800])[0]), 1);
    sw.inject('br0', 'p1', hx(fragments({ src: 'fc00::1', dst: 'fc00::2', proto: 17, size: 3000, id: 9 }, [1400])[0]), 1);
    const { samples, types } = parseExposition((await scrape(d)).body);
    const v = (name: string, family?: string) => samples.filter((s) => s.name === name && (family === undefined || s.labels.family === family)).map((s) => s.value);
    expect(v('swd_ipf_fragments_completed_total', 'v4')).toEqual([3]);
    expect(v('swd_ipf_fragments_accepted_total', 'v6')).toEqual([1]);
    expect(v('swd_ipf_fragments_too_small_total', 'v6')).toEqual([1]);
    expect(v('swd_ipf_fragments_expired_total', 'v4')).toEqual([0]);
    expect(v('swd_ipf_fragments_held')).toEqual([1]);
    expect(v('swd_ipf_max_fragments')).toEqual([1000]);
    expect(types.get('swd_ipf_fragments_completed_total')).toBe('counter');
  });

  it('answers only GET /metrics', async () => {
    const d = await start();
    expect((await scrape(d, '/')).status).toBe(404);
    expect((await scrape(d, '/metrics', 'POST')).status).toBe(405);
    expect((await scrape(d, '/metrics?x=1')).status).toBe(200);
  });

  it('a port already in use is a clear start error', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as { port: number }).port;
    try {
      await expect(start(port)).rejects.toThrow(DaemonStartError);
      await expect(start(port)).rejects.toThrow(/cannot serve metrics on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    } finally {
      busy.close();
    }
  });

  it('reads [ADDR:]PORT as --metrics takes it', () => {
    expect(parseMetricsAddress('9100')).toEqual({ host: '127.0.0.1', port: 9100 });
    expect(parseMetricsAddress('0.0.0.0:9100')).toEqual({ host: '0.0.0.0', port: 9100 });
    expect(parseMetricsAddress('[::1]:9100')).toEqual({ host: '::1', port: 9100 });
    for (const bad of ['', 'x', '70000', '1.2.3.4:', ':80', '1.2.3.4:80:90']) expect(() => parseMetricsAddress(bad)).toThrow(/is not \[ADDR:\]PORT/);
  });
});
