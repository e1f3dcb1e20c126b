// Meter text (ovs-ofctl(8) "Meter Syntax"): parsing with ovs-ofctl's
// messages, printing as ovs-ofctl prints, and a round trip: what
// meterText prints, parseMeterText reads back to the same meter.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ParseError } from '../../src/ofproto/errors.ts';
import { OFPM13_ALL, OFPMBT13_DROP, OFPMF13_BURST, OFPMF13_KBPS, OFPMF13_PKTPS, OFPMF13_STATS, type MeterConfig } from '../../src/ofproto/meter.ts';
import { formatMeterConfig, formatMeterStats, meterText } from '../../src/ofproto/meter-format.ts';
import { parseMeterFile, parseMeterText } from '../../src/ofproto/meter-parse.ts';

const POS = { file: 'm.txt', line: 3, col: 0 };
const err = (text: string, use: 'add' | 'delete' = 'add'): string => {
  try {
    parseMeterText(text, use, POS);
  } catch (e) {
    if (e instanceof ParseError) return e.message;
    throw e;
  }
  return 'accepted';
};

describe('meter text', () => {
  it('parses flags, bands and ids with commas or white space', () => {
    expect(parseMeterText('meter=1 kbps burst stats bands=type=drop rate=1000 burst_size=100', 'add', POS)).toEqual({
      meterId: 1, flags: OFPMF13_KBPS | OFPMF13_BURST | OFPMF13_STATS, bands: [{ type: OFPMBT13_DROP, rate: 1000, burstSize: 100, precLevel: 0 }],
    });
    expect(parseMeterText('meter=0x10,pktps,band=type=drop,rate=5\ttype=dscp_remark,rate=9,prec_level=2', 'add', POS)).toEqual({
      meterId: 16, flags: OFPMF13_PKTPS, bands: [{ type: 1, rate: 5, burstSize: 0, precLevel: 0 }, { type: 2, rate: 9, burstSize: 0, precLevel: 2 }],
    });
    expect(parseMeterText('meter=all', 'delete', POS).meterId).toBe(OFPM13_ALL);
    expect(parseMeterText('meter=7', 'select', POS).meterId).toBe(7);
  });

  it("refuses with ovs-ofctl's messages, located", () => {
    expect(err('meter=1 kbps')).toBe('m.txt:3:1: must specify bands');
    expect(err('kbps bands=type=drop rate=1')).toBe("m.txt:3:1: must specify 'meter'");
    expect(err('meter=1 bands=type=drop rate=1')).toBe("m.txt:3:1: meter must specify either 'kbps' or 'pktps'");
    expect(err('meter=1 kbps bands=rate=1')).toBe("m.txt:3:20: band must start with the 'type' keyword");
    expect(err('meter=1 kbps bands=type=red rate=1')).toBe('m.txt:3:25: field type unknown value red');
    expect(err('meter=1 kbps bands=type=drop rate=x')).toBe('m.txt:3:35: invalid numeric format x');
    expect(err('meter=1 kbps bands=type=drop speed=1')).toBe('m.txt:3:30: unknown keyword speed');
    expect(err('meter=1 kbps bands=type=drop rate')).toBe('m.txt:3:30: field rate missing value');
    expect(err('meter=1 kbps burst bands=type=drop rate=1')).toBe("m.txt:3:26: band must have 'burst_size' when 'burst' flag is set");
    expect(err('meter=1 kbps bands=type=dscp_remark rate=1')).toBe("m.txt:3:20: 'dscp_remark' band must have 'prec_level'");
    expect(err('meter=4294901761 kbps bands=type=drop rate=1')).toBe('m.txt:3:7: invalid value for meter');
    expect(err('meter=1 kbps', 'delete')).toBe('m.txt:3:9: field kbps missing value');
    expect(err('colour=1', 'delete')).toBe('m.txt:3:1: unknown keyword colour');
  });

  it('prints as ovs-ofctl dump-meters and meter-stats do', () => {
    const c = parseMeterText('meter=2 pktps burst bands=type=drop rate=5 burst_size=6 type=drop rate=10 burst_size=1', 'add', POS);
    expect(formatMeterConfig(c)).toEqual(['meter=2 pktps burst bands=', 'type=drop rate=5 burst_size=6', 'type=drop rate=10 burst_size=1']);
    expect(formatMeterStats({ meterId: 2, flowCount: 1, packetInCount: 9, byteInCount: 900, durationSec: 3, durationNsec: 250_000_000, bands: [{ packetCount: 2, byteCount: 200 }] })).toEqual([
      'meter:2 flow_count:1 packet_in_count:9 byte_in_count:900 duration:3.250s bands:',
      '0: packet_count:2 byte_count:200',
    ]);
    expect(parseMeterFile('# meters\n\nmeter=1 kbps bands=type=drop rate=1\n  meter=2 pktps bands=type=drop rate=2\n', 'f', 'add').map((m) => [m.line, m.config.meterId])).toEqual([[3, 1], [4, 2]]);
  });

  it('round trip: meterText parses back to the same meter', () => {
    const band = (burst: boolean) => fc.record({
      type: fc.constant(OFPMBT13_DROP), rate: fc.integer({ min: 1, max: 0xffffffff }),
      burstSize: burst ? fc.integer({ min: 1, max: 0xffffffff }) : fc.constant(0), precLevel: fc.constant(0),
    });
    const meter = fc.boolean().chain((burst) => fc.record({
      meterId: fc.integer({ min: 1, max: 0xffff0000 }),
      flags: fc.tuple(fc.constantFrom(OFPMF13_KBPS, OFPMF13_PKTPS), fc.boolean()).map(([u, st]) => u | (burst ? OFPMF13_BURST : 0) | (st ? OFPMF13_STATS : 0)),
      bands: fc.array(band(burst), { minLength: 1, maxLength: 8 }),
    }));
    fc.assert(fc.property(meter, (m: MeterConfig) => {
      expect(parseMeterText(meterText(m), 'add', POS)).toEqual(m);
    }));
  });
});
