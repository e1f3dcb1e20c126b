// The OpenFlow 1.0 (+ Nicira extensions) side of a connection: what
// `ovs-ofctl` without -O sends - NXT_SET_FLOW_FORMAT, FLOW_MOD and
// NXT_FLOW_MOD, NXST_FLOW / NXST_AGGREGATE, OFPST_TABLE / PORT / DESC,
// FEATURES_REQUEST (its reply lists the ports), PACKET_OUT, BARRIER - on
// the same OfBridge as OpenFlow 1.3. Errors are sent in 1.0's numbering.

import { Writer } from '../openflow/buffer.ts';
import { OFPBRC_BAD_LEN, OFPBRC_BAD_TYPE, OFPBRC_EPERM, OFPET_BAD_ACTION, OFPET_BAD_REQUEST, OFPET_FLOW_MOD_FAILED, OfError } from '../openflow/errors.ts';
import { bodyReader, finishMsg, readHeader, startMsg } from '../openflow/header.ts';
import {
  decodeActions10, decodeFlowMod10, decodeNxFlowStatsRequest, encodeNxFlowStats, NXST_AGGREGATE, NXST_FLOW, NXT_FLOW_MOD,
  NXT_FLOW_MOD_TABLE_ID, NXT_SET_FLOW_FORMAT, OFPST10_DESC, OFPST10_PORT, OFPST10_TABLE, OFPST10_VENDOR, OFPT10_BARRIER_REPLY,
  OFPT10_BARRIER_REQUEST, OFPT10_FLOW_MOD, OFPT10_STATS_REPLY, OFPT10_STATS_REQUEST, OFPT10_VENDOR,
} from '../openflow/of10.ts';
import { encodeAggregate, encodeDesc } from '../openflow/multipart.ts';
import { NX_EXPERIMENTER_ID } from '../openflow/oxm.ts';
import { encodeEchoReply, encodeGetConfigReply, decodeSetConfig } from '../openflow/switch-msgs.ts';
import { OF_TABLES, type OfBridge } from './of-bridge.ts';
import { VERSION } from './version.ts';
import { handleNxMessage, type NxConnState } from './of-nx.ts';

const OFPBRC10_BAD_SUBTYPE = 4;
const OFPBRC10_BAD_STAT = 2;

export interface Of10State extends NxConnState {
  flowFormat: number;
  tableIdExt: boolean;
  config: { flags: number; missSendLen: number };
}

/** An error in OpenFlow 1.0's numbering (the types after BAD_ACTION moved). */
export function errorFor10(e: OfError): [number, number] {
  if (e.ofType === OFPET_BAD_REQUEST || e.ofType === OFPET_BAD_ACTION) return e.ofCode <= 8 ? [e.ofType, e.ofCode] : [OFPET_BAD_REQUEST, OFPBRC_EPERM];
  if (e.ofType === OFPET_FLOW_MOD_FAILED) {
    const map: Record<number, number> = { 1: 0, 3: 1, 4: 2, 6: 4 };
    return [3, map[e.ofCode] ?? 5];
  }
  if (e.ofType === 0) return [0, e.ofCode];
  // Port mod failed, queue op failed and (1.3-numbered) property errors have 1.0 places of their own.
  if (e.ofType === 7 && e.ofCode <= 1) return [4, e.ofCode];
  if (e.ofType === 9 && e.ofCode <= 2) return [5, e.ofCode];
  if (e.ofType === 13) return [13, e.ofCode];
  return [OFPET_BAD_REQUEST, OFPBRC_EPERM];
}

function statsReplies(xid: number, type: number, entries: Buffer[], vendorSubtype?: number): Buffer[] {
  const out: Buffer[] = [];
  const head = vendorSubtype === undefined ? 12 : 24;
  let batch: Buffer[] = [];
  let size = 0;
  const flush = (more: boolean) => {
    const w = startMsg(1, OFPT10_STATS_REPLY, xid).u16(type).u16(more ? 1 : 0);
    if (vendorSubtype !== undefined) w.u32(NX_EXPERIMENTER_ID).u32(vendorSubtype).zeros(4);
    for (const e of batch) w.bytes(e);
    out.push(finishMsg(w));
    batch = [];
    size = 0;
  };
  for (const e of entries) {
    if (size + e.length > 0xffff - head && batch.length) flush(true);
    batch.push(e);
    size += e.length;
  }
  flush(false);
  return out;
}

function phyPort(w: Writer, p: ReturnType<OfBridge['portDescs']>[number]): void {
  w.u16(p.portNo).bytes(p.hwAddr);
  const name = Buffer.alloc(16);
  name.write(p.name.slice(0, 15));
  w.bytes(name).u32(p.config).u32(p.state & 1).u32(p.curr).u32(p.advertised).u32(p.supported).u32(p.peer);
}

/** Handle one OpenFlow 1.0 message; throws OfError for the connection to answer. */
export function dispatch10(br: OfBridge, st: Of10State, msg: Buffer, send: (b: Buffer) => void): void {
  const { type, xid } = readHeader(msg);
  switch (type) {
    case 0: case 1: case 3:
      return;
    case 2:
      return send(encodeEchoReply(msg));
    case 5: {
      // FEATURES_REPLY: dpid, buffers, tables, capabilities, actions, then the ports.
      const w = startMsg(1, 6, xid).u64(br.datapathId).u32(0).u8(OF_TABLES).zeros(3).u32(0x1 | 0x2 | 0x4 | 0x40 | 0x80).u32(0xfff);
      for (const p of br.portDescs()) phyPort(w, p);
      return send(finishMsg(w));
    }
    case 7:
      return send(encodeGetConfigReply(1, xid, st.config));
    case 9:
      st.config = decodeSetConfig(msg);
      return;
    case OFPT10_BARRIER_REQUEST:
      return send(finishMsg(startMsg(1, OFPT10_BARRIER_REPLY, xid)));
    case OFPT10_FLOW_MOD:
      return br.flowMod(decodeFlowMod10(msg, st.tableIdExt));
    case 13: {
      const r = bodyReader(msg);
      const bufferId = r.u32(), inPort = r.u16(), actionsLen = r.u16();
      if (actionsLen % 8) throw new OfError(OFPET_BAD_REQUEST, OFPBRC_BAD_LEN, 'packet_out actions');
      const actions = decodeActions10(r.sub(actionsLen), false);
      return br.packetOut({ bufferId, inPort, actions, packet: r.bytes(r.left) });
    }
    case OFPT10_VENDOR: {
      const r = bodyReader(msg);
      const vendor = r.u32();
      if (vendor !== NX_EXPERIMENTER_ID) throw new OfError(OFPET_BAD_REQUEST, 3, `vendor 0x${vendor.toString(16)}`);
      const subtype = r.u32();
      if (subtype === NXT_SET_FLOW_FORMAT) {
        const f = r.u32();
        if (f !== 0 && f !== 2) throw new OfError(OFPET_BAD_REQUEST, OFPBRC_EPERM, `flow format ${f}`);
        st.flowFormat = f;
        return;
      }
      if (subtype === NXT_FLOW_MOD_TABLE_ID) {
        st.tableIdExt = r.u8() !== 0;
        return;
      }
      if (subtype === NXT_FLOW_MOD) return br.flowMod(decodeFlowMod10(msg, st.tableIdExt));
      if (handleNxMessage(br, st, msg)) return;
      throw new OfError(OFPET_BAD_REQUEST, OFPBRC10_BAD_SUBTYPE, `Nicira message ${subtype}`);
    }
    case OFPT10_STATS_REQUEST:
      return stats10(br, msg, xid, send);
    default:
      throw new OfError(OFPET_BAD_REQUEST, OFPBRC_BAD_TYPE, `OpenFlow 1.0 message type ${type}`);
  }
}

function stats10(br: OfBridge, msg: Buffer, xid: number, send: (b: Buffer) => void): void {
  const r = bodyReader(msg);
  const type = r.u16();
  r.skip(2);
  let out: Buffer[];
  switch (type) {
    case OFPST10_DESC:
      out = statsReplies(xid, type, [encodeDesc({ mfr: 'swd', hw: 'swd userspace switch', sw: VERSION, serial: 'None', dp: `bridge ${br.name}` })]);
      break;
    case OFPST10_TABLE: {
      const entries = br.tableStats().map((t) => {
        const w = new Writer().u8(t.tableId).zeros(3);
        const name = Buffer.alloc(32);
        name.write(t.tableId === 0 ? 'classifier' : `table${t.tableId}`);
        return w.bytes(name).u32(0x3fffff).u32(1_000_000).u32(t.activeCount).u64(t.lookupCount).u64(t.matchedCount).done();
      });
      out = statsReplies(xid, type, entries);
      break;
    }
    case OFPST10_PORT: {
      const p = r.u16();
      const entries = br.portStats(p === 0xffff ? null : p).map((s) => {
        const w = new Writer().u16(s.portNo).zeros(6);
        for (const v of [s.rxPackets, s.txPackets, s.rxBytes, s.txBytes, s.rxDropped, s.txDropped, s.rxErrors, s.txErrors]) w.u64(v);
        return w.u64(0n).u64(0n).u64(0n).u64(0n).done();
      });
      out = statsReplies(xid, type, entries);
      break;
    }
    case OFPST10_VENDOR: {
      const vendor = r.u32(), subtype = r.u32();
      r.skip(4);
      if (vendor !== NX_EXPERIMENTER_ID) throw new OfError(OFPET_BAD_REQUEST, 3, `vendor 0x${vendor.toString(16)}`);
      const filter = decodeNxFlowStatsRequest(r);
      if (subtype === NXST_FLOW) {
        out = statsReplies(xid, type, br.flowStats(filter).map((e) => encodeNxFlowStats(e, 0)), NXST_FLOW);
      } else if (subtype === NXST_AGGREGATE) {
        const a = br.aggregate(filter);
        out = statsReplies(xid, type, [encodeAggregate(a.packets, a.bytes, a.flows)], NXST_AGGREGATE);
      } else throw new OfError(OFPET_BAD_REQUEST, OFPBRC10_BAD_SUBTYPE, `Nicira stats ${subtype}`);
      break;
    }
    default:
      throw new OfError(OFPET_BAD_REQUEST, OFPBRC10_BAD_STAT, `OpenFlow 1.0 stats type ${type}`);
  }
  for (const m of out) send(m);
}
