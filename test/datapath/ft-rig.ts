// The flowtable tests' datapath: port 1 inside, port 2 outside, conntrack
// zone 1; packets from port 1 run `outActions`, packets from port 2 run
// `backCt` then recirculate and leave on port 1. Every megaflow is wildcarded
// but for recirc_id, in_port, IPv4 and frag=no.

import { Conntrack } from '../../src/conntrack/conntrack.ts';
import { conntrackHook, Datapath, type UpcallResult } from '../../src/datapath/datapath.ts';
import { ct, output, recirc, type DpAction } from '../../src/datapath/dp-actions.ts';
import { DpPort } from '../../src/datapath/port.ts';
import { FK_IN_PORT, FK_RECIRC_ID } from '../../src/packet/flow-key.ts';
import { parseOdpFlow } from '../../src/packet/odp-parse.ts';
import { Recorder } from './recorder.ts';

export const snat = { kind: 'src' as const, addrMin: '10.0.0.1', addrMax: '10.0.0.1' };
export const ctA = (o: { commit: boolean; nat: typeof snat | { kind: null } | null; mark?: number }) =>
  ct({ zone: 1, commit: o.commit, force: false, mark: o.mark === undefined ? null : { value: o.mark, mask: 0xffffffff }, label: null, nat: o.nat, alg: null });

export interface Rig { dp: Datapath; c: Conntrack; p1: Recorder; p2: Recorder }

const mask = parseOdpFlow('recirc_id(0),in_port(1),eth_type(0x0800),ipv4(frag=no)').mask;

/** `protos`: the flowtable's FT_* protocols on both ports (0: offload off). */
export function ftRig(protos: number, outActions: DpAction[], backCt: DpAction): Rig {
  const c = Conntrack.create({ capacity: 64 });
  const translate = (key: Uint32Array): UpcallResult => {
    const m = Uint32Array.from(mask);
    m[FK_RECIRC_ID] = 0xffffffff;
    if (key[FK_IN_PORT] === 1) return { actions: outActions, mask: m };
    if (key[FK_RECIRC_ID] === 0) return { actions: [backCt, recirc(5)], mask: m };
    return { actions: [output(1)], mask: m };
  };
  const dp = new Datapath(translate, conntrackHook(c), translate);
  const p1 = new Recorder(), p2 = new Recorder();
  dp.addPort(new DpPort(1, 'p1', p1, {}));
  dp.addPort(new DpPort(2, 'p2', p2, {}));
  if (protos !== 0) {
    dp.flowtable.config.set(1, protos, 30);
    dp.flowtable.config.set(2, protos, 30);
  }
  return { dp, c, p1, p2 };
}
