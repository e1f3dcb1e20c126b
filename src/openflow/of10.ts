// OpenFlow 1.0 with Nicira extensions, what `ovs-ofctl` speaks without -O:
// the ofp10_match (wildcards) and NXM matches, OpenFlow 1.0 actions, and
// the messages its commands send (FLOW_MOD and NXT_FLOW_MOD, NXST_FLOW and
// NXST_AGGREGATE, OFPST_TABLE, OFPST_PORT, FEATURES_REPLY with its ports).
// Instructions travel as OVS sends them over 1.0: goto_table as
// resubmit(,N), write_metadata as NXAST_WRITE_METADATA.

import type { OfAction } from '../ofproto/actions.ts';
import { OFPP_CONTROLLER, OFPP_IN_PORT } from '../ofproto/actions.ts';
import { emptyMatch, setMatchWord, type Match } from '../ofproto/match.ts';
import { lookupField } from '../ofproto/fields.ts';
import { FK_ETH_DST_HI, FK_ETH_SRC_HI, FK_ETH_TYPE, FK_IN_PORT, FK_NW_DST, FK_NW_PROTO, FK_NW_SRC, FK_NW_TOS, FK_TP_DST, FK_TP_SRC, FK_VLAN_TCI } from '../packet/flow-key.ts';
import { ipv4FromText } from '../packet/addr.ts';
import { Reader, Writer } from './buffer.ts';
import { OFPBAC_BAD_ARGUMENT, OFPBAC_BAD_LEN, OFPBAC_BAD_OUT_PORT, OFPBAC_BAD_TYPE, OFPBIC_UNSUP_INST, OFPET_BAD_ACTION, OFPET_BAD_INSTRUCTION, OfError } from './errors.ts';
import { blankSpec, flagsFromWire, flagsToWire, type FlowMod, type FlowModCommand } from './flow-mod.ts';
import { bodyReader } from './header.ts';
import { type NestedCodec } from './nx-actions.ts';
import { decodeNx as decodeNxAction, encodeNx as encodeNxAction } from './nx-actions-more.ts';
import { decodeMatchFields, encodeMatchFields, NX_EXPERIMENTER_ID } from './oxm.ts';
import type { FlowStatsEntry } from './multipart.ts';

export const OFPT10_VENDOR = 4;
export const OFPT10_FLOW_MOD = 14;
export const OFPT10_STATS_REQUEST = 16;
export const OFPT10_STATS_REPLY = 17;
export const OFPT10_BARRIER_REQUEST = 18;
export const OFPT10_BARRIER_REPLY = 19;
export const NXT_SET_FLOW_FORMAT = 12;
export const NXT_FLOW_MOD = 13;
export const NXT_FLOW_MOD_TABLE_ID = 15;
export const NXST_FLOW = 0;
export const NXST_AGGREGATE = 1;
export const OFPST10_DESC = 0;
export const OFPST10_FLOW = 1;
export const OFPST10_AGGREGATE = 2;
export const OFPST10_TABLE = 3;
export const OFPST10_PORT = 4;
export const OFPST10_VENDOR = 0xffff;

const OFPAT10_ENQUEUE = 11;
const bad = (code: number, msg: string) => new OfError(OFPET_BAD_ACTION, code, msg);
const COMMANDS: FlowModCommand[] = ['add', 'modify', 'modify_strict', 'delete', 'delete_strict'];

// ------------------------------------------------------------ actions

const macBytes = (mac: string) => Buffer.from(mac.replace(/:/g, ''), 'hex');
const macText = (b: Buffer) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
const ipText = (v: number) => [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff].join('.');

function encodeOne10(w: Writer, a: OfAction, nested: NestedCodec): void {
  switch (a.type) {
    case 'output':
      if (a.maxLen !== undefined && a.maxLen !== 65535 && a.port !== OFPP_CONTROLLER) return void encodeNxAction(w, a, nested);
      w.u16(0).u16(8).u16(a.port).u16(a.port === OFPP_CONTROLLER ? (a.maxLen ?? 65535) : 0);
      return;
    case 'controller':
      if (a.reason === undefined && a.id === undefined && a.userdata === undefined && !a.pause && a.meterId === undefined) return void w.u16(0).u16(8).u16(OFPP_CONTROLLER).u16(a.maxLen);
      encodeNxAction(w, a, nested);
      return;
    case 'mod_vlan_vid': w.u16(1).u16(8).u16(a.vid).zeros(2); return;
    case 'mod_vlan_pcp': w.u16(2).u16(8).u8(a.pcp).zeros(3); return;
    case 'strip_vlan': case 'pop_vlan': w.u16(3).u16(8).zeros(4); return;
    case 'mod_dl_src': case 'mod_dl_dst': w.u16(a.type === 'mod_dl_src' ? 4 : 5).u16(16).bytes(macBytes(a.mac)).zeros(6); return;
    case 'mod_nw_src': case 'mod_nw_dst': w.u16(a.type === 'mod_nw_src' ? 6 : 7).u16(8).u32(ipv4FromText(a.addr) ?? 0); return;
    case 'mod_nw_tos': w.u16(8).u16(8).u8(a.tos).zeros(3); return;
    case 'mod_tp_src': case 'mod_tp_dst': w.u16(a.type === 'mod_tp_src' ? 9 : 10).u16(8).u16(a.port).zeros(2); return;
    case 'mod_nw_ecn': encodeNxAction(w, { type: 'load', value: BigInt(a.ecn), dst: { field: 'nw_ecn', ofs: 0, nbits: 2 } }, nested); return;
    case 'mod_nw_ttl': encodeNxAction(w, { type: 'load', value: BigInt(a.ttl), dst: { field: 'nw_ttl', ofs: 0, nbits: 8 } }, nested); return;
    case 'set_field':
      for (const x of setFieldAs10(a)) encodeOne10(w, x, nested);
      return;
    case 'goto_table': encodeNxAction(w, { type: 'resubmit', port: OFPP_IN_PORT, table: a.table }, nested); return;
    case 'write_metadata':
      w.u16(0xffff).u16(32).u32(NX_EXPERIMENTER_ID).u16(22).zeros(6).u64(a.value).u64(a.mask ?? 0xffffffffffffffffn);
      return;
    case 'clear_actions': return;
    case 'dec_ttl':
      if (!a.ids) {
        w.u16(0xffff).u16(16).u32(NX_EXPERIMENTER_ID).u16(18).zeros(6);
        return;
      }
      encodeNxAction(w, a, nested);
      return;
    case 'group': w.u16(0xffff).u16(16).u32(NX_EXPERIMENTER_ID).u16(40).zeros(2).u32(a.groupId); return;
    case 'enqueue': w.u16(OFPAT10_ENQUEUE).u16(16).u16(a.port).zeros(6).u32(a.queue); return;
    case 'push_vlan': throw bad(OFPBAC_BAD_TYPE, 'push_vlan has no OpenFlow 1.0 encoding');
    default:
      if (!encodeNxAction(w, a, nested)) throw bad(OFPBAC_BAD_TYPE, `action ${a.type} has no OpenFlow 1.0 encoding`);
  }
}

function decodeOne10(r: Reader, nested: NestedCodec): OfAction {
  const type = r.u16(), len = r.u16();
  if (len < 8 || len % 8 || len - 4 > r.left) throw bad(OFPBAC_BAD_LEN, `action type ${type}: length ${len}`);
  const b = r.sub(len - 4, () => bad(OFPBAC_BAD_LEN, 'action truncated'));
  const fixed = (n: number) => {
    if (len !== n) throw bad(OFPBAC_BAD_LEN, `action type ${type}: length ${len}`);
  };
  switch (type) {
    case 0: {
      fixed(8);
      const port = b.u16(), maxLen = b.u16();
      if ((port >= 0xff00 && port < 0xfff8) || port === 0xffff) throw bad(OFPBAC_BAD_OUT_PORT, `output to port ${port}`);
      return port === OFPP_CONTROLLER ? { type: 'controller', maxLen } : { type: 'output', port };
    }
    case 1: fixed(8); return { type: 'mod_vlan_vid', vid: b.u16() & 0xfff };
    case 2: fixed(8); return { type: 'mod_vlan_pcp', pcp: b.u8() & 7 };
    case 3: fixed(8); return { type: 'strip_vlan' };
    case 4: case 5: fixed(16); return { type: type === 4 ? 'mod_dl_src' : 'mod_dl_dst', mac: macText(b.bytes(6)) };
    case 6: case 7: fixed(8); return { type: type === 6 ? 'mod_nw_src' : 'mod_nw_dst', addr: ipText(b.u32()) };
    case 8: {
      fixed(8);
      const tos = b.u8();
      if (tos & 3) throw bad(OFPBAC_BAD_ARGUMENT, 'mod_nw_tos with ECN bits');
      return { type: 'mod_nw_tos', tos };
    }
    case 9: case 10: fixed(8); return { type: type === 9 ? 'mod_tp_src' : 'mod_tp_dst', port: b.u16() };
    case OFPAT10_ENQUEUE: {
      fixed(16);
      const port = b.u16();
      b.skip(6);
      if (port === 0 || (port >= 0xff00 && port !== 0xfff8 && port !== 0xfffe)) throw bad(OFPBAC_BAD_OUT_PORT, `enqueue to port ${port}`);
      return { type: 'enqueue', port, queue: b.u32() };
    }
    case 0xffff: {
      if (len < 16) throw bad(OFPBAC_BAD_LEN, 'vendor action shorter than 16 bytes');
      const vendor = b.u32();
      if (vendor !== NX_EXPERIMENTER_ID) throw bad(2, `vendor 0x${vendor.toString(16)}`);
      return decodeNxAction(b.u16(), b, nested);
    }
    default:
      throw bad(OFPBAC_BAD_TYPE, `unknown OpenFlow 1.0 action type ${type}`);
  }
}

/**
 * A set_field as OpenFlow 1.0 carries it (and as format-actions prints it):
 * the 1.0 action where one exists, else one register load per contiguous
 * run of mask bits, at most 64 bits each.
 */
function setFieldAs10(a: Extract<OfAction, { type: 'set_field' }>): OfAction[] {
  const def = lookupField(a.field);
  if (!def) throw bad(OFPBAC_BAD_ARGUMENT, `set_field of ${a.field}`);
  const full = (1n << BigInt(def.bits)) - 1n;
  const mask = a.mask ?? full;
  if (mask === full) {
    const v = a.value;
    const mac = () => [...Buffer.from(v.toString(16).padStart(12, '0'), 'hex')].map((x) => x.toString(16).padStart(2, '0')).join(':');
    switch (def.name) {
      case 'eth_src': return [{ type: 'mod_dl_src', mac: mac() }];
      case 'eth_dst': return [{ type: 'mod_dl_dst', mac: mac() }];
      case 'nw_src': return [{ type: 'mod_nw_src', addr: ipText(Number(v)) }];
      case 'nw_dst': return [{ type: 'mod_nw_dst', addr: ipText(Number(v)) }];
      case 'tp_src': case 'tcp_src': case 'udp_src': return [{ type: 'mod_tp_src', port: Number(v) }];
      case 'tp_dst': case 'tcp_dst': case 'udp_dst': return [{ type: 'mod_tp_dst', port: Number(v) }];
      case 'dl_vlan': return [{ type: 'mod_vlan_vid', vid: Number(v) }];
      case 'dl_vlan_pcp': return [{ type: 'mod_vlan_pcp', pcp: Number(v) }];
      case 'ip_dscp': return [{ type: 'mod_nw_tos', tos: Number(v) << 2 }];
      case 'nw_tos': return [{ type: 'mod_nw_tos', tos: Number(v) }];
    }
  }
  const out: OfAction[] = [];
  for (let bit = 0; bit < def.bits; ) {
    if (!((mask >> BigInt(bit)) & 1n)) {
      bit++;
      continue;
    }
    let end = bit;
    while (end + 1 < def.bits && end + 1 - bit < 64 && (mask >> BigInt(end + 1)) & 1n) end++;
    const n = end - bit + 1;
    out.push({ type: 'load', value: (a.value >> BigInt(bit)) & ((1n << BigInt(n)) - 1n), dst: { field: def.name, ofs: bit, nbits: n } });
    bit = end + 1;
  }
  return out;
}

/**
 * OpenFlow 1.0 actions filling `r`. Only a flow mod's list may carry NX
 * write_metadata (it stands for the instruction there); elsewhere (a
 * packet-out) OVS refuses it as OFPBIC_UNSUP_INST.
 */
export function decodeActions10(r: Reader, inFlowMod: boolean): OfAction[] {
  const acts = actionCodec10().decode(r);
  if (!inFlowMod && acts.some((a) => a.type === 'write_metadata')) throw new OfError(OFPET_BAD_INSTRUCTION, OFPBIC_UNSUP_INST, 'write_metadata not allowed here');
  return acts;
}

/** The OpenFlow 1.0 action codec; `inCtExec` for ct's exec(). */
export function actionCodec10(inCtExec = false): NestedCodec {
  const codec: NestedCodec = {
    inCtExec,
    get ctExec(): NestedCodec {
      return inCtExec ? codec : actionCodec10(true);
    },
    encode(w, acts) {
      for (const a of acts) encodeOne10(w, a, codec);
    },
    decode(r) {
      const out: OfAction[] = [];
      while (r.left > 0) {
        if (r.left < 4) throw bad(OFPBAC_BAD_LEN, 'action header truncated');
        out.push(decodeOne10(r, codec));
      }
      // OpenFlow 1.0's NX write_metadata and resubmit-as-goto stay actions: the model takes them as they came.
      return out;
    },
  };
  return codec;
}

// ------------------------------------------------------------ ofp10_match

const OFPFW10_IN_PORT = 1 << 0, OFPFW10_DL_VLAN = 1 << 1, OFPFW10_DL_SRC = 1 << 2, OFPFW10_DL_DST = 1 << 3, OFPFW10_DL_TYPE = 1 << 4;
const OFPFW10_NW_PROTO = 1 << 5, OFPFW10_TP_SRC = 1 << 6, OFPFW10_TP_DST = 1 << 7, OFPFW10_DL_VLAN_PCP = 1 << 20, OFPFW10_NW_TOS = 1 << 21;
const NW_SRC_SHIFT = 8, NW_DST_SHIFT = 14;

function prefixMask(bitsWild: number): number {
  return bitsWild >= 32 ? 0 : (0xffffffff << bitsWild) >>> 0;
}

export function decodeMatch10(r: Reader): Match {
  const wc = r.u32(), inPort = r.u16(), dlSrc = r.bytes(6), dlDst = r.bytes(6), dlVlan = r.u16(), pcp = r.u8();
  r.skip(1);
  const dlType = r.u16(), tos = r.u8(), proto = r.u8();
  r.skip(2);
  const nwSrc = r.u32(), nwDst = r.u32(), tpSrc = r.u16(), tpDst = r.u16();
  const m = emptyMatch();
  if (!(wc & OFPFW10_IN_PORT)) setMatchWord(m, FK_IN_PORT, inPort, 0xffff);
  const mac = (w: number, b: Buffer) => {
    setMatchWord(m, w, b.readUInt16BE(0), 0xffff);
    setMatchWord(m, w + 1, b.readUInt32BE(2), 0xffffffff);
  };
  if (!(wc & OFPFW10_DL_SRC)) mac(FK_ETH_SRC_HI, dlSrc);
  if (!(wc & OFPFW10_DL_DST)) mac(FK_ETH_DST_HI, dlDst);
  if (!(wc & OFPFW10_DL_VLAN)) {
    if (dlVlan === 0xffff) setMatchWord(m, FK_VLAN_TCI, 0, 0xffff); // OFP_VLAN_NONE: no tag
    else setMatchWord(m, FK_VLAN_TCI, 0x1000 | (dlVlan & 0xfff), 0x1fff);
  }
  if (!(wc & OFPFW10_DL_VLAN_PCP) && dlVlan !== 0xffff) setMatchWord(m, FK_VLAN_TCI, 0x1000 | (pcp << 13), 0xf000);
  if (!(wc & OFPFW10_DL_TYPE)) setMatchWord(m, FK_ETH_TYPE, dlType, 0xffff);
  const ip = dlType === 0x0800 && !(wc & OFPFW10_DL_TYPE), arp = dlType === 0x0806 && !(wc & OFPFW10_DL_TYPE);
  if (ip || arp) {
    const srcMask = prefixMask((wc >>> NW_SRC_SHIFT) & 0x3f), dstMask = prefixMask((wc >>> NW_DST_SHIFT) & 0x3f);
    if (srcMask) setMatchWord(m, FK_NW_SRC, nwSrc, srcMask);
    if (dstMask) setMatchWord(m, FK_NW_DST, nwDst, dstMask);
    if (!(wc & OFPFW10_NW_PROTO)) setMatchWord(m, FK_NW_PROTO, proto, arp ? 0xff : 0xff);
  }
  if (ip) {
    if (!(wc & OFPFW10_NW_TOS)) setMatchWord(m, FK_NW_TOS, tos & 0xfc, 0xfc);
    if (!(wc & OFPFW10_NW_PROTO) && (proto === 6 || proto === 17 || proto === 1 || proto === 132)) {
      if (!(wc & OFPFW10_TP_SRC)) setMatchWord(m, FK_TP_SRC, tpSrc, proto === 1 ? 0xff : 0xffff);
      if (!(wc & OFPFW10_TP_DST)) setMatchWord(m, FK_TP_DST, tpDst, proto === 1 ? 0xff : 0xffff);
    }
  }
  return m;
}

// ------------------------------------------------------------ flow mods

/** OFPT_FLOW_MOD (ofp10_match) or NXT_FLOW_MOD (NXM); `tableIdExt`: NXT_FLOW_MOD_TABLE_ID is on. */
export function decodeFlowMod10(msg: Buffer, tableIdExt: boolean): FlowMod {
  const r = bodyReader(msg);
  let match: Match;
  let cookie: bigint, cmdWord: number, idle: number, hard: number, priority: number, bufferId: number, outPort: number, flags: number;
  let cookieFilter: [bigint, bigint] | undefined;
  if (msg[1] === OFPT10_VENDOR) {
    r.skip(8); // vendor, subtype
    cookie = r.u64();
    cmdWord = r.u16(); idle = r.u16(); hard = r.u16(); priority = r.u16(); bufferId = r.u32(); outPort = r.u16(); flags = r.u16();
    const matchLen = r.u16();
    r.skip(6);
    const dm = decodeMatchFields(r.sub(matchLen), true);
    r.skip(((matchLen + 7) & ~7) - matchLen);
    match = dm.match;
    cookieFilter = dm.cookie;
  } else {
    match = decodeMatch10(r);
    cookie = r.u64();
    cmdWord = r.u16(); idle = r.u16(); hard = r.u16(); priority = r.u16(); bufferId = r.u32(); outPort = r.u16(); flags = r.u16();
  }
  const cmd = cmdWord & 0xff;
  const table = tableIdExt ? cmdWord >> 8 : 0xff;
  if (cmd >= COMMANDS.length) throw new OfError(3, 4, `flow_mod command ${cmd}`); // OFPFMFC_BAD_COMMAND (1.0)
  const command = COMMANDS[cmd];
  const actions = decodeActions10(r, true);
  const spec = blankSpec(match);
  const isDel = command.startsWith('delete');
  spec.table = table === 0xff ? 0 : table;
  spec.tableGiven = table !== 0xff;
  Object.assign(spec, { priority, idleTimeout: idle, hardTimeout: hard, flags: flagsFromWire(flags & 0x7), actions: isDel ? [] : actions });
  // OpenFlow 1.0's add always resets counters; OVS records that as reset_counts (shown by 1.3 dumps).
  if (command === 'add') {
    spec.cookie = cookie;
    spec.flags.push('reset_counts');
  } else if (cookieFilter) {
    spec.cookie = cookieFilter[0];
    spec.cookieMask = cookieFilter[1];
  }
  if (isDel && outPort !== 0xffff) spec.outPort = outPort;
  return { command, spec, bufferId };
}

/** An NXST_FLOW or NXST_AGGREGATE request: out_port, match, table. */
export function decodeNxFlowStatsRequest(r: Reader) {
  const outPort = r.u16(), matchLen = r.u16(), table = r.u8();
  r.skip(3);
  const dm = decodeMatchFields(r.sub(matchLen), true);
  const spec = blankSpec(dm.match);
  spec.table = table === 0xff ? 0 : table;
  spec.tableGiven = table !== 0xff;
  spec.outPort = outPort === 0xffff ? null : outPort;
  if (dm.cookie) {
    spec.cookie = dm.cookie[0];
    spec.cookieMask = dm.cookie[1];
  }
  return spec;
}

export function encodeNxFlowStats(e: FlowStatsEntry, idleAgeSec: number): Buffer {
  const w = new Writer();
  const s = e.spec;
  w.u16(0).u8(s.table).u8(0).u32(e.durationSec).u32(e.durationNsec).u16(s.priority).u16(s.idleTimeout).u16(s.hardTimeout);
  const mlAt = w.len;
  w.u16(0).u16(idleAgeSec + 1).u16(0).u64(s.cookie).u64(e.packetCount).u64(e.byteCount);
  const start = w.len;
  encodeMatchFields(w, s.match, false);
  w.put16(mlAt, w.len - start);
  w.pad(8);
  actionCodec10().encode(w, s.actions);
  w.put16(0, w.len);
  return w.done();
}

export { flagsToWire };
