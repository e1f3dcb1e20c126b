// `swctl dump-conntrack --format=conntrack`: connections as conntrack-tools'
// `conntrack -L` prints them, for people who know Linux:
//   tcp      6 431999 ESTABLISHED src=.. dst=.. sport=.. dport=.. src=.. dst=.. sport=.. dport=.. [OFFLOAD] mark=0 zone=1 use=1
// [UNREPLIED] after the original tuple until a reply was seen; [OFFLOAD]
// while the flowtable holds the connection, else [ASSURED] once it is
// established both ways (TCP) or has seen both directions.

import type { ConnInfo, ConnTuple } from './conn.ts';
import { protoName, tcpCoalescedState } from './format.ts';
import { TCP_STATE_NAMES, TCPS_ESTABLISHED } from './tcp.ts';

function tuple(t: ConnTuple, proto: number): string {
  const base = `src=${t.src} dst=${t.dst}`;
  if (proto === 1 || proto === 58) return `${base} type=${t.icmpType} code=${t.icmpCode} id=${t.icmpId}`;
  return `${base} sport=${t.sport} dport=${t.dport}`;
}

export function formatConntrackL(c: ConnInfo, nowMs: number): string {
  const left = Math.max(0, Math.floor((c.expiryMs - nowMs) / 1000));
  const name = protoName(c.proto);
  let s = `${name.padEnd(8)} ${c.proto} ${left} `;
  if (c.tcp !== null) s += `${TCP_STATE_NAMES[tcpCoalescedState(c.tcp.stateOrig, c.tcp.stateReply)]} `;
  s += tuple(c.orig, c.proto);
  const replied = c.packetsReply > 0;
  if (!replied) s += ' [UNREPLIED]';
  s += ` ${tuple(c.reply, c.proto)}`;
  const assured = replied && (c.tcp === null || (c.tcp.stateOrig >= TCPS_ESTABLISHED && c.tcp.stateReply >= TCPS_ESTABLISHED));
  if (c.offload) s += ' [OFFLOAD]';
  else if (assured) s += ' [ASSURED]';
  s += ` mark=${c.mark}`;
  if (c.zone !== 0) s += ` zone=${c.zone}`;
  return `${s} use=1`;
}
