// Fragment reassembly before conntrack (src/conntrack/ipf.ts), through a
// datapath whose flows are ct(zone=1,commit[,nat]),recirc(1) then
// output:2: fragments are held until whole, conntrack sees the datagram,
// and port 2 sends the original fragments (NAT applied to each, checksums
// right) — never the reassembled packet. Counters and limits as OVS's ipf.

import { describe, expect, it } from 'vitest';
import { Conntrack } from '../../src/conntrack/conntrack.ts';
import { formatIpfStatus, IPF_NFRAG_UBOUND } from '../../src/conntrack/ipf-shared.ts';
import { conntrackHook, Datapath } from '../../src/datapath/datapath.ts';
import { ct, output, recirc, type DpAction } from '../../src/datapath/dp-actions.ts';
import { DpPort } from '../../src/datapath/port.ts';
import { DummyBackend } from '../../src/datapath/ports/dummy.ts';
import { CS_TRACKED, CS_NEW, CS_INVALID, CS_ESTABLISHED, CS_REPLY_DIR, CS_SRC_NAT, CS_DST_NAT, FK_CT_STATE, FK_RECIRC_ID, FK_WORDS } from '../../src/packet/flow-key.ts';
import type { NatSpec } from '../../src/nat/range.ts';
import { hex, Recorder } from '../datapath/recorder.ts';
import { checkFragments, fragments, type Datagram } from './frag-packets.ts';

const V4: Datagram = { src: '10.1.1.1', dst: '10.1.1.2', proto: 17, sport: 1000, dport: 53, size: 3000 };
const V6: Datagram = { src: 'fc00::1', dst: 'fc00::2', proto: 17, sport: 1000, dport: 53, size: 3000 };
const CUTS = [1400, 2800];

interface Rig {
  dp: Datapath;
  ctk: Conntrack;
  p2: Recorder;
  /** ct_state of each packet seen after recirculation (what the flow table would match). */
  states: number[];
  send(frames: Uint8Array[], nowMs?: number): void;
  status(verbose?: boolean): string;
}

function rigOut(nat: NatSpec | null = null): Rig {
  const ctk = Conntrack.create({ capacity: 4096 });
  const states: number[] = [];
  const hook = conntrackHook(ctk);
  // Every ct() run records the ct_state it gave (the whole packet's, for fragments).
  const recording = {
    ipf: hook.ipf,
    execute(...a: Parameters<typeof hook.execute>) {
      hook.execute(...a);
      states.push(a[2][a[3] + FK_CT_STATE]);
    },
  };
  const mask = new Uint32Array(FK_WORDS);
  mask[FK_RECIRC_ID] = 0xffffffff;
  const acts0: DpAction[] = [ct({ zone: 1, commit: true, force: false, mark: null, label: null, nat, alg: null }), recirc(1)];
  const acts1: DpAction[] = [output(2)];
  const dp = new Datapath((key) => ({ actions: key[FK_RECIRC_ID] === 0 ? acts0 : acts1, mask }), recording);
  const p2 = new Recorder();
  dp.addPort(new DpPort(1, 'p1', new DummyBackend(), {}));
  dp.addPort(new DpPort(2, 'p2', p2, {}));
  return {
    dp, ctk, p2, states,
    send(frames, nowMs = 1000) {
      dp.receive(1, frames, nowMs);
    },
    status(verbose = false) {
      return formatIpfStatus(ctk.ipf.shared.status(), verbose ? ctk.ipf.dumpLists() : null);
    },
  };
}

const line = (s: string, name: string) => s.split('\n').find((l) => l.trim().startsWith(name))!.trim();

describe('ipf: fragments reassembled before conntrack', () => {
  for (const [fam, g] of [['IPv4', V4], ['IPv6', V6]] as const) {
    it(`${fam}: in order, held until whole, tracked as one +new packet, the original fragments sent`, () => {
      const r = rigOut();
      const fr = fragments(g, CUTS);
      r.send(fr.slice(0, 2));
      expect(r.p2.sent).toEqual([]);
      expect(r.ctk.ipf.shared.status().nfrag).toBe(2);
      r.send(fr.slice(2));
      expect(r.p2.sent).toEqual(fr.map(hex));
      expect(r.states).toEqual([CS_TRACKED | CS_NEW]);
      const v = fam === 'IPv4' ? 'v4' : 'v6';
      const st = r.status();
      expect(line(st, `${v} frags accepted`)).toBe(`${v} frags accepted: 3`);
      expect(line(st, `${v} frags completed`)).toBe(`${v} frags completed: 3`);
      expect(line(st, 'num frag:')).toBe('num frag: 0');
      expect(r.ctk.nconns()).toBe(1);
    });

    it(`${fam}: out of order (last, first, middle) reassembled; the fragments leave in datagram order`, () => {
      const r = rigOut();
      const fr = fragments(g, CUTS);
      r.send([fr[2], fr[0], fr[1]]);
      expect(r.p2.sent).toEqual(fr.map(hex));
      expect(r.states).toEqual([CS_TRACKED | CS_NEW]);
    });

    it(`${fam}: an overlapping fragment is not held, counted, and tracked +inv; the datagram still completes`, () => {
      const r = rigOut();
      const fr = fragments(g, CUTS);
      const over = fragments(g, [1200, 2800])[1]; // 1200..2800 overlaps 1400..2800
      r.send([fr[0], fr[1], over]);
      expect(r.states).toEqual([CS_TRACKED | CS_INVALID]);
      const v = fam === 'IPv4' ? 'v4' : 'v6';
      expect(line(r.status(), `${v} frags overlapped`)).toBe(`${v} frags overlapped: 1`);
      r.send([fr[2]]);
      expect(r.states).toEqual([CS_TRACKED | CS_INVALID, CS_TRACKED | CS_NEW]);
      expect(r.p2.sent).toEqual([hex(over), ...fr.map(hex)]);
    });

    it(`${fam}: a non-last fragment below the minimum size is counted too small and tracked +inv`, () => {
      const r = rigOut();
      const fr = fragments(g, [800]);
      r.send(fr);
      const v = fam === 'IPv4' ? 'v4' : 'v6';
      expect(line(r.status(), `${v} frags too small`)).toBe(`${v} frags too small: 1`);
      // The first is too small and passes on (+inv); the last alone is held.
      expect(r.states).toEqual([CS_TRACKED | CS_INVALID]);
      expect(r.ctk.ipf.shared.status().nfrag).toBe(1);
      // With a lower minimum the same fragments reassemble.
      const r2 = rigOut();
      expect(r2.ctk.ipf.shared.setMinFrag(fam === 'IPv6', 400)).toBe(true);
      r2.send(fragments(g, [800]));
      expect(r2.states).toEqual([CS_TRACKED | CS_NEW]);
    });

    it(`${fam}: a list that never completes expires after 15 s, its fragments counted expired`, () => {
      const r = rigOut();
      const fr = fragments(g, CUTS);
      r.send([fr[0], fr[2]], 1000);
      expect(r.ctk.ipf.dumpLists().length).toBe(1);
      r.send([], 15_999);
      r.ctk.ipf.expire(15_999);
      expect(r.ctk.ipf.dumpLists().length).toBe(1);
      r.ctk.ipf.expire(16_000);
      const v = fam === 'IPv4' ? 'v4' : 'v6';
      expect(line(r.status(), `${v} frags expired`)).toBe(`${v} frags expired: 2`);
      expect(line(r.status(), 'num frag:')).toBe('num frag: 0');
      expect(r.p2.sent).toEqual([]);
    });

    it(`${fam}: disabled, fragments go to conntrack as they are (+inv)`, () => {
      const r = rigOut();
      r.ctk.ipf.shared.setEnabled(fam === 'IPv6', false);
      r.send(fragments(g, CUTS));
      expect(r.states).toEqual([CS_TRACKED | CS_INVALID, CS_TRACKED | CS_INVALID, CS_TRACKED | CS_INVALID]);
      expect(r.p2.sent.length).toBe(3);
    });
  }

  it('IPv6: the fragment header after hop-by-hop and destination options headers', () => {
    const r = rigOut();
    const fr = fragments({ ...V6, v6ExtBefore: true }, CUTS, [1, 2, 0]);
    r.send(fr);
    expect(r.states).toEqual([CS_TRACKED | CS_NEW]);
    expect(r.p2.sent).toEqual([fr[2], fr[0], fr[1]].map(hex));
    expect(checkFragments(r.p2.sent).l4CsumOk).toBe(true);
  });

  it('ipf-get-status -m lists the held fragment lists in OVS format', () => {
    const r = rigOut();
    r.send([fragments(V4, CUTS)[0]]);
    r.send([fragments({ ...V6, id: 99 }, CUTS)[2]]);
    expect(r.status(true)).toBe(
      [
        '        Fragmentation Module Status',
        '        ---------------------------',
        '        v4 enabled: 1',
        '        v6 enabled: 1',
        '        max num frags (v4/v6): 1000',
        '        num frag: 2',
        '        min v4 frag size: 1200',
        '        v4 frags accepted: 1',
        '        v4 frags completed: 0',
        '        v4 frags expired: 0',
        '        v4 frags too small: 0',
        '        v4 frags overlapped: 0',
        '        v4 frags purged: 0',
        '        min v6 frag size: 1280',
        '        v6 frags accepted: 1',
        '        v6 frags completed: 0',
        '        v6 frags expired: 0',
        '        v6 frags too small: 0',
        '        v6 frags overlapped: 0',
        '        v6 frags purged: 0',
        '',
        '        Fragment Lists:',
        '',
        '(src=10.1.1.1,dst=10.1.1.2,recirc_id=0,ip_id=4660,dl_type=0x800,zone=1,nw_proto=17,num_fragments=1,state=first frag)',
        '(src=fc00::1,dst=fc00::2,recirc_id=0,ip_id=99,dl_type=0x86dd,zone=1,nw_proto=0,num_fragments=1,state=last frag)',
        '',
      ].join('\n'),
    );
  });

  it('a flood of first fragments holds at most max-nfrags; the rest pass through; all expire', () => {
    const r = rigOut();
    const n = 3000;
    for (let i = 0; i < n; i += 30) {
      const batch: Uint8Array[] = [];
      for (let j = i; j < i + 30 && j < n; j++) batch.push(fragments({ ...V4, id: j }, CUTS)[0]);
      r.send(batch);
    }
    const s = r.ctk.ipf.shared.status();
    expect(s.nfrag).toBe(1000);
    expect(s.v4.accepted).toBe(1000);
    expect(r.ctk.ipf.held()).toBe(1000);
    expect(r.states.length).toBe(n - 1000); // the rest went on to conntrack as +inv
    for (let t = 16_001; r.ctk.ipf.held() > 0; t += 1) r.ctk.ipf.expire(t);
    expect(r.ctk.ipf.shared.status().v4.expired).toBe(1000);
    expect(r.ctk.ipf.shared.setMaxNfrags(IPF_NFRAG_UBOUND + 1)).toBe(false);
  });

  it('a datagram of 65000 bytes (47 fragments) reassembles', () => {
    const r = rigOut();
    const g = { ...V4, size: 65000 - 28 };
    const cuts: number[] = [];
    for (let c = 1480; c < g.size + 8; c += 1480) cuts.push(c);
    const fr = fragments(g, cuts);
    r.send(fr);
    expect(r.states).toEqual([CS_TRACKED | CS_NEW]);
    expect(r.p2.sent.length).toBe(fr.length);
    expect(r.p2.sent).toEqual(fr.map(hex));
  });
});

describe('ipf with NAT: each fragment carries the translation', () => {
  for (const [fam, g, nat, want] of [
    ['IPv4', V4, { kind: 'src', addrMin: '10.1.1.240' }, '0a0101f00a010102'],
    ['IPv6', V6, { kind: 'src', addrMin: 'fc00::f0' }, 'fc0000000000000000000000000000f0fc000000000000000000000000000002'],
  ] as const) {
    it(`${fam} SNAT of fragmented UDP: addresses in every fragment, port and checksum in the first, all checksums valid`, () => {
      const r = rigOut(nat as unknown as NatSpec);
      r.send(fragments(g, CUTS, [1, 0, 2]));
      expect(r.states).toEqual([CS_TRACKED | CS_NEW | CS_SRC_NAT]);
      expect(r.p2.sent.length).toBe(3);
      const c = checkFragments(r.p2.sent);
      expect(c.addrs).toEqual([want, want, want]);
      expect(c.ipCsumOk).toBe(true);
      expect(c.l4CsumOk).toBe(true);
      // The reply, fragmented too, comes back un-NATed.
      const back = fragments({ ...g, src: g.dst, dst: fam === 'IPv4' ? '10.1.1.240' : 'fc00::f0', sport: 53, dport: c.l4[0] * 256 + c.l4[1] }, CUTS);
      r.p2.sent.length = 0;
      r.send(back);
      expect(r.states[1]).toBe(CS_TRACKED | CS_ESTABLISHED | CS_REPLY_DIR | CS_DST_NAT);
      const b = checkFragments(r.p2.sent);
      const orig = fam === 'IPv4' ? '0a0101020a010101' : 'fc000000000000000000000000000002fc000000000000000000000000000001';
      expect(b.addrs).toEqual([orig, orig, orig]);
      expect(b.ipCsumOk && b.l4CsumOk).toBe(true);
      expect((b.l4[2] << 8) | b.l4[3]).toBe(1000);
    });
  }

  it('SNAT with a port range rewrites the port in the first fragment only', () => {
    const r = rigOut({ kind: 'src', addrMin: '10.1.1.240', portMin: 2000, portMax: 2000 } as unknown as NatSpec);
    const fr = fragments(V4, CUTS);
    r.send(fr);
    const c = checkFragments(r.p2.sent);
    expect((c.l4[0] << 8) | c.l4[1]).toBe(2000);
    expect(c.l4CsumOk).toBe(true);
    // Later fragments' payload bytes are untouched.
    for (const i of [1, 2]) expect(r.p2.sent[i].slice(68)).toBe(hex(fr[i]).slice(68));
  });
});
