// ct-events in the daemon: the reader of conntrack's event rings
// (src/conntrack/event-ring.ts) and the streams to the clients that asked
// for them (`swctl ct-events [zone=N] [--json]`).
//
// Protocol: a `ct-events` request (params: zone?) is answered at once with
// `{streaming: true}`; the same connection then carries one JSON-RPC
// notification per event, `{"method":"ct-event","params":{type, kind,
// zone, line, conn}}`, until the client closes it. When events were missed
// a `{"type":"LOST","count":N,"where":"datapath"|"client"}` notification
// says how many: "datapath" = a PMD thread's ring was full because the
// reader fell behind (counted by the producer, which never waits),
// "client" = this client did not read its socket and its queue passed
// MAX_PENDING bytes, so its events were dropped (the others' were not).
//
// The reader runs on the main thread every DRAIN_MS while anyone listens,
// taking at most DRAIN_BUDGET events per step, so a burst never stalls the
// control socket; what it leaves stays in the rings (or is lost there).

import type { Conntrack } from '../conntrack/conntrack.ts';
import { decodeEvent, type CtEvent } from '../conntrack/event-format.ts';
import type { RpcConn } from './rpc-server.ts';
import { E_INVALID_PARAMS, RpcError } from './rpc-server.ts';

export const DRAIN_MS = 20;
export const DRAIN_BUDGET = 20_000;
/** A client's unread bytes beyond which its events are dropped and counted. */
export const MAX_PENDING = 4 * 1024 * 1024;

export const EVENT_METHOD = 'ct-event';

interface Subscriber {
  conn: RpcConn;
  zone: number | undefined;
  /** Events this client missed and has not been told about yet. */
  missed: number;
}

export interface EventStreamOptions {
  /** The switch's clock (the one the datapath stamps events with). */
  now: () => number;
  drainMs?: number;
  maxPending?: number;
}

export class EventStreamer {
  private readonly subs = new Set<Subscriber>();
  private timer: NodeJS.Timeout | null = null;
  private readonly maxPending: number;
  /** Events handed to clients, and dropped for slow clients (for tests and metrics). */
  readonly stats = { sent: 0, clientDrops: 0, datapathLost: 0 };

  constructor(private readonly ct: Conntrack, private readonly opts: EventStreamOptions) {
    this.maxPending = opts.maxPending ?? MAX_PENDING;
  }

  get subscribers(): number {
    return this.subs.size;
  }

  /** The `ct-events` method. */
  handler(): (params: Record<string, unknown>, conn?: RpcConn) => unknown {
    return (params, conn) => {
      const z = params.zone;
      if (z !== undefined && z !== null && (typeof z !== 'number' || !Number.isInteger(z) || z < 0 || z > 0xffff)) {
        throw new RpcError(E_INVALID_PARAMS, "parameter 'zone' must be an integer from 0 to 65535");
      }
      if (!conn) throw new RpcError(E_INVALID_PARAMS, 'ct-events needs a connection to stream on');
      this.subscribe(conn, typeof z === 'number' ? z : undefined);
      return { streaming: true, zone: z ?? null };
    };
  }

  subscribe(conn: RpcConn, zone: number | undefined): void {
    if (conn.closed) return;
    const sub: Subscriber = { conn, zone, missed: 0 };
    this.subs.add(sub);
    this.ct.events.addListener();
    conn.onClose(() => this.unsubscribe(sub));
    if (this.timer === null) {
      this.timer = setInterval(() => this.pump(), this.opts.drainMs ?? DRAIN_MS);
      this.timer.unref();
    }
  }

  private unsubscribe(sub: Subscriber): void {
    if (!this.subs.delete(sub)) return;
    this.ct.events.removeListener();
    if (this.subs.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** One reader step: drain the rings and fan the events out. */
  pump(): number {
    if (this.subs.size === 0) return 0;
    const now = this.opts.now();
    const lost = this.ct.events.takeLost();
    if (lost > 0) {
      this.stats.datapathLost += lost;
      for (const s of this.subs) this.send(s, { type: 'LOST', count: lost, where: 'datapath' });
    }
    for (const s of this.subs) {
      if (s.missed > 0 && s.conn.pending <= this.maxPending) {
        this.send(s, { type: 'LOST', count: s.missed, where: 'client' });
        s.missed = 0;
      }
    }
    return this.ct.events.drain((type, rec, f64, r, timeMs) => {
      let ev: CtEvent | null = null;
      for (const s of this.subs) {
        if (s.zone !== undefined) {
          ev ??= decodeEvent(type, rec, f64, r, timeMs, now);
          if (ev.zone !== s.zone) continue;
        }
        ev ??= decodeEvent(type, rec, f64, r, timeMs, now);
        this.deliver(s, ev);
      }
    }, DRAIN_BUDGET);
  }

  private deliver(s: Subscriber, ev: CtEvent): void {
    if (s.conn.pending > this.maxPending) {
      s.missed++;
      this.stats.clientDrops++;
      return;
    }
    if (s.missed > 0) {
      this.send(s, { type: 'LOST', count: s.missed, where: 'client' });
      s.missed = 0;
    }
    if (this.send(s, { type: ev.type, kind: ev.kind, zone: ev.zone, line: ev.line, ring: ev.ring, conn: ev.conn })) this.stats.sent++;
  }

  private send(s: Subscriber, params: unknown): boolean {
    return s.conn.notify(EVENT_METHOD, params);
  }

  close(): void {
    for (const s of [...this.subs]) this.unsubscribe(s);
  }
}
