// The switch as the control plane sees it: every JSON-RPC method of the
// daemon maps onto one call here (src/ctl/methods.ts is the mapping). Results
// are plain JSON-able objects; where OVS prints a fixed text format, the
// object carries that text too (`text` / `lines`) so that swctl prints it
// as is and `--json` users get both the fields and the text.
//
// Errors are thrown as SwitchError with a code; the RPC layer turns them into
// JSON-RPC errors carrying that code and message.

import type { DpFlowEntry } from '../datapath/dp-format.ts';
import type { PortCounters } from '../datapath/port.ts';

export class SwitchError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'SwitchError';
  }
}

export interface PortConfig {
  name: string;
  type: 'dummy' | 'pcap' | 'system' | 'tap' | 'internal';
  ofport: number;
  /** rx_pcap, tx_pcap, ... */
  options: Record<string, string>;
}

export interface BridgeConfig {
  name: string;
  ports: PortConfig[];
  /** Flow text lines as ovs-ofctl would print them (without stats), to be re-added on restore. */
  flows: string[];
  /** Groups as dump-groups prints them, restored before the flows (which may send to them). */
  groups?: string[];
  /** Meters as add-meter takes them (`meter=1 kbps bands=type=drop rate=1000`), restored before groups and flows. */
  meters?: string[];
  /** The flowtable setting as offload-show prints it ('on tcp timeout=30'); absent = off. */
  offload?: string;
}

/** What the database file holds. */
export interface SwitchConfig {
  version: 1;
  bridges: BridgeConfig[];
}

/** A port's counters as dump-ports reports them. */
export interface PortStats extends PortCounters {
  ofport: number;
  name: string;
}

export interface FlowEntry {
  table: number;
  priority: number;
  cookie: string; // "0x0"
  durationSec: number;
  nPackets: number;
  nBytes: number;
  idleTimeout: number;
  hardTimeout: number;
  /** Match in ovs-ofctl text (e.g. "ip,ct_state=-trk"), without priority. */
  match: string;
  /** Actions in ovs-ofctl text (e.g. "ct(table=1)"). */
  actions: string;
  /** The whole dump-flows line. */
  text: string;
}

export type { DpFlowEntry };

/** A group as dump-groups reports it. */
export interface GroupEntry {
  groupId: number;
  type: string;
  /** The whole dump-groups line (without the leading space). */
  text: string;
}

export interface GroupStatsEntry {
  groupId: number;
  durationSec: number;
  refCount: number;
  packetCount: number;
  byteCount: number;
  buckets: { packetCount: number; byteCount: number }[];
  text: string;
}

/** OpenFlow group commands (ovs-ofctl add-group(s), mod-group, del-groups, dump-groups, dump-group-stats). */
export interface GroupApi {
  /** `text`: one group a line, as in a groups file; all or nothing. */
  addGroups(bridge: string, text: string, file: string): { added: number };
  modGroups(bridge: string, text: string, file: string, mayCreate: boolean): { modified: number };
  /** `match`: null for every group, else `group_id=N` (or `N`). */
  delGroups(bridge: string, match: string | null): { deleted: number };
  dumpGroups(bridge: string, groupId: number | null): { groups: GroupEntry[]; lines: string[] };
  dumpGroupStats(bridge: string, groupId: number | null): { stats: GroupStatsEntry[]; lines: string[] };
}

export interface InjectResult {
  injected: number;
}

export interface SwitchApi {
  // bridges and ports
  addBridge(name: string): void;
  delBridge(name: string): void;
  listBridges(): string[];
  addPort(bridge: string, port: { name: string; type?: string; ofport?: number; options?: Record<string, string> }): PortConfig;
  delPort(bridge: string, port: string): void;
  /** ovs-ofctl show-like text lines plus the port list. */
  show(bridge: string): { bridge: string; ports: (PortConfig & { state: string; error: string | null; linkResets: number })[]; lines: string[] };
  dumpPorts(bridge: string, port?: string): { ports: PortStats[]; lines: string[] };

  // flows; `text` is flow text (one flow per line, as in a flows file), `file` names it in errors
  addFlows(bridge: string, text: string, file: string): { added: number };
  modFlows(bridge: string, text: string, file: string, strict: boolean): { modified: number };
  delFlows(bridge: string, match: string | null, strict: boolean): { deleted: number };
  /** `names`: print ports by name, as ovs-ofctl dump-flows --names. */
  dumpFlows(bridge: string, match: string | null, opts: { noStats?: boolean; names?: boolean }): { flows: FlowEntry[]; lines: string[] };

  // packets
  inject(bridge: string, port: string, packet: string, count: number): InjectResult;
  pcapReplay(bridge: string, port: string): { replayed: number };
  trace(bridge: string, flow: string): { lines: string[]; datapathActions: string };

  // datapath
  dumpDpFlows(opts: { verbose?: boolean }): { flows: DpFlowEntry[]; lines: string[] };
  delDpFlows(): { deleted: number };
  fdbShow(bridge: string): { entries: { port: number; vlan: number; mac: string; age: number }[]; lines: string[] };

  /** The configuration to persist (called after every successful change). */
  config(): SwitchConfig;
}
