// The flow tables of OVS's own `conntrack - *` system tests
// (tests/system-traffic.at at v3.1.0, extracted unchanged by
// scripts/extract-conntrack-flows.mjs) load into a running swd through
// add-flows, and dump-flows then shows each flow as `ovs-ofctl parse-flows`
// (Debian's 3.1, recorded once in the .expected files) normalised it,
// the tables using the FTP/TFTP helpers (ct(alg=...)) included.
// A table's groups (NN-name.groups, from the test's add-group) are added first.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../../src/ctl/rpc-client.ts';
import { SwdInstance } from './harness.ts';

const DIR = join(import.meta.dirname, '../ofproto/fixtures/conntrack');
const FIXTURES = readdirSync(DIR).filter((f) => f.endsWith('.flows')).sort();

/** A parse-flows flow-mod line as dump-flows --no-stats prints the flow once installed. */
export function dumpLineOf(flowMod: string): string {
  const m = /^\S+ \(xid=0x[0-9a-f]+\): ADD (?:table:(\d+) )?(.*)$/.exec(flowMod);
  if (!m) throw new Error(`not a parse-flows ADD line: ${flowMod}`);
  const table = m[1] === undefined || m[1] === '255' ? 0 : Number(m[1]);
  let rest = m[2];
  const head: string[] = [];
  const cookie = /(?:^| )cookie:(0x[0-9a-f]+)/.exec(rest);
  if (cookie) head.push(`cookie=${cookie[1]}`);
  if (table) head.push(`table=${table}`);
  for (const [k, name] of [['idle', 'idle_timeout'], ['hard', 'hard_timeout']]) {
    const t = new RegExp(`(?:^| )${k}:(\\d+)`).exec(rest);
    if (t) head.push(`${name}=${t[1]}`);
  }
  rest = rest.replace(/(^| )(cookie|idle|hard):\S+/g, '').trim();
  return ` ${head.length ? head.join(', ') + ', ' : ''}${rest}`;
}

/** What the table holds after adding the flows in order: a later flow with the same table, priority and match replaces an earlier one. */
function expectedTable(expected: string): string[] {
  const byKey = new Map<string, string>();
  for (const l of expected.split('\n').filter((x) => / ADD /.test(x))) {
    const d = dumpLineOf(l);
    byKey.set(d.slice(0, d.indexOf(' actions=')), d);
  }
  return [...byKey.values()].sort();
}

describe("OVS's conntrack system-test flow tables load unchanged", () => {
  const swd = new SwdInstance();
  const bridgeOf = new Map<string, string>();
  const rpc = (method: string, params: Record<string, unknown>) => call(swd.socket, method, params, 30_000) as Promise<Record<string, unknown>>;

  beforeAll(async () => {
    await swd.start();
    // One bridge per set of port names the tables use (names are switch-wide).
    let n = 1;
    for (const f of FIXTURES) {
      const ports = /^# ports: (.*)$/m.exec(readFileSync(join(DIR, f), 'utf8'))?.[1];
      if (!ports) {
        bridgeOf.set(f, 'br0');
        continue;
      }
      const known = [...bridgeOf.entries()].find(([g]) => /^# ports: (.*)$/m.exec(readFileSync(join(DIR, g), 'utf8'))?.[1] === ports);
      if (known) {
        bridgeOf.set(f, known[1]);
        continue;
      }
      const br = `br${n++}`;
      await rpc('add-br', { bridge: br });
      for (const kv of ports.split(' ')) {
        const [name, ofport] = kv.split('=');
        await rpc('add-port', { bridge: br, port: name, type: 'dummy', ofport: Number(ofport) });
      }
      bridgeOf.set(f, br);
    }
  }, 60_000);
  afterAll(() => swd.dispose());

  it('there are at least 70 flow tables, some with port names and some with ct(alg=)', () => {
    expect(FIXTURES.length).toBeGreaterThanOrEqual(70);
    const texts = FIXTURES.map((f) => readFileSync(join(DIR, f), 'utf8'));
    expect(texts.filter((t) => t.includes('# ports:')).length).toBeGreaterThanOrEqual(3);
    expect(texts.filter((t) => t.includes('alg=')).length).toBeGreaterThanOrEqual(5);
  });

  for (const f of FIXTURES) {
    it(f, async () => {
      const text = readFileSync(join(DIR, f), 'utf8');
      const bridge = bridgeOf.get(f)!;
      await rpc('del-flows', { bridge });
      await rpc('del-groups', { bridge });
      const groups = join(DIR, f.replace(/\.flows$/, '.groups'));
      if (existsSync(groups)) await rpc('add-groups', { bridge, text: readFileSync(groups, 'utf8'), file: groups });
      const add = rpc('add-flows', { bridge, text, file: f });
      await add;
      const dump = await rpc('dump-flows', { bridge, noStats: true });
      expect([...(dump.lines as string[])].sort()).toEqual(expectedTable(readFileSync(join(DIR, f.replace(/\.flows$/, '.expected')), 'utf8')));
    });
  }

  it('through swctl: add-flows of a table with port names, dump-flows --names prints them as ovs-ofctl does', () => {
    const f = FIXTURES.find((x) => readFileSync(join(DIR, x), 'utf8').includes('in_port=ovs-p0') && !readFileSync(join(DIR, x), 'utf8').includes('alg='))!;
    const bridge = bridgeOf.get(f)!;
    swd.ok(['del-flows', bridge]);
    swd.ok(['add-flows', '--bundle', bridge, join(DIR, f)]);
    const byNumber = swd.ok(['dump-flows', bridge, '--no-stats']);
    const byName = swd.ok(['dump-flows', bridge, '--no-stats', '--names']);
    expect(byNumber.some((l) => l.includes('in_port=1'))).toBe(true);
    // ovs-ofctl quotes a name that is not letters and digits: in_port="ovs-p0", output:"ovs-p1".
    expect(byName).toEqual(byNumber.map((l) => l.replace(/in_port=1\b/g, 'in_port="ovs-p0"').replace(/in_port=2\b/g, 'in_port="ovs-p1"')
      .replace(/output:1\b/g, 'output:"ovs-p0"').replace(/output:2\b/g, 'output:"ovs-p1"')));
  });
});
