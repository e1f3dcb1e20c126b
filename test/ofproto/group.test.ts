// Group text fidelity: swd prints, line for line, what `ovs-ofctl
// dump-groups` (OVS 3.1) printed for the corpus (recorded once with
// `ovs-ofctl -O OpenFlow15 add-groups` and plain `dump-groups`, sorted by
// group id as swd dumps them); malformed groups fail with one located line;
// and bucket selection follows the weights and the hashed fields.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ParseError } from '../../src/ofproto/errors.ts';
import type { Bucket } from '../../src/ofproto/group.ts';
import { formatGroup } from '../../src/ofproto/group-format.ts';
import { parseGroupFile, parseGroupText } from '../../src/ofproto/group-parse.ts';
import { bestLiveBucket, symmetricL4Hash } from '../../src/ofproto/group-select.ts';
import { parseOdpFlow } from '../../src/packet/odp-parse.ts';
import { FK_ETH_DST_HI, FK_NW_DST, FK_NW_SRC, FK_TP_DST, FK_TP_SRC, FK_WORDS } from '../../src/packet/flow-key.ts';

const FIX = join(import.meta.dirname, 'fixtures');
const lines = (s: string) => s.split('\n').filter((l) => l.length > 0);
const pos = { file: '(command line)', line: 1, col: 0 };

describe('dump-groups fidelity with ovs-ofctl', () => {
  it('corpus-groups: every group as ovs-ofctl printed it', () => {
    const parsed = parseGroupFile(readFileSync(join(FIX, 'corpus-groups.groups'), 'utf8'), 'corpus-groups.groups', 'add');
    const got = parsed.map((p) => p.spec).sort((a, b) => a.groupId - b.groupId).map(formatGroup);
    expect(got).toEqual(lines(readFileSync(join(FIX, 'corpus-groups.expected'), 'utf8')));
    expect(got.length).toBeGreaterThanOrEqual(30);
  });

  it('what dump-groups prints parses back to the same group (the database stores it so)', () => {
    for (const l of lines(readFileSync(join(FIX, 'corpus-groups.expected'), 'utf8'))) {
      expect(formatGroup(parseGroupText(l, 'add', pos))).toBe(l);
    }
  });
});

describe('malformed groups: one located line with OVS\'s words', () => {
  const errorOf = (text: string, command: 'add' | 'modify' | 'delete' = 'add'): string => {
    try {
      parseGroupText(text, command, pos);
    } catch (e) {
      expect(e).toBeInstanceOf(ParseError);
      return (e as Error).message;
    }
    throw new Error('no error');
  };
  const cases: [string, string][] = [
    ['group_id=10,type=select,bucket=weight=70000,output:1', '(command line):1:39: invalid weight "70000"'],
    ['group_id=10,type=select,bucket=weight=-1,output:1', '(command line):1:39: invalid weight "-1"'],
    ['group_id=10,type=select,bucket=foo,output:1', "(command line):1:32: unknown action 'foo'"],
    ['group_id=10,type=bogus,bucket=output:1', '(command line):1:18: invalid group type bogus'],
    ['type=all,bucket=output:1', '(command line):1:1: must specify a group_id'],
    ['group_id=10,bucket=output:1', '(command line):1:1: must specify a type'],
    ['group_id=10,type=indirect,bucket=output:1,bucket=output:2', '(command line):1:43: Indirect groups can have at most one bucket.'],
    ['group_id=10,type=ff,bucket=output:1', '(command line):1:28: fast failover bucket requires watch_port or watch_group'],
    ['group_id=10,type=all,bucket=weight=5,output:1', '(command line):1:22: Only select groups can have bucket weights.'],
    ['group_id=10,type=all,bucket=bucket_id=0xfffffff0,output:1', '(command line):1:39: invalid bucket_id id 4294967280'],
    ['group_id=10,type=all,bucket=bucket_id:first,output:1', '(command line):1:39: invalid numeric format first'],
    ['group_id=10,type=all,frob=1,bucket=output:1', '(command line):1:22: unknown keyword frob'],
    ['group_id=10,type=select,fields(ip_src),bucket=output:1', '(command line):1:25: fields may only be specified with "selection_method=hash"'],
    ['group_id=10,type=select,selection_method=hash,fields(bogus),bucket=output:1', '(command line):1:54: bogus: unknown field bogus'],
    ['group_id=10,type=select,selection_method=foo,bucket=output:1', "(command line):1:42: selection method 'foo' is not supported (expected hash or dp_hash)"],
    ['group_id=10,type=ff,bucket=watch_port:LOCAL,output:1', '(command line):1:39: LOCAL: invalid watch_port'],
    ['group_id=4294967290,type=all,bucket=output:1', '(command line):1:10: invalid group id 4294967290'],
    ['group_id=10,type=all,bucket=watch_port:1', '(command line):1:29: bucket must specify actions'],
    ['group_id=10,type=all,bucket=output:1,ct(commit', "(command line):1:40: unbalanced parentheses: '(' without ')'"],
  ];
  for (const [text, msg] of cases) it(text, () => expect(errorOf(text)).toBe(msg));

  it('del-groups takes only a group id', () => {
    expect(errorOf('group_id=1,type=all', 'delete')).toBe('(command line):1:12: type is not needed');
    expect(parseGroupText('', 'delete', pos).groupId).toBe(0xfffffffc);
    expect(parseGroupText('group_id=7', 'delete', pos).groupId).toBe(7);
  });

  it('a groups file reports the line, and returns nothing when one line is bad', () => {
    expect(() => parseGroupFile('# c\ngroup_id=1,type=all,bucket=output:1\n\n  group_id=2,type=all,bucket=weight=3,output:1\n', 'g.txt', 'add')).toThrow(
      'g.txt:4:23: Only select groups can have bucket weights.',
    );
  });

  it('never throws anything but a ParseError on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        try {
          parseGroupText(s, 'add', pos);
        } catch (e) {
          return e instanceof ParseError;
        }
        return true;
      }),
      { numRuns: 2000 },
    );
  });
});

describe('bucket selection', () => {
  const key = (text: string) => parseOdpFlow(text).key;
  const tcpKey = (sport: number) =>
    key(`in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.9.0.1,dst=10.0.0.100,proto=6,tos=0,ttl=64,frag=no),tcp(src=${sport},dst=80)`);
  const buckets = (weights: number[]): Bucket[] => weights.map((w, i) => ({ bucketId: i, weight: w, watchPort: null, watchGroup: null, actions: [] }));
  const live = () => true;

  it('the default hash reads and unwildcards the Ethernet and IP addresses, the protocol and the TCP ports', () => {
    const wc = new Uint32Array(FK_WORDS);
    symmetricL4Hash(tcpKey(1000), (w, m = 0xffffffff) => (wc[w] |= m));
    expect([wc[FK_ETH_DST_HI], wc[FK_NW_SRC], wc[FK_NW_DST], wc[FK_TP_SRC], wc[FK_TP_DST]]).toEqual([0xffff, 0xffffffff, 0xffffffff, 0xffff, 0xffff]);
    // UDP ports are not part of OVS's symmetric L4 hash.
    const udp = key('in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.9.0.1,dst=10.0.0.100,proto=17,tos=0,ttl=64,frag=no),udp(src=1,dst=2)');
    const wu = new Uint32Array(FK_WORDS);
    symmetricL4Hash(udp, (w, m = 0xffffffff) => (wu[w] |= m));
    expect([wu[FK_TP_SRC], wu[FK_TP_DST]]).toEqual([0, 0]);
  });

  it('is symmetric: both directions of a connection hash alike', () => {
    const a = tcpKey(1000);
    const b = key('in_port(2),eth(src=50:54:00:00:00:02,dst=50:54:00:00:00:01),eth_type(0x0800),ipv4(src=10.0.0.100,dst=10.9.0.1,proto=6,tos=0,ttl=64,frag=no),tcp(src=80,dst=1000)');
    expect(symmetricL4Hash(a, () => {})).toBe(symmetricL4Hash(b, () => {}));
  });

  it('spreads connections roughly by weight, and a zero weight takes nothing while others are live', () => {
    const count = [0, 0, 0];
    for (let p = 0; p < 3000; p++) count[bestLiveBucket(buckets([100, 100, 200]), symmetricL4Hash(tcpKey(p), () => {}), live)]++;
    expect(count[0]).toBeGreaterThan(450);
    expect(count[1]).toBeGreaterThan(450);
    expect(count[2]).toBeGreaterThan(count[0]);
    for (let p = 0; p < 200; p++) expect(bestLiveBucket(buckets([0, 1]), symmetricL4Hash(tcpKey(p), () => {}), live)).toBe(1);
  });

  it('rendezvous: taking a bucket away moves only the connections it had', () => {
    for (let p = 0; p < 500; p++) {
      const h = symmetricL4Hash(tcpKey(p), () => {});
      const before = bestLiveBucket(buckets([1, 1, 1]), h, live);
      const after = bestLiveBucket(buckets([1, 1, 1]), h, (b) => b.bucketId !== 2);
      if (before !== 2) expect(after).toBe(before);
    }
    expect(bestLiveBucket(buckets([1, 1]), 123, () => false)).toBe(-1);
  });

  it('bucket ids left out are given as ovs-ofctl gives them', () => {
    const ids = (t: string) => parseGroupText(t, 'add', pos).buckets.map((b) => b.bucketId);
    expect(ids('group_id=1,type=all,bucket=output:1,bucket=output:2,bucket=bucket_id=1,output:3')).toEqual([0, 2, 1]);
    expect(ids('group_id=1,type=all,bucket=bucket_id=7,output:1,bucket=output:2')).toEqual([7, 0]);
  });
});
