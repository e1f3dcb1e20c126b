// NORMAL keeps learned MAC addresses alive while traffic hits their megaflow,
// and forgets them once traffic stops (aging), as OVS does.

import { describe, expect, it } from 'vitest';
import { MAC_DEFAULT_AGING_SEC } from '../../src/ofproto/mac-learning.ts';
import { Switch } from '../../src/ofproto/switch.ts';

const FROM_P1 = 'in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1,dst=2)';

describe('NORMAL and MAC aging', () => {
  it('refreshes a learned address while its megaflow carries packets; ages it out after', () => {
    let now = 5_000_000;
    const sw = Switch.fromConfig(null, { now: () => now });
    try {
      sw.addFlows('br0', 'actions=NORMAL', 'test');
      sw.inject('br0', 'p1', FROM_P1, 1);
      const aging = MAC_DEFAULT_AGING_SEC * 1000;
      // Keep sending through the megaflow for longer than the aging time.
      for (let t = 0; t < 2 * aging; t += aging / 4) {
        now += aging / 4;
        sw.inject('br0', 'p1', FROM_P1, 1);
        sw.tick(now);
      }
      expect(sw.fdbShow('br0').entries.map((e) => [e.port, e.mac])).toEqual([[1, '50:54:00:00:00:01']]);
      // Silence: the entry ages out.
      now += aging + 1000;
      sw.tick(now);
      expect(sw.fdbShow('br0').entries).toEqual([]);
    } finally {
      sw.close();
    }
  });
});
