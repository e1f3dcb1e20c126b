// A minimal OpenFlow controller for tests, listening on 127.0.0.1: it says
// HELLO in one version, answers echo requests while `answerEchoes` is true,
// and records what swd sends (every message by type, packet-ins with their
// reason). Each accepted connection is kept in `conns`, in order.

import { execFile } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { encodeHello } from '../../src/openflow/header.ts';
import { encodeEchoReply } from '../../src/openflow/switch-msgs.ts';

export const OFPT_ECHO_REQUEST = 2;
export const OFPT_PACKET_IN = 10;

export interface FakeConn {
  sock: Socket;
  closed: boolean;
  /** Message types received, in order. */
  types: number[];
  /** Packet-in reasons (0 no_match, 1 action), in order. */
  packetInReasons: number[];
}

export class FakeController {
  readonly conns: FakeConn[] = [];
  answerEchoes = true;
  private server: Server | null = null;
  port = 0;

  /** `admit`: send a BARRIER_REQUEST after HELLO, which makes swd count the connection as admitted (rconn). */
  constructor(private readonly version: number, private readonly admit = false) {}

  async listen(port = 0): Promise<void> {
    this.server = createServer((sock) => this.accept(sock));
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', () => r()));
    this.port = (this.server.address() as { port: number }).port;
  }

  private accept(sock: Socket): void {
    const c: FakeConn = { sock, closed: false, types: [], packetInReasons: [] };
    this.conns.push(c);
    sock.write(encodeHello(this.version, 1, [this.version]));
    // BARRIER_REQUEST: type 18 in OpenFlow 1.0, 20 from 1.1 on.
    if (this.admit) sock.write(Buffer.from([this.version, this.version === 1 ? 18 : 20, 0, 8, 0, 0, 0, 2]));
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 8 && buf.length >= buf.readUInt16BE(2)) {
        const msg = buf.subarray(0, buf.readUInt16BE(2));
        buf = buf.subarray(msg.length);
        c.types.push(msg[1]);
        if (msg[1] === OFPT_ECHO_REQUEST && this.answerEchoes) sock.write(encodeEchoReply(Buffer.from(msg)));
        if (msg[1] === OFPT_PACKET_IN) c.packetInReasons.push(this.version === 1 ? msg[16] : msg[14]);
      }
    });
    sock.on('close', () => (c.closed = true));
    sock.on('error', () => {});
  }

  /** OpenFlow 1.3 ROLE_REQUEST (2 master, 3 slave) on the latest connection. */
  requestRole(role: number): void {
    const m = Buffer.alloc(24);
    m.writeUInt8(4, 0);
    m.writeUInt8(24, 1);
    m.writeUInt16BE(24, 2);
    m.writeUInt32BE(7, 4);
    m.writeUInt32BE(role, 8);
    this.conns[this.conns.length - 1].sock.write(m);
  }

  /** Stop listening and drop every connection. */
  async close(): Promise<void> {
    for (const c of this.conns) c.sock.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server = null;
  }
}

/**
 * swctl without blocking this process (a fake controller in it must go on
 * answering while swctl runs); stdout lines, or a failure with stderr.
 */
export async function swctl(socket: string, args: string[]): Promise<{ code: number; lines: string[]; stderr: string }> {
  const bin = new URL('../../bin/swctl.js', import.meta.url).pathname;
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, '--socket', socket, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, lines: stdout.split('\n').filter((l) => l.length > 0), stderr });
    });
  });
}

/** A TCP port on 127.0.0.1 nobody listens on (bound once by the kernel's choice, then freed). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export async function until(what: string, fn: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
