// TCP tracker: per-direction peer state and sequence-window tracking in the
// style of pf (which OVS's userspace tracker follows), so the per-direction
// states printed by dump-conntrack -m are the same as OVS's:
// a SYN moves its sender to SYN_SENT, an ACK of a peer in SYN_SENT makes that
// peer ESTABLISHED, a FIN moves its sender to CLOSING, an ACK of a CLOSING
// peer makes it FIN_WAIT_2, a RST puts both in TIME_WAIT. Segments outside
// the window (RFC 793 section 3.3 plus window scaling, RFC 7323) or with
// impossible flag combinations are invalid and do not advance the state
// (only a side's first packet leaves its set-up behind, as in OVS).
//
// State words: R_TCP_STATES packs state and wscale byte of both peers;
// R_SEQLO_* (next seq the peer will send), R_SEQHI_* (highest seq the other
// side's window allows), R_MAXWIN_* (largest window seen, unscaled).
// Called with the record's home shard lock held.

import {
  R_TCP_STATES, R_SEQLO_ORIG, R_SEQHI_ORIG, R_MAXWIN_ORIG, R_SEQLO_REPLY, R_SEQHI_REPLY, R_MAXWIN_REPLY,
} from './layout.ts';
import {
  type L4Pkt, type L4Tracker, setClass, UPDATE_INVALID, UPDATE_VALID, UPDATE_NEW, UPDATE_VALID_NEW,
} from './l4.ts';
import {
  TM_TCP_FIRST_PACKET, TM_TCP_OPENING, TM_TCP_ESTABLISHED, TM_TCP_CLOSING, TM_TCP_FIN_WAIT, TM_TCP_CLOSED,
} from './timeouts.ts';
import { rd32 } from '../packet/bytes.ts';

// Peer states, numbered as OVS's CT_DPIF_TCPS_* (the order matters: the
// one-word state shown without -m is the larger of the two).
export const TCPS_CLOSED = 0;
export const TCPS_LISTEN = 1;
export const TCPS_SYN_SENT = 2;
export const TCPS_SYN_RECV = 3;
export const TCPS_ESTABLISHED = 4;
export const TCPS_CLOSE_WAIT = 5;
export const TCPS_FIN_WAIT_1 = 6;
export const TCPS_CLOSING = 7;
export const TCPS_LAST_ACK = 8;
export const TCPS_FIN_WAIT_2 = 9;
export const TCPS_TIME_WAIT = 10;
export const TCP_STATE_NAMES = [
  'CLOSED', 'LISTEN', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'CLOSE_WAIT',
  'FIN_WAIT_1', 'CLOSING', 'LAST_ACK', 'FIN_WAIT_2', 'TIME_WAIT',
] as const;

// wscale byte: low 4 bits = shift, WS_FLAG = the SYN carried the option,
// WS_UNKNOWN = picked up mid-stream, window unknown (be liberal).
export const WS_FLAG = 0x80;
export const WS_UNKNOWN = 0x40;
const WS_MASK = 0x0f;
const MAX_WSCALE = 14;

/** Slack for ACKs, as pf/OVS: one maximum window plus one MTU. */
const MAXACKWINDOW = 0xffff + 1500;

const F_FIN = 0x01;
const F_SYN = 0x02;
const F_RST = 0x04;
const F_PSH = 0x08;
const F_ACK = 0x10;
const F_URG = 0x20;

/** a >= b in sequence space (mod 2^32). */
function seqGeq(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/** pf's (and OVS's) flag sanity check: impossible combinations are invalid. */
function invalidFlags(f: number): boolean {
  if ((f & F_SYN) !== 0) {
    if ((f & (F_RST | F_FIN)) !== 0) return true;
  } else if ((f & (F_ACK | F_RST)) === 0) {
    return true;
  }
  // FIN, PSH and URG are valid only with ACK.
  return (f & F_ACK) === 0 && (f & (F_FIN | F_PSH | F_URG)) !== 0;
}

/**
 * The window-scale option of a SYN, as a wscale byte (0 when absent). Walks
 * the options as OVS's tcp_get_wscale() does (a short length counts as 2).
 */
function parseWscale(d: Uint8Array, l4: number, hlen: number): number {
  let o = l4 + 20;
  let len = hlen - 20;
  let ws = 0;
  while (len >= 3) {
    const kind = d[o];
    if (kind === 0) return ws;
    if (kind === 1) { o++; len--; continue; }
    if (kind === 3) {
      const s = d[o + 2];
      ws = WS_FLAG | (s > MAX_WSCALE ? MAX_WSCALE : s);
    }
    const optlen = d[o + 1] < 2 ? 2 : d[o + 1];
    len -= optlen;
    o += optlen;
  }
  return ws;
}

export function tcpHeaderOk(p: L4Pkt): boolean {
  if (p.l4Len < 20) return false;
  const hlen = (p.data[p.l4 + 12] >>> 4) * 4;
  return hlen >= 20 && hlen <= p.l4Len;
}

function max1(x: number): number {
  return x > 1 ? x : 1;
}

/** ceil(x / 2^shift), as DIV_ROUND_UP. */
function ceilShift(x: number, shift: number): number {
  return ((x + (1 << shift) - 1) >>> shift) | 0;
}

function timeoutClass(s: number, d: number): number {
  if (s >= TCPS_FIN_WAIT_2 && d >= TCPS_FIN_WAIT_2) return TM_TCP_CLOSED;
  if (s >= TCPS_CLOSING && d >= TCPS_CLOSING) return TM_TCP_FIN_WAIT;
  if (s < TCPS_ESTABLISHED || d < TCPS_ESTABLISHED) return TM_TCP_OPENING;
  if (s >= TCPS_CLOSING || d >= TCPS_CLOSING) return TM_TCP_CLOSING;
  return TM_TCP_ESTABLISHED;
}

function seqEnd(seq: number, payload: number, f: number): number {
  return (seq + payload + ((f & F_SYN) !== 0 ? 1 : 0) + ((f & F_FIN) !== 0 ? 1 : 0)) | 0;
}

export const tcpTracker: L4Tracker = {
  validNew(p: L4Pkt): boolean {
    if (!tcpHeaderOk(p)) return false;
    const f = p.data[p.l4 + 13];
    if (invalidFlags(f)) return false;
    // A SYN-ACK may not open a connection: only a fresh SYN or a mid-stream pickup.
    return (f & (F_SYN | F_ACK)) !== (F_SYN | F_ACK);
  },

  newConn(rec: Int32Array, base: number, p: L4Pkt): void {
    const d = p.data;
    const l4 = p.l4;
    const hlen = (d[l4 + 12] >>> 4) * 4;
    const f = d[l4 + 13];
    const seq = rd32(d, l4 + 4) | 0;
    const win = (d[l4 + 14] << 8) | d[l4 + 15];
    let ws: number;
    let wsPeer = 0;
    if ((f & F_SYN) !== 0) ws = parseWscale(d, l4, hlen);
    else { ws = WS_UNKNOWN; wsPeer = WS_UNKNOWN; }
    let maxWin = win > 0 ? win : 1;
    // The window of a SYN is unscaled (RFC 7323 2.2); keep max_win in the
    // scaled-down unit of later segments.
    if ((ws & WS_MASK) !== 0) maxWin = ceilShift(maxWin, ws & WS_MASK);
    // seqhi is one past what the sender may send before it hears back:
    // the first packet's end plus one, as OVS's tcp_new_conn().
    rec[base + R_SEQLO_ORIG] = seq;
    rec[base + R_SEQHI_ORIG] = (seqEnd(seq, p.l4Len - hlen, f) + 1) | 0;
    rec[base + R_MAXWIN_ORIG] = maxWin;
    rec[base + R_SEQLO_REPLY] = 0;
    rec[base + R_SEQHI_REPLY] = 1;
    rec[base + R_MAXWIN_REPLY] = 1;
    // A first packet puts its sender in SYN_SENT (also for a pickup), the
    // other side is still CLOSED.
    rec[base + R_TCP_STATES] = TCPS_SYN_SENT | (TCPS_CLOSED << 8) | (ws << 16) | (wsPeer << 24);
    setClass(rec, base, TM_TCP_FIRST_PACKET);
  },

  // The sequence tracking of Guido van Rooij's "Real Stateful TCP Packet
  // Filtering in IP Filter", as pf and OVS's conntrack-tcp.c implement it,
  // step for step, so that the same packets are valid or invalid in both.
  // As there, the set-up of a side's first packet stays even when the packet
  // then fails the window check.
  update(rec: Int32Array, base: number, p: L4Pkt, reply: boolean, seqCheck: boolean): number {
    if (!tcpHeaderOk(p)) return UPDATE_INVALID;
    const d = p.data;
    const l4 = p.l4;
    const f = d[l4 + 13];
    if (invalidFlags(f)) return UPDATE_INVALID;
    const states = rec[base + R_TCP_STATES];
    const sShift = reply ? 8 : 0;
    const dShift = reply ? 0 : 8;
    let sState = (states >>> sShift) & 0xff;
    let dState = (states >>> dShift) & 0xff;
    let sWs = (states >>> (16 + sShift)) & 0xff;
    let dWs = (states >>> (16 + dShift)) & 0xff;
    const S_LO = base + (reply ? R_SEQLO_REPLY : R_SEQLO_ORIG);
    const S_HI = base + (reply ? R_SEQHI_REPLY : R_SEQHI_ORIG);
    const S_WIN = base + (reply ? R_MAXWIN_REPLY : R_MAXWIN_ORIG);
    const D_LO = base + (reply ? R_SEQLO_ORIG : R_SEQLO_REPLY);
    const D_HI = base + (reply ? R_SEQHI_ORIG : R_SEQHI_REPLY);
    const D_WIN = base + (reply ? R_MAXWIN_ORIG : R_MAXWIN_REPLY);

    // A fresh SYN on a finished connection starts a new one (port reuse).
    if ((f & (F_SYN | F_ACK)) === F_SYN && sState >= TCPS_FIN_WAIT_2 && dState >= TCPS_FIN_WAIT_2) {
      rec[base + R_TCP_STATES] = states & ~0xffff; // both CLOSED
      return UPDATE_NEW;
    }

    let sws = 0;
    let dws = 0;
    if ((f & F_SYN) === 0) {
      if ((sWs & WS_FLAG) !== 0 && (dWs & WS_FLAG) !== 0) {
        sws = sWs & WS_MASK;
        dws = dWs & WS_MASK;
      } else if ((sWs & WS_UNKNOWN) !== 0 && (dWs & WS_UNKNOWN) !== 0) {
        // Picked up mid-stream: assume the largest scale (liberal).
        sws = MAX_WSCALE;
        dws = MAX_WSCALE;
      }
    }

    const hlen = (d[l4 + 12] >>> 4) * 4;
    const origSeq = rd32(d, l4 + 4) | 0;
    let seq = origSeq;
    let ack = rd32(d, l4 + 8) | 0;
    let win = (d[l4 + 14] << 8) | d[l4 + 15];
    let end = seqEnd(seq, p.l4Len - hlen, f);
    let checkAckskew = true;

    if (sState < TCPS_SYN_SENT) {
      // First packet from this side (normally the SYN-ACK): set it up.
      if ((f & F_SYN) !== 0 && (dWs & WS_FLAG) !== 0) {
        sWs = parseWscale(d, l4, hlen);
        if ((sWs & WS_FLAG) !== 0) {
          sws = sWs & WS_MASK;
          win = ceilShift(win, sws);
          dws = dWs & WS_MASK;
        } else {
          // Scaling is used only when both SYNs carry the option: undo the
          // peer's, in case of a retransmitted SYN-ACK as well.
          rec[D_WIN] = (rec[D_WIN] << (dWs & WS_MASK)) & 0xffff;
          dWs = 0;
        }
      }
      rec[S_LO] = seq;
      sState = TCPS_SYN_SENT;
      const hi = (end + max1(rec[D_WIN] << dws)) | 0;
      if (rec[S_HI] === 1 || seqGeq(hi, rec[S_HI])) {
        rec[S_HI] = hi;
        // A new connection or a pickup: be permissive about the ACK.
        checkAckskew = false;
      }
      if (win > rec[S_WIN]) rec[S_WIN] = win;
    }

    if ((f & F_ACK) === 0) ack = rec[D_LO]; // let it pass the ack skew check
    else if (ack === 0 && (f & F_RST) !== 0) ack = rec[D_LO]; // stacks that send RST|ACK with ack 0

    if (seq === end) {
      // No data: ease the sequence checks.
      seq = rec[S_LO];
      end = seq;
    }

    const ackskew = checkAckskew ? (rec[D_LO] - ack) | 0 : 0;
    const sLo = rec[S_LO];
    const inWindow =
      !seqCheck ||
      (seqGeq(rec[S_HI], end) &&
        seqGeq(seq, (sLo - (rec[D_WIN] << dws)) | 0) &&
        ackskew >= -MAXACKWINDOW &&
        ackskew <= MAXACKWINDOW * (1 << sws) &&
        // A reset must carry an exact (or +-1) sequence number.
        ((f & F_RST) === 0 || origSeq === sLo || origSeq === ((sLo + 1) | 0) || ((origSeq + 1) | 0) === sLo));
    // Outside the window, pf still accepts (without touching the timeout):
    // shotgunned SYNs before the peer answers, a pickup of an established
    // stream, and stray segments right after a close.
    const loose =
      !inWindow &&
      (dState < TCPS_SYN_SENT || dState >= TCPS_FIN_WAIT_2 || sState >= TCPS_FIN_WAIT_2) &&
      seqGeq((rec[S_HI] + MAXACKWINDOW) | 0, end) &&
      seqGeq(seq, (sLo - MAXACKWINDOW) | 0);

    if (inWindow || loose) {
      if (win > rec[S_WIN]) rec[S_WIN] = win;
      if (((end - sLo) | 0) > 0) rec[S_LO] = end;
      const sw = win << sws;
      if (seqGeq((ack + sw) | 0, rec[D_HI])) rec[D_HI] = (ack + max1(sw)) | 0;
      if (inWindow) {
        if ((f & F_SYN) !== 0 && sState < TCPS_SYN_SENT) sState = TCPS_SYN_SENT;
        if ((f & F_FIN) !== 0 && sState < TCPS_CLOSING) sState = TCPS_CLOSING;
        if ((f & F_ACK) !== 0) {
          if (dState === TCPS_SYN_SENT) dState = TCPS_ESTABLISHED;
          else if (dState === TCPS_CLOSING) dState = TCPS_FIN_WAIT_2;
        }
      } else if ((f & F_FIN) !== 0 && sState < TCPS_CLOSING) {
        sState = TCPS_CLOSING;
      }
      if ((f & F_RST) !== 0) sState = dState = TCPS_TIME_WAIT;
    }
    rec[base + R_TCP_STATES] =
      (sState << sShift) | (dState << dShift) | (sWs << (16 + sShift)) | (dWs << (16 + dShift));
    if (!inWindow && !loose) return UPDATE_INVALID;
    if (inWindow) setClass(rec, base, timeoutClass(sState, dState));
    // A retransmitted SYN of a connection nobody answered yet is still new.
    if (!reply && (f & (F_SYN | F_ACK)) === F_SYN && dState === TCPS_CLOSED) return UPDATE_VALID_NEW;
    return UPDATE_VALID;
  },
};
