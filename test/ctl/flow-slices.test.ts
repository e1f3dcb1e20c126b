// Big flow files over the control socket (ofproto/flow-slices.ts and the
// bridge queues of ctl/methods.ts): parsed in slices, they give what a
// whole-file parse gives (lines, numbers, the first error's position), are
// still applied all or nothing, and keep their place among the requests on
// their bridge, while requests on another bridge are answered meanwhile.

import { describe, expect, it } from 'vitest';
import { buildMethods } from '../../src/ctl/methods.ts';
import { RpcServer } from '../../src/ctl/rpc-server.ts';
import { parseFlowModSliced, SMALL_TEXT } from '../../src/ofproto/flow-slices.ts';
import { parseFlowModFile } from '../../src/ofproto/parse-flow.ts';
import { withPortNames } from '../../src/ofproto/field-text.ts';
import { Switch } from '../../src/ofproto/switch.ts';

const PORTS = new Map([['p1', 1], ['p2', 2]]);

/** A file of n flows with comments and blank lines among them, and (`commands`) a modify line every 1000. */
function bigFile(n: number, commands = true): string {
  const out: string[] = ['# a big file', ''];
  for (let i = 0; i < n; i++) {
    if (i % 500 === 7) out.push('  # a comment', '');
    const flow = `cookie=1,priority=${(i % 60000) + 1},ip,nw_src=10.${i >> 16}.${(i >> 8) & 255}.${i & 255},actions=output:p2`;
    out.push(commands && i % 1000 === 999 ? `modify ${flow.replace('output:p2', 'drop')}` : flow);
  }
  return out.join('\n');
}

function setup() {
  const sw = new Switch({});
  sw.addBridge('br0');
  sw.addBridge('br1');
  sw.addPort('br0', { name: 'p1', type: 'dummy', ofport: 1 });
  sw.addPort('br0', { name: 'p2', type: 'dummy', ofport: 2 });
  const server = new RpcServer(buildMethods({ sw, save: () => {}, shutdown: () => {}, version: '0' }));
  let id = 0;
  const req = (method: string, params: unknown) => server.handleLine(JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params })) as Promise<{ result?: any; error?: any }>;
  return { sw, req };
}

describe('big flow files over the control socket', () => {
  it('a sliced parse gives the whole-file parse: same lines, same numbers', async () => {
    const text = bigFile(2000);
    expect(text.length).toBeGreaterThan(SMALL_TEXT);
    const whole = withPortNames(PORTS, () => parseFlowModFile(text, 'f.txt'), true);
    const sliced = await parseFlowModSliced(PORTS, text, 'f.txt', 0); // yield after every slice
    expect(sliced).toEqual(whole);
    expect(sliced.at(-1)!.line).toBe(text.split('\n').length);
  });

  it('an error deep in a big file is reported at its place in the file, and nothing of the file is applied', async () => {
    const { req } = setup();
    expect((await req('add-flows', { bridge: 'br0', text: 'priority=1,actions=drop' })).result).toEqual({ added: 1, modified: 0, deleted: 0 });
    const lines = bigFile(4000).split('\n');
    lines[3500] = 'priority=5,ip,nw_src=10.0.0.1,actions=output:nope';
    const text = lines.join('\n');
    let whole = '';
    try {
      withPortNames(PORTS, () => parseFlowModFile(text, 'f.txt'), true);
    } catch (e) {
      whole = (e as Error).message;
    }
    expect(whole).toMatch(/^f\.txt:3501:\d+: /);
    const r = await req('add-flows', { bridge: 'br0', text, file: 'f.txt' });
    expect(r.error.message).toBe(whole);
    const dump = await req('dump-flows', { bridge: 'br0', noStats: true });
    expect(dump.result.lines).toEqual([' priority=1 actions=drop']);
  });

  it('requests on the same bridge keep their order; another bridge is answered while a big file is parsed', async () => {
    const { req } = setup();
    const done: string[] = [];
    const track = <T>(name: string, p: Promise<T>) => p.then((v) => (done.push(name), v));
    // The big file's last flow is replaced by the small request sent after it.
    const big = bigFile(8000) + '\npriority=7,ip,nw_dst=10.9.9.9,actions=drop';
    const a = track('big add-flows br0', req('add-flows', { bridge: 'br0', text: big }));
    const b = track('small add-flows br0', req('add-flows', { bridge: 'br0', text: 'priority=7,ip,nw_dst=10.9.9.9,actions=output:p1' }));
    const c = track('dump-flows br1', req('dump-flows', { bridge: 'br1', noStats: true }));
    const d = track('dump-flows br0', req('dump-flows', { bridge: 'br0', match: 'ip,nw_dst=10.9.9.9', noStats: true }));
    const [ra, rb, rc, rd] = await Promise.all([a, b, c, d]);
    expect(done).toEqual(['dump-flows br1', 'big add-flows br0', 'small add-flows br0', 'dump-flows br0']);
    expect(ra.result).toEqual({ added: 8001 - 8, modified: 8, deleted: 0 });
    expect(rb.result).toEqual({ added: 1, modified: 0, deleted: 0 });
    expect(rc.result.lines).toEqual([]);
    expect(rd.result.lines).toEqual([' priority=7,ip,nw_dst=10.9.9.9 actions=output:1']);
  });

  it('diff-flows and replace-flows of a big file give what the whole-file commands give', async () => {
    const { sw, req } = setup();
    const text = bigFile(3000, false);
    sw.addFlows('br1', 'priority=1,actions=drop', '-');
    const before = sw.diffFlows('br1', text.replaceAll('p2', '2'), 'f.txt');
    const r = await req('diff-flows', { bridge: 'br1', text: text.replaceAll('p2', '2'), file: 'f.txt' });
    expect(r.result).toEqual(JSON.parse(JSON.stringify(before)));
    const rr = await req('replace-flows', { bridge: 'br0', text, file: 'f.txt' });
    expect(rr.error).toBeUndefined();
    const dump = await req('dump-flows', { bridge: 'br0', noStats: true });
    expect(dump.result.lines).toHaveLength(3000);
  });
});
