// Decoding rtnetlink link messages (src/datapath/ports/link-msg.ts): the
// interface name, index and flags of RTM_NEWLINK / RTM_DELLINK, several
// messages per datagram, other types skipped, and truncated or lying
// lengths never read outside the datagram.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseLinkMessages, RTM_DELLINK, RTM_NEWLINK } from '../../src/datapath/ports/link-msg.ts';

/** One netlink message: nlmsghdr, ifinfomsg, then IFLA_MTU and IFLA_IFNAME attributes. */
function linkMsg(type: number, ifindex: number, flags: number, name: string): Uint8Array {
  const nameBytes = Buffer.from(`${name}\0`, 'latin1');
  const mtu = 8;
  const ifname = 4 + nameBytes.length;
  const len = 16 + 16 + mtu + ((ifname + 3) & ~3);
  const b = new Uint8Array(len);
  const v = new DataView(b.buffer);
  v.setUint32(0, len, true);
  v.setUint16(4, type, true);
  v.setInt32(20, ifindex, true);
  v.setUint32(24, flags, true);
  v.setUint16(32, mtu, true);
  v.setUint16(34, 4, true); // IFLA_MTU
  v.setUint32(36, 1500, true);
  v.setUint16(40, ifname, true);
  v.setUint16(42, 3, true); // IFLA_IFNAME
  b.set(nameBytes, 44);
  return b;
}

const cat = (...parts: Uint8Array[]) => Uint8Array.from(Buffer.concat(parts));

describe('rtnetlink link messages', () => {
  it('decodes new and deleted links, several per datagram, and skips other types', () => {
    const other = linkMsg(20, 1, 0, 'x'); // RTM_NEWADDR
    const d = cat(linkMsg(RTM_NEWLINK, 7, 0x1043, 'veth0'), other, linkMsg(RTM_DELLINK, 9, 0x1002, 'tap-a.1'));
    expect(parseLinkMessages(d, d.length)).toEqual([
      { kind: 'new', name: 'veth0', ifindex: 7, flags: 0x1043 },
      { kind: 'del', name: 'tap-a.1', ifindex: 9, flags: 0x1002 },
    ]);
  });

  it('a datagram cut at any length yields only the whole messages before the cut', () => {
    const a = linkMsg(RTM_NEWLINK, 3, 1, 'eth1');
    const d = cat(a, linkMsg(RTM_DELLINK, 4, 0, 'eth2'));
    for (let n = 0; n <= d.length; n++) {
      const got = parseLinkMessages(d, n);
      expect(got).toEqual(n < a.length ? [] : n < d.length ? [{ kind: 'new', name: 'eth1', ifindex: 3, flags: 1 }] : got);
    }
    expect(parseLinkMessages(d, d.length)).toHaveLength(2);
  });

  it('random bytes and corrupted lengths never throw', () => {
    const base = cat(linkMsg(RTM_NEWLINK, 3, 1, 'eth1'), linkMsg(RTM_DELLINK, 4, 0, 'eth2'));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.tuple(fc.nat(base.length - 1), fc.nat(255)), { maxLength: 8 }), (rand, muts) => {
        expect(() => parseLinkMessages(rand, rand.length)).not.toThrow();
        const m = base.slice();
        for (const [i, x] of muts) m[i] = x;
        for (const ev of parseLinkMessages(m, m.length)) expect(ev.name.length).toBeLessThanOrEqual(m.length);
      }),
      { numRuns: 500 },
    );
  });
});
