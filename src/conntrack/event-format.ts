// Text of connection events as `conntrack -E` prints them (conntrack-tools
// over libnetfilter_conntrack's default output), e.g.
//     [NEW] tcp      6 30 SYN_SENT src=10.1.1.1 dst=10.1.1.2 sport=34567 dport=80 [UNREPLIED] src=10.1.1.2 dst=10.1.1.1 sport=80 dport=34567 zone=1
//  [UPDATE] tcp      6 86400 ESTABLISHED src=... [ASSURED]
// [DESTROY] tcp      6 src=... (no timeout or state: ctnetlink sends none on destroy)
// Expectations as `conntrack -E expect` prints them:
//     [NEW] 300 proto=6 src=10.1.1.1 dst=10.1.1.2 sport=0 dport=40123 mask-src=255.255.255.255 ... master-src=...
// [DESTROY] 287 proto=6 src=... (the seconds it had left: ctnetlink sends
// an expectation's timeout on destroy too, 0 once it has timed out)
// The timeout is swd's own (its timeout policies, OVS's defaults), so the
// numbers differ from the kernel's. Slow path: runs in the reader only.

import { ipv4ToString, ipv6ToString, snapshotLocked, type ConnInfo, type ConnTuple } from './conn.ts';
import { protoName, tcpCoalescedState } from './format.ts';
import { TCP_STATE_NAMES, TCPS_ESTABLISHED, TCPS_SYN_RECV } from './tcp.ts';
import { OTHER_BIDIR } from './udp.ts';
import { EV_DESTROY, EV_EXP_DESTROY, EV_EXP_NEW, EV_NEW, EV_RING_SLOTS, EV_UPDATE, EXP_MASTER_KEY, EXP_TUPLE_KEY } from './event-ring.ts';
import { K_DST, K_META, K_PORTS, K_SRC, R_EXPIRY, REC_WORDS } from './layout.ts';

export const EVENT_NAMES: Record<number, string> = {
  [EV_NEW]: 'NEW', [EV_UPDATE]: 'UPDATE', [EV_DESTROY]: 'DESTROY', [EV_EXP_NEW]: 'NEW', [EV_EXP_DESTROY]: 'DESTROY',
};

/** One decoded event, for --json and for filtering. */
export interface CtEvent {
  type: 'NEW' | 'UPDATE' | 'DESTROY';
  /** 'conn' for connections, 'expect' for helper expectations. */
  kind: 'conn' | 'expect';
  zone: number;
  /** The producer's clock when the event was posted (0 for DESTROY). */
  timeMs: number;
  /** The connection (kind 'conn'), or the master connection (kind 'expect'). */
  conn: ConnInfo;
  /** The conntrack -E line. */
  line: string;
  /** The ring it came through: the thread that posted it (0 = the creating thread, PMD threads after). */
  ring: number;
}

function tupleText(t: ConnTuple, proto: number): string {
  if (proto === 1 || proto === 58) return `src=${t.src} dst=${t.dst} type=${t.icmpType} code=${t.icmpCode} id=${t.icmpId}`;
  return `src=${t.src} dst=${t.dst} sport=${t.sport} dport=${t.dport}`;
}

/** Remaining seconds of a timeout at time `nowMs`, as the kernel rounds (up). */
function secondsLeft(expiryMs: number, nowMs: number): number {
  return Math.max(0, Math.ceil((expiryMs - nowMs) / 1000));
}

/** The kernel's one TCP state for a connection: the later peer state, as
 *  dump-conntrack coalesces it, but SYN_RECV shown as itself (conntrack -E
 *  users watch the handshake go SYN_SENT, SYN_RECV, ESTABLISHED). */
function eventTcpState(orig: number, reply: number): number {
  const s = orig > reply ? orig : reply;
  return s === TCPS_SYN_RECV ? s : tcpCoalescedState(orig, reply);
}

/** [ASSURED] as the kernel sets it: TCP once established, UDP once traffic
 *  went both ways and then more; never ICMP. */
function assured(c: ConnInfo): boolean {
  if (c.tcp !== null) return eventTcpState(c.tcp.stateOrig, c.tcp.stateReply) >= TCPS_ESTABLISHED && c.packetsReply > 0;
  if (c.proto === 1 || c.proto === 58) return false;
  return c.l4State === OTHER_BIDIR && c.packetsReply > 0 && c.packetsOrig + c.packetsReply > 2;
}

/** The conntrack -E line of a connection event. */
export function formatConnEvent(type: number, c: ConnInfo, timeMs: number): string {
  const name = `[${EVENT_NAMES[type]}]`;
  let s = `${name.padStart(9)} ${protoName(c.proto).padEnd(8)} ${c.proto} `;
  if (type !== EV_DESTROY) {
    s += `${secondsLeft(c.expiryMs, timeMs)} `;
    if (c.tcp !== null) s += `${TCP_STATE_NAMES[eventTcpState(c.tcp.stateOrig, c.tcp.stateReply)]} `;
  }
  s += tupleText(c.orig, c.proto);
  if (c.packetsReply === 0) s += ' [UNREPLIED]';
  s += ' ' + tupleText(c.reply, c.proto);
  if (assured(c)) s += ' [ASSURED]';
  if (c.mark !== 0) s += ` mark=${c.mark}`;
  if (c.zone !== 0) s += ` zone=${c.zone}`;
  return s;
}

function keyAddr(rec: Int32Array, kb: number, v6: boolean, dst: boolean): string {
  const o = kb + (dst ? K_DST : K_SRC);
  return v6 ? ipv6ToString(rec, o) : ipv4ToString(rec[o] >>> 0);
}

/** The conntrack -E expect line of an expectation slot (event-ring.ts's
 *  postExpectation layout). The mask is exact addresses and destination
 *  port, any source port when the expected one is 0 (what FTP and TFTP
 *  expectations are). */
export function formatExpectEvent(type: number, rec: Int32Array, f64: Float64Array, r: number, timeMs: number, helper?: string): string {
  const c = snapshotLocked(rec, f64, r);
  const eb = r * REC_WORDS;
  const e = eb + EXP_TUPLE_KEY;
  const m = eb + EXP_MASTER_KEY;
  const meta = rec[e + K_META];
  const proto = (meta >>> 16) & 0xff;
  const v6 = (meta >>> 24) !== 0;
  const ports = rec[e + K_PORTS] >>> 0;
  const sport = ports >>> 16;
  const full = v6 ? 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff' : '255.255.255.255';
  let s = `${`[${EVENT_NAMES[type]}]`.padStart(9)} `;
  s += `${secondsLeft(f64[(eb + R_EXPIRY) >>> 1], timeMs)} `;
  s += `proto=${proto} src=${keyAddr(rec, e, v6, false)} dst=${keyAddr(rec, e, v6, true)} sport=${sport} dport=${ports & 0xffff}`;
  s += ` mask-src=${full} mask-dst=${full} sport=${sport === 0 ? 0 : 65535} dport=65535`;
  const mp = rec[m + K_PORTS] >>> 0;
  s += ` master-src=${keyAddr(rec, m, c.v6, false)} master-dst=${keyAddr(rec, m, c.v6, true)} sport=${mp >>> 16} dport=${mp & 0xffff}`;
  if (c.zone !== 0) s += ` zone=${c.zone}`;
  if (helper) s += ` helper=${helper}`;
  return s;
}

/** Decode one ring slot into an event (the reader's side of drain()). */
export function decodeEvent(type: number, rec: Int32Array, f64: Float64Array, r: number, timeMs: number, nowMs: number): CtEvent {
  const c = snapshotLocked(rec, f64, r);
  const t = timeMs === 0 ? nowMs : timeMs;
  const ring = Math.floor(r / EV_RING_SLOTS);
  if (type === EV_EXP_NEW || type === EV_EXP_DESTROY) {
    return { type: EVENT_NAMES[type] as CtEvent['type'], kind: 'expect', zone: c.zone, timeMs, conn: c, line: formatExpectEvent(type, rec, f64, r, t), ring };
  }
  return { type: EVENT_NAMES[type] as CtEvent['type'], kind: 'conn', zone: c.zone, timeMs, conn: c, line: formatConnEvent(type, c, t), ring };
}
