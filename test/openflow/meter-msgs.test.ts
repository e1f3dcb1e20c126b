// Meter messages byte for byte: the OFPT_METER_MOD and meter multipart
// vectors of OVS's tests/ofp-print.at (OpenFlow 1.3) and, for 1.4 and 1.5
// (which ofp-print.at has none of), replies a real OVS 3.1 sent on its
// br0.mgmt (ORACLE.md sandbox). Each decodes to the meter ovs-ofctl prints
// for it (swd's meter-text printer gives the same lines), re-encodes to the
// same bytes, and a bad one is refused with the error ofp-print names.

import { describe, expect, it } from 'vitest';
import { decodeMultipartReply, decodeMultipartRequest, encodeMultipartRequest, multipartReplies, OFPMP_METER, OFPMP_METER_CONFIG, OFPMP_METER_FEATURES } from '../../src/openflow/multipart.ts';
import {
  checkMeterFeaturesRequest, decodeMeterConfigs, decodeMeterFeatures, decodeMeterMod, decodeMeterRequest, decodeMeterStats,
  encodeMeterConfig, encodeMeterFeatures, encodeMeterMod, encodeMeterRequest, encodeMeterStats, OFPMP_METER_DESC,
} from '../../src/openflow/meter-mod.ts';
import { formatMeterConfig, formatMeterFeatures, formatMeterStats } from '../../src/ofproto/meter-format.ts';
import { parseMeterText } from '../../src/ofproto/meter-parse.ts';
import { OFPM13_ALL } from '../../src/ofproto/meter.ts';
import { decodeFlowMod, encodeFlowMod } from '../../src/openflow/flow-mod.ts';
import { parseFlow } from '../../src/ofproto/parse-flow.ts';
import { formatFlow } from '../../src/ofproto/format-flow.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const POS = { file: 'test', line: 1, col: 0 };
/** ovs-ofctl prints a meter mod as ` ADD ` and the meter's lines, bands one a line. */
const modText = (cmd: string, lines: string[]) => `${cmd} ${lines.join('\n')}`;

describe('OFPT_METER_MOD (ofp-print.at)', () => {
  it('OF1.3: ADD meter=5 kbps burst stats bands= type=drop rate=1024 burst_size=128', () => {
    const msg = hex('04 1d 00 20 00 00 00 02 00 00 00 0d 00 00 00 05 00 01 00 10 00 00 04 00 00 00 00 80 00 00 00 00');
    const mm = decodeMeterMod(msg);
    expect(mm.command).toBe('add');
    expect(modText('ADD', formatMeterConfig(mm.meter))).toBe('ADD meter=5 kbps burst stats bands=\ntype=drop rate=1024 burst_size=128');
    expect(mm.meter).toEqual(parseMeterText('meter=5 kbps burst stats bands=type=drop rate=1024 burst_size=128', 'add', POS));
    expect(encodeMeterMod(4, 2, mm).toString('hex')).toBe(msg.toString('hex'));
  });

  it('OF1.3: a band of type 5 is OFPMMFC_BAD_BAND', () => {
    const msg = hex('04 1d 00 20 85 01 d7 38 00 00 00 00 00 00 00 01 00 05 00 10 00 00 00 02 00 00 00 02 00 00 00 00');
    expect(() => decodeMeterMod(msg)).toThrow(expect.objectContaining({ label: 'OFPMMFC_BAD_BAND' }));
  });

  it('OF1.3: command 8 is OFPMMFC_BAD_COMMAND', () => {
    const msg = hex('04 1d 00 10 28 a6 26 52 00 08 00 00 00 00 00 01');
    expect(() => decodeMeterMod(msg)).toThrow(expect.objectContaining({ label: 'OFPMMFC_BAD_COMMAND' }));
  });

  it('OF1.3: kbps and pktps together are OFPMMFC_BAD_FLAGS', () => {
    const msg = hex('04 1d 00 20 82 b3 a1 a4 00 00 00 03 00 00 00 01 00 01 00 10 00 00 00 02 00 00 00 02 00 00 00 00');
    expect(() => decodeMeterMod(msg)).toThrow(expect.objectContaining({ label: 'OFPMMFC_BAD_FLAGS' }));
  });

  it('OF1.4 (inside OFPT_REQUESTFORWARD): ADD meter=1 bands= and MOD meter=1 flags:0x100 bands=', () => {
    const add = hex('05 1d 00 10 02 00 00 00 00 00 00 00 00 00 00 01');
    const a = decodeMeterMod(add);
    expect(modText('ADD', formatMeterConfig(a.meter))).toBe('ADD meter=1 bands=');
    expect(encodeMeterMod(5, 0x02000000, a).toString('hex')).toBe(add.toString('hex'));
    const mod = hex('05 1d 00 10 02 00 00 00 00 01 01 00 00 00 00 01');
    const m = decodeMeterMod(mod);
    expect(m.command).toBe('modify');
    expect(modText('MOD', formatMeterConfig(m.meter))).toBe('MOD meter=1 flags:0x100 bands=');
    expect(encodeMeterMod(5, 0x02000000, m).toString('hex')).toBe(mod.toString('hex'));
  });

  it('a delete carries only the meter id, in every version', () => {
    for (const v of [4, 5, 6]) {
      const msg = encodeMeterMod(v, 9, { command: 'delete', meter: { meterId: OFPM13_ALL, flags: 0, bands: [] } });
      expect(msg.toString('hex')).toBe(`0${v}1d001000000009` + '0002' + '0000' + 'ffffffff');
      expect(decodeMeterMod(msg)).toEqual({ command: 'delete', meter: { meterId: OFPM13_ALL, flags: 0, bands: [] } });
    }
  });

  it('bad lengths are OFPBRC_BAD_LEN: a band of 12 or 32 bytes, bytes after the last band, a body not in 8-byte units', () => {
    const band = '0001 0010 0000000a 00000000 00000000';
    for (const body of ['0001 000c 0000000a 00000000 00000000', '0001 0020 0000000a 00000000 00000000 00000000 00000000 00000000 00000000', `${band} 00000000 00000000`, `${band} 00000000`]) {
      const m = hex(`041d0000 00000001 0000 0002 00000006 ${body}`);
      m.writeUInt16BE(m.length, 2);
      expect(() => decodeMeterMod(m), body).toThrow(expect.objectContaining({ label: 'OFPBRC_BAD_LEN' }));
    }
    expect(() => decodeMeterMod(hex('041d000c 00000001 00000002'))).toThrow(expect.objectContaining({ label: 'OFPBRC_BAD_LEN' }));
  });
});

describe('meter multipart requests (ofp-print.at)', () => {
  it('OFPST_METER request (OF1.3): meter=1', () => {
    const msg = hex('041200180000000200090000000000000000000100000000');
    const req = decodeMultipartRequest(msg);
    expect([req.type, decodeMeterRequest(req.body)]).toEqual([OFPMP_METER, 1]);
    expect(encodeMultipartRequest(4, 2, OFPMP_METER, encodeMeterRequest(1)).toString('hex')).toBe(msg.toString('hex'));
  });

  it('OFPST_METER_CONFIG request (OF1.3): meter=1 (OpenFlow 1.5 calls it METER_DESC: the same type)', () => {
    const msg = hex('0412001800000002000a0000000000000000000100000000');
    const req = decodeMultipartRequest(msg);
    expect([req.type, decodeMeterRequest(req.body)]).toEqual([OFPMP_METER_CONFIG, 1]);
    expect(OFPMP_METER_DESC).toBe(OFPMP_METER_CONFIG);
    expect(encodeMultipartRequest(4, 2, OFPMP_METER_CONFIG, encodeMeterRequest(1)).toString('hex')).toBe(msg.toString('hex'));
  });

  it('OFPST_METER_FEATURES request (OF1.3): no body; one is OFPBRC_BAD_LEN, as is a meter request not of 8 bytes', () => {
    const msg = hex('0412001000000002000b000000000000');
    const req = decodeMultipartRequest(msg);
    expect(req.type).toBe(OFPMP_METER_FEATURES);
    expect(() => checkMeterFeaturesRequest(req.body)).not.toThrow();
    expect(encodeMultipartRequest(4, 2, OFPMP_METER_FEATURES).toString('hex')).toBe(msg.toString('hex'));
    const withBody = decodeMultipartRequest(encodeMultipartRequest(4, 2, OFPMP_METER_FEATURES, Buffer.alloc(8)));
    expect(() => checkMeterFeaturesRequest(withBody.body)).toThrow(expect.objectContaining({ label: 'OFPBRC_BAD_LEN' }));
    for (const n of [0, 4, 12]) {
      const r = decodeMultipartRequest(encodeMultipartRequest(4, 2, OFPMP_METER, Buffer.alloc(n)));
      expect(() => decodeMeterRequest(r.body), `${n} bytes`).toThrow(expect.objectContaining({ label: 'OFPBRC_BAD_LEN' }));
    }
  });
});

describe('meter multipart replies', () => {
  it('OFPST_METER_FEATURES reply (OF1.3, ofp-print.at)', () => {
    const msg = hex('04 13 00 20 00 00 00 02 00 0b 00 00 00 00 00 00 00 01 00 00 00 00 00 06 00 00 00 0F 10 02 00 00');
    const f = decodeMeterFeatures(decodeMultipartReply(msg).body);
    expect(formatMeterFeatures(f)).toEqual(['max_meter:65536 max_bands:16 max_color:2', 'band_types: drop dscp_remark', 'capabilities: kbps pktps burst stats']);
    expect(multipartReplies(4, 2, OFPMP_METER_FEATURES, [encodeMeterFeatures(f)])[0].toString('hex')).toBe(msg.toString('hex'));
  });

  it('OFPST_METER_CONFIG reply (OF1.3, ofp-print.at): two meters, a dscp_remark band', () => {
    const msg = hex(`04 13 00 50 00 00 00 02 00 0a 00 00 00 00 00 00
      00 28 00 05 00 00 00 01
      00 01 00 10 00 01 00 00 00 00 05 00 00 00 00 00
      00 02 00 10 00 10 00 00 00 00 f0 00 00 00 00 00
      00 18 00 09 00 00 00 02
      00 01 00 10 00 02 00 00 00 00 00 00 00 00 00 00`);
    const cs = decodeMeterConfigs(decodeMultipartReply(msg).body);
    expect(cs.map(formatMeterConfig)).toEqual([
      ['meter=1 kbps burst bands=', 'type=drop rate=65536 burst_size=1280', 'type=dscp_remark rate=1048576 burst_size=61440 prec_level=0'],
      ['meter=2 kbps stats bands=', 'type=drop rate=131072'],
    ]);
    expect(multipartReplies(4, 2, OFPMP_METER_CONFIG, cs.map(encodeMeterConfig))[0].toString('hex')).toBe(msg.toString('hex'));
  });

  it('OFPST_METER reply (OF1.3, ofp-print.at): two meters with band counters', () => {
    const msg = hex(`04 13 00 90 00 00 00 02 00 09 00 00 00 00 00 00
      00 00 00 01 00 48 00 00 00 00 00 00 00 00 00 05
      00 00 00 00 00 00 10 00 00 00 00 00 00 02 30 00
      00 00 01 8a 0a 6e 23 44
      00 00 00 00 00 00 00 7e 00 00 00 00 00 00 34 33
      00 00 00 00 00 00 00 e7 00 00 00 00 00 00 94 2e
      00 00 00 02 00 38 00 00 00 00 00 00 00 00 00 02
      00 00 00 00 00 00 02 00 00 00 00 00 00 00 30 00
      00 00 01 87 0a 23 6e 44
      00 00 00 00 00 00 00 2a 00 00 00 00 00 00 04 33`);
    const ss = decodeMeterStats(decodeMultipartReply(msg).body);
    expect(ss.map(formatMeterStats)).toEqual([
      ['meter:1 flow_count:5 packet_in_count:4096 byte_in_count:143360 duration:394.174990148s bands:', '0: packet_count:126 byte_count:13363', '1: packet_count:231 byte_count:37934'],
      ['meter:2 flow_count:2 packet_in_count:512 byte_in_count:12288 duration:391.170094148s bands:', '0: packet_count:42 byte_count:1075'],
    ]);
    expect(multipartReplies(4, 2, OFPMP_METER, ss.map(encodeMeterStats))[0].toString('hex')).toBe(msg.toString('hex'));
  });

  // Sent by OVS 3.1 for `meter=5 kbps burst stats bands=type=drop rate=1024 burst_size=128 type=drop rate=2048 burst_size=256`.
  const config14 = '0513003800000003000a0000000000000028000d000000050001001000000400000000800000000000010010000008000000010000000000';
  const stats14 = '0513005800000004000900000000000000000005004800000000000000000000000000000000000000000000000000000000000000b71b000000000000000000000000000000000000000000000000000000000000000000';
  const features14 = '0513002000000005000b00000000000000040000000000020000000f08000000';
  const config15 = '0613003800000006000a0000000000000028000d000000050001001000000400000000800000000000010010000008000000010000000000';
  const features15 = '0613002000000007000b00000000000000040000000000020000000f08000000';

  it('OpenFlow 1.4 and 1.5 (recorded from OVS 3.1): METER_CONFIG / METER_DESC, METER and METER_FEATURES in 1.3\'s layout', () => {
    for (const [v, cfgHex, xid] of [[5, config14, 3], [6, config15, 6]] as const) {
      const cs = decodeMeterConfigs(decodeMultipartReply(hex(cfgHex)).body);
      expect(cs.map(formatMeterConfig)).toEqual([['meter=5 kbps burst stats bands=', 'type=drop rate=1024 burst_size=128', 'type=drop rate=2048 burst_size=256']]);
      expect(multipartReplies(v, xid, OFPMP_METER_DESC, cs.map(encodeMeterConfig))[0].toString('hex')).toBe(cfgHex);
    }
    const ss = decodeMeterStats(decodeMultipartReply(hex(stats14)).body);
    expect(ss.map(formatMeterStats)).toEqual([['meter:5 flow_count:0 packet_in_count:0 byte_in_count:0 duration:0.012s bands:', '0: packet_count:0 byte_count:0', '1: packet_count:0 byte_count:0']]);
    expect(multipartReplies(5, 4, OFPMP_METER, ss.map(encodeMeterStats))[0].toString('hex')).toBe(stats14);
    for (const [v, fHex, xid] of [[5, features14, 5], [6, features15, 7]] as const) {
      const f = decodeMeterFeatures(decodeMultipartReply(hex(fHex)).body);
      expect(formatMeterFeatures(f)).toEqual(['max_meter:262144 max_bands:8 max_color:0', 'band_types: drop', 'capabilities: kbps pktps burst stats']);
      expect(multipartReplies(v, xid, OFPMP_METER_FEATURES, [encodeMeterFeatures(f)])[0].toString('hex')).toBe(fHex);
    }
  });

  it('a reply entry whose length is wrong is OFPBRC_BAD_LEN', () => {
    const cfg = encodeMeterConfig({ meterId: 1, flags: 1, bands: [{ type: 1, rate: 5, burstSize: 0, precLevel: 0 }] });
    cfg.writeUInt16BE(20, 0);
    expect(() => decodeMeterConfigs(decodeMultipartReply(multipartReplies(4, 1, OFPMP_METER_CONFIG, [cfg])[0]).body)).toThrow(expect.objectContaining({ label: 'OFPBRC_BAD_LEN' }));
    const st = encodeMeterStats({ meterId: 1, flowCount: 0, packetInCount: 0, byteInCount: 0, durationSec: 0, durationNsec: 0, bands: [{ packetCount: 0, byteCount: 0 }] });
    st.writeUInt16BE(48, 4);
    expect(() => decodeMeterStats(decodeMultipartReply(multipartReplies(4, 1, OFPMP_METER, [st])[0]).body)).toThrow(expect.objectContaining({ label: 'OFPBRC_BAD_LEN' }));
  });
});

describe('the meter of a flow', () => {
  it('OFPT_FLOW_MOD (OF1.3, ofp-print.at): ADD priority=1000 actions=meter:1, the meter an instruction before apply_actions', () => {
    const msg = hex(`04 0e 00 40 cf fe 6b 86 00 00 00 00 00 00 00 00
      00 00 00 00 00 00 00 00 00 00 00 00 00 00 03 e8
      ff ff ff ff ff ff ff ff ff ff ff ff 00 00 00 00
      00 01 00 04 00 00 00 00 00 06 00 08 00 00 00 01`);
    const fm = decodeFlowMod(msg);
    expect(formatFlow(fm.spec)).toBe(formatFlow(parseFlow('priority=1000,actions=meter:1', 'add')));
    const again = decodeFlowMod(encodeFlowMod(4, 0xcffe6b86, fm));
    expect(formatFlow(again.spec)).toBe(formatFlow(fm.spec));
  });

  it('meter:1,output:2 is the meter instruction then apply_actions in 1.3 and 1.4, and the OFPAT15_METER action in 1.5', () => {
    const spec = parseFlow('priority=5,actions=meter:1,output:2', 'add');
    const m13 = encodeFlowMod(4, 1, { command: 'add', spec, bufferId: 0xffffffff });
    // After the 48-byte header and the 8-byte empty match: meter (6), then apply_actions (4) with the output.
    expect(m13.subarray(56).toString('hex')).toBe('0006000800000001' + '0004001800000000' + '00000010000000020000000000000000');
    const m15 = encodeFlowMod(6, 1, { command: 'add', spec, bufferId: 0xffffffff });
    expect(m15.subarray(56).toString('hex')).toBe('0004002000000000' + '001d000800000001' + '00000010000000020000000000000000');
    for (const m of [m13, m15]) expect(formatFlow(decodeFlowMod(m).spec)).toBe(' priority=5 actions=meter:1,output:2');
    // 1.5 has no meter instruction (OFPBIC_UNKNOWN_INST), 1.3 no meter action (OFPBAC_BAD_TYPE), as OVS.
    const inst15 = Buffer.from(m13);
    inst15[0] = 6;
    expect(() => decodeFlowMod(inst15)).toThrow(expect.objectContaining({ label: 'OFPBIC_UNKNOWN_INST' }));
    const act13 = Buffer.from(m15);
    act13[0] = 4;
    expect(() => decodeFlowMod(act13)).toThrow(expect.objectContaining({ label: 'OFPBAC_BAD_TYPE' }));
  });
});
