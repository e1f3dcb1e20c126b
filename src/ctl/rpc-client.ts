// swctl's side of the socket: one connection, one request, one answer.

import { connect } from 'node:net';

export class RpcCallError extends Error {
  constructor(
    readonly rpcCode: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

export class ConnectError extends Error {}

export function call(socketPath: string, method: string, params: Record<string, unknown>, timeoutMs = 30_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let buf = '';
    let settled = false;
    const done = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      fn();
    };
    const timer = setTimeout(() => done(() => reject(new Error(`no answer from swd within ${timeoutMs} ms`))), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) + '\n'));
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      let msg: { result?: unknown; error?: { code: number; message: string; data?: unknown } };
      try {
        msg = JSON.parse(buf.slice(0, nl));
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
      done(() =>
        reject(
          e.code === 'ENOENT' || e.code === 'ECONNREFUSED'
            ? new ConnectError(`cannot connect to swd at ${socketPath}: is swd running? (start it with \`npm start\` or \`swd start\`)`)
            : e,
        ),
      );
    });
    sock.on('close', () => done(() => reject(new Error('swd closed the connection without answering'))));
  });
}
