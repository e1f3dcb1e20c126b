// ovs-ofctl(8) "Flow Syntax" as swd reads it: separators, action=, line
// commands, port names, every ovs-fields(7) name, OVS's prerequisites, the
// fields swd parses but cannot carry, and a fuzz test that malformed lines
// only ever give a located ParseError. syntax.expected was printed once by
// Debian's `ovs-ofctl parse-flows` (3.1) for syntax.flows.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ParseError } from '../../src/ofproto/errors.ts';
import { formatParseFlows, parseFlowsCommand } from '../../src/ofproto/parse-flows-cmd.ts';
import { parseFlow, parseFlowFile, parseFlowModFile } from '../../src/ofproto/parse-flow.ts';
import { formatFlow } from '../../src/ofproto/format-flow.ts';
import { withPortLabels, withPortNames } from '../../src/ofproto/field-text.ts';

const FIX = join(import.meta.dirname, 'fixtures');

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ParseError);
    return (e as Error).message;
  }
  throw new Error('no error');
}

describe('flow syntax as ovs-ofctl parses it', () => {
  it('spaces, tabs and commas between fields and actions, action=, controller, OXM/xreg/xxreg names, tunnel/MPLS/NSH fields: as ovs-ofctl printed them', () => {
    const r = parseFlowsCommand(join(FIX, 'syntax.flows'));
    expect(r.ok ? r.text : r.error).toBe(readFileSync(join(FIX, 'syntax.expected'), 'utf8'));
  });

  it('OpenFlow 1.0 actions on a match without their header: only OpenFlow 1.0 carries them; # comments, resubmit(PORT), output(port=,max_len=)', () => {
    const r = parseFlowsCommand(join(FIX, 'syntax-of10.flows'));
    expect(r.ok ? r.text : r.error).toBe(readFileSync(join(FIX, 'syntax-of10.expected'), 'utf8'));
  });

  it('the end of the line closes open parentheses, as in ovs-ofctl', () => {
    const a = parseFlow('ip,actions=ct(commit,table=2,nat(dst=10.0.0.1)', 'add');
    const b = parseFlow('ip,actions=ct(commit,table=2,nat(dst=10.0.0.1))', 'add');
    expect(formatFlow(a)).toBe(formatFlow(b));
  });

  it('add-flows lines may start with a command (or its abbreviation); the rest add', () => {
    const lines = parseFlowModFile(['ip,actions=drop', 'add arp actions=NORMAL', 'modify ip actions=output:2', 'modify_strict priority=5,ip actions=drop',
      'delete tcp', 'delete_strict priority=7,udp', 'del ip', '# comment', '', 'm arp,actions=LOCAL'].join('\n'), 'f');
    expect(lines.map((l) => `${l.line}:${l.command}`)).toEqual(['1:add', '2:add', '3:modify', '4:modify_strict', '5:delete', '6:delete_strict', '7:delete', '10:modify']);
    expect(errorOf(() => parseFlowModFile('delete ip,actions=drop', 'f'))).toBe('f:1:11: actions are not allowed here');
  });

  it('port names resolve against the bridge ports (in_port, output:, bare name, resubmit) and print back with --names', () => {
    const ports = new Map([['p1', 1], ['ovs-p2', 2]]);
    const spec = withPortNames(ports, () => parseFlow('in_port=p1 actions=output:"ovs-p2",ovs-p2,resubmit(p1,3),p1', 'add'));
    expect(formatFlow(spec)).toBe(' in_port=1 actions=output:2,output:2,resubmit(1,3),output:1');
    expect(withPortLabels(new Map([[1, 'p1'], [2, 'ovs-p2']]), () => formatFlow(spec))).toBe(' in_port=p1 actions=output:"ovs-p2",output:"ovs-p2",resubmit(p1,3),output:p1');
    expect(errorOf(() => withPortNames(ports, () => parseFlow('in_port=p9,actions=drop', 'add')))).toBe(
      '(command line):1:9: p9: invalid or unknown port for in_port (not a port number or a port of the bridge)');
  });

  it('offline (parse-flows), port names are refused as ovs-ofctl refuses them', () => {
    expect(errorOf(() => parseFlowFile('in_port=p1,actions=drop', 'e.txt', 'add'))).toBe(
      'e.txt:1:9: p1: invalid or unknown port for in_port (port names need a bridge; parse-flows works offline)');
    expect(errorOf(() => parseFlowFile('ip,actions=output:p2', 'e.txt', 'add'))).toMatch(/^e\.txt:1:19: p2: invalid or unknown port for output/);
    expect(errorOf(() => parseFlowFile('ip,actions=p2', 'e.txt', 'add'))).toBe("e.txt:1:12: unknown action 'p2'");
  });
});

describe('prerequisites as OVS enforces them (OFPBMC_BAD_PREREQ)', () => {
  const cases: [string, string][] = [
    ['ct_nw_dst=10.0.0.5,actions=drop', '1:1: OFPBMC_BAD_PREREQ: field ct_nw_dst needs a valid tracked connection'],
    ['ct_state=+trk,ip,ct_nw_dst=10.0.0.5,actions=drop', '1:18: OFPBMC_BAD_PREREQ: field ct_nw_dst needs a valid tracked connection'],
    ['ct_state=+trk+inv,ip,ct_tp_dst=80,actions=drop', '1:22: OFPBMC_BAD_PREREQ: field ct_tp_dst needs a valid tracked connection'],
    ['tcp_dst=80,actions=drop', '1:1: OFPBMC_BAD_PREREQ: field tcp_dst needs tcp or tcp6 (and not ip_frag=later) to be matched too'],
    ['tcp,ip_frag=later,tp_dst=80,actions=drop', '1:19: OFPBMC_BAD_PREREQ: field tp_dst needs tcp, udp or sctp to be matched too'],
    ['icmp6,icmp_type=135,nd_tll=00:00:00:00:00:01,actions=drop', '1:21: OFPBMC_BAD_PREREQ: field nd_tll needs icmp6 with icmp_type=136 to be matched too'],
  ];
  // A switch refuses them; offline, parse-flows prints what ovs-ofctl's OpenFlow 1.0/NXM encoder sends.
  const forSwitch = (flow: string) => errorOf(() => withPortNames(new Map(), () => parseFlowFile(flow, 'f', 'add')));
  for (const [flow, msg] of cases) {
    it(flow, () => expect(forSwitch(flow)).toContain(`f:${msg}`));
  }
  it('offline, parse-flows leaves out a field whose prerequisites are missing, as ovs-ofctl parse-flows does', () => {
    const pf = (flow: string) => formatParseFlows(parseFlowFile(flow, 'f', 'add')).split('\n')[2];
    expect(pf('tcp_dst=80,actions=drop')).toBe('OFPT_FLOW_MOD (xid=0x1): ADD actions=drop');
    expect(pf('arp,nw_tos=0,tp_src=0,actions=drop')).toBe('OFPT_FLOW_MOD (xid=0x1): ADD arp actions=drop');
    expect(pf('ip,mpls_label=5,actions=drop')).toBe('NXT_FLOW_MOD (xid=0x1): ADD ip actions=drop');
    // NXM sends ct_nw_* whatever the match, and its decoder refuses them without a valid ct_state.
    expect(errorOf(() => formatParseFlows(parseFlowFile('ct_nw_dst=10.0.0.5,actions=drop', 'f', 'add')))).toMatch(/OFPBMC_BAD_PREREQ/);
  });
  it('ct_nw_*/ct_tp_* are accepted with +trk-inv or a state that implies a valid connection (is_ct_valid)', () => {
    for (const st of ['+trk-inv', '+est', '+new', '+rel', '+rpl', '+snat', '+dnat', '+trk+est']) {
      const s = parseFlow(`ct_state=${st},ip,ct_nw_dst=10.0.0.5,ct_nw_proto=6,ct_tp_dst=80,actions=drop`, 'add');
      expect(formatFlow(s)).toContain('ct_nw_dst=10.0.0.5,ct_nw_proto=6,ct_tp_dst=80');
    }
  });
  it('ct_tp_* without ct_nw_proto is dropped, as OVS drops it on the way into the switch', () => {
    expect(formatFlow(parseFlow('ct_state=+est,ct_tp_dst=80,actions=drop', 'add'))).toBe(' ct_state=+est actions=drop');
  });
  it('ct_mark and ct_label are set only inside ct(commit,exec(...))', () => {
    expect(errorOf(() => parseFlow('ip,actions=set_field:1->ct_mark', 'add'))).toBe('(command line):1:12: cannot set CT fields outside of ct action');
    expect(errorOf(() => parseFlow('ip,actions=load:1->NXM_NX_CT_LABEL[0..63]', 'add'))).toBe('(command line):1:12: cannot set CT fields outside of ct action');
  });
});

describe('fields swd cannot carry: parsed and printed, refused by a switch', () => {
  it('a switch refuses tunnel, MPLS, NSH and packet_type matches where they stand', () => {
    const forSwitch = (f: string) => errorOf(() => withPortNames(new Map(), () => parseFlowFile(f, 'f', 'add')));
    expect(forSwitch('ip,tun_id=5,actions=drop')).toBe('f:1:4: field tun_id is not supported by swd (swd has no tunnel ports)');
    expect(forSwitch('mpls,mpls_label=4,actions=drop')).toBe('f:1:6: field mpls_label is not supported by swd (swd does not carry MPLS packets)');
    expect(forSwitch('dl_type=0x894f,nsh_si=3,actions=drop')).toBe('f:1:16: field nsh_si is not supported by swd (swd does not carry NSH packets)');
    // conj_id and actset_output are carried (test/ofproto/conjunction.test.ts, actset-output.test.ts).
    expect(withPortNames(new Map(), () => parseFlowFile('conj_id=3,actions=drop', 'f', 'add'))[0].match.conjId).toBe(3);
    expect(withPortNames(new Map(), () => parseFlowFile('actset_output=3,actions=drop', 'f', 'add'))[0].match.extra?.[0].text).toBe('actset_output=3');
    expect(forSwitch('packet_type=(1,0x800),actions=drop')).toBe('f:1:1: field packet_type is not supported by swd (only Ethernet packets, packet_type=(0,0))');
  });
  it('load, move, output and set_field name them too (printed as ovs-ofctl prints them); a switch refuses them', () => {
    const s = parseFlow('in_port=1,dl_type=0x894f actions=move:tun_metadata0[0..31]->NXM_NX_REG0[],load:6->NXM_NX_TUN_ID[],set_field:1.1.2.92->tun_dst,set_field:0xa->tun_metadata0,set_field:2->nsh_flags', 'add');
    expect(formatFlow(s)).toBe(' in_port=1,dl_type=0x894f actions=move:NXM_NX_TUN_METADATA0[0..31]->NXM_NX_REG0[],load:0x6->NXM_NX_TUN_ID[],load:0x101025c->NXM_NX_TUN_IPV4_DST[],set_field:0xa->tun_metadata0,set_field:2->nsh_flags');
    expect(errorOf(() => withPortNames(new Map(), () => parseFlowFile('ip,actions=load:6->NXM_NX_TUN_ID[]', 'f', 'add')))).toBe('f:1:20: field tun_id is not supported by swd');
  });
  it('NXM_OF/NXM_NX/OXM_OF names name fields in references; matches and set_field take keywords (as ovs-ofctl)', () => {
    const a = parseFlow('arp,xreg3=0x100000002,xxreg0=0x1/0x1,actions=move:OXM_OF_ARP_SPA[]->NXM_NX_XXREG1[0..31],load:1->OXM_OF_PKT_REG2[3],output:xreg0[0..15]', 'add');
    expect(formatFlow(a)).toBe(' arp,reg3=0x1/0x1,reg6=0x1,reg7=0x2 actions=move:NXM_OF_ARP_SPA[]->NXM_NX_XXREG1[0..31],load:0x1->OXM_OF_PKT_REG2[3],output:OXM_OF_PKT_REG0[0..15]');
    expect(errorOf(() => parseFlow('NXM_NX_REG0=1,actions=drop', 'add'))).toMatch(/^\(command line\):1:1: unknown keyword NXM_NX_REG0 /);
    expect(errorOf(() => parseFlow('ip,actions=set_field:1->NXM_NX_REG0', 'add'))).toMatch(/^\(command line\):1:25: NXM_NX_REG0 is not a valid OXM field name/);
  });
});

describe('malformed lines only ever give a located ParseError (fuzz)', () => {
  const corpus: string[] = [];
  for (const f of readdirSync(join(FIX, 'conntrack')).filter((x) => x.endsWith('.flows'))) {
    corpus.push(...readFileSync(join(FIX, 'conntrack', f), 'utf8').split('\n').filter((l) => l && !l.startsWith('#')));
  }
  for (const f of ['syntax.flows', 'corpus-nxm.flows', 'corpus-of10.flows']) {
    corpus.push(...readFileSync(join(FIX, f), 'utf8').split('\n').filter((l) => l && !l.startsWith('#')));
  }
  // OVS's own lines (the corpus of ovs-corpus.test.ts).
  for (const l of readFileSync(join(FIX, 'ovs-corpus.jsonl'), 'utf8').split('\n').filter(Boolean)) corpus.push((JSON.parse(l) as { flow: string }).flow);
  // The actions of issue 13 part 3, many times each so that the fuzzer picks them often.
  for (let i = 0; i < 20; i++) {
    corpus.push(
      'table=0,actions=learn(table=10,idle_timeout=5,limit=3,result_dst=reg0[0],NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],eth_type=0x800,load:NXM_OF_IN_PORT[]->NXM_NX_REG0[0..15],output:NXM_NX_REG1[0..15]),resubmit(,1)',
      'priority=100,ip,nw_src=10.0.0.1,actions=conjunction(1,1/2),conjunction(2,2/3)',
      'conj_id=1,ip,actions=clone(mod_dl_src:80:81:81:81:81:81,exit),push:NXM_OF_IP_SRC[],pop:NXM_NX_REG2[],output:2',
      'actions=multipath(symmetric_l4,1024,hrw,4,0,NXM_NX_REG0[0..1]),bundle_load(eth_src,0,hrw,ofport,NXM_NX_REG1[0..15],members:1,2),bundle(eth_src,0,active_backup,ofport,members:1,2)',
      'tcp,actions=fin_timeout(idle_timeout=2,hard_timeout=3),set_queue:3,enqueue:1:2,pop_queue,sample(probability=12,collector_set_id=1,ingress),check_pkt_larger(100)->NXM_NX_REG0[0]',
    );
  }
  const alphabet = fc.constantFrom(...'=,:()[]/-+>. \t0123456789abcdefxyz_'.split(''), 'actions=', 'ct(', '->', 'NXM_NX_REG0[', '0x', 'in_port=', 'p1');
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), s: alphabet }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), s: alphabet }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  );
  const mutate = (line: string, ms: { kind: string; at: number; s?: string; n?: number }[]) => {
    let l = line;
    for (const m of ms) {
      const at = l.length ? m.at % (l.length + 1) : 0;
      if (m.kind === 'insert') l = l.slice(0, at) + m.s + l.slice(at);
      else if (m.kind === 'delete') l = l.slice(0, at) + l.slice(at + (m.n ?? 1));
      else if (m.kind === 'replace') l = l.slice(0, at) + m.s + l.slice(at + 1);
      else l = l.slice(0, at);
    }
    return l;
  };
  it(`random mutations of ${'the'} corpus lines parse or fail with FILE:LINE:COL`, () => {
    expect(corpus.length).toBeGreaterThan(500);
    const ports = new Map([['p1', 1], ['ovs-p0', 2]]);
    fc.assert(
      fc.property(fc.constantFrom(...corpus), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(), (line, ms, online) => {
        const text = `# x\n${mutate(line, ms)}\n`;
        try {
          if (online) withPortNames(ports, () => parseFlowModFile(text, 'fz.txt'));
          // Offline, through parse-flows' printer too (its errors are located at the flow's line).
          else formatParseFlows(parseFlowFile(text, 'fz.txt', 'add'), { file: 'fz.txt', lines: [2] });
        } catch (e) {
          if (!(e instanceof ParseError)) throw e;
          expect(e.message).toMatch(/^fz\.txt:2:\d+: \S/);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
