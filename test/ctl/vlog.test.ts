// Log modules with run-time levels: vlog-set in OVS's spellings (LEVEL,
// MODULE:LEVEL, MODULE:DEST:LEVEL, ANY), vlog-list in ovs-appctl
// vlog/list's layout, pino JSON lines that carry their module, and the
// thread's log sink routed to the module loggers.

import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { log } from '../../src/packet/log.ts';
import { Vlog, vlogMethods } from '../../src/ctl/vlog.ts';
import { Params } from '../../src/ctl/methods.ts';

function vlogWithSink(dest: 'console' | 'file' = 'console') {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  const root = pino({ level: 'info', base: null, timestamp: false }, stream);
  return { vlog: new Vlog(root, dest), lines };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('vlog', () => {
  it('lists the modules as ovs-appctl vlog/list does, with the level in the destination swd writes to', () => {
    const { vlog } = vlogWithSink();
    vlog.set('conntrack:dbg');
    vlog.set('rpc:warn');
    expect(vlog.list().lines).toEqual([
      '                 console    syslog    file',
      '                 -------    ------    ------',
      'conntrack          DBG        OFF        OFF',
      'daemon            INFO        OFF        OFF',
      'dpif              INFO        OFF        OFF',
      'metrics           INFO        OFF        OFF',
      'ofproto           INFO        OFF        OFF',
      'rpc               WARN        OFF        OFF',
    ]);
    const f = vlogWithSink('file').vlog;
    expect(f.list().lines[2]).toBe('conntrack          OFF        OFF       INFO');
    expect(f.list().modules.conntrack).toBe('INFO');
  });

  it('vlog-set: LEVEL for all, MODULE:LEVEL, MODULE:DEST:LEVEL, ANY, pino names; errors name the problem', () => {
    const { vlog } = vlogWithSink();
    expect(vlog.set('warn')).toEqual(['conntrack', 'daemon', 'dpif', 'metrics', 'ofproto', 'rpc']);
    expect(vlog.list().modules.dpif).toBe('WARN');
    expect(vlog.set('dpif:console:dbg')).toEqual(['dpif']);
    expect(vlog.set('ANY:any:err')).toHaveLength(6);
    expect(vlog.set('ofproto:debug')).toEqual(['ofproto']);
    expect(vlog.set('rpc:off')).toEqual(['rpc']);
    expect(vlog.list().modules).toMatchObject({ dpif: 'ERR', ofproto: 'DBG', rpc: 'OFF' });
    expect(() => vlog.set('nosuch:info')).toThrow("unknown module, destination or level 'nosuch' (modules: conntrack, daemon, dpif, metrics, ofproto, rpc)");
    expect(() => vlog.set('dpif')).toThrow("no level in 'dpif' (levels: emer, err, warn, info, dbg, off)");
    expect(() => vlog.set('dpif:file:info')).toThrow('swd logs to the console (stderr), not to file');
    expect(() => vlog.set('syslog:info')).toThrow('swd does not log to syslog (destinations: console, file)');
    expect(() => vlog.set('a:b:c:d')).toThrow("bad vlog spec 'a:b:c:d' (expected [MODULE:][DEST:]LEVEL)");
    // Through the RPC table: bad specs are invalid params (-32602), good ones print nothing.
    const m = vlogMethods(vlog);
    expect(m['vlog-set'].call({} as never, new Params({ spec: 'conntrack:info rpc:dbg' }))).toEqual({ changed: ['conntrack', 'rpc'], lines: [] });
    expect(() => m['vlog-set'].call({} as never, new Params({ spec: 'x:info' }))).toThrow(expect.objectContaining({ rpcCode: -32602 }));
  });

  it('each module filters by its own level; lines carry the module; the sink reaches the module loggers', async () => {
    const { vlog, lines } = vlogWithSink();
    vlog.installSink();
    vlog.set('conntrack:dbg');
    vlog.set('dpif:err');
    log('conntrack', 'debug', { zone: 3 }, 'a debug line');
    log('dpif', 'warn', {}, 'a warning dpif does not want');
    log('dpif', 'error', { port: 'p1' }, 'an error');
    vlog.module('daemon').debug('not at info');
    log('ftp', 'warn', {}, 'a module that appeared at run time');
    await flush();
    expect(lines).toEqual([
      { level: 20, module: 'conntrack', zone: 3, msg: 'a debug line' },
      { level: 50, module: 'dpif', port: 'p1', msg: 'an error' },
      { level: 40, module: 'ftp', msg: 'a module that appeared at run time' },
    ]);
    expect(vlog.list().modules.ftp).toBe('INFO');
  });
});
