// The method table: parameters are checked before the switch is called,
// changes are saved, a failed save is reported, and a switch without
// conntrack says so.

import { describe, expect, it } from 'vitest';
import { buildMethods, SWITCH_METHODS } from '../../src/ctl/methods.ts';
import { RpcServer } from '../../src/ctl/rpc-server.ts';
import { FakeSwitch } from './fake-switch.ts';

function setup(save: () => void = () => {}) {
  const sw = new FakeSwitch();
  sw.addBridge('br0');
  let saves = 0;
  const server = new RpcServer(
    buildMethods({
      sw,
      save: () => {
        saves++;
        save();
      },
      shutdown: () => {},
      version: '9.9.9',
    }),
  );
  const req = async (method: string, params: unknown) => server.handleLine(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }));
  return { sw, req, saves: () => saves };
}

describe('RPC methods', () => {
  it('covers the issue 3 commands', () => {
    for (const m of ['add-br', 'del-br', 'list-br', 'add-port', 'del-port', 'show', 'dump-ports', 'add-flows', 'mod-flows', 'del-flows', 'dump-flows', 'inject', 'pcap-replay', 'trace', 'dump-dp-flows', 'del-dp-flows', 'fdb-show']) {
      expect(SWITCH_METHODS[m], m).toBeDefined();
    }
  });

  it('checks parameters and answers -32602 naming the parameter', async () => {
    const { req, saves } = setup();
    expect(await req('add-br', {})).toEqual({ jsonrpc: '2.0', id: 1, error: { code: -32602, message: "parameter 'bridge' must be a non-empty string" } });
    expect(await req('add-port', { bridge: 'br0', port: 'p', ofport: 'x' })).toMatchObject({ error: { code: -32602, message: "parameter 'ofport' must be an integer from 1 to 65279" } });
    expect(await req('add-port', { bridge: 'br0', port: 'p', options: { a: 1 } })).toMatchObject({ error: { code: -32602, message: "parameter 'options' must be an object of strings" } });
    expect(await req('inject', { bridge: 'br0', port: 'p', packet: 'aa', count: 0 })).toMatchObject({ error: { code: -32602 } });
    expect(await req('del-flows', { bridge: 'br0', strict: 'yes' })).toMatchObject({ error: { code: -32602, message: "parameter 'strict' must be true or false" } });
    expect(saves()).toBe(0);
  });

  it('saves after a successful change only', async () => {
    const { req, saves } = setup();
    expect(await req('add-br', { bridge: 'br1' })).toEqual({ jsonrpc: '2.0', id: 1, result: {} });
    expect(saves()).toBe(1);
    expect(await req('add-br', { bridge: 'br1' })).toEqual({ jsonrpc: '2.0', id: 1, error: { code: -32000, message: 'bridge br1 already exists', data: { code: 'EEXIST' } } });
    expect(await req('list-br', {})).toEqual({ jsonrpc: '2.0', id: 1, result: { bridges: ['br0', 'br1'] } });
    expect(saves()).toBe(1);
  });

  it('reports a change that could not be saved', async () => {
    const { req } = setup(() => {
      throw new Error('disk full');
    });
    expect(await req('add-br', { bridge: 'br2' })).toEqual({
      jsonrpc: '2.0',
      id: 1,
      error: { code: -32000, message: 'add-br was applied but not saved: disk full', data: { code: 'EDB' } },
    });
  });

  it('answers ENOTSUP for conntrack commands when the switch has no conntrack', async () => {
    const { req } = setup();
    expect(await req('dump-conntrack', {})).toEqual({
      jsonrpc: '2.0',
      id: 1,
      error: { code: -32000, message: 'connection tracking is not available in this switch', data: { code: 'ENOTSUP' } },
    });
  });

  it('answers ENOTSUP for group commands when the switch has no groups, after checking parameters', async () => {
    const { req, saves } = setup();
    for (const m of ['add-groups', 'mod-groups', 'del-groups', 'dump-groups', 'dump-group-stats']) {
      expect(await req(m, { bridge: 'br0' }), m).toEqual({
        jsonrpc: '2.0',
        id: 1,
        error: { code: -32000, message: 'OpenFlow groups are not available in this switch', data: { code: 'ENOTSUP' } },
      });
    }
    expect(await req('dump-groups', { bridge: 'br0', groupId: -1 })).toMatchObject({ error: { code: -32602, message: "parameter 'groupId' must be an integer from 0 to 4294967295" } });
    expect(await req('mod-groups', { bridge: 'br0', mayCreate: 1 })).toMatchObject({ error: { code: -32602, message: "parameter 'mayCreate' must be true or false" } });
    expect(saves()).toBe(0);
  });

  it('reports its version', async () => {
    const { req } = setup();
    expect(await req('version', {})).toEqual({ jsonrpc: '2.0', id: 1, result: { version: '9.9.9', lines: ['swd 9.9.9'] } });
  });
});
