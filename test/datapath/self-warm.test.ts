// The PMD thread's synthetic warm-up (src/datapath/pmd/self-warm.ts): its
// traffic really takes the packet path it is meant to compile — every
// packet forwarded through the ACL by its own conntrack (connections
// committed, none invalid), both ports sending — and it can be turned off;
// a keep-warm tick sends an echo and its reply through the same ACL.

import { describe, expect, it } from 'vitest';
import { keepWarm, selfWarm } from '../../src/datapath/pmd/self-warm.ts';

describe('PMD self warm-up', () => {
  it('forwards every packet through the ACL and its own conntrack', () => {
    const r = selfWarm(150);
    expect(r.packets).toBeGreaterThan(100);
    expect(r.invalid).toBe(0);
    expect(r.commits).toBeGreaterThan(0);
    expect(r.sent[0]).toBeGreaterThan(0);
    expect(r.sent[1]).toBeGreaterThan(0);
    // Nothing dropped: the pings, UDP and TCP are all allowed by the ACL (new from port 1, established both ways).
    expect(r.sent[0] + r.sent[1]).toBe(r.packets);
  });

  it('does nothing with a budget of 0', () => {
    expect(selfWarm(0)).toEqual({ packets: 0, ms: 0, commits: 0, invalid: 0, sent: [0, 0] });
  });

  it('a keep-warm tick forwards one echo request and its reply, tick after tick', () => {
    const sent: number[] = [];
    for (let i = 0; i < 50; i++) sent.push(keepWarm());
    expect(sent).toEqual(new Array(50).fill(2));
  });
});
