// ofproto's side of the datapath, as OVS's ofproto-dpif-upcall: a miss is
// translated through the bridge's OpenFlow tables (the `upcall` the switch
// passes in) and the packet credited to the rules it went through; later
// datapath hits are credited when a megaflow's counters are pushed (before
// dump-flows, periodically, and when the megaflow goes), which also keeps
// NORMAL's MAC entries and group bucket counters alive. Everything else the
// switch asks of the datapath goes to the Dpif (src/datapath/dpif.ts), which
// owns ports, threads and conntrack; ofproto never constructs datapath
// objects itself.

import { formatDpActions, type DpAction } from '../datapath/dp-actions.ts';
import type { UpcallResult } from '../datapath/datapath.ts';
import { Dpif } from '../datapath/dpif.ts';
import type { Megaflow } from '../datapath/megaflow.ts';
import { PortError } from '../datapath/port.ts';
import { FK_IN_PORT } from '../packet/flow-key.ts';
import { parseOdpFlow } from '../packet/odp-parse.ts';
import { SwitchError, type DpFlowEntry } from './api.ts';
import type { Bridge, BridgePort } from './bridge.ts';
import { parseFlow } from './parse-flow.ts';
import type { Rule } from './rule.ts';
import type { XlateResult } from './xlate.ts';

type Log = { info: (...a: unknown[]) => void; warn: (...a: unknown[]) => void };

/** What a megaflow remembers of its translation: rules to credit, MAC entries to refresh. */
interface MegaflowOwner {
  rules: Rule[];
  learned: XlateResult['learned'];
  groups: XlateResult['groups'];
}

/** Datapath errors (PortError) as the control plane reports them. */
function asSwitchError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof PortError) throw new SwitchError(e.code, e.message);
    throw e;
  }
}

export class UpcallAdapter {
  readonly dpif: Dpif;
  /** Called when a port's device was attached or detached (BridgePort.up changed). */
  onPortState: (p: BridgePort) => void = () => {};
  private readonly ports = new Map<number, BridgePort>();

  constructor(
    upcall: (key: Uint32Array, learn: boolean) => XlateResult | null,
    log: Log,
    private readonly now: () => number,
    afterRx: () => void,
    pmdThreads: number,
  ) {
    const result = (res: XlateResult): UpcallResult => {
      const owner: MegaflowOwner = { rules: res.rules, learned: res.learned, groups: res.groups };
      return { actions: res.actions, mask: res.mask, owner, error: res.error };
    };
    const translate = (key: Uint32Array, len: number): UpcallResult | null => {
      const res = upcall(key, true);
      if (!res) return null;
      // The upcalled packet is credited to the rules here; datapath hits later via pushStats.
      for (const r of res.rules) r.credit(1, len, this.now());
      for (const g of res.groups) g.group.credit(g.bucket, 1, len, g.countGroup);
      return result(res);
    };
    const revalidate = (key: Uint32Array): UpcallResult | null => {
      const res = upcall(key, false);
      return res && result(res);
    };
    this.dpif = new Dpif({ upcall: translate, revalidate, pushMegaflow: (mf) => this.pushOne(mf), afterRx, log, now, pmdThreads });
    this.dpif.onPortState = (n, st) => {
      const p = this.ports.get(n);
      if (!p) return;
      p.up = st.up;
      this.onPortState(p);
    };
  }

  get conntrack() {
    return this.dpif.conntrack;
  }

  get datapath() {
    return this.dpif.datapath;
  }

  setMaxIdle(ms: number): void {
    this.dpif.setMaxIdle(ms);
  }

  // ------------------------------------------------------------ ports

  hasPort(n: number): boolean {
    return this.dpif.hasPort(n);
  }

  /** Add a bridge port's datapath port (`restoring`: keep it LINK_DOWN if its device is missing). */
  addPort(p: BridgePort, options: Record<string, string>, restoring = false): void {
    asSwitchError(() => this.dpif.addPort(p.dpPort, p.name, p.type, options, restoring));
    this.ports.set(p.dpPort, p);
    p.up = this.dpif.portStatus(p.dpPort)?.up ?? true;
  }

  removePort(n: number): void {
    this.ports.delete(n);
    this.dpif.removePort(n);
  }

  portStatus(n: number) {
    return this.dpif.portStatus(n) ?? { up: true, error: null, linkResets: 0 };
  }

  portStats(n: number) {
    return this.dpif.portStats(n);
  }

  executePacket(n: number, packet: Uint8Array, translate: (key: Uint32Array) => DpAction[]): void {
    this.dpif.executePacket(n, packet, translate);
  }

  injectText(n: number, text: string, count: number): number {
    return asSwitchError(() => this.dpif.injectText(n, text, count));
  }

  replay(n: number): number {
    return asSwitchError(() => this.dpif.replay(n));
  }

  setPmdThreads(n: number): void {
    asSwitchError(() => this.dpif.setPmdThreads(n));
  }

  pmdStats() {
    return this.dpif.pmdStats();
  }

  // ------------------------------------------------------------ trace

  /** The flow key for `swctl trace`: OpenFlow flow syntax or datapath-flow syntax. */
  traceKey(br: Bridge, text: string): Uint32Array {
    const t = text.trim();
    if (/^[a-z_0-9]+\(/.test(t)) {
      try {
        return parseOdpFlow(t).key;
      } catch (e) {
        throw new SwitchError('EINVAL', `bad flow: ${(e as Error).message}`);
      }
    }
    const spec = parseFlow(t, 'dump');
    const key = Uint32Array.from(spec.match.value);
    // The flow names an OpenFlow port; the datapath key carries the datapath port.
    const p = br.portsByOf.get(key[FK_IN_PORT]);
    key[FK_IN_PORT] = p ? p.dpPort : 0xffffffff;
    return key;
  }

  formatActions(actions: DpAction[]): string {
    return formatDpActions(actions);
  }

  // ------------------------------------------------------------ megaflows and their stats

  revalidate(): void {
    this.dpif.revalidate();
  }

  private pushOne(mf: Megaflow): void {
    const dp = mf.packets - mf.pushedPackets;
    const db = mf.bytes - mf.pushedBytes;
    if (dp <= 0) return;
    mf.pushedPackets = mf.packets;
    mf.pushedBytes = mf.bytes;
    const owner = mf.owner as MegaflowOwner | null;
    if (!owner) return;
    const used = mf.usedMs || this.now();
    for (const r of owner.rules) if (!r.removed) r.credit(dp, db, used);
    for (const g of owner.groups) g.group.credit(g.bucket, dp, db, g.countGroup);
    // Traffic on the megaflow keeps NORMAL's MAC entries alive, as OVS's xlate cache does.
    for (const l of owner.learned) l.macs.touch(l.vlan, l.mac, l.port, used);
  }

  /** Credit datapath hits to the OpenFlow rules (before dump-flows, and periodically). */
  pushStats(): void {
    for (const mf of this.dpif.megaflows()) this.pushOne(mf);
  }

  dumpFlows(verbose: boolean): DpFlowEntry[] {
    return this.dpif.dumpFlows(verbose);
  }

  delFlows(): number {
    return this.dpif.delFlows();
  }

  tick(nowMs: number): void {
    this.dpif.tick(nowMs);
  }

  close(): void {
    this.dpif.close();
  }
}
