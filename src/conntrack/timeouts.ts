// Timeout classes and timeout policies. A connection's timeout class is
// chosen by its tracker; its zone's policy (slot in the shared header, 0 =
// the default policy) gives the seconds. Defaults and attribute names are
// OVS's userspace ones (ovs-vsctl add-zone-tp / dpctl/ct-set-timeout-policy).

import type { ConnTable } from './table.ts';
import { H_NPOLICIES, MAX_POLICIES, POLICY_WORDS } from './layout.ts';

export const TM_TCP_FIRST_PACKET = 0;
export const TM_TCP_OPENING = 1;
export const TM_TCP_ESTABLISHED = 2;
export const TM_TCP_CLOSING = 3;
export const TM_TCP_FIN_WAIT = 4;
export const TM_TCP_CLOSED = 5;
export const TM_OTHER_FIRST = 6;
export const TM_OTHER_MULTIPLE = 7;
export const TM_OTHER_BIDIR = 8;
export const TM_ICMP_FIRST = 9;
export const TM_ICMP_REPLY = 10;
export const TM_COUNT = 11;

/** Policy attribute names, indexed by timeout class. */
export const TIMEOUT_ATTRS = [
  'tcp_syn_sent', 'tcp_syn_recv', 'tcp_established', 'tcp_fin_wait', 'tcp_time_wait', 'tcp_close',
  'udp_first', 'udp_single', 'udp_multiple', 'icmp_first', 'icmp_reply',
] as const;
export type TimeoutAttr = (typeof TIMEOUT_ATTRS)[number];

/** OVS userspace defaults, seconds. */
export const DEFAULT_TIMEOUTS: readonly number[] = [30, 30, 86400, 900, 45, 30, 60, 60, 30, 60, 30];

export class TimeoutPolicyError extends Error {
  readonly code = 'ECT_TIMEOUT_POLICY';
}

/** Seconds for `cls` in `zone` (hot path: two array reads). */
export function timeoutSec(t: ConnTable, zone: number, cls: number): number {
  const slot = t.hdr[t.layout.zonePolicy + zone];
  return t.hdr[t.layout.policies + slot * POLICY_WORDS + cls];
}

export function initDefaultPolicy(t: ConnTable): void {
  const p = t.layout.policies;
  for (let i = 0; i < TM_COUNT; i++) t.hdr[p + i] = DEFAULT_TIMEOUTS[i];
  if (t.hdr[H_NPOLICIES] === 0) t.hdr[H_NPOLICIES] = 1;
}

/** Give `zone` a policy: unspecified attributes keep the default. Slow path;
 *  callers serialise control-plane changes (a single control thread). */
export function setZonePolicy(t: ConnTable, zone: number, attrs: Partial<Record<TimeoutAttr, number>>): void {
  let slot = t.hdr[t.layout.zonePolicy + zone];
  if (slot === 0) {
    slot = t.hdr[H_NPOLICIES];
    if (slot >= MAX_POLICIES) {
      // Reuse a slot no zone points at any more.
      const used = new Set<number>();
      for (let z = 0; z < 65536; z++) used.add(t.hdr[t.layout.zonePolicy + z]);
      slot = 1;
      while (slot < MAX_POLICIES && used.has(slot)) slot++;
      if (slot >= MAX_POLICIES) throw new TimeoutPolicyError('too many timeout policies');
    } else t.hdr[H_NPOLICIES] = slot + 1;
  }
  const p = t.layout.policies + slot * POLICY_WORDS;
  for (let i = 0; i < TM_COUNT; i++) {
    const v = attrs[TIMEOUT_ATTRS[i]];
    t.hdr[p + i] = v === undefined ? DEFAULT_TIMEOUTS[i] : v;
  }
  Atomics.store(t.hdr, t.layout.zonePolicy + zone, slot);
}

export function delZonePolicy(t: ConnTable, zone: number): void {
  Atomics.store(t.hdr, t.layout.zonePolicy + zone, 0);
}

/** The policy in force for `zone`, as attribute → seconds. */
export function getZonePolicy(t: ConnTable, zone: number): Record<TimeoutAttr, number> {
  const out = {} as Record<TimeoutAttr, number>;
  for (let i = 0; i < TM_COUNT; i++) out[TIMEOUT_ATTRS[i]] = timeoutSec(t, zone, i);
  return out;
}

export function parseTimeoutAttr(name: string): number {
  const i = (TIMEOUT_ATTRS as readonly string[]).indexOf(name);
  if (i < 0) throw new TimeoutPolicyError(`unknown timeout policy attribute '${name}'`);
  return i;
}
