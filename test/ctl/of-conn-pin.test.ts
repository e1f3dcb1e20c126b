// Packet-ins to a controller that does not read are bounded: once PIN_BACKLOG
// bytes wait unsent in its socket, further packet-ins are dropped and
// counted, and the connection is kept (it may read again later).

import { connect, createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { OfBridge } from '../../src/ctl/of-bridge.ts';
import { OfConnection, PIN_BACKLOG } from '../../src/ctl/of-conn.ts';
import { encodeHello } from '../../src/openflow/header.ts';

const log = { warn: () => {}, debug: () => {} };

describe('packet-in backlog', () => {
  it('drops and counts packet-ins beyond PIN_BACKLOG unsent bytes and keeps the connection', async () => {
    let peer: Socket | null = null;
    const srv = createServer((s) => {
      peer = s;
      s.pause(); // a controller that stopped reading
      s.write(encodeHello(4, 1, [4]));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const sock = connect((srv.address() as { port: number }).port, '127.0.0.1');
    const conn = new OfConnection(sock, { name: 'br0' } as OfBridge, log, {});
    try {
      for (let i = 0; i < 200 && conn.negotiated === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(conn.negotiated).toBe(4);
      const N = 40_000;
      const pkt = new Uint8Array(1400);
      for (let i = 0; i < N; i++) conn.packetIn(1, pkt, 1, 0);
      expect(conn.stats.packetInsDropped).toBeGreaterThan(0);
      expect(conn.stats.packetIns + conn.stats.packetInsDropped).toBe(N);
      expect(sock.writableLength).toBeLessThanOrEqual(PIN_BACKLOG + 2000);
      expect(sock.destroyed).toBe(false);
    } finally {
      conn.close();
      (peer as Socket | null)?.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });
});
