// Newline-delimited JSON-RPC 2.0 over a Unix socket. One request per line;
// one response line per request (batches: one array line). Every failure is
// answered with a JSON-RPC error; nothing a client sends can throw out of
// here. A connection that sends a line over MAX_LINE bytes gets an error and
// is closed.

import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';

export const MAX_LINE = 16 * 1024 * 1024;

export const E_PARSE = -32700;
export const E_INVALID_REQUEST = -32600;
export const E_METHOD_NOT_FOUND = -32601;
export const E_INVALID_PARAMS = -32602;
export const E_INTERNAL = -32603;
/** Application errors (SwitchError, ParseError...) carry their code in data.code. */
export const E_APP = -32000;

export class RpcError extends Error {
  constructor(readonly rpcCode: number, message: string, readonly data?: unknown) {
    super(message);
  }
}

export type Handler = (params: Record<string, unknown>) => unknown | Promise<unknown>;

interface Response {
  jsonrpc: '2.0';
  id: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

export interface RpcServerOptions {
  onError?: (err: unknown, method: string) => void;
}

export class RpcServer {
  private server: Server | null = null;
  private readonly conns = new Set<Socket>();

  constructor(
    private readonly methods: Map<string, Handler>,
    private readonly opts: RpcServerOptions = {},
  ) {}

  listen(path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = createServer((sock) => this.onConnection(sock));
      server.once('error', reject);
      server.listen(path, () => {
        try {
          chmodSync(path, 0o600);
        } catch (e) {
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

  close(path?: string): Promise<void> {
    for (const c of this.conns) c.destroy();
    return new Promise((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => {
        if (path && existsSync(path)) {
          try {
            unlinkSync(path);
          } catch {
            // already gone
          }
        }
        resolve();
      });
    });
  }

  private onConnection(sock: Socket): void {
    this.conns.add(sock);
    let buf = '';
    let queue = Promise.resolve();
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE && !buf.includes('\n')) {
        this.write(sock, { jsonrpc: '2.0', id: null, error: { code: E_INVALID_REQUEST, message: `request line longer than ${MAX_LINE} bytes` } });
        sock.end();
        buf = '';
        return;
      }
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        // Requests on one connection are answered in order.
        queue = queue.then(() => this.handleLine(line)).then((out) => {
          if (out !== null) this.write(sock, out);
        });
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => this.conns.delete(sock));
  }

  private write(sock: Socket, out: unknown): void {
    if (sock.writable) sock.write(JSON.stringify(out, jsonReplacer) + '\n');
  }

  async handleLine(line: string): Promise<Response | Response[] | null> {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      return { jsonrpc: '2.0', id: null, error: { code: E_PARSE, message: 'parse error: request is not valid JSON' } };
    }
    if (Array.isArray(msg)) {
      if (msg.length === 0) return { jsonrpc: '2.0', id: null, error: { code: E_INVALID_REQUEST, message: 'empty batch' } };
      const out: Response[] = [];
      for (const m of msg) {
        const r = await this.handleOne(m);
        if (r) out.push(r);
      }
      return out.length ? out : null;
    }
    return this.handleOne(msg);
  }

  private async handleOne(msg: unknown): Promise<Response | null> {
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      return { jsonrpc: '2.0', id: null, error: { code: E_INVALID_REQUEST, message: 'invalid request: expected an object' } };
    }
    const m = msg as Record<string, unknown>;
    const id = m.id ?? null;
    const isNotification = !('id' in m);
    if (m.jsonrpc !== '2.0' || typeof m.method !== 'string') {
      return { jsonrpc: '2.0', id, error: { code: E_INVALID_REQUEST, message: 'invalid request: needs jsonrpc "2.0" and a method string' } };
    }
    const handler = this.methods.get(m.method);
    if (!handler) return { jsonrpc: '2.0', id, error: { code: E_METHOD_NOT_FOUND, message: `unknown method '${m.method}'` } };
    const params = m.params ?? {};
    if (typeof params !== 'object' || params === null || Array.isArray(params)) {
      return { jsonrpc: '2.0', id, error: { code: E_INVALID_PARAMS, message: 'params must be an object' } };
    }
    try {
      const result = await handler(params as Record<string, unknown>);
      return isNotification ? null : { jsonrpc: '2.0', id, result: result ?? null };
    } catch (e) {
      if (e instanceof RpcError) return { jsonrpc: '2.0', id, error: { code: e.rpcCode, message: e.message, data: e.data } };
      const code = (e as { code?: unknown }).code;
      if (e instanceof Error && typeof code === 'string') {
        return { jsonrpc: '2.0', id, error: { code: E_APP, message: e.message, data: { code } } };
      }
      this.opts.onError?.(e, m.method);
      return { jsonrpc: '2.0', id, error: { code: E_INTERNAL, message: `internal error: ${(e as Error)?.message ?? String(e)}` } };
    }
  }
}

function jsonReplacer(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}
