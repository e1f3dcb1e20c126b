// One controller of a bridge, as OVS's connmgr keeps one: an active target
// (tcp:/unix:) is a reliable connection with OVS's rconn states and timing
// (lib/rconn.c), a passive one (ptcp:/punix:) a listener whose accepted
// connections are service connections, each probed after the controller's
// inactivity probe interval and dropped when it does not answer (of-probe.ts).
//
// rconn, in short. BACKOFF waits `backoff` ms, then CONNECTING opens the
// socket (given max(1 s, backoff) to complete); ACTIVE once connected; after
// `probe` ms without a message from the peer an echo request goes out and
// the state is IDLE; no message within another `probe` ms disconnects. A
// disconnect doubles the backoff (1 s, 2, 4 … up to max_backoff, 8 s by
// default) unless the connection had lasted past its backoff deadline, which
// starts it over at 1 s. The connection is "admitted" once the peer sent
// something beyond the handshake (HELLO, ECHO, FEATURES, *_CONFIG), or after
// 30 s connected; fail-open (of-failmode.ts) counts from the last time one was.
//
// Single-threaded (the daemon's event loop); `run(now)` is called on every
// tick and after every socket event, and does what the state's timeout says.

import { connect, createServer, type Server, type Socket } from 'node:net';
import { existsSync, unlinkSync, chmodSync } from 'node:fs';
import type { OfBridge } from './of-bridge.ts';
import { changesConfig, OfConnection, type OfConnLog } from './of-conn.ts';
import { isActive, type OfTarget } from './of-target.ts';
import { InactivityProbe } from './of-probe.ts';

export type RconnState = 'VOID' | 'BACKOFF' | 'CONNECTING' | 'ACTIVE' | 'IDLE';

export interface ControllerSettings {
  /** Inactivity probe interval, ms; 0 disables probes (OVS inactivity_probe, default 5 s). */
  inactivityProbeMs: number;
  /** Longest wait between connection attempts, ms (OVS max_backoff, default 8 s). */
  maxBackoffMs: number;
}

export const DEFAULT_SETTINGS: ControllerSettings = { inactivityProbeMs: 5000, maxBackoffMs: 8000 };

/** What show / get-controller report of a controller. */
export interface ControllerStatus {
  target: string;
  /** Passive targets listen; active ones have an rconn state. */
  mode: 'active' | 'passive';
  isConnected: boolean;
  state: RconnState | 'LISTENING' | 'FAILED';
  role: 'other' | 'master' | 'slave' | null;
  /** Negotiated OpenFlow version (0x01, 0x04 …) of the current connection. */
  version: number | null;
  /** Open connections (a listener may have several). */
  connections: number;
  /** Connection attempts so far, and how many failed or were lost. */
  attempts: number;
  disconnects: number;
  /** Seconds the current connection (or the last one) has been up / down. */
  secSinceConnect: number | null;
  secSinceDisconnect: number | null;
  backoffSec: number;
  lastError: string | null;
  inactivityProbeMs: number;
  maxBackoffMs: number;
  packetIns: number;
  packetInsDropped: number;
}

export interface ControllerLog extends OfConnLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const ROLES = [null, 'other', 'master', 'slave'] as const;
/** Message types that do not admit a connection (rconn.c is_admitted_msg): the handshake and echoes. */
const HANDSHAKE_TYPES = new Set([0, 1, 2, 3, 5, 6, 7, 8, 9]);
const ADMIT_AFTER_MS = 30_000;

export interface Controller {
  readonly target: OfTarget;
  readonly settings: ControllerSettings;
  /** Drive timers; `now` in ms. */
  run(now: number): void;
  /** Every open OpenFlow connection (packet-ins go to each). */
  connections(): Iterable<OfConnection>;
  status(now: number): ControllerStatus;
  /** An active controller admitted now (fail-open's recovery). */
  readonly admitted: boolean;
  /** Last time the controller was admitted (fail-open's failure duration), ms. */
  readonly lastAdmitted: number;
  close(): void | Promise<void>;
}

function baseStatus(c: Controller, now: number): Pick<ControllerStatus, 'packetIns' | 'packetInsDropped' | 'connections' | 'inactivityProbeMs' | 'maxBackoffMs'> {
  let packetIns = 0, dropped = 0, n = 0;
  for (const conn of c.connections()) {
    packetIns += conn.stats.packetIns;
    dropped += conn.stats.packetInsDropped;
    n++;
  }
  void now;
  return { packetIns, packetInsDropped: dropped, connections: n, inactivityProbeMs: c.settings.inactivityProbeMs, maxBackoffMs: c.settings.maxBackoffMs };
}

/** A controller swd connects to and keeps connected (OVS's rconn). */
export class ActiveController implements Controller {
  state: RconnState = 'VOID';
  private stateEntered: number;
  private backoff = 0;
  private backoffDeadline = -Infinity;
  private lastConnected = -Infinity;
  private lastDisconnected = -Infinity;
  private lastActivity: number;
  lastAdmitted: number;
  private probablyAdmitted = false;
  private lastError: string | null = null;
  private attempts = 0;
  private disconnects = 0;
  private sock: Socket | null = null;
  private conn: OfConnection | null = null;
  private closed = false;

  constructor(
    readonly target: OfTarget,
    readonly settings: ControllerSettings,
    private readonly bridge: () => OfBridge,
    private readonly log: ControllerLog,
    /** Told of each HELLO and SET_CONFIG (the connection manager's table-miss setting), and of a new master. */
    private readonly onConfig: (master?: OfConnection) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {
    const t = now();
    this.stateEntered = this.lastActivity = this.lastAdmitted = t;
    this.reconnect(t);
  }

  private get name(): string {
    return `${this.bridge().name}<->${this.target.text}`;
  }

  private transition(s: RconnState, now: number): void {
    const connected = (x: RconnState) => x === 'ACTIVE' || x === 'IDLE';
    if (connected(s) && !connected(this.state)) this.probablyAdmitted = false;
    this.log.debug({ controller: this.name, state: s }, `${this.name}: entering ${s}`);
    this.state = s;
    this.stateEntered = now;
  }

  get admitted(): boolean {
    return (this.state === 'ACTIVE' || this.state === 'IDLE') && this.probablyAdmitted;
  }

  /** Logging attempts is stopped once the backoff has reached its maximum (rconn does the same). */
  private get logAttempts(): boolean {
    return this.backoff < this.settings.maxBackoffMs;
  }

  private reconnect(now: number): void {
    if (this.closed) return;
    if (this.logAttempts) this.log.info({ controller: this.name }, `${this.name}: connecting...`);
    this.attempts++;
    const t = this.target;
    const sock = t.kind === 'tcp' ? connect({ host: t.host!, port: t.port! }) : connect({ path: t.path! });
    this.sock = sock;
    sock.setNoDelay?.(true);
    this.backoffDeadline = now + this.backoff;
    this.transition('CONNECTING', now);
    sock.once('connect', () => {
      if (this.sock !== sock) return;
      this.conn = new OfConnection(sock, this.bridge(), this.log, { onMessage: (type) => this.onMessage(type), onMaster: (c) => this.onConfig(c) });
    });
    sock.on('error', (err) => {
      if (this.sock !== sock) return;
      this.lost(this.now(), (err as NodeJS.ErrnoException).code ?? err.message);
    });
    sock.on('close', () => {
      if (this.sock !== sock) return;
      this.lost(this.now(), 'End of file');
    });
  }

  private onMessage(type: number): void {
    const now = this.now();
    if (this.state === 'CONNECTING' && this.conn?.negotiated) {
      this.log.info({ controller: this.name, version: this.conn.negotiated }, `${this.name}: connected`);
      this.transition('ACTIVE', now);
      this.lastConnected = now;
    }
    if (this.state !== 'ACTIVE' && this.state !== 'IDLE') return;
    if (this.probablyAdmitted || !HANDSHAKE_TYPES.has(type) || now - this.lastConnected >= ADMIT_AFTER_MS) {
      this.probablyAdmitted = true;
      this.lastAdmitted = now;
    }
    this.lastActivity = now;
    if (this.state === 'IDLE') this.transition('ACTIVE', now);
    if (changesConfig(type)) this.onConfig();
  }

  /** The connection failed or went away: back off (rconn.c disconnect()). */
  private lost(now: number, error: string): void {
    if (this.state === 'CONNECTING' && this.logAttempts) this.log.info({ controller: this.name, error }, `${this.name}: connection failed (${error})`);
    else if (this.state === 'ACTIVE' || this.state === 'IDLE') this.log.warn({ controller: this.name, error }, `${this.name}: connection dropped (${error})`);
    this.drop(now, error);
  }

  private drop(now: number, error: string): void {
    const sock = this.sock;
    this.sock = null;
    this.conn?.close();
    this.conn = null;
    sock?.destroy();
    this.lastError = error;
    if (this.closed) return;
    if (this.state === 'CONNECTING' || this.state === 'ACTIVE' || this.state === 'IDLE') this.lastDisconnected = now;
    this.disconnects++;
    const max = this.settings.maxBackoffMs;
    if (now >= this.backoffDeadline) this.backoff = 1000;
    else if (this.backoff < max / 2) {
      this.backoff = Math.max(1000, 2 * this.backoff);
      this.log.info({ controller: this.name, backoff: this.backoff / 1000 }, `${this.name}: waiting ${this.backoff / 1000} seconds before reconnect`);
    } else {
      if (this.logAttempts) this.log.info({ controller: this.name }, `${this.name}: continuing to retry connections in the background but suppressing further logging`);
      this.backoff = max;
    }
    this.backoffDeadline = now + this.backoff;
    this.transition('BACKOFF', now);
  }

  run(now: number): void {
    const probe = this.settings.inactivityProbeMs;
    const inState = now - this.stateEntered;
    switch (this.state) {
      case 'BACKOFF':
        if (inState >= this.backoff) this.reconnect(now);
        return;
      case 'CONNECTING':
        if (inState >= Math.max(1000, this.backoff)) {
          if (this.logAttempts) this.log.info({ controller: this.name }, `${this.name}: connection timed out`);
          this.backoffDeadline = Infinity;
          this.drop(now, 'Connection timed out');
        }
        return;
      case 'ACTIVE':
        if (probe && now - Math.max(this.lastActivity, this.stateEntered) >= probe) {
          this.log.debug({ controller: this.name }, `${this.name}: idle ${Math.floor((now - this.lastActivity) / 1000)} seconds, sending inactivity probe`);
          this.transition('IDLE', now);
          this.conn?.sendEchoRequest();
        }
        return;
      case 'IDLE':
        if (inState >= probe) {
          this.log.error({ controller: this.name }, `${this.name}: no response to inactivity probe after ${(inState / 1000).toFixed(inState < 10_000 ? 1 : 0)} seconds, disconnecting`);
          this.drop(now, 'Connection timed out');
        }
        return;
      default:
    }
  }

  *connections(): Iterable<OfConnection> {
    if (this.conn && (this.state === 'ACTIVE' || this.state === 'IDLE')) yield this.conn;
  }

  status(now: number): ControllerStatus {
    const connected = this.state === 'ACTIVE' || this.state === 'IDLE';
    const secs = (t: number) => (Number.isFinite(t) ? Math.floor((now - t) / 1000) : null);
    return {
      target: this.target.text, mode: 'active', isConnected: connected, state: this.state,
      role: connected ? ROLES[this.conn?.role ?? 1] ?? 'other' : null,
      version: connected ? this.conn?.negotiated ?? null : null,
      ...baseStatus(this, now),
      attempts: this.attempts, disconnects: this.disconnects,
      secSinceConnect: connected ? secs(this.lastConnected) : null,
      secSinceDisconnect: connected ? null : secs(this.lastDisconnected),
      backoffSec: this.backoff / 1000,
      lastError: this.lastError,
    };
  }

  close(): void {
    this.closed = true;
    this.drop(this.now(), 'closed');
    this.state = 'VOID';
  }
}

/** A ptcp:/punix: target: swd listens, each accepted connection is a service connection. */
export class PassiveController implements Controller {
  private readonly server: Server;
  private readonly conns = new Set<OfConnection>();
  private readonly sockets = new Set<Socket>();
  private readonly probes = new Map<OfConnection, { probe: InactivityProbe; name: string }>();
  private listening = false;
  private error: string | null = null;
  readonly admitted = false;
  readonly lastAdmitted = 0;

  constructor(
    readonly target: OfTarget,
    readonly settings: ControllerSettings,
    private readonly bridge: () => OfBridge,
    private readonly log: ControllerLog,
    onConfig: (master?: OfConnection) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {
    if (isActive(target)) throw new Error('not a passive target');
    const srv = createServer((sock) => {
      this.sockets.add(sock);
      // [ofasync] Each accepted connection is probed as OVS's rconn probes one it did not make (of-probe.ts).
      const probe = new InactivityProbe(settings.inactivityProbeMs, this.now());
      const conn = new OfConnection(sock, this.bridge(), this.log, {
        service: true,
        onMessage: (type) => {
          probe.activity(this.now());
          if (changesConfig(type)) onConfig();
        },
        onMaster: (c) => onConfig(c),
      });
      this.conns.add(conn);
      this.probes.set(conn, { probe, name: sock.remoteAddress ? `tcp:${sock.remoteAddress}:${sock.remotePort}` : target.text });
      sock.on('close', () => {
        this.conns.delete(conn);
        this.probes.delete(conn);
        this.sockets.delete(sock);
      });
    });
    this.server = srv;
    srv.on('error', (err) => {
      this.error = (err as NodeJS.ErrnoException).code ?? err.message;
      this.log.error({ controller: target.text, err }, `${this.bridge().name}: ${target.text}: listen failed (${this.error})`);
    });
    srv.on('listening', () => {
      this.listening = true;
      if (target.path) {
        try {
          chmodSync(target.path, 0o600);
        } catch {
          // went away meanwhile
        }
      }
      this.log.info({ controller: target.text }, `${this.bridge().name}: listening on ${target.text}`);
    });
    if (target.kind === 'punix') {
      if (existsSync(target.path!)) unlinkSync(target.path!);
      const old = process.umask(0o177);
      try {
        srv.listen(target.path!);
      } finally {
        process.umask(old);
      }
    } else srv.listen(target.port!, target.host!);
  }

  /** The bound TCP port (ptcp:0 lets the kernel choose). */
  get port(): number | null {
    const a = this.server.address();
    return a && typeof a === 'object' ? a.port : null;
  }

  /** [ofasync] Probe idle peers; drop those that did not answer. */
  run(now: number = this.now()): void {
    for (const [conn, p] of this.probes) {
      const due = p.probe.run(now);
      if (due === 'probe') {
        this.log.debug({ controller: this.target.text, peer: p.name }, `${this.bridge().name}<->${p.name}: idle, sending inactivity probe`);
        conn.sendEchoRequest();
      } else if (due === 'drop') {
        const secs = p.probe.idleSeconds(now);
        this.log.error({ controller: this.target.text, peer: p.name }, `${this.bridge().name}<->${p.name}: no response to inactivity probe after ${secs.toFixed(secs < 10 ? 1 : 0)} seconds, disconnecting`);
        this.probes.delete(conn);
        conn.close();
      }
    }
  }

  *connections(): Iterable<OfConnection> {
    for (const c of this.conns) if (c.negotiated) yield c;
  }

  status(now: number): ControllerStatus {
    const first = this.connections()[Symbol.iterator]().next().value as OfConnection | undefined;
    return {
      target: this.target.text, mode: 'passive', isConnected: this.conns.size > 0,
      state: this.error ? 'FAILED' : this.listening ? 'LISTENING' : 'CONNECTING',
      role: first ? ROLES[first.role] ?? 'other' : null, version: first?.negotiated ?? null,
      ...baseStatus(this, now),
      attempts: 0, disconnects: 0, secSinceConnect: null, secSinceDisconnect: null, backoffSec: 0, lastError: this.error,
    };
  }

  /** Resolves once the listener is closed (its port or path free again). */
  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const done = new Promise<void>((r) => (this.server.listening ? this.server.close(() => r()) : r()));
    if (this.target.kind === 'punix' && this.listening) {
      try {
        unlinkSync(this.target.path!);
      } catch {
        // already gone
      }
    }
    return done;
  }
}

export function createController(target: OfTarget, settings: ControllerSettings, bridge: () => OfBridge, log: ControllerLog, onConfig: (master?: OfConnection) => void): Controller {
  return isActive(target) ? new ActiveController(target, settings, bridge, log, onConfig) : new PassiveController(target, settings, bridge, log, onConfig);
}
