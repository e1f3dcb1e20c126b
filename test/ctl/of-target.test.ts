// Controller targets as ovs-vsctl spells them, and the clear errors for bad ones.

import { describe, expect, it } from 'vitest';
import { parseTarget, TargetError } from '../../src/ctl/of-target.ts';

const p = (t: string) => parseTarget(t, '/run/swd');

describe('OpenFlow targets', () => {
  it('active: tcp:IP[:PORT] (6653 by default, IPv6 in brackets) and unix:PATH (relative to the run directory)', () => {
    expect(p('tcp:127.0.0.1')).toEqual({ text: 'tcp:127.0.0.1', kind: 'tcp', host: '127.0.0.1', port: 6653 });
    expect(p('tcp:10.0.0.2:6633')).toEqual({ text: 'tcp:10.0.0.2:6633', kind: 'tcp', host: '10.0.0.2', port: 6633 });
    expect(p('tcp:[::1]:7000')).toEqual({ text: 'tcp:[::1]:7000', kind: 'tcp', host: '::1', port: 7000 });
    expect(p('unix:/tmp/c.sock')).toEqual({ text: 'unix:/tmp/c.sock', kind: 'unix', path: '/tmp/c.sock' });
    expect(p('unix:ctl.sock').path).toBe('/run/swd/ctl.sock');
  });

  it('passive: ptcp:[PORT][:IP] binds 127.0.0.1 unless told, punix:PATH', () => {
    expect(p('ptcp:')).toEqual({ text: 'ptcp:', kind: 'ptcp', host: '127.0.0.1', port: 6653 });
    expect(p('ptcp:16653')).toEqual({ text: 'ptcp:16653', kind: 'ptcp', host: '127.0.0.1', port: 16653 });
    expect(p('ptcp:16653:0.0.0.0')).toEqual({ text: 'ptcp:16653:0.0.0.0', kind: 'ptcp', host: '0.0.0.0', port: 16653 });
    expect(p('ptcp:16653:[::1]').host).toBe('::1');
    expect(p('punix:br0.ctl')).toEqual({ text: 'punix:br0.ctl', kind: 'punix', path: '/run/swd/br0.ctl' });
  });

  it('refuses bad targets with a message naming the problem', () => {
    const bad: [string, RegExp][] = [
      ['tcp:', /needs an address/],
      ['tcp:localhost', /'localhost' is not an IP address/],
      ['tcp:1.2.3.4:70000', /bad port '70000'/],
      ['tcp:1.2.3.4:x', /bad port 'x'/],
      ['tcp:::1', /not an IP address \(IPv6 goes in brackets/],
      ['ptcp:abc', /bad port 'abc'/],
      ['ptcp:6653:999.1.1.1', /not an IP address/],
      ['unix:', /needs a socket path/],
      ['ssl:1.2.3.4', /SSL connections are not supported/],
      ['pssl:', /SSL connections are not supported/],
      ['http://x', /unknown connection method/],
      ['127.0.0.1:6653', /unknown connection method/],
    ];
    for (const [t, why] of bad) {
      expect(() => p(t), t).toThrow(TargetError);
      expect(() => p(t), t).toThrow(why);
    }
  });
});
