// The datapath's own text, as `ovs-appctl dpctl/dump-flows` and
// `dpif-netdev/pmd-stats-show` print it: megaflow lines and PMD thread
// statistics. The datapath formats its records; ctl only prints them.

import { formatOdpFlowKey } from '../packet/odp-format.ts';
import { formatDpActions } from './dp-actions.ts';
import type { Megaflow } from './megaflow.ts';
import type { PmdThreadStats } from './pmd/pmd-set.ts';

/** One megaflow as dump-dp-flows shows it. */
export interface DpFlowEntry {
  /** Match in dpctl text: "recirc_id(0),in_port(1),eth_type(0x0800),ipv4(frag=no)". */
  match: string;
  packets: number;
  bytes: number;
  usedSec: number | null; // null = never
  tcpFlags: string; // "S", "SP.", "" when none
  actions: string; // "2", "ct(commit,zone=1),recirc(0x3)", "drop"
  ufid?: string;
  text: string;
}

/** OVS's dump-flows "flags:" letters, in its order. */
export function tcpFlagLetters(f: number): string {
  let s = '';
  if (f & 0x002) s += 'S';
  if (f & 0x001) s += 'F';
  if (f & 0x008) s += 'P';
  if (f & 0x004) s += 'R';
  if (f & 0x020) s += 'U';
  if (f & 0x010) s += '.';
  if (f & 0x040) s += 'E';
  if (f & 0x080) s += 'C';
  if (f & 0x100) s += 'N';
  return s;
}

/** A megaflow's dump-dp-flows line (`-m`: with ufid and port names). */
export function formatDpFlow(mf: Megaflow, nowMs: number, verbose: boolean, portName: (n: number) => string): DpFlowEntry {
  const match = formatOdpFlowKey(mf.origKey, 0, mf.mask, 0, verbose, portName);
  const usedSec = mf.usedMs ? (nowMs - mf.usedMs) / 1000 : null;
  const flags = tcpFlagLetters(mf.tcpFlags);
  const actions = formatDpActions(mf.actions, verbose ? portName : undefined);
  const used = usedSec === null ? 'never' : `${Math.max(0, usedSec).toFixed(3)}s`;
  let text = verbose ? `ufid:${mf.ufid}, ` : '';
  text += `${match}, packets:${mf.packets}, bytes:${mf.bytes}, used:${used}${flags ? `, flags:${flags}` : ''}`;
  text += verbose ? `, dp:ovs, actions:${actions}` : `, actions:${actions}`;
  return { match, packets: mf.packets, bytes: mf.bytes, usedSec, tcpFlags: flags, actions, ufid: mf.ufid, text };
}

export type PmdStatsRow = PmdThreadStats & { thread: string };

/** pmd-stats-show: each PMD thread, then the main thread (index -1). */
export function formatPmdStats(threads: PmdStatsRow[]): string[] {
  const lines: string[] = [];
  for (const t of threads) {
    lines.push(t.index < 0 ? 'main thread:' : `pmd thread numa_id 0 core_id ${t.index}:`);
    const emc = t.emcHits ?? 0, smc = t.smcHits ?? 0, recirc = t.recirc ?? 0;
    const megaflowHits = t.hits - emc - smc;
    lines.push(`  packets received: ${t.packets}`);
    lines.push(`  packet recirculations: ${recirc}`);
    lines.push(`  avg. datapath passes per packet: ${t.packets ? ((t.packets + recirc) / t.packets).toFixed(2) : '0.00'}`);
    lines.push(`  emc hits: ${emc}`);
    lines.push(`  smc hits: ${smc}`);
    lines.push(`  megaflow hits: ${megaflowHits}`);
    lines.push(`  avg. subtable lookups per megaflow hit: ${megaflowHits > 0 ? ((t.subtableProbes ?? 0) / megaflowHits).toFixed(2) : '0.00'}`);
    lines.push(`  miss with success upcall: ${t.misses - t.lost}`);
    lines.push(`  miss with failed upcall: ${t.lost}`);
    lines.push(`  conntrack lock waits: ${t.lockContended ?? 0} (slept ${t.lockSlept ?? 0}, ${((t.lockSleptUs ?? 0) / 1000).toFixed(3)} ms)`);
    if (t.index < 0) continue;
    lines.push(`  upcalls in flight: ${t.upcallsInFlight ?? 0}`);
    lines.push(`  packets queued for an upcall: ${t.upcallQueued ?? 0}`);
    lines.push(`  packets dropped, upcall queue full: ${t.upcallQueueFull ?? 0}`);
    lines.push(`  packets dropped, upcall not answered: ${t.upcallTimeouts ?? 0}`);
    lines.push(`  packet-ins to the main thread: ${t.packetIns ?? 0}`);
    lines.push(`  packet-ins dropped, queue full: ${t.packetInsDropped ?? 0}`);
    lines.push(`  batches: ${t.batches}`);
    lines.push(`  avg. packets per batch: ${t.batches ? (t.packets / t.batches).toFixed(2) : '0.00'}`);
    const total = t.busyNs + t.idleNs;
    const pct = (v: number) => (total ? ((v * 100) / total).toFixed(2) : '0.00');
    lines.push(`  idle cycles: ${Math.round(t.idleNs)} (${pct(t.idleNs)}%)`);
    lines.push(`  processing cycles: ${Math.round(t.busyNs)} (${pct(t.busyNs)}%)`);
    if (t.packets) {
      lines.push(`  avg cycles per packet: ${(total / t.packets).toFixed(2)} (${Math.round(total)}/${t.packets})`);
      lines.push(`  avg processing cycles per packet: ${(t.busyNs / t.packets).toFixed(2)} (${Math.round(t.busyNs)}/${t.packets})`);
    }
  }
  return lines;
}
