// A packet carries the connection its ct() found (OVS: pkt->md.conn): the
// next ct() in the same zone uses it — no second lookup, no second count,
// a second nat() on a translated packet ignored — while a ct() in another
// zone, force, or a record reused meanwhile take the full path.

import { describe, expect, it } from 'vitest';
import { Harness, ctExec, ctStateText, loadPacket } from './helpers.ts';
import { compileNat } from '../../src/nat/range.ts';
import { FK_CT_MARK, FK_CT_STATE, FK_NW_DST, FK_NW_SRC } from '../../src/packet/flow-key.ts';
import type { CtExec } from '../../src/conntrack/execute.ts';
import { Conntrack } from '../../src/conntrack/conntrack.ts';
import { conntrackHook, Datapath } from '../../src/datapath/datapath.ts';
import { ct, ctClear, type DpAction } from '../../src/datapath/dp-actions.ts';
import { DpPort } from '../../src/datapath/port.ts';
import { DummyBackend } from '../../src/datapath/ports/dummy.ts';
import { composePacket } from '../../src/packet/compose.ts';
import { parseOdpFlow } from '../../src/packet/odp-parse.ts';

const MARK = { value: 0xac, mask: 0xffffffff };

/** Run the packet already in slot 0 through one more ct(). */
function again(h: Harness, o: Partial<CtExec>): string {
  h.ct.execute(h.batch, 0, h.batch.keys, 0, ctExec(o), h.now);
  return ctStateText(h.batch.keys[FK_CT_STATE]);
}

const counts = (h: Harness) => h.ct.dump(undefined, h.now).map((c) => [c.packetsOrig, c.packetsReply]);

describe('conntrack: the connection carried by the packet', () => {
  it('ct(table=N) then ct(commit,exec(mark)): the same connection, marked, counted once, ct_state kept', () => {
    const h = new Harness();
    expect(h.send('10.1.1.1', '10.1.1.2', { proto: 17, sport: 1000, dport: 53 })).toBe('+trk+new');
    expect(h.send('10.1.1.2', '10.1.1.1', { proto: 17, sport: 53, dport: 1000 }, { commit: false })).toBe('+trk+est+rpl');
    expect(again(h, { mark: MARK })).toBe('+trk+est+rpl');
    expect(h.batch.keys[FK_CT_MARK]).toBe(0xac);
    expect(h.ct.nconns()).toBe(1);
    expect(counts(h)).toEqual([[1, 1]]);
    expect(h.dump()).toEqual(['udp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=1000,dport=53),reply=(src=10.1.1.2,dst=10.1.1.1,sport=53,dport=1000),mark=172']);
  });

  it('DNAT then ct(commit,nat(src)) in the same zone: the SNAT is ignored, one connection', () => {
    const h = new Harness();
    const dnat = compileNat({ kind: 'dst', addrMin: '10.1.1.2', portMin: 80 });
    const snat = compileNat({ kind: 'src', addrMin: '10.1.1.240' });
    expect(h.send('10.1.1.1', '172.1.1.2', { proto: 6, sport: 34567, dport: 8080, flags: 'S' }, { nat: dnat })).toBe('+trk+new+dnat');
    expect(again(h, { nat: snat, mark: MARK })).toBe('+trk+new+dnat');
    expect(h.batch.keys[FK_NW_SRC] >>> 0).toBe(0x0a010101);
    expect(h.batch.keys[FK_NW_DST] >>> 0).toBe(0x0a010102);
    expect(h.dump()).toEqual(['tcp,orig=(src=10.1.1.1,dst=172.1.1.2,sport=34567,dport=8080),reply=(src=10.1.1.2,dst=10.1.1.1,sport=80,dport=34567),mark=172,protoinfo=(state=SYN_SENT)']);
    expect(counts(h)).toEqual([[1, 0]]);
  });

  it('a ct() in another zone looks the packet up there (and carries that zone\'s connection on)', () => {
    const h = new Harness();
    expect(h.send('10.1.1.1', '10.1.1.2', { proto: 17, sport: 1000, dport: 53 }, { zone: 1 })).toBe('+trk+new');
    expect(again(h, { zone: 2 })).toBe('+trk+new');
    expect(again(h, { zone: 2, mark: MARK })).toBe('+trk+new');
    expect(h.dump()).toEqual([
      'udp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=1000,dport=53),reply=(src=10.1.1.2,dst=10.1.1.1,sport=53,dport=1000),zone=1',
      'udp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=1000,dport=53),reply=(src=10.1.1.2,dst=10.1.1.1,sport=53,dport=1000),zone=2,mark=172',
    ]);
  });

  it('a connection removed and its record reused meanwhile is not used: the packet is looked up again', () => {
    const h = new Harness();
    expect(h.send('10.1.1.1', '10.1.1.2', { proto: 17, sport: 1000, dport: 53 })).toBe('+trk+new');
    const carried = h.batch.ctConn[0];
    expect(carried).not.toBe(0);
    // Flush, and let another packet's commit take the same record; then the first packet again, carrying what it had.
    const b = h.batch;
    const conn = [b.ctConn[0], b.ctConnId[0], b.ctConnMd[0]];
    expect(h.ct.flush()).toBe(1);
    h.send('10.9.9.9', '10.1.1.2', { proto: 17, sport: 7, dport: 7 });
    loadPacket(b, '10.1.1.1', '10.1.1.2', { proto: 17, sport: 1000, dport: 53 });
    [b.ctConn[0], b.ctConnId[0], b.ctConnMd[0]] = conn;
    expect(b.ctConn[0]).toBe(carried);
    // The record is someone else's now (another id): this ct() creates the flushed connection again.
    expect(again(h, { mark: MARK })).toBe('+trk+new');
    expect(h.dump()).toEqual([
      'udp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=1000,dport=53),reply=(src=10.1.1.2,dst=10.1.1.1,sport=53,dport=1000),mark=172',
      'udp,orig=(src=10.9.9.9,dst=10.1.1.2,sport=7,dport=7),reply=(src=10.1.1.2,dst=10.9.9.9,sport=7,dport=7)',
    ]);
  });

  it('force takes the full path: a connection found in the reply direction ends and a new one starts', () => {
    const h = new Harness();
    h.send('10.1.1.1', '10.1.1.2', { proto: 17, sport: 1000, dport: 53 });
    expect(h.send('10.1.1.2', '10.1.1.1', { proto: 17, sport: 53, dport: 1000 }, { commit: false })).toBe('+trk+est+rpl');
    expect(again(h, { force: true, commit: true })).toBe('+trk+new');
    expect(h.dump()).toEqual(['udp,orig=(src=10.1.1.2,dst=10.1.1.1,sport=53,dport=1000),reply=(src=10.1.1.1,dst=10.1.1.2,sport=1000,dport=53)']);
  });
});

describe('datapath: ct_clear and the carried connection', () => {
  const UDP = 'in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1000,dst=53)';
  const mask = parseOdpFlow('recirc_id(0),in_port(1),eth_type(0x0800),ipv4(frag=no)').mask;
  const ctA = (commit: boolean) => ct({ zone: 0, commit, force: false, mark: null, label: null, nat: null, alg: null });

  /** One packet through `actions` on a datapath with its own conntrack; returns the connection's orig packet count. */
  function run(actions: DpAction[]): number[] {
    const c = Conntrack.create({ capacity: 64 });
    const dp = new Datapath(() => ({ actions, mask }), conntrackHook(c));
    dp.addPort(new DpPort(1, 'p1', new DummyBackend(), {}));
    dp.receive(1, [composePacket(parseOdpFlow(UDP).key)], 1000);
    return c.dump(undefined, 1000).map((x) => x.packetsOrig);
  }

  it('ct() then ct(commit) counts the packet once; with ct_clear between, the second ct() looks it up and counts it again', () => {
    expect(run([ctA(true), ctA(true)])).toEqual([1]);
    expect(run([ctA(true), ctClear(), ctA(true)])).toEqual([2]);
  });
});
