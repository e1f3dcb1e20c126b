// Meters in the switch: add-meter/mod-meter/del-meters/dump-meters/
// meter-stats with ovs-ofctl's text, OVS's refusals, the meter:N action
// enforced on the datapath (the packet that missed and later megaflow hits
// alike), flows deleted with their meter, meters saved and restored, and
// check_pkt_larger choosing per packet inside one megaflow. The switch's
// clock is the test's: no timing.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SwitchError } from '../../src/ofproto/api.ts';
import { Switch } from '../../src/ofproto/switch.ts';
import { parsePacketArg } from '../../src/packet/compose.ts';

const UDP = (sport: number) =>
  `in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.1.1.1,dst=10.1.1.2,proto=17,tos=0,ttl=64,frag=no),udp(src=${sport},dst=1)`;

/** The UDP packet of UDP(sport) grown to `len` bytes (IP and UDP lengths and the IP checksum fixed, no UDP checksum), as hex. */
function udpOfLength(sport: number, len: number): string {
  const small = parsePacketArg(UDP(sport)).bytes;
  const b = new Uint8Array(len);
  b.set(small.subarray(0, 42));
  const dv = new DataView(b.buffer);
  dv.setUint16(16, len - 14);
  dv.setUint16(38, len - 34);
  dv.setUint16(40, 0);
  dv.setUint16(24, 0);
  let sum = 0;
  for (let i = 14; i < 34; i += 2) sum += dv.getUint16(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  dv.setUint16(24, ~sum & 0xffff);
  return Buffer.from(b).toString('hex');
}
const dpFlows = (sw: Switch) => sw.dumpDpFlows({}).lines.map((l) => l.replace(/used:[0-9.]+s/, 'used:X'));
const tx = (sw: Switch, port: string) => sw.dumpPorts('br0', port).ports[0].txPackets;
const refusal = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    if (e instanceof SwitchError) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'accepted';
};

describe('meters in the switch', () => {
  let sw: Switch;
  let now = 1_000_000;
  beforeEach(() => {
    now = 1_000_000;
    sw = Switch.fromConfig(null, { defaultBridge: true, now: () => now });
    sw.addPort('br0', { name: 'p3', ofport: 3 });
  });
  afterEach(() => sw.close());

  it('dump-meters and meter-stats print as ovs-ofctl -O OpenFlow13 does', () => {
    sw.addMeter('br0', 'meter=1 kbps burst stats bands=type=drop rate=1000 burst_size=100');
    sw.addMeter('br0', 'meter=2,pktps,bands=type=drop,rate=5,type=drop,rate=10');
    expect(sw.dumpMeters('br0', null).lines).toEqual([
      'OFPST_METER_CONFIG reply (OF1.3) (xid=0x2):',
      'meter=1 kbps burst stats bands=',
      'type=drop rate=1000 burst_size=100',
      '',
      'meter=2 pktps bands=',
      'type=drop rate=5',
      'type=drop rate=10',
    ]);
    sw.addFlows('br0', 'in_port=1,actions=meter:2,output:2', 't');
    now += 1500;
    expect(sw.meterStats('br0', 'meter=2').lines).toEqual([
      'OFPST_METER reply (OF1.3) (xid=0x2):',
      'meter:2 flow_count:1 packet_in_count:0 byte_in_count:0 duration:1.500s bands:',
      '0: packet_count:0 byte_count:0',
      '1: packet_count:0 byte_count:0',
    ]);
    expect(sw.meterFeatures('br0').lines).toEqual([
      'OFPST_METER_FEATURES reply (OF1.3) (xid=0x2):',
      'max_meter:4096 max_bands:8 max_color:0',
      'band_types: drop',
      'capabilities: kbps pktps burst stats',
    ]);
  });

  it('refuses as OVS does', () => {
    sw.addMeter('br0', 'meter=1 pktps bands=type=drop rate=1');
    expect(refusal(() => sw.addMeter('br0', 'meter=1 pktps bands=type=drop rate=2'))).toBe('OFPMMFC_METER_EXISTS: OFPMMFC_METER_EXISTS: meter 1 already exists');
    expect(refusal(() => sw.modMeter('br0', 'meter=7 pktps bands=type=drop rate=2'))).toBe('OFPMMFC_UNKNOWN_METER: OFPMMFC_UNKNOWN_METER: meter 7 does not exist');
    expect(refusal(() => sw.addMeter('br0', 'meter=2 kbps pktps bands=type=drop rate=2'))).toBe("OFPMMFC_BAD_FLAGS: OFPMMFC_BAD_FLAGS: a meter is either 'kbps' or 'pktps'");
    expect(refusal(() => sw.addMeter('br0', 'meter=2 kbps bands=type=dscp_remark rate=2 prec_level=1'))).toBe("OFPMMFC_BAD_BAND: OFPMMFC_BAD_BAND: swd's datapath runs only 'drop' bands");
    expect(refusal(() => sw.addMeter('br0', 'meter=2 kbps bands=type=drop rate=0'))).toBe("EPARSE: (command line):1:20: band must have 'rate'");
    expect(refusal(() => sw.addMeter('br0', 'meter=2 kbps bands=type=drop rate=1 burst_size=5'))).toBe("EPARSE: (command line):1:20: band may have 'burst_size' only when 'burst' flag is set");
    expect(refusal(() => sw.addMeter('br0', 'meter=2 kbps'))).toBe('EPARSE: (command line):1:1: must specify bands');
    expect(refusal(() => sw.addMeter('br0', 'meter=0 kbps bands=type=drop rate=1'))).toBe('EPARSE: (command line):1:7: invalid value for meter');
    expect(refusal(() => sw.addMeter('br0', 'meter=all kbps bands=type=drop rate=1'))).toBe('OFPMMFC_INVALID_METER: OFPMMFC_INVALID_METER: meter id all is not valid for a meter');
    expect(refusal(() => sw.dumpMeters('br0', 'meter=9'))).toBe('OFPMMFC_UNKNOWN_METER: OFPMMFC_UNKNOWN_METER: meter 9 does not exist');
    // A flow may use only a meter that exists (ofproto_check_ofpacts).
    expect(refusal(() => sw.addFlows('br0', 'in_port=1,actions=meter:5,output:2', 'f.txt'))).toBe('OFPMMFC_INVALID_METER: f.txt:1: OFPMMFC_INVALID_METER: meter 5 does not exist');
    expect(sw.dumpFlows('br0', null, { noStats: true }).lines).toEqual([]);
  });

  it('drops above the rate: the missed packet and the megaflow hits pass one bucket; counts are exact', () => {
    sw.addMeter('br0', 'meter=1 pktps burst stats bands=type=drop rate=1 burst_size=3');
    sw.addFlows('br0', 'in_port=1,actions=meter:1,output:2', 't');
    sw.inject('br0', 'p1', UDP(5), 10);
    expect(tx(sw, 'p2')).toBe(3);
    expect(dpFlows(sw)).toEqual(['recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(frag=no), packets:9, bytes:954, used:X, actions:meter(0),2']);
    // One second later one more packet's worth of tokens.
    now += 1000;
    sw.inject('br0', 'p1', UDP(5), 4);
    expect(tx(sw, 'p2')).toBe(4);
    expect(sw.meterStats('br0', null).lines.slice(1)).toEqual([
      'meter:1 flow_count:1 packet_in_count:14 byte_in_count:1484 duration:1s bands:',
      '0: packet_count:10 byte_count:1060',
    ]);
    // mod-meter: new bands, counters and buckets start again; the flow stays.
    sw.modMeter('br0', 'meter=1 pktps burst stats bands=type=drop rate=1 burst_size=5');
    sw.inject('br0', 'p1', UDP(5), 7);
    expect(tx(sw, 'p2')).toBe(9);
    expect(sw.meterStats('br0', 'meter=1').stats[0]).toMatchObject({ flowCount: 1, packetInCount: 7, bands: [{ packetCount: 2, byteCount: 212 }] });
  });

  it('del-meters deletes the flows that use the meter and their megaflows', () => {
    sw.addMeter('br0', 'meter=1 pktps bands=type=drop rate=100');
    sw.addMeter('br0', 'meter=2 pktps bands=type=drop rate=100');
    sw.addFlows('br0', ['in_port=1,udp,tp_src=5,actions=meter:1,output:2', 'in_port=1,udp,tp_src=6,actions=meter:2,output:3', 'in_port=2,actions=output:1'].join('\n'), 't');
    sw.inject('br0', 'p1', UDP(5), 1);
    expect(sw.delMeters('br0', 'meter=1')).toEqual({ deleted: 1, flowsDeleted: 1 });
    expect(sw.dumpFlows('br0', null, { noStats: true }).lines).toEqual([
      ' udp,in_port=1,tp_src=6 actions=meter:2,output:3',
      ' in_port=2 actions=output:1',
    ]);
    expect(dpFlows(sw).filter((l) => l.includes('meter(0)'))).toEqual([]);
    // The datapath id goes back to the pool: the next meter runs on it.
    sw.addMeter('br0', 'meter=9 pktps bands=type=drop rate=100');
    sw.addFlows('br0', 'in_port=1,udp,tp_src=7,actions=meter:9,output:2', 't');
    sw.inject('br0', 'p1', UDP(7), 1);
    expect(dpFlows(sw).some((l) => l.endsWith('actions:meter(0),2'))).toBe(true);
    expect(sw.delMeters('br0', null)).toEqual({ deleted: 2, flowsDeleted: 2 });
    expect(sw.dumpMeters('br0', null).lines).toEqual(['OFPST_METER_CONFIG reply (OF1.3) (xid=0x2):']);
  });

  it('a deleted bridge gives its meters back to the datapath', () => {
    sw.addBridge('br1');
    sw.addMeter('br1', 'meter=1 pktps bands=type=drop rate=1');
    sw.addMeter('br0', 'meter=1 pktps bands=type=drop rate=1');
    sw.delBridge('br1');
    sw.addMeter('br0', 'meter=2 pktps bands=type=drop rate=1');
    sw.addFlows('br0', 'in_port=1,actions=meter:2,output:2', 't');
    sw.inject('br0', 'p1', UDP(5), 1);
    expect(dpFlows(sw).map((l) => l.replace(/.*actions:/, ''))).toEqual(['meter(0),2']);
  });

  it('meters are saved with the bridge and restored before the flows', () => {
    sw.addMeter('br0', 'meter=3 kbps burst bands=type=drop rate=800 burst_size=8');
    sw.addFlows('br0', 'in_port=1,actions=meter:3,output:2', 't');
    const cfg = sw.config();
    expect(cfg.bridges[0].meters).toEqual(['meter=3 kbps burst bands= type=drop rate=800 burst_size=8']);
    const again = Switch.fromConfig(JSON.parse(JSON.stringify(cfg)), { now: () => now });
    try {
      expect(again.dumpMeters('br0', null).lines.slice(1)).toEqual(['meter=3 kbps burst bands=', 'type=drop rate=800 burst_size=8']);
      expect(again.dumpFlows('br0', null, { noStats: true }).lines).toEqual([' in_port=1 actions=meter:3,output:2']);
      // 8 kbit of burst = 1000 bytes: 9 packets of 106 bytes, of which 9 fit (954 bytes), the 10th not.
      again.inject('br0', 'p1', UDP(5), 10);
      expect(again.dumpPorts('br0', 'p2').ports[0].txPackets).toBe(9);
    } finally {
      again.close();
    }
  });

  it('check_pkt_larger: one megaflow, each packet takes the branch of its size', () => {
    sw.addFlows('br0', ['in_port=1,actions=check_pkt_larger(200)->reg0[0],resubmit(,1)', 'table=1,reg0=1,actions=output:3', 'table=1,reg0=0,actions=output:2'].join('\n'), 't');
    sw.inject('br0', 'p1', UDP(5), 1);
    // A 106-byte frame is not larger than 200: port 2.
    expect([tx(sw, 'p2'), tx(sw, 'p3')]).toEqual([1, 0]);
    const flow = 'recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(frag=no)';
    expect(dpFlows(sw)).toEqual([`${flow}, packets:0, bytes:0, used:never, actions:check_pkt_len(size=200,gt(3),le(2))`]);
    // The same megaflow sends a 201-byte frame to port 3, a 200-byte one to port 2.
    sw.inject('br0', 'p1', udpOfLength(5, 201), 2);
    sw.inject('br0', 'p1', udpOfLength(5, 200), 1);
    expect([tx(sw, 'p2'), tx(sw, 'p3')]).toEqual([2, 2]);
    expect(dpFlows(sw)).toEqual([`${flow}, packets:3, bytes:602, used:X, actions:check_pkt_len(size=200,gt(3),le(2))`]);
    // As OVS (3.1, same table): a packet credits the rules of both branches, since one translation made both.
    expect(sw.dumpFlows('br0', 'table=1', {}).flows.map((f) => [f.match, f.nPackets])).toEqual([['reg0=0x1', 4], ['reg0=0', 4]]);
  });
});
