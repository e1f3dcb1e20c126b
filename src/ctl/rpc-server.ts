// Newline-delimited JSON-RPC 2.0 over a Unix socket. One request per line;
// one response line per request (batches: one array line). Every failure is
// answered with a JSON-RPC error; nothing a client sends can throw out of
// here, and one client can neither stall nor starve the others.
//
// Rules that must stay true:
// - Requests on one connection are answered in order (a per-connection
//   promise chain), so a client may pipeline.
// - Framing works on bytes: a line is decoded only once complete, so a UTF-8
//   character split across two reads is never mangled, and the MAX_LINE
//   limit counts bytes. A connection whose pending line passes MAX_LINE gets
//   one -32600 error and is closed.
// - A client may half-close (send EOF) after its last request: answers are
//   still written, then the connection is ended. A last line without a
//   trailing newline is treated as complete at EOF.
// - Backpressure: while a connection's unsent answers exceed HIGH_WATER the
//   server stops reading from it.
// - Fairness: a connection's requests run one after another as promise
//   reactions, which would otherwise all run before the event loop takes
//   its next turn (a client that pipelines hundreds of requests would hold
//   every other client that long). Between two requests the loop gets a
//   turn (setImmediate) once TURN_MS of request work has run since the last
//   one, so another client's request waits about TURN_MS per busy
//   connection, not for the whole backlog.

import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';

export const MAX_LINE = 16 * 1024 * 1024;
const HIGH_WATER = 1024 * 1024;
const NL = 0x0a;
/** Request work between two turns of the event loop (see Fairness above). */
export const TURN_MS = 1;

export const E_PARSE = -32700;
export const E_INVALID_REQUEST = -32600;
export const E_METHOD_NOT_FOUND = -32601;
export const E_INVALID_PARAMS = -32602;
export const E_INTERNAL = -32603;
/** Application errors (SwitchError, ParseError...) carry their code in data.code. */
export const E_APP = -32000;

export class RpcError extends Error {
  constructor(
    readonly rpcCode: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

/**
 * The connection a request came on, for methods that stream (ct-events):
 * after answering, such a method may keep sending JSON-RPC notifications
 * (`{"jsonrpc":"2.0","method":...,"params":...}`, no id) on the same
 * connection until it closes. Request/response clients never see them:
 * only a connection that asked for a stream gets notifications.
 */
export interface RpcConn {
  /** Send one notification line; false when the connection is gone. */
  notify(method: string, params: unknown): boolean;
  /** Bytes written but not yet taken by the peer (a stalled reader grows it). */
  readonly pending: number;
  readonly closed: boolean;
  /** Called once when the connection closes. */
  onClose(cb: () => void): void;
}

export type Handler = (params: Record<string, unknown>, conn?: RpcConn) => unknown | Promise<unknown>;

export interface RpcResponse {
  jsonrpc: '2.0';
  id: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

export interface RpcServerOptions {
  /** Called for internal errors (-32603): a bug, to be logged. */
  onError?: (err: unknown, method: string) => void;
  /** Called when a connection is dropped for a protocol violation. */
  onDrop?: (reason: string) => void;
}

const errorResponse = (id: unknown, code: number, message: string, data?: unknown): RpcResponse => ({
  jsonrpc: '2.0',
  id,
  error: data === undefined ? { code, message } : { code, message, data },
});

export class RpcServer {
  private server: Server | null = null;
  private readonly conns = new Set<Socket>();
  /** When the loop last had a turn between requests (performance.now()). */
  private turnStart = 0;

  constructor(
    private readonly methods: Map<string, Handler>,
    private readonly opts: RpcServerOptions = {},
  ) {}

  /** Listen on `path` and make it owner-only (0600) before resolving. */
  listen(path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = createServer({ allowHalfOpen: true }, (sock) => this.onConnection(sock));
      server.once('error', reject);
      server.listen(path, () => {
        try {
          chmodSync(path, 0o600);
        } catch (e) {
          server.close();
          reject(e);
          return;
        }
        server.removeListener('error', reject);
        server.on('error', () => {});
        this.server = server;
        resolve();
      });
    });
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  /**
   * Stop accepting, end every connection (answers already written are
   * flushed; a connection still open after `graceMs` is destroyed), and
   * remove the socket file.
   */
  close(path?: string, graceMs = 200): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const c of this.conns) c.end();
    const force = setTimeout(() => {
      for (const c of this.conns) c.destroy();
    }, graceMs);
    force.unref();
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(force);
        if (path && existsSync(path)) {
          try {
            unlinkSync(path);
          } catch {
            // already gone
          }
        }
        resolve();
      };
      if (!server) return finish();
      server.close(finish);
    });
  }

  private onConnection(sock: Socket): void {
    this.conns.add(sock);
    // The pending (incomplete) line, as the chunks that make it up.
    let parts: Buffer[] = [];
    let pendingLen = 0;
    let queue: Promise<void> = Promise.resolve();
    let dropped = false;
    const rc: RpcConn = {
      notify: (method, params) => {
        if (!sock.writable) return false;
        this.write(sock, { jsonrpc: '2.0', method, params });
        return true;
      },
      get pending() { return sock.writableLength; },
      get closed() { return sock.destroyed || !sock.writable; },
      onClose: (cb) => { sock.once('close', cb); },
    };

    const enqueue = (lineBuf: Buffer) => {
      const line = lineBuf.toString('utf8').trim();
      if (!line) return;
      queue = queue
        .then(() => this.turnIfDue())
        .then(() => this.handleLine(line, rc))
        .then((out) => {
          if (out !== null) this.write(sock, out);
        });
    };

    sock.on('data', (chunk: Buffer) => {
      if (dropped) return;
      let start = 0;
      let nl: number;
      while ((nl = chunk.indexOf(NL, start)) >= 0) {
        const piece = chunk.subarray(start, nl);
        if (pendingLen + piece.length > MAX_LINE) return drop();
        enqueue(parts.length ? Buffer.concat([...parts, piece]) : piece);
        parts = [];
        pendingLen = 0;
        start = nl + 1;
      }
      if (start < chunk.length) {
        const rest = chunk.subarray(start);
        pendingLen += rest.length;
        if (pendingLen > MAX_LINE) return drop();
        parts.push(rest);
      }
      if (sock.writableLength > HIGH_WATER) {
        sock.pause();
        sock.once('drain', () => sock.resume());
      }
    });

    const drop = () => {
      dropped = true;
      parts = [];
      pendingLen = 0;
      this.opts.onDrop?.(`request line longer than ${MAX_LINE} bytes`);
      // Answer what came before, then the error, then hang up.
      queue = queue.then(() => {
        this.write(sock, errorResponse(null, E_INVALID_REQUEST, `request line longer than ${MAX_LINE} bytes; closing the connection`));
        sock.end();
        setTimeout(() => sock.destroy(), 1000).unref();
      });
    };

    sock.on('end', () => {
      if (dropped) return;
      if (pendingLen > 0) enqueue(Buffer.concat(parts));
      parts = [];
      pendingLen = 0;
      void queue.then(() => sock.end());
    });
    sock.on('error', () => {});
    sock.on('close', () => this.conns.delete(sock));
  }

  private write(sock: Socket, out: unknown): void {
    if (!sock.writable) return;
    let text: string;
    try {
      text = JSON.stringify(out, jsonReplacer);
    } catch (e) {
      // A result that cannot be serialised (a cycle) is a bug in a handler.
      this.opts.onError?.(e, '(serialise)');
      const id = (out as { id?: unknown })?.id ?? null;
      text = JSON.stringify(errorResponse(id, E_INTERNAL, `internal error: result is not serialisable`));
    }
    sock.write(text + '\n');
  }

  /** Give the event loop a turn if TURN_MS of request work ran since its last one. */
  private turnIfDue(): Promise<void> | void {
    if (performance.now() - this.turnStart < TURN_MS) return;
    return new Promise<void>((resolve) => setImmediate(() => {
      this.turnStart = performance.now();
      resolve();
    }));
  }

  /** Handle one request line (a request or a batch); null = nothing to answer. */
  async handleLine(line: string, conn?: RpcConn): Promise<RpcResponse | RpcResponse[] | null> {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      return errorResponse(null, E_PARSE, 'parse error: request is not valid JSON');
    }
    if (Array.isArray(msg)) {
      if (msg.length === 0) return errorResponse(null, E_INVALID_REQUEST, 'empty batch');
      const out: RpcResponse[] = [];
      for (const m of msg) {
        await this.turnIfDue();
        const r = await this.handleOne(m, conn);
        if (r) out.push(r);
      }
      return out.length ? out : null;
    }
    return this.handleOne(msg, conn);
  }

  private async handleOne(msg: unknown, conn?: RpcConn): Promise<RpcResponse | null> {
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      return errorResponse(null, E_INVALID_REQUEST, 'invalid request: expected an object');
    }
    const m = msg as Record<string, unknown>;
    const rawId = m.id;
    const idOk = rawId === undefined || rawId === null || typeof rawId === 'string' || typeof rawId === 'number';
    const id = idOk ? (rawId ?? null) : null;
    const isNotification = !('id' in m);
    if (m.jsonrpc !== '2.0' || typeof m.method !== 'string') {
      return errorResponse(id, E_INVALID_REQUEST, 'invalid request: needs jsonrpc "2.0" and a method string');
    }
    if (!idOk) return errorResponse(null, E_INVALID_REQUEST, 'invalid request: id must be a string, a number or null');
    const method = m.method;
    const handler = this.methods.get(method);
    if (!handler) return isNotification ? null : errorResponse(id, E_METHOD_NOT_FOUND, `unknown method '${method}'`);
    const params = m.params ?? {};
    if (typeof params !== 'object' || params === null || Array.isArray(params)) {
      return isNotification ? null : errorResponse(id, E_INVALID_PARAMS, 'params must be an object');
    }
    try {
      const result = await handler(params as Record<string, unknown>, conn);
      return isNotification ? null : { jsonrpc: '2.0', id, result: result ?? null };
    } catch (e) {
      if (isNotification) {
        if (!(e instanceof RpcError) && typeof (e as { code?: unknown })?.code !== 'string') this.opts.onError?.(e, method);
        return null;
      }
      return this.errorFor(id, method, e);
    }
  }

  private errorFor(id: unknown, method: string, e: unknown): RpcResponse {
    if (e instanceof RpcError) return errorResponse(id, e.rpcCode, e.message, e.data);
    const code = (e as { code?: unknown })?.code;
    if (e instanceof Error && typeof code === 'string') return errorResponse(id, E_APP, e.message, { code });
    this.opts.onError?.(e, method);
    const detail = e instanceof Error ? e.message : String(e);
    return errorResponse(id, E_INTERNAL, `internal error: ${detail}`);
  }
}

function jsonReplacer(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}
