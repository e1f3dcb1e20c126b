// The control socket holds up under garbage: every bad request gets a
// JSON-RPC error and the server keeps serving.

import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DbError, loadDb, saveDb } from '../../src/ctl/db.ts';
import { call, ConnectError, RpcCallError } from '../../src/ctl/rpc-client.ts';
import { MAX_LINE, RpcServer } from '../../src/ctl/rpc-server.ts';
import { resolveRundir, resolveSocket } from '../../src/ctl/rundir.ts';
import { SwitchError } from '../../src/ofproto/api.ts';

/** Send raw text, collect answer lines until `n` lines arrived or the socket closed. */
function raw(path: string, text: string, n: number): Promise<string[]> {
  return new Promise((resolve) => {
    const s = connect(path);
    let buf = '';
    const done = () => {
      s.destroy();
      resolve(buf.split('\n').filter(Boolean));
    };
    s.on('connect', () => {
      s.write(text);
      if (n === 0) s.end(); // hang up half-way through a request
    });
    s.on('data', (d) => {
      buf += d.toString();
      if (buf.split('\n').filter(Boolean).length >= n) done();
    });
    s.on('close', done);
    s.on('error', done);
  });
}

describe('JSON-RPC server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'swd-rpc-'));
  const sock = join(dir, 'swd.sock');
  const server = new RpcServer(
    new Map<string, (p: Record<string, unknown>) => unknown>([
      ['echo', (p) => ({ said: p.text })],
      ['spin', () => {
        // Half a millisecond of work, as a request that parses something does.
        const end = performance.now() + 0.5;
        while (performance.now() < end);
        return {};
      }],
      ['fail', () => {
        throw new SwitchError('ENOBRIDGE', 'no bridge named x');
      }],
      ['crash', () => {
        throw new TypeError('boom');
      }],
    ]),
  );
  beforeAll(() => server.listen(sock));
  afterAll(async () => {
    await server.close(sock);
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the socket owner-only', () => {
    expect(statSync(sock).mode & 0o777).toBe(0o600);
  });

  it('answers a call', async () => {
    expect(await call(sock, 'echo', { text: 'hi' })).toEqual({ said: 'hi' });
  });

  it('answers garbage with the JSON-RPC error codes and keeps serving', async () => {
    const lines = await raw(
      sock,
      'not json\n{"jsonrpc":"2.0","id":1}\n{"jsonrpc":"2.0","id":2,"method":"nope"}\n{"jsonrpc":"2.0","id":3,"method":"echo","params":[1]}\n[]\n42\n',
      6,
    );
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error: request is not valid JSON' } },
      { jsonrpc: '2.0', id: 1, error: { code: -32600, message: 'invalid request: needs jsonrpc "2.0" and a method string' } },
      { jsonrpc: '2.0', id: 2, error: { code: -32601, message: "unknown method 'nope'" } },
      { jsonrpc: '2.0', id: 3, error: { code: -32602, message: 'params must be an object' } },
      { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'empty batch' } },
      { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'invalid request: expected an object' } },
    ]);
    expect(await call(sock, 'echo', { text: 'still here' })).toEqual({ said: 'still here' });
  });

  it('turns application errors into errors with their code, and exceptions into internal errors', async () => {
    await expect(call(sock, 'fail', {})).rejects.toMatchObject({ rpcCode: -32000, message: 'no bridge named x', data: { code: 'ENOBRIDGE' } });
    await expect(call(sock, 'crash', {})).rejects.toBeInstanceOf(RpcCallError);
    await expect(call(sock, 'crash', {})).rejects.toMatchObject({ rpcCode: -32603, message: 'internal error: boom' });
  });

  it('answers a batch in order', async () => {
    const lines = await raw(sock, '[{"jsonrpc":"2.0","id":1,"method":"echo","params":{"text":"a"}},{"jsonrpc":"2.0","id":2,"method":"echo","params":{"text":"b"}}]\n', 1);
    expect(JSON.parse(lines[0])).toEqual([
      { jsonrpc: '2.0', id: 1, result: { said: 'a' } },
      { jsonrpc: '2.0', id: 2, result: { said: 'b' } },
    ]);
  });

  it('closes a connection that sends an over-long line, and keeps serving others', async () => {
    const lines = await raw(sock, 'x'.repeat(MAX_LINE + 10), 1);
    expect(JSON.parse(lines[0])).toEqual({
      jsonrpc: '2.0', id: null, error: { code: -32600, message: `request line longer than ${MAX_LINE} bytes; closing the connection` },
    });
    expect(await call(sock, 'echo', { text: 'ok' })).toEqual({ said: 'ok' });
  });

  it('a client that pipelines a backlog (read in one go) does not hold another client until the backlog is done', async () => {
    const N = 600; // about 30 kB: one read
    const order: string[] = [];
    await new Promise<void>((resolve) => {
      const a = connect(sock);
      let buf = '';
      let seen = 0;
      a.on('connect', () => {
        a.write(Array.from({ length: N }, (_, i) => JSON.stringify({ jsonrpc: '2.0', id: i, method: 'spin' })).join('\n') + '\n');
      });
      a.on('data', (d) => {
        buf += d.toString();
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          buf = buf.slice(nl + 1);
          seen++;
          // Once the backlog is being answered, a second client asks once.
          if (seen === 1) void call(sock, 'echo', { text: 'b' }).then(() => order.push('b answered'));
          if (seen === N) {
            order.push('a done');
            a.destroy();
            resolve();
          }
        }
      });
    });
    expect(order).toEqual(['b answered', 'a done']);
  });

  it('survives a client that disconnects mid-request', async () => {
    await raw(sock, '{"jsonrpc":"2.0","id":1,"meth', 0);
    expect(await call(sock, 'echo', { text: 'ok' })).toEqual({ said: 'ok' });
  });

  it('answers a client that half-closes after its request, even without a final newline', async () => {
    const answer = (text: string) =>
      new Promise<string>((resolve) => {
        const s = connect(sock);
        let buf = '';
        s.on('connect', () => s.end(text)); // write, then EOF
        s.on('data', (d) => (buf += d.toString()));
        s.on('close', () => resolve(buf));
      });
    expect(await answer('{"jsonrpc":"2.0","id":7,"method":"echo","params":{"text":"a"}}\n')).toBe('{"jsonrpc":"2.0","id":7,"result":{"said":"a"}}\n');
    expect(await answer('{"jsonrpc":"2.0","id":8,"method":"echo","params":{"text":"b"}}')).toBe('{"jsonrpc":"2.0","id":8,"result":{"said":"b"}}\n');
  });

  it('reassembles a line split inside a UTF-8 character', async () => {
    const req = Buffer.from('{"jsonrpc":"2.0","id":1,"method":"echo","params":{"text":"ünïcødé ✓"}}\n');
    const cut = req.indexOf(Buffer.from('✓')) + 1;
    const lines = await new Promise<string[]>((resolve) => {
      const s = connect(sock);
      let buf = '';
      s.on('connect', () => {
        s.write(req.subarray(0, cut));
        setTimeout(() => s.write(req.subarray(cut)), 20);
      });
      s.on('data', (d) => {
        buf += d.toString();
        if (buf.endsWith('\n')) {
          s.destroy();
          resolve(buf.split('\n').filter(Boolean));
        }
      });
    });
    expect(JSON.parse(lines[0]).result).toEqual({ said: 'ünïcødé ✓' });
  });

  it('does not answer notifications, and rejects an id that is not a string or number', async () => {
    const lines = await raw(sock, '{"jsonrpc":"2.0","method":"echo","params":{}}\n{"jsonrpc":"2.0","id":{"x":1},"method":"echo"}\n{"jsonrpc":"2.0","id":"last","method":"echo","params":{"text":"z"}}\n', 2);
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'invalid request: id must be a string, a number or null' } },
      { jsonrpc: '2.0', id: 'last', result: { said: 'z' } },
    ]);
  });

  it('serves many clients at once', async () => {
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => call(sock, 'echo', { text: `c${i}` })));
    expect(results).toEqual(Array.from({ length: 100 }, (_, i) => ({ said: `c${i}` })));
  });

  it('answers pipelined requests on one connection in order', async () => {
    const text = Array.from({ length: 50 }, (_, i) => JSON.stringify({ jsonrpc: '2.0', id: i, method: 'echo', params: { text: i } }) + '\n').join('');
    const lines = await raw(sock, text, 50);
    expect(lines.map((l) => JSON.parse(l).id)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('tells the user to start swd when nothing listens', async () => {
    await expect(call(join(dir, 'none.sock'), 'echo', {})).rejects.toBeInstanceOf(ConnectError);
    await expect(call(join(dir, 'none.sock'), 'echo', {})).rejects.toThrow(
      `cannot connect to swd at ${join(dir, 'none.sock')}: is swd running? (start it with \`npm start\` or \`swd start\`)`,
    );
  });
});

describe('run directory', () => {
  it('follows --rundir, $SWD_RUNDIR, /run/swd for root, $XDG_RUNTIME_DIR/swd, /tmp/swd-<uid>', () => {
    expect(resolveRundir('/x', { SWD_RUNDIR: '/y' }, 0)).toBe('/x');
    expect(resolveRundir(undefined, { SWD_RUNDIR: '/y' }, 0)).toBe('/y');
    expect(resolveRundir(undefined, {}, 0)).toBe('/run/swd');
    expect(resolveRundir(undefined, { XDG_RUNTIME_DIR: '/run/user/1000' }, 1000)).toBe('/run/user/1000/swd');
    expect(resolveRundir(undefined, {}, 1000)).toBe('/tmp/swd-1000');
    expect(resolveSocket('/s.sock', undefined, {})).toBe('/s.sock');
    expect(resolveSocket(undefined, undefined, { SWD_SOCKET: '/e.sock' })).toBe('/e.sock');
    expect(resolveSocket(undefined, '/r', {})).toBe('/r/swd.sock');
  });
});

describe('database', () => {
  it('writes atomically and reads back; refuses a corrupt file without touching it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'swd-db-'));
    try {
      const p = join(dir, 'db.json');
      expect(loadDb(p)).toBeNull();
      const cfg = { version: 1 as const, bridges: [{ name: 'br0', ports: [], flows: ['priority=1 actions=drop'] }] };
      saveDb(p, cfg);
      expect(loadDb(p)).toEqual(cfg);
      expect(readdirSync(dir)).toEqual(['db.json']);
      writeFileSync(p, '{"version":1,"bridges":[');
      expect(() => loadDb(p)).toThrow(DbError);
      expect(() => loadDb(p)).toThrow(/database .*db\.json is corrupt .* swd will not overwrite it/);
      expect(readFileSync(p, 'utf8')).toBe('{"version":1,"bridges":[');
      writeFileSync(p, '{"version":2,"bridges":[]}');
      expect(() => loadDb(p)).toThrow(`database ${p} is not an swd database (version 2, expected 1); fix or remove it, swd will not overwrite it`);
      expect(() => saveDb(join(dir, 'nodir', 'db.json'), cfg)).toThrow(DbError);
      expect(readdirSync(dir)).toEqual(['db.json']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
