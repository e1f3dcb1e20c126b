// Properties of the codec: a flow built by the text parser survives
// encode -> decode unchanged (same match words, same actions as text), and
// no byte string - random, or a mutation of a valid message - makes a
// decoder throw anything but an OfError (the OpenFlow error to answer).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatFlow } from '../../src/ofproto/format-flow.ts';
import { parseFlow } from '../../src/ofproto/parse-flow.ts';
import { OfError } from '../../src/openflow/errors.ts';
import { decodeFlowMod, encodeFlowMod } from '../../src/openflow/flow-mod.ts';
import { decodeMultipartRequest, decodeFlowStatsRequest } from '../../src/openflow/multipart.ts';
import { decodePacketOut } from '../../src/openflow/packet.ts';
import { decodeFlowMod10, decodeNxFlowStatsRequest } from '../../src/openflow/of10.ts';
import { Reader, Writer } from '../../src/openflow/buffer.ts';
import { actionCodec10 } from '../../src/openflow/of10.ts';
import { formatActions } from '../../src/ofproto/format-actions.ts';
import { decodeActions } from '../../src/openflow/of-actions.ts';
import { readFileSync } from 'node:fs';
import { decodeCtFlush, decodeCtFlushZone } from '../../src/openflow/ct-flush.ts';
import { decodeMeterConfigs, decodeMeterMod, decodeMeterRequest, decodeMeterStats, encodeMeterConfig, encodeMeterMod, encodeMeterStats } from '../../src/openflow/meter-mod.ts';
import type { MeterConfig, MeterMod, MeterStats } from '../../src/ofproto/meter.ts';

const matchPart = fc.oneof(
  fc.constantFrom('ip', 'tcp', 'udp', 'arp', 'ipv6', 'icmp', 'tcp6', 'udp6'),
  fc.integer({ min: 1, max: 0xfeff }).map((p) => `in_port=${p}`),
  fc.integer({ min: 0, max: 15 }).chain((r) => fc.integer({ min: 0, max: 0xffffffff }).map((v) => `reg${r}=0x${v.toString(16)}`)),
  fc.integer({ min: 0, max: 0xffffffff }).map((v) => `pkt_mark=${v}`),
  fc.constantFrom('ct_state=+trk', 'ct_state=+trk+est-rel', 'ct_state=-trk', 'ct_state=+new+trk'),
  fc.integer({ min: 0, max: 0xffff }).map((z) => `ct_zone=${z}`),
  fc.integer({ min: 0, max: 0xffffffff }).map((m) => `ct_mark=0x${m.toString(16)}/0xff`),
  fc.constantFrom('dl_src=00:11:22:33:44:55', 'dl_dst=01:00:00:00:00:00/01:00:00:00:00:00', 'dl_vlan=7', 'vlan_tci=0x1000/0x1000', 'metadata=0x5/0xff'),
);
const ipPart = fc.constantFrom('nw_src=10.0.0.0/8', 'nw_dst=192.168.1.1', 'nw_ttl=9', 'ip_dscp=10', 'nw_ecn=1', 'ip_frag=no');
const tcpPart = fc.constantFrom('tp_dst=80', 'tcp_src=1024/0xfc00', 'tcp_flags=+syn-ack');
const action = fc.oneof(
  fc.integer({ min: 1, max: 0xfeff }).map((p) => `output:${p}`),
  fc.constantFrom('NORMAL', 'LOCAL', 'IN_PORT', 'controller', 'controller(reason=no_match,max_len=128)', 'FLOOD'),
  fc.integer({ min: 0, max: 254 }).map((t) => `resubmit(,${t})`),
  fc.integer({ min: 0, max: 0xffff }).map((z) => `ct(commit,zone=${z})`),
  fc.constantFrom('ct(table=1,zone=NXM_NX_REG0[0..15])', 'ct(commit,exec(set_field:0x1->ct_mark))', 'ct(commit,nat(src=10.0.0.1-10.0.0.9:1000-2000,random))', 'ct(nat)', 'ct_clear'),
  fc.integer({ min: 0, max: 0xffffffff }).map((v) => `load:0x${v.toString(16)}->NXM_NX_REG3[]`),
  fc.constantFrom('move:NXM_NX_REG0[0..7]->NXM_NX_REG1[8..15]', 'set_field:0x5->reg2', 'dec_ttl', 'push_vlan:0x8100', 'pop_vlan', 'note:01.02.03'),
  // The actions issue 13 added to the text side.
  fc.constantFrom(
    'learn(table=2,hard_timeout=10,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[])',
    'learn(table=3,limit=5,result_dst=reg7[0],delete_learned,send_flow_rem,eth_type=0x800,load:NXM_OF_IN_PORT[]->NXM_NX_REG1[0..15],load:0x5->NXM_NX_REG2[0..7])',
    'clone(output:3,ct_clear)', 'exit', 'fin_timeout(idle_timeout=5,hard_timeout=9)', 'pop_queue', 'set_queue:7', 'enqueue:3:4',
    'multipath(symmetric_l4,7,hrw,4,0,NXM_NX_REG0[0..3])', 'bundle(eth_src,0,active_backup,ofport,members:1,2)',
    'bundle_load(nw_src,3,hrw,ofport,NXM_NX_REG0[0..15],members:5)', 'check_pkt_larger(1500)->NXM_NX_REG0[3]',
    'sample(probability=3,collector_set_id=1,obs_domain_id=2,obs_point_id=3,sampling_port=4,ingress)', 'push:NXM_NX_REG1[]', 'pop:NXM_NX_REG2[0..7]',
    'controller(userdata=01.02,pause)', 'dec_ttl(1,2)', 'output:NXM_NX_REG1[0..15]', 'resubmit(1,2,ct)',
  ),
  fc.integer({ min: 1, max: 0xffffffff }).chain((id) => fc.integer({ min: 2, max: 64 }).chain((n) => fc.integer({ min: 1, max: n }).map((k) => `conjunction(${id},${k}/${n})`))),
);

const flowText = fc.record({
  table: fc.integer({ min: 0, max: 200 }),
  priority: fc.integer({ min: 0, max: 0xffff }),
  cookie: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  match: fc.array(matchPart, { maxLength: 4 }),
  ip: fc.array(ipPart, { maxLength: 2 }),
  tcp: fc.array(tcpPart, { maxLength: 2 }),
  actions: fc.array(action, { maxLength: 4 }),
  gotoT: fc.boolean(),
}).map((r) => {
  const l3 = r.tcp.length ? ['tcp', ...r.ip, ...r.tcp] : r.ip.length ? ['ip', ...r.ip] : [];
  const seen = new Set<string>();
  const parts = [...l3, ...r.match].filter((p) => {
    const k = p.split('=')[0];
    if (['ip', 'tcp', 'udp', 'arp', 'ipv6', 'icmp', 'tcp6', 'udp6'].includes(k)) {
      if (seen.has('proto')) return false;
      seen.add('proto');
      return true;
    }
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  const acts = [...r.actions, ...(r.gotoT && r.table < 200 ? [`goto_table:${r.table + 1}`] : [])];
  return `table=${r.table},priority=${r.priority},cookie=0x${r.cookie.toString(16)},${parts.length ? parts.join(',') + ',' : ''}actions=${acts.length ? acts.join(',') : 'drop'}`;
});

function parses(text: string) {
  try {
    return parseFlow(text, 'add');
  } catch {
    return null;
  }
}

describe('codec properties', () => {
  it('decode(encode(flow)) is the flow the text parsed to', () => {
    let checked = 0;
    fc.assert(
      fc.property(flowText, (text) => {
        const spec = parses(text);
        if (!spec) return; // (a combination the parser refuses, e.g. conflicting prerequisites)
        checked++;
        const msg = encodeFlowMod(4, 1, { command: 'add', spec, bufferId: 0xffffffff });
        const back = decodeFlowMod(msg);
        expect([...back.spec.match.value]).toEqual([...spec.match.value]);
        expect([...back.spec.match.mask]).toEqual([...spec.match.mask]);
        // OpenFlow 1.1+ has no enqueue: it travels as set_queue, output, pop_queue (as OVS sends it).
        const asWire = parses(text.replace(/enqueue:(\d+):(\d+)/g, 'set_queue:$2,output:$1,pop_queue'))!;
        expect(formatFlow(back.spec)).toBe(formatFlow(asWire));
        const wireMsg = encodeFlowMod(4, 1, { command: 'add', spec: asWire, bufferId: 0xffffffff });
        expect(encodeFlowMod(4, 1, back).equals(text.includes('enqueue') ? wireMsg : msg)).toBe(true);
      }),
      { numRuns: 400 },
    );
    expect(checked).toBeGreaterThan(200);
  });

  it('OpenFlow 1.5 (copy_field, masked set_field): decode(encode(flow)) prints as the flow the text parsed to', () => {
    let checked = 0;
    fc.assert(
      fc.property(flowText, (text) => {
        const spec = parses(text.replace(/enqueue:(\d+):(\d+)/g, 'set_queue:$2,output:$1,pop_queue'));
        if (!spec) return;
        checked++;
        const msg = encodeFlowMod(6, 1, { command: 'add', spec, bufferId: 0xffffffff });
        const back = decodeFlowMod(msg);
        expect(formatFlow(back.spec)).toBe(formatFlow(spec));
        expect(encodeFlowMod(6, 1, back).equals(msg)).toBe(true);
      }),
      { numRuns: 300 },
    );
    expect(checked).toBeGreaterThan(150);
  });

  it('OpenFlow 1.0 (NXM) actions: decode(encode(actions)) is the actions the text parsed to', () => {
    let checked = 0;
    fc.assert(
      fc.property(fc.array(action, { minLength: 1, maxLength: 4 }), (acts) => {
        const spec = parses(`tcp,actions=${acts.join(',')}`);
        if (!spec) return;
        checked++;
        const w = new Writer();
        try {
          actionCodec10().encode(w, spec.actions);
        } catch (e) {
          if (e instanceof OfError && /no OpenFlow 1.0 encoding/.test(e.message)) return; // push_vlan
          throw e;
        }
        const b = w.done();
        const back = actionCodec10().decode(new Reader(b, 0, b.length, () => new OfError(2, 1, 'short')));
        expect(formatActions(back)).toBe(formatActions(spec.actions));
      }),
      { numRuns: 400 },
    );
    expect(checked).toBeGreaterThan(200);
  });

  const decoders: [string, (b: Buffer) => unknown][] = [
    ['flow_mod', decodeFlowMod],
    ['packet_out', decodePacketOut],
    ['flow stats request', (b) => decodeFlowStatsRequest(decodeMultipartRequest(b).body)],
    ['OpenFlow 1.0 flow_mod', (b) => decodeFlowMod10(b, true)],
    ['NXT_FLOW_MOD', (b) => {
      const m = Buffer.concat([Buffer.from('0104000000000000000023200000000d', 'hex'), b]);
      m.writeUInt16BE(Math.min(m.length, 0xffff), 2);
      return decodeFlowMod10(m, false);
    }],
    ['NXST_FLOW request', (b) => decodeNxFlowStatsRequest(new Reader(b, 0, b.length, () => new OfError(1, 6, 'short')))],
    ['NXT_CT_FLUSH', (b) => decodeCtFlush(new Reader(b, 0, b.length, () => new OfError(1, 6, 'short')))],
    ['NXT_CT_FLUSH_ZONE', (b) => decodeCtFlushZone(new Reader(b, 0, b.length, () => new OfError(1, 6, 'short')))],
    ['OpenFlow 1.3 actions', (b) => decodeActions(new Reader(b, 0, b.length, () => new OfError(2, 1, 'short')), { version: 4, match: null })],
    ['OpenFlow 1.0 actions', (b) => actionCodec10().decode(new Reader(b, 0, b.length, () => new OfError(2, 1, 'short')))],
    // [ofmeter]
    ['meter_mod', decodeMeterMod],
    ['meter multipart request', (b) => decodeMeterRequest(decodeMultipartRequest(b).body)],
    ['meter config reply', (b) => decodeMeterConfigs(new Reader(b, 0, b.length, () => new OfError(1, 6, 'short')))],
    ['meter stats reply', (b) => decodeMeterStats(new Reader(b, 0, b.length, () => new OfError(1, 6, 'short')))],
  ];

  const onlyOfErrors = (fn: (b: Buffer) => unknown, b: Buffer) => {
    try {
      fn(b);
    } catch (e) {
      if (!(e instanceof OfError)) throw e;
    }
  };

  for (const [name, fn] of decoders) {
    it(`random bytes never make the ${name} decoder throw anything but an OfError`, () => {
      fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), (a) => onlyOfErrors(fn, Buffer.from(a))), { numRuns: 2000 });
    });
  }

  it('mutations of OVS\'s action vectors never make the action decoders throw anything but an OfError', () => {
    const hexes = readFileSync(new URL('./fixtures/ofp-actions.txt', import.meta.url), 'utf8').split('\n')
      .filter((l) => l && !l.startsWith('#')).map((l) => Buffer.from(l.split('\t')[3], 'hex'));
    const rd = (b: Buffer) => new Reader(b, 0, b.length, () => new OfError(2, 1, 'short'));
    fc.assert(
      fc.property(fc.constantFrom(...hexes), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(), (orig, edits, cut) => {
        const b = Buffer.from(orig);
        for (const [at, v] of edits) b[at % b.length] = v;
        const t = b.subarray(0, b.length - (cut % 3 === 0 ? cut % 9 : 0));
        onlyOfErrors((x) => decodeActions(rd(x), { version: 4, match: null }), t);
        onlyOfErrors((x) => actionCodec10().decode(rd(x)), t);
      }),
      { numRuns: 3000 },
    );
  });

  it('Nicira actions of every subtype with random bodies never throw anything but an OfError', () => {
    const rd = (x: Buffer) => new Reader(x, 0, x.length, () => new OfError(2, 1, 'short'));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 60 }), fc.uint8Array({ minLength: 0, maxLength: 120 }), (subtype, body) => {
        const len = (10 + body.length + 7) & ~7;
        const b = Buffer.alloc(len);
        b.writeUInt16BE(0xffff, 0);
        b.writeUInt16BE(len, 2);
        b.writeUInt32BE(0x2320, 4);
        b.writeUInt16BE(subtype, 8);
        Buffer.from(body).copy(b, 10);
        onlyOfErrors((x) => decodeActions(rd(x), { version: 4, match: null }), b);
        onlyOfErrors((x) => actionCodec10().decode(rd(x)), b);
      }),
      { numRuns: 5000 },
    );
  });

  it('mutations of valid flow_mods never throw anything but an OfError', () => {
    fc.assert(
      fc.property(flowText, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), fc.boolean(), (text, edits, keepLen) => {
        const spec = parses(text);
        if (!spec) return;
        const msg = Buffer.from(encodeFlowMod(4, 1, { command: 'add', spec, bufferId: 0xffffffff }));
        for (const [at, v] of edits) msg[8 + (at % (msg.length - 8))] = v;
        if (keepLen) msg.writeUInt16BE(msg.length, 2);
        onlyOfErrors(decodeFlowMod, msg);
        onlyOfErrors(decodePacketOut, msg);
      }),
      { numRuns: 1500 },
    );
  });

  // [ofmeter] Meters: any meter the wire can carry survives encode -> decode, in every version.
  const u32 = fc.integer({ min: 0, max: 0xffffffff });
  const band = fc.oneof(
    fc.record({ type: fc.constant(1), rate: u32, burstSize: u32, precLevel: fc.constant(0) }),
    fc.record({ type: fc.constant(2), rate: u32, burstSize: u32, precLevel: fc.integer({ min: 0, max: 255 }) }),
  );
  // Flags: any 16 bits but kbps and pktps together (which the decoder refuses).
  const meterConfig: fc.Arbitrary<MeterConfig> = fc.record({
    meterId: u32,
    flags: fc.integer({ min: 0, max: 0xffff }).filter((f) => (f & 3) !== 3),
    bands: fc.array(band, { maxLength: 20 }),
  });
  const meterMod: fc.Arbitrary<MeterMod> = fc.oneof(
    fc.record({ command: fc.constantFrom('add' as const, 'modify' as const), meter: meterConfig }),
    u32.map((meterId) => ({ command: 'delete' as const, meter: { meterId, flags: 0, bands: [] } })),
  );
  const safe = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
  const meterStats: fc.Arbitrary<MeterStats> = fc.record({
    meterId: u32, flowCount: u32, packetInCount: safe, byteInCount: safe, durationSec: u32, durationNsec: fc.integer({ min: 0, max: 999_999_999 }),
    bands: fc.array(fc.record({ packetCount: safe, byteCount: safe }), { maxLength: 20 }),
  });
  const rd = (b: Buffer) => new Reader(b, 0, b.length, () => new OfError(1, 6, 'short'));

  it('decode(encode(meter mod)) is the meter mod, in OpenFlow 1.3, 1.4 and 1.5', () => {
    fc.assert(fc.property(meterMod, fc.constantFrom(4, 5, 6), u32, (mm, v, xid) => {
      const msg = encodeMeterMod(v, xid, mm);
      expect(decodeMeterMod(msg)).toEqual(mm);
      expect(encodeMeterMod(v, xid, decodeMeterMod(msg)).equals(msg)).toBe(true);
    }), { numRuns: 1000 });
  });

  it('decode(encode(meter configs / meter stats)) are the entries', () => {
    fc.assert(fc.property(fc.array(meterConfig, { maxLength: 5 }), fc.array(meterStats, { maxLength: 5 }), (cs, ss) => {
      expect(decodeMeterConfigs(rd(Buffer.concat(cs.map(encodeMeterConfig))))).toEqual(cs);
      expect(decodeMeterStats(rd(Buffer.concat(ss.map(encodeMeterStats))))).toEqual(ss);
    }), { numRuns: 500 });
  });

  it('mutations of valid meter mods and meter replies never throw anything but an OfError', () => {
    fc.assert(
      fc.property(meterMod, meterConfig, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), fc.boolean(), (mm, cfg, edits, keepLen) => {
        const msg = Buffer.from(encodeMeterMod(4, 1, mm));
        const entry = Buffer.from(encodeMeterConfig(cfg));
        for (const [at, v] of edits) {
          msg[8 + (at % (msg.length - 8))] = v;
          entry[at % entry.length] = v;
        }
        if (keepLen) msg.writeUInt16BE(msg.length, 2);
        onlyOfErrors(decodeMeterMod, msg);
        onlyOfErrors((b) => decodeMeterConfigs(rd(b)), entry);
        onlyOfErrors((b) => decodeMeterStats(rd(b)), entry);
      }),
      { numRuns: 2000 },
    );
  });
});
