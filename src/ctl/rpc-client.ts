// swctl's side of the socket: one connection, one request, one answer.

import { connect } from 'node:net';

/** The daemon answered with a JSON-RPC error. */
export class RpcCallError extends Error {
  constructor(
    readonly rpcCode: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = 'RpcCallError';
  }
}

/** Nobody (or nobody we may talk to) listens on the socket. */
export class ConnectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectError';
  }
}

export function call(socketPath: string, method: string, params: Record<string, unknown>, timeoutMs = 30_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    const chunks: Buffer[] = [];
    let settled = false;
    const done = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      fn();
    };
    const timer = setTimeout(
      () => done(() => reject(new Error(`no answer from swd at ${socketPath} within ${timeoutMs / 1000} s`))),
      timeoutMs,
    );
    sock.on('connect', () => sock.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) + '\n'));
    sock.on('data', (d: Buffer) => {
      const nl = d.indexOf(0x0a);
      if (nl < 0) {
        chunks.push(d);
        return;
      }
      chunks.push(d.subarray(0, nl));
      let msg: { result?: unknown; error?: { code: number; message: string; data?: unknown } };
      try {
        msg = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return done(() => reject(new Error('swd sent an invalid answer')));
      }
      if (msg.error) {
        const e = msg.error;
        return done(() => reject(new RpcCallError(e.code, e.message, e.data)));
      }
      done(() => resolve(msg.result));
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      done(() => {
        if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === 'ENOTDIR') {
          reject(new ConnectError(`cannot connect to swd at ${socketPath}: is swd running? (start it with \`npm start\` or \`swd start\`)`));
        } else if (e.code === 'EACCES' || e.code === 'EPERM') {
          reject(new ConnectError(`cannot connect to swd at ${socketPath}: permission denied (the socket belongs to another user)`));
        } else {
          reject(new ConnectError(`cannot connect to swd at ${socketPath}: ${e.message}`));
        }
      });
    });
    sock.on('close', () => done(() => reject(new Error('swd closed the connection without answering'))));
  });
}
