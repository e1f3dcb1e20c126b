// swctl's side of ct-events: one connection that stays open, a `ct-events`
// request, then one line per event notification until the daemon goes
// away or swctl is interrupted (SIGINT/SIGTERM end it quietly, exit 0).
//
// Text: the conntrack -E lines; a LOST notice as
// `[LOST] N events (where)` so that a reader sees gaps. --json: one JSON
// object per line (NDJSON), the notification's params.
//
// A reader that stops reading (stdout blocked, `| sleep`) makes swctl stop
// reading the socket (backpressure), so the daemon's queue for this client
// fills and it drops and counts this client's events; the datapath never
// waits for us.

import { connect } from 'node:net';
import { ConnectError, RpcCallError } from './rpc-client.ts';

export interface EventNotice {
  type: string;
  line?: string;
  count?: number;
  where?: string;
  [k: string]: unknown;
}

export function eventText(p: EventNotice): string {
  if (p.type === 'LOST') return `[LOST] ${p.count} events (${p.where === 'client' ? 'this reader was too slow' : 'the event rings were full'})`;
  return String(p.line ?? '');
}

export function streamEvents(socketPath: string, params: Record<string, unknown>, json: boolean,
  out: NodeJS.WritableStream = process.stdout): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let buf = '';
    let started = false;
    const stop = () => {
      sock.destroy();
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const finish = (fn: () => void) => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      sock.destroy();
      fn();
    };
    out.on('error', () => finish(resolve)); // EPIPE: the reader went away
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ct-events', params }) + '\n'));
    sock.on('data', (d: string) => {
      buf += d;
      let nl: number;
      let blocked = false;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let msg: { id?: unknown; result?: unknown; error?: { code: number; message: string; data?: unknown }; method?: string; params?: EventNotice };
        try {
          msg = JSON.parse(line);
        } catch {
          return finish(() => reject(new Error('swd sent an invalid answer')));
        }
        if (msg.error) {
          const e = msg.error;
          return finish(() => reject(new RpcCallError(e.code, e.message, e.data)));
        }
        if (!started && msg.id !== undefined) {
          started = true;
          continue;
        }
        if (msg.method === 'ct-event' && msg.params) {
          const text = json ? JSON.stringify(msg.params) : eventText(msg.params);
          if (!out.write(text + '\n')) blocked = true;
        }
      }
      if (blocked) {
        sock.pause();
        out.once('drain', () => sock.resume());
      }
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      finish(() => reject(e.code === 'ENOENT' || e.code === 'ECONNREFUSED'
        ? new ConnectError(`cannot connect to swd at ${socketPath}: is swd running? (start it with \`npm start\` or \`swd start\`)`)
        : new ConnectError(`cannot connect to swd at ${socketPath}: ${e.message}`)));
    });
    sock.on('close', () => finish(started ? resolve : () => reject(new Error('swd closed the connection without answering'))));
  });
}
