// The TCP tracker as OVS's userspace conntrack behaves: state changes and
// the dump lines along a handshake, data and teardown, window checks
// (+inv for out-of-window segments), RST and TIME_WAIT reuse, invalid flag
// combinations, mid-stream pickup and per-state timeouts.

import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { Harness } from './helpers.ts';

const C = '10.1.1.1';
const S = '10.1.1.2';
const mark = { value: 5, mask: 0xffffffff };
const label = { value: Uint32Array.of(0, 0, 0, 0x1234), mask: Uint32Array.of(~0, ~0, ~0, ~0) };
const maskId = (l: string) => l.replace(/,id=\d+,/, ',id=0,');

function tcp(h: Harness, dir: 'C' | 'S', flags: string, seq: number, ack: number, win: number, ws?: number, payload = 0, zone = 1) {
  const spec = { proto: 6, flags, seq, ack, win, wscale: ws, payload };
  return dir === 'C'
    ? h.send(C, S, { ...spec, sport: 34567, dport: 80 }, { zone, commit: true, mark, label })
    : h.send(S, C, { ...spec, sport: 80, dport: 34567 }, { zone, commit: false });
}

describe('TCP tracker, as OVS prints it', () => {
  it('handshake, data, FIN teardown: the OVS dump lines at every step', () => {
    const h = new Harness();
    const lines = readFileSync(new URL('./fixtures/tcp-wscale-teardown.txt', import.meta.url), 'utf8')
      .split('\n').filter((l) => l && !l.startsWith('#'));
    let steps = 0;
    for (let i = 0; i < lines.length; i += 3) {
      const [, dir, flags, seq, ack, win, ws, pl] = lines[i].split(' ');
      const st = tcp(h, dir as 'C' | 'S', flags, +seq, +ack, +win, ws && ws !== '-' ? +ws : undefined, pl ? +pl : 0);
      expect(st, lines[i]).not.toContain('inv');
      expect(h.dump(true).map(maskId), lines[i]).toEqual([lines[i + 1]]);
      expect(h.dump(false), lines[i]).toEqual([lines[i + 2]]);
      steps++;
    }
    expect(steps).toBe(9);
  });

  it('ct_state: +new for the SYN and its retransmit, +est+rpl for the SYN-ACK, +est after', () => {
    const h = new Harness();
    expect(tcp(h, 'C', 'S', 1000, 0, 64240)).toBe('+trk+new');
    expect(tcp(h, 'C', 'S', 1000, 0, 64240)).toBe('+trk+new');
    expect(tcp(h, 'S', 'SA', 5000, 1001, 65160)).toBe('+trk+est+rpl');
    expect(tcp(h, 'C', 'A', 1001, 5001, 65160)).toBe('+trk+est');
  });

  it('netdev-dummy packets (seq 0, ack 0, window 0): the 64 bytes of the ACK lie past the zero window, +inv as in OVS', () => {
    const h = new Harness();
    expect(tcp(h, 'C', 'S', 0, 0, 0)).toBe('+trk+new');
    expect(tcp(h, 'S', 'SA', 0, 0, 0)).toBe('+trk+est+rpl');
    expect(tcp(h, 'C', 'A', 0, 0, 0, undefined, 64)).toBe('+trk+inv');
    // An RST with the peer's sequence number (or one off) is in window.
    expect(tcp(h, 'S', 'R', 0, 0, 0)).toBe('+trk+est+rpl');
  });

  it('an out-of-window segment is +inv and changes nothing', () => {
    const h = new Harness();
    tcp(h, 'C', 'S', 1000, 0, 64240);
    tcp(h, 'S', 'SA', 5000, 1001, 65160);
    tcp(h, 'C', 'A', 1001, 5001, 502);
    const before = h.dump(true);
    expect(tcp(h, 'S', 'PA', 900000, 1001, 509, undefined, 10)).toBe('+trk+inv');
    expect(h.dump(true)).toEqual(before);
    expect(h.ct.counters().invalid).toBe(1);
    // With sequence checking off, the same segment passes.
    h.ct.setTcpSeqCheck(false);
    expect(h.ct.getTcpSeqCheck()).toBe(false);
    expect(tcp(h, 'S', 'PA', 900000, 1001, 509, undefined, 10)).toBe('+trk+est+rpl');
  });

  it('RST puts both sides in TIME_WAIT; a new SYN then starts a new connection (OVS lines)', () => {
    const h = new Harness();
    tcp(h, 'C', 'S', 1000, 0, 64240);
    tcp(h, 'S', 'SA', 5000, 1001, 65160);
    tcp(h, 'C', 'A', 1001, 5001, 502);
    expect(tcp(h, 'S', 'R', 5001, 0, 0)).toBe('+trk+est+rpl');
    expect(h.dump(true).map(maskId)).toEqual([
      'tcp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=34567,dport=80),reply=(src=10.1.1.2,dst=10.1.1.1,sport=80,dport=34567),id=0,zone=1,status=0,mark=5,labels=0x1234,protoinfo=(state_orig=TIME_WAIT,state_reply=TIME_WAIT,flags_orig=0,flags_reply=0)',
    ]);
    const c = h.ct.dump()[0];
    expect(c.expiryMs - h.now).toBe(30_000); // tcp_close
    const oldId = c.id;
    expect(tcp(h, 'C', 'S', 3000, 0, 64240)).toBe('+trk+new');
    expect(h.dump(true).map(maskId)).toEqual([
      'tcp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=34567,dport=80),reply=(src=10.1.1.2,dst=10.1.1.1,sport=80,dport=34567),id=0,zone=1,status=0,mark=5,labels=0x1234,protoinfo=(state_orig=SYN_SENT,state_reply=CLOSED,flags_orig=0,flags_reply=0)',
    ]);
    expect(h.ct.dump()[0].id).not.toBe(oldId);
    expect(h.ct.nconns()).toBe(1);
  });

  it('invalid flag combinations are +inv and never create a connection', () => {
    const h = new Harness();
    expect(tcp(h, 'C', 'SF', 1, 0, 100)).toBe('+trk+inv');
    expect(tcp(h, 'C', 'SR', 1, 0, 100)).toBe('+trk+inv');
    expect(tcp(h, 'C', 'F', 1, 0, 100)).toBe('+trk+inv');
    expect(tcp(h, 'C', '', 1, 0, 100)).toBe('+trk+inv');
    expect(tcp(h, 'C', 'SA', 1, 1, 100)).toBe('+trk+inv'); // a SYN-ACK does not open
    expect(h.ct.nconns()).toBe(0);
  });

  it('mid-stream pickup: SYN_SENT/CLOSED with BE_LIBERAL, as OVS', () => {
    const h = new Harness();
    expect(tcp(h, 'C', 'A', 1000, 5, 64240)).toBe('+trk+new');
    expect(h.dump(true).map(maskId)[0]).toContain('protoinfo=(state_orig=SYN_SENT,state_reply=CLOSED,flags_orig=BE_LIBERAL,flags_reply=BE_LIBERAL)');
    expect(tcp(h, 'C', 'A', 1000, 5, 64240)).toBe('+trk+est');
  });

  it('timeouts follow the state: syn_sent, established, fin_wait, close', () => {
    const h = new Harness();
    const left = () => (h.ct.dump()[0].expiryMs - h.now) / 1000;
    tcp(h, 'C', 'S', 1000, 0, 64240);
    expect(left()).toBe(30);
    tcp(h, 'S', 'SA', 5000, 1001, 65160);
    tcp(h, 'C', 'A', 1001, 5001, 65160);
    expect(left()).toBe(86400);
    tcp(h, 'C', 'FA', 1001, 5001, 65160);
    expect(left()).toBe(900);
    tcp(h, 'S', 'FA', 5001, 1002, 65160);
    expect(left()).toBe(45);
    tcp(h, 'C', 'A', 1002, 5002, 65160);
    expect(left()).toBe(30);
  });
});
