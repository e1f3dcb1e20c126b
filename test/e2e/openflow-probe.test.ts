// Inactivity probes on connections swd accepted, through a real swd: a
// `set-controller br0 ptcp:PORT --inactivity-probe 300` listener drops a
// peer that says HELLO and then never answers an echo request (swd logs
// OVS's line), while a peer that answers stays connected and the real
// ovs-ofctl keeps working on the same listener.

import { spawnSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SwdInstance } from './harness.ts';
import { freePort, swctl, until } from './fake-controller.ts';

function missingOfctl(): string | undefined {
  if (spawnSync('ovs-ofctl', ['--version']).status === 0) return undefined;
  if (process.env.CI === 'true') throw new Error('needs ovs-ofctl: CI installs it and must not skip');
  return 'needs ovs-ofctl (Debian package openvswitch-common)';
}
const noOfctl = missingOfctl();

/** A peer that says HELLO (OpenFlow 1.3), answering echo requests only if `answers`. */
function peer(port: number, answers: boolean): { sock: Socket; echoes: () => number; closed: () => boolean } {
  const sock = connect({ port, host: '127.0.0.1' });
  let buf = Buffer.alloc(0), echoes = 0, closed = false;
  sock.on('close', () => (closed = true));
  sock.on('error', () => {});
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 8 && buf.length >= buf.readUInt16BE(2)) {
      const msg = buf.subarray(0, buf.readUInt16BE(2));
      buf = buf.subarray(msg.length);
      if (msg[1] !== 2) continue;
      echoes++;
      if (answers) sock.write(Buffer.from([4, 3, 0, 8, ...msg.subarray(4, 8)]));
    }
  });
  sock.write(Buffer.from('0400000800000001', 'hex'));
  return { sock, echoes: () => echoes, closed: () => closed };
}

describe('inactivity probes on accepted connections', () => {
  const swd = new SwdInstance();
  beforeAll(async () => {
    await swd.start();
  });
  afterAll(async () => {
    await swd.dispose();
  });

  it.skipIf(noOfctl !== undefined)(`a silent peer is disconnected, one that answers and ovs-ofctl keep working${noOfctl ? ` (skipped: ${noOfctl})` : ''}`, async () => {
    const port = await freePort();
    const r = await swctl(swd.socket, ['set-controller', 'br0', `ptcp:${port}:127.0.0.1`, '--inactivity-probe', '300']);
    expect(r.code).toBe(0);
    await until('listening', async () => JSON.parse((await swctl(swd.socket, ['--json', 'get-controller', 'br0'])).lines.join('\n')).controllers[0].state === 'LISTENING');
    const silent = peer(port, false), live = peer(port, true);
    try {
      await until('the silent peer is dropped', () => silent.closed());
      expect(silent.echoes()).toBeGreaterThanOrEqual(1);
      await until('the live peer was probed twice', () => live.echoes() >= 2);
      expect(live.closed()).toBe(false);
      const ofctl = spawnSync('ovs-ofctl', ['-O', 'OpenFlow13', 'add-flow', `tcp:127.0.0.1:${port}`, 'priority=9,in_port=1,actions=output:2'], { encoding: 'utf8', timeout: 20_000 });
      expect(ofctl.stderr).toBe('');
      expect((await swctl(swd.socket, ['dump-flows', 'br0', '--no-stats'])).lines).toEqual([' priority=9,in_port=1 actions=output:2']);
      expect(live.closed()).toBe(false);
      expect(swd.stderr).toMatch(/br0<->tcp:127\.0\.0\.1:\d+: no response to inactivity probe after 0\.3 seconds, disconnecting/);
    } finally {
      silent.sock.destroy();
      live.sock.destroy();
    }
  });
});
