// A small in-memory SwitchApi for control-plane tests: enough state to see
// that requests reach the switch and configuration round-trips, none of the
// packet machinery.

import { SwitchError, type PortConfig, type SwitchApi, type SwitchConfig } from '../../src/ofproto/api.ts';

interface FakeBridge {
  ports: PortConfig[];
  flows: string[];
}

export class FakeSwitch implements SwitchApi {
  readonly bridges = new Map<string, FakeBridge>();
  ticks = 0;
  closed = false;

  static fromConfig(cfg: SwitchConfig): FakeSwitch {
    const sw = new FakeSwitch();
    for (const b of cfg.bridges) {
      sw.addBridge(b.name);
      for (const p of b.ports) sw.addPort(b.name, p);
      if (b.flows.length) sw.addFlows(b.name, b.flows.join('\n'), 'db');
    }
    return sw;
  }

  private br(name: string): FakeBridge {
    const b = this.bridges.get(name);
    if (!b) throw new SwitchError('ENOBRIDGE', `no bridge named ${name}`);
    return b;
  }

  tick(): void {
    this.ticks++;
  }

  close(): void {
    this.closed = true;
  }

  addBridge(name: string): void {
    if (this.bridges.has(name)) throw new SwitchError('EEXIST', `bridge ${name} already exists`);
    this.bridges.set(name, { ports: [], flows: [] });
  }
  delBridge(name: string): void {
    this.br(name);
    this.bridges.delete(name);
  }
  listBridges(): string[] {
    return [...this.bridges.keys()].sort();
  }
  addPort(bridge: string, port: { name: string; type?: string; ofport?: number; options?: Record<string, string> }): PortConfig {
    const b = this.br(bridge);
    const ofport = port.ofport ?? Math.max(0, ...b.ports.map((p) => p.ofport)) + 1;
    const p: PortConfig = { name: port.name, type: (port.type ?? 'dummy') as PortConfig['type'], ofport, options: port.options ?? {} };
    b.ports.push(p);
    return p;
  }
  delPort(bridge: string, port: string): void {
    const b = this.br(bridge);
    const i = b.ports.findIndex((p) => p.name === port);
    if (i < 0) throw new SwitchError('ENOPORT', `no port named ${port} on bridge ${bridge}`);
    b.ports.splice(i, 1);
  }
  show(bridge: string) {
    const b = this.br(bridge);
    return { bridge, ports: b.ports.map((p) => ({ ...p, state: 'up', error: null, linkResets: 0 })), lines: [`${bridge}:`, ...b.ports.map((p) => ` ${p.ofport}(${p.name}): type ${p.type}`)] };
  }
  dumpPorts(bridge: string, port?: string) {
    const ps = this.br(bridge).ports.filter((p) => port === undefined || p.name === port || String(p.ofport) === port);
    const ports = ps.map((p) => ({ ofport: p.ofport, name: p.name, rxPackets: 0, rxBytes: 0, rxDropped: 0, rxErrors: 0, txPackets: 0, txBytes: 0, txDropped: 0, txErrors: 0 }));
    return { ports, lines: [`OFPST_PORT reply: ${ports.length} ports`] };
  }
  addFlows(bridge: string, text: string, file: string) {
    const b = this.br(bridge);
    const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    lines.forEach((l, i) => {
      if (!l.includes('actions=')) throw new SwitchError('EPARSE', `${file}:${i + 1}:1: missing actions`);
    });
    b.flows.push(...lines);
    return { added: lines.length };
  }
  modFlows(bridge: string, text: string, _file: string, _strict: boolean) {
    this.br(bridge);
    return { modified: text ? 1 : 0 };
  }
  delFlows(bridge: string, match: string | null) {
    const b = this.br(bridge);
    const before = b.flows.length;
    b.flows = match ? b.flows.filter((f) => !f.startsWith(match)) : [];
    return { deleted: before - b.flows.length };
  }
  dumpFlows(bridge: string) {
    const flows = this.br(bridge).flows;
    return {
      flows: flows.map((f) => ({ table: 0, priority: 32768, cookie: '0x0', durationSec: 0, nPackets: 0, nBytes: 0, idleTimeout: 0, hardTimeout: 0, match: '', actions: f.split('actions=')[1], text: ` ${f}` })),
      lines: flows.map((f) => ` ${f}`),
    };
  }
  inject(bridge: string, port: string, _packet: string, count: number) {
    if (!this.br(bridge).ports.some((p) => p.name === port)) throw new SwitchError('ENOPORT', `no port named ${port} on bridge ${bridge}`);
    return { injected: count };
  }
  pcapReplay(bridge: string) {
    this.br(bridge);
    return { replayed: 3 };
  }
  trace(bridge: string, flow: string) {
    this.br(bridge);
    return { lines: [`Flow: ${flow}`, '', 'Datapath actions: drop'], datapathActions: 'drop' };
  }
  dumpDpFlows(opts: { verbose?: boolean }) {
    const line = `${opts.verbose ? 'ufid:0, ' : ''}recirc_id(0),in_port(1),eth_type(0x0800), packets:1, bytes:64, used:0.100s, actions:2`;
    return { flows: [{ match: 'recirc_id(0),in_port(1),eth_type(0x0800)', packets: 1, bytes: 64, usedSec: 0.1, tcpFlags: '', actions: '2', text: line }], lines: [line] };
  }
  delDpFlows() {
    return { deleted: 1 };
  }
  fdbShow(bridge: string) {
    this.br(bridge);
    return { entries: [], lines: [' port  VLAN  MAC                Age'] };
  }
  config(): SwitchConfig {
    return {
      version: 1,
      bridges: this.listBridges().map((name) => {
        const b = this.bridges.get(name)!;
        return { name, ports: b.ports.map((p) => ({ ...p })), flows: [...b.flows] };
      }),
    };
  }
}
