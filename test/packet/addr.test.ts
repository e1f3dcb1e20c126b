// The one address parser (src/packet/addr.ts) reads what ovs-ofctl reads:
// four decimal IPv4 parts (a leading 0 is still decimal), inet_pton's IPv6.
// Where ipaddr.js's rules differ, the difference is pinned here.

import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { ipv4FromText, ipv6FromText } from '../../src/packet/addr.ts';

const words = (w: Uint32Array | null) => (w ? [...w].map((x) => x.toString(16)) : null);

describe('ipv4FromText', () => {
  it('reads four decimal parts', () => {
    expect(ipv4FromText('10.1.1.1')).toBe(0x0a010101);
    expect(ipv4FromText('255.255.255.255')).toBe(0xffffffff);
    expect(ipv4FromText('0.0.0.0')).toBe(0);
  });

  it('rejects what ovs-ofctl rejects, where ipaddr.js accepts it', () => {
    expect(ipaddr.IPv4.isValid('10.1')).toBe(true);
    expect(ipv4FromText('10.1')).toBeNull();
    expect(ipv4FromText('10')).toBeNull();
    expect(ipv4FromText('10.1.1')).toBeNull();
    for (const bad of ['10.1.1.256', '10.1.1.1.1', '10.1.1.', '.10.1.1', '10.1.1.-1', '10.1.1.0x1', ' 10.1.1.1', '10.1.1.1/24', '']) {
      expect(ipv4FromText(bad), bad).toBeNull();
    }
  });

  it('reads a leading 0 as decimal, where ipaddr.js reads octal', () => {
    expect(ipaddr.IPv4.parse('010.1.1.1').toString()).toBe('8.1.1.1');
    expect(ipv4FromText('010.1.1.1')).toBe(0x0a010101);
    expect(ipv4FromText('10.001.01.0')).toBe(0x0a010100);
  });

  it('round-trips every address', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (v) => {
      const text = `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
      expect(ipv4FromText(text)).toBe(v);
    }));
  });
});

describe('ipv6FromText', () => {
  it('reads full, compressed and IPv4-suffixed forms', () => {
    expect(words(ipv6FromText('fd00:0:0:0:0:0:0:1'))).toEqual(['fd000000', '0', '0', '1']);
    expect(words(ipv6FromText('fd00::1'))).toEqual(['fd000000', '0', '0', '1']);
    expect(words(ipv6FromText('::'))).toEqual(['0', '0', '0', '0']);
    expect(words(ipv6FromText('::FFFF:10.1.1.1'))).toEqual(['0', '0', 'ffff', 'a010101']);
    expect(words(ipv6FromText('1:2:3:4:5:6:7:8'))).toEqual(['10002', '30004', '50006', '70008']);
  });

  it('rejects what inet_pton rejects', () => {
    for (const bad of ['fd00::1::2', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7:8::', '12345::1', 'fd00::g', '::10.1', 'fe80::1%eth0', '10.1.1.1', '']) {
      expect(ipv6FromText(bad), bad).toBeNull();
    }
    // ipaddr.js takes a zone index; ovs-ofctl does not.
    expect(ipaddr.IPv6.isValid('fe80::1%eth0')).toBe(true);
  });

  it('agrees with ipaddr.js on addresses without zone or IPv4 quirks', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }), (g) => {
      const text = ipaddr.IPv6.parse(g.map((x) => x.toString(16)).join(':')).toString();
      const want = [0, 1, 2, 3].map((i) => (((g[2 * i] << 16) | g[2 * i + 1]) >>> 0).toString(16));
      expect(words(ipv6FromText(text))).toEqual(want);
    }));
  });
});
