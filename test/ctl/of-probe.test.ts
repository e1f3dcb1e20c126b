// Inactivity probes on accepted connections (a punix: controller target;
// the .mgmt socket is the same listener with OVS's 60 s), on a clock the
// test moves: after the probe interval each idle peer gets an echo request;
// a peer that never answers is dropped after as long again, with OVS's log
// line, while a peer that answers stays connected and keeps being served.

import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PassiveController } from '../../src/ctl/of-controller.ts';
import { OfBridge } from '../../src/ctl/of-bridge.ts';
import { parseTarget } from '../../src/ctl/of-target.ts';
import { Switch } from '../../src/ofproto/switch.ts';
import { encodeHello, finishMsg, startMsg } from '../../src/openflow/header.ts';

const lines: string[] = [];
const log = { info: (_o: object, m: string) => lines.push(m), warn: (_o: object, m: string) => lines.push(m), error: (_o: object, m: string) => lines.push(m), debug: () => {} };
const ECHO_REQUEST = 2, ECHO_REPLY = 3, FEATURES_REQUEST = 5, FEATURES_REPLY = 6;

async function until(fn: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !fn(); i++) await new Promise((r) => setTimeout(r, 25));
  if (!fn()) throw new Error('condition never held');
}

/** A peer that says HELLO and then answers echo requests only if `answers`; it records the types it received. */
function peer(path: string, answers: boolean): { sock: Socket; types: number[]; closed: () => boolean } {
  const sock = connect({ path });
  const types: number[] = [];
  let buf = Buffer.alloc(0);
  let closed = false;
  sock.on('close', () => (closed = true));
  sock.on('error', () => {});
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 8 && buf.length >= buf.readUInt16BE(2)) {
      const msg = buf.subarray(0, buf.readUInt16BE(2));
      buf = buf.subarray(msg.length);
      types.push(msg[1]);
      if (msg[1] === ECHO_REQUEST && answers) sock.write(finishMsg(startMsg(4, ECHO_REPLY, msg.readUInt32BE(4))));
    }
  });
  sock.write(encodeHello(4, 1, [4]));
  return { sock, types, closed: () => closed };
}

let cleanup: (() => void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) f();
});

describe('inactivity probes on accepted connections', () => {
  it('a peer that never answers is dropped after two intervals; one that answers keeps working', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'swd-probe-'));
    const sw = Switch.fromConfig(null, { defaultBridge: true });
    let now = 1_000_000;
    const c = new PassiveController(parseTarget(`punix:${join(dir, 'ctl.sock')}`, dir), { inactivityProbeMs: 5000, maxBackoffMs: 8000 }, () => new OfBridge(sw, 'br0', () => {}), log, () => {}, () => now);
    cleanup.push(() => {
      void c.close();
      sw.close();
      rmSync(dir, { recursive: true, force: true });
    });
    await until(() => c.status(now).state === 'LISTENING');
    lines.length = 0;
    const silent = peer(join(dir, 'ctl.sock'), false);
    const live = peer(join(dir, 'ctl.sock'), true);
    cleanup.push(() => {
      silent.sock.destroy();
      live.sock.destroy();
    });
    const received = () => [...c.connections()].reduce((n, x) => n + x.stats.received, 0);
    await until(() => c.status(now).connections === 2 && received() === 2);

    // Not yet idle long enough: nothing.
    now += 4999;
    c.run(now);
    now += 1;
    c.run(now);
    await until(() => silent.types.includes(ECHO_REQUEST) && live.types.includes(ECHO_REQUEST));
    await until(() => received() === 3); // the live peer's echo reply
    expect(silent.closed()).toBe(false);

    now += 5000;
    c.run(now);
    await until(() => silent.closed());
    expect(lines.filter((l) => l.includes('inactivity probe'))).toEqual([`br0<->punix:${join(dir, 'ctl.sock')}: no response to inactivity probe after 5.0 seconds, disconnecting`]);
    expect(live.closed()).toBe(false);
    expect(c.status(now).connections).toBe(1);
    // The live peer is probed again (it was idle since its reply) and is still served.
    await until(() => live.types.filter((t) => t === ECHO_REQUEST).length === 2);
    live.sock.write(finishMsg(startMsg(4, FEATURES_REQUEST, 9)));
    await until(() => live.types.includes(FEATURES_REPLY));
    now += 5000;
    c.run(now);
    await new Promise((r) => setTimeout(r, 100));
    expect(live.closed()).toBe(false);
  });

  it('an interval of 0 never probes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'swd-probe-'));
    const sw = Switch.fromConfig(null, { defaultBridge: true });
    let now = 1_000_000;
    const c = new PassiveController(parseTarget(`punix:${join(dir, 'ctl.sock')}`, dir), { inactivityProbeMs: 0, maxBackoffMs: 8000 }, () => new OfBridge(sw, 'br0', () => {}), log, () => {}, () => now);
    cleanup.push(() => {
      void c.close();
      sw.close();
      rmSync(dir, { recursive: true, force: true });
    });
    await until(() => c.status(now).state === 'LISTENING');
    const silent = peer(join(dir, 'ctl.sock'), false);
    cleanup.push(() => silent.sock.destroy());
    await until(() => c.status(now).connections === 1);
    for (let i = 0; i < 5; i++) c.run((now += 60_000));
    silent.sock.write(finishMsg(startMsg(4, FEATURES_REQUEST, 9)));
    await until(() => silent.types.includes(FEATURES_REPLY));
    expect(silent.types.includes(ECHO_REQUEST)).toBe(false);
    expect(silent.closed()).toBe(false);
  });
});
