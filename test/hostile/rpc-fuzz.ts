// A JSON-RPC fuzzer for swd's control socket: random methods (real ones,
// unknown ones, non-strings), random params of random types and sizes,
// invalid JSON, batches, lines cut off and finished later, lines cut off
// and abandoned. Each client checks that every request it sent complete was
// answered (one response per id, an error with id null per unparseable
// line) and counts what it saw. Used by test/hostile/rpc-fuzz.test.ts and
// bench/rpc-fuzz.bench.ts.

import { connect, type Socket } from 'node:net';
import { SWITCH_METHODS } from '../../src/ctl/methods.ts';
import { Rng } from './packets.ts';

/** Methods the fuzz leaves alone: they stop the daemon, stream, or change its threads. */
const AVOID = new Set(['shutdown', 'ct-events', 'pmd-set-threads', 'del-br', 'pcap-replay']);
const METHODS = ['version', ...Object.keys(SWITCH_METHODS).filter((m) => !AVOID.has(m))];

function randomValue(r: Rng, depth = 0): unknown {
  switch (r.int(depth > 2 ? 6 : 9)) {
    case 0: return null;
    case 1: return r.int(2) === 0;
    case 2: return r.pick([0, -1, 1, 65535, 65536, 2 ** 31, 2 ** 53, -(2 ** 53), 1.5, Number.MAX_SAFE_INTEGER]);
    case 3: return r.pick(['', 'br0', 'p1', 'zone=1', 'in_port=1,actions=drop', 'ip,actions=ct(commit)', '\u0000', '☃', 'x'.repeat(r.int(5000))]);
    case 4: return String.fromCharCode(...Array.from({ length: r.int(40) }, () => r.int(0x3000)));
    case 5: return r.int(1000);
    case 6: return Array.from({ length: r.int(5) }, () => randomValue(r, depth + 1));
    case 7: { const o: Record<string, unknown> = {}; for (let i = r.int(5); i > 0; i--) o[r.pick(['bridge', 'port', 'zone', 'text', 'match', 'args', 'count', 'verbose', 'x'])] = randomValue(r, depth + 1); return o; }
    default: return { bridge: 'br0', port: r.pick(['p1', 'p2', 'nope']), zone: r.int(3), count: 1 + r.int(3), text: r.pick(['actions=drop', 'bad flow', '']) };
  }
}

/** One request line and what must come back for it. */
export interface FuzzLine {
  text: string;
  /** The id to expect an answer for; null: an error with id null; undefined: no answer (a notification). */
  expect: number | null | undefined;
}

export function fuzzLine(r: Rng, id: number): FuzzLine {
  const kind = r.int(10);
  if (kind === 0) return { text: r.pick(['{', '}', 'null]', '{"jsonrpc":"2.0",', 'not json', '\u00ff\u00fe', '[1,2', '"']), expect: null };
  const method = r.int(6) === 0 ? randomValue(r) : r.pick(METHODS);
  const params = r.int(5) === 0 ? randomValue(r) : { ...(randomValue(r, 2) as object), count: 1 };
  const msg: Record<string, unknown> = { jsonrpc: r.int(20) === 0 ? '1.0' : '2.0', id, method, params };
  if (kind === 1) {
    // a batch of two: one array answer
    return { text: JSON.stringify([msg, { jsonrpc: '2.0', id: id + 0.5, method: 'version' }]), expect: id };
  }
  if (kind === 2 && r.int(3) === 0) {
    delete msg.id; // a notification: answered with nothing
    msg.method = 'version';
    msg.jsonrpc = '2.0';
    return { text: JSON.stringify(msg), expect: undefined };
  }
  if (kind === 3 && r.int(4) === 0) {
    msg.params = { text: 'y'.repeat(100_000 + r.int(400_000)), bridge: 'br0' }; // a big line
    msg.method = 'diff-flows';
  }
  return { text: JSON.stringify(msg), expect: id };
}

export interface ClientReport {
  sent: number;
  answered: number;
  errors: number;
  missing: number[];
  unexpected: number;
}

/**
 * One fuzzing client: sends `n` lines (some split across writes with
 * pauses), then half-closes and collects the answers until the daemon
 * ends the connection. With `abandon`, the last line is left unfinished
 * and the socket destroyed (the daemon must simply forget it).
 */
export function fuzzClient(sock: string, seed: number, n: number, abandon = false): Promise<ClientReport> {
  const r = new Rng(seed);
  return new Promise((resolve, reject) => {
    const s: Socket = connect(sock);
    const want = new Set<number>();
    let nullErrors = 0;
    let gotNull = 0;
    let answered = 0;
    let errors = 0;
    let unexpected = 0;
    let buf = '';
    const take = (m: { id?: unknown; error?: unknown }) => {
      if (m.error) errors++;
      if (m.id === null) { gotNull++; return; }
      if (typeof m.id === 'number' && want.delete(m.id)) { answered++; return; }
      unexpected++;
    };
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let m: unknown;
        try { m = JSON.parse(line); } catch { unexpected++; continue; }
        if (Array.isArray(m)) {
          for (const x of m as { id?: unknown }[]) {
            // the batch's second request (id + 0.5) is not tracked
            if (typeof x?.id === 'number' && !Number.isInteger(x.id)) continue;
            take(x);
          }
        } else take(m as { id?: unknown });
      }
    });
    s.on('error', reject);
    s.on('close', () => resolve({ sent: n, answered, errors, missing: [...want], unexpected: unexpected + Math.max(0, gotNull - nullErrors) }));
    s.on('connect', async () => {
      for (let k = 0; k < n; k++) {
        const id = seed * 100_000 + k;
        const l = fuzzLine(r, id);
        if (typeof l.expect === 'number') want.add(l.expect);
        if (l.expect === null) nullErrors++;
        const text = l.text + '\n';
        if (r.int(8) === 0 && text.length > 2) {
          // half a line, a pause, the rest
          const cut = 1 + r.int(text.length - 1);
          s.write(text.slice(0, cut));
          await new Promise((res) => setTimeout(res, r.int(5)));
          s.write(text.slice(cut));
        } else s.write(text);
      }
      if (abandon) {
        // Once everything is answered: half a request, and hang up.
        for (let i = 0; i < 3000 && want.size > 0; i++) await new Promise((res) => setTimeout(res, 10));
        s.write('{"jsonrpc":"2.0","id":1,"method":"vers');
        setTimeout(() => s.destroy(), 20);
        return;
      }
      s.end();
    });
  });
}

/** Open `n` connections that send nothing (or half a line) and just sit there. */
export async function idleConnections(sock: string, n: number): Promise<Socket[]> {
  const out: Socket[] = [];
  for (let i = 0; i < n; i++) {
    let s: Socket;
    // A full accept queue answers EAGAIN: wait and try again, as a client would.
    for (let attempt = 0; ; attempt++) {
      s = connect(sock);
      const ok = await new Promise<boolean>((res, rej) => {
        s.once('connect', () => res(true));
        s.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EAGAIN' && attempt < 100 ? res(false) : rej(e)));
      });
      if (ok) break;
      s.destroy();
      await new Promise((res) => setTimeout(res, 10));
    }
    s.on('error', () => {});
    if (i % 3 === 0) s.write('{"jsonrpc":"2.0","id":');
    out.push(s);
  }
  return out;
}
