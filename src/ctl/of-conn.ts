// One OpenFlow connection (a controller or ovs-ofctl on a bridge's .mgmt
// socket): framing, HELLO and version negotiation, echo, and dispatch of
// each request to the bridge (of-bridge.ts). Every request is decoded
// whole before anything is applied; a request swd refuses gets the OpenFlow
// error OVS would send (with the request's xid and first 64 bytes) and
// changes nothing. A peer that breaks framing (a length under 8, a first
// message that is not HELLO, no common version) or floods the input
// buffer is disconnected; that touches no other connection.

import type { Socket } from 'node:net';
import { NXT_FLOW_MOD } from '../openflow/of10.ts';
import { errorName, OFPBRC_BAD_LEN, OFPBRC_BAD_MULTIPART, OFPBRC_BAD_TYPE, OFPBRC_BAD_VERSION, OFPBRC_EPERM, OFPBRC_IS_SLAVE, OFPET_BAD_REQUEST, OFPET_HELLO_FAILED, OFPHFC_INCOMPATIBLE, OfError } from '../openflow/errors.ts';
import { decodeFlowMod } from '../openflow/flow-mod.ts';
import { decodeGroupMod, decodeGroupStatsRequest, encodeGroupDesc, encodeGroupFeatures, encodeGroupStats } from '../openflow/group-mod.ts';
import {
  encodeHello, negotiateVersion, OFP_HEADER_LEN, OFP10_VERSION, OFPT_PACKET_IN, OFPT_EXPERIMENTER, startMsg, finishMsg, OFPT_BARRIER_REQUEST, OFPT_ECHO_REPLY, OFPT_ECHO_REQUEST, OFPT_ERROR,
  OFPT_FEATURES_REQUEST, OFPT_FLOW_MOD, OFPT_GET_CONFIG_REQUEST, OFPT_HELLO, OFPT_MULTIPART_REQUEST, OFPT_ROLE_REQUEST,
  OFPT_SET_CONFIG, OFPT_PACKET_OUT, OFPT_GROUP_MOD, OFPT_METER_MOD, OFPT_PORT_MOD, OFPT_TABLE_MOD, readHeader, SUPPORTED_VERSIONS,
} from '../openflow/header.ts';
import {
  decodeFlowStatsRequest, decodeMultipartRequest, decodePortStatsRequest, encodeAggregate, encodeDesc, encodeFlowStats, encodePortDesc,
  encodePortStats, encodeTableStats, multipartReplies, OFPMP_AGGREGATE, OFPMP_DESC, OFPMP_FLOW, OFPMP_PORT_DESC, OFPMP_PORT_STATS,
  OFPMP_TABLE, OFPMP_TABLE_FEATURES, encodeTableFeatures, encodeFlowStats15, encodeAggregate15, OFPMP_GROUP, OFPMP_GROUP_DESC, OFPMP_GROUP_FEATURES,
} from '../openflow/multipart.ts';
import { decodePacketOut, encodePacketIn, OFPR_ACTION } from '../openflow/packet.ts';
import { OFP_NO_BUFFER } from '../openflow/flow-mod.ts';
import { emptyMatch, setMatchWord } from '../ofproto/match.ts';
import { FK_IN_PORT } from '../packet/flow-key.ts';
import {
  decodeRole, decodeSetConfig, encodeBarrierReply, encodeEchoReply, encodeError, encodeFeaturesReply, encodeGetConfigReply,
  encodeRoleReply, OFPC_FLOW_STATS, OFPC_GROUP_STATS, OFPC_PORT_STATS, OFPC_QUEUE_STATS, OFPC_TABLE_STATS,
} from '../openflow/switch-msgs.ts';
import { OF_TABLES, type OfBridge } from './of-bridge.ts';
import { VERSION } from './version.ts';
import { dispatch10, errorFor10, type Of10State } from './of10-dispatch.ts';
import { bundleKind, Bundles } from './of-bundle.ts';
import { handleNxMessage, type NxConnState } from './of-nx.ts';
import { dispatchMore, multipartMore, packetIn2For } from './of-more.ts';
import { NXPIF_NXT_PACKET_IN2 } from '../openflow/async-msgs.ts';
import { COOKIE_NONE, type PacketInMeta } from '../ofproto/packet-in-table.ts';
import { defaultFor, OAM_PACKET_IN, OFPR_IMPLICIT_MISS, receivesAsync, wireReason } from '../openflow/async-config.ts';
import { handleAsyncRequest } from './of-async-conn.ts';

/** Input a peer may have outstanding before it is cut off (a few maximal messages). */
export const MAX_PENDING = 4 * 0x10000;
/** Replies a peer may leave unread before it is cut off (it asks and never reads). */
export const MAX_UNREAD = 16 * 1024 * 1024;

// ---- connection kinds (of-controller.ts, of-listener.ts) --------------------
/** Controller-bound packets a peer may leave unsent in its socket before more are dropped (counted). */
export const PIN_BACKLOG = 1024 * 1024;
const ROLE_SLAVE = 3;
const NX_VENDOR = 0x2320;

/** Messages that change the switch or send packets: refused to a slave. */
function changesSwitch(msg: Buffer, type: number): boolean {
  if (type === OFPT_EXPERIMENTER) {
    const sub = msg.length >= 16 && msg.readUInt32BE(8) === NX_VENDOR ? msg.readUInt32BE(12) : -1;
    return sub === NXT_FLOW_MOD;
  }
  return type === OFPT_PACKET_OUT || type === OFPT_FLOW_MOD || type === OFPT_GROUP_MOD || type === OFPT_PORT_MOD || type === OFPT_TABLE_MOD || type === OFPT_METER_MOD;
}
/** The most packet bytes a packet-in carries (its 16-bit length holds header, match and data). */
const PIN_MAX_DATA = 0xffff - 512;

export interface OfConnKind {
  /**
   * A service connection (the .mgmt socket, ptcp/punix listeners) gets no
   * packet-ins until it sets a miss_send_len (SET_CONFIG), as OVS; a primary
   * one (a controller swd connected to) starts with 128.
   */
  service?: boolean;
  /** Every message received, after it was handled (rconn's activity and admission). */
  onMessage?: (type: number) => void;
  /** This connection became master: the others of the bridge that were master become slaves (OpenFlow 1.2+ roles). */
  onMaster?: (conn: OfConnection) => void;
}
// ------------------------------------------------------------------------------

/**
 * Messages after which the connection manager looks again at what the
 * connection wants (table misses): HELLO, SET_CONFIG, ROLE_REQUEST,
 * SET_ASYNC, and Nicira's (controller id, async config).
 */
export function changesConfig(type: number): boolean {
  return type === 0 || type === 9 || type === 24 || type === 28 || type === 4;
}

export interface OfConnLog {
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export class OfConnection {
  private buf: Buffer = Buffer.alloc(0);
  private version = 0;
  private config = { flags: 0, missSendLen: 128 };
  private readonly of10: Of10State = { flowFormat: 0, tableIdExt: false, config: { flags: 0, missSendLen: 128 }, packetInFormat: 0 };
  private closed = false;
  /** Counters for tests and logs. */
  readonly stats = { received: 0, errors: 0, packetIns: 0, packetInsDropped: 0 };
  /** The role a ROLE_REQUEST set (1 equal/"other", 2 master, 3 slave). */
  role = 1;
  /** [ofasync] The generation id of this connection's last master/slave ROLE_REQUEST (all ones: none). */
  generationId = 0xffffffffffffffffn;

  constructor(
    private readonly sock: Socket,
    private readonly br: OfBridge,
    private readonly log: OfConnLog,
    private readonly kind: OfConnKind = {},
  ) {
    if (kind.service) this.config.missSendLen = this.of10.config.missSendLen = 0;
    // [ofasync] A service connection that sets its async config gets messages from then on (OVS: miss_send_len 128).
    this.of10.onSetAsync = () => {
      if (!this.kind.service) return;
      if (this.config.missSendLen === 0) this.config.missSendLen = 128;
      if (this.of10.config.missSendLen === 0) this.of10.config.missSendLen = 128;
    };
    sock.on('data', (d: Buffer) => this.onData(d));
    sock.on('error', () => this.close());
    sock.on('close', () => (this.closed = true));
    this.send(encodeHello(Math.max(...SUPPORTED_VERSIONS), 0));
  }

  get negotiated(): number {
    return this.version;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // What was sent this turn (an error before a disconnect) goes out before the socket closes.
    if (this.corked) this.uncork();
    this.sock.destroy();
  }

  private send(b: Buffer): void {
    if (this.closed) return;
    if (this.sock.writableLength > MAX_UNREAD) {
      this.log.warn({ bridge: this.br.name, unread: this.sock.writableLength }, 'OpenFlow peer does not read its replies: disconnecting');
      this.close();
      return;
    }
    // Messages sent in one turn of the event loop (a batch of packet-ins, the replies to one read) leave in one write.
    if (!this.corked) {
      this.corked = true;
      this.sock.cork();
      process.nextTick(this.uncork);
    }
    this.sock.write(b);
  }

  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    this.sock.uncork();
  };

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    if (this.buf.length > MAX_PENDING) {
      this.log.warn({ bridge: this.br.name, pending: this.buf.length }, 'OpenFlow peer floods its input: disconnecting');
      this.close();
      return;
    }
    while (!this.closed && this.buf.length >= OFP_HEADER_LEN) {
      const len = this.buf.readUInt16BE(2);
      if (len < OFP_HEADER_LEN) {
        this.send(encodeError(this.version || this.buf[0], this.buf.readUInt32BE(4), OFPET_BAD_REQUEST, OFPBRC_BAD_LEN, this.buf.subarray(0, 8)));
        this.log.warn({ bridge: this.br.name, len }, 'OpenFlow message shorter than its header: disconnecting');
        this.close();
        return;
      }
      if (this.buf.length < len) return;
      const msg = this.buf.subarray(0, len);
      this.buf = this.buf.subarray(len);
      this.stats.received++;
      this.handle(Buffer.from(msg));
      this.kind.onMessage?.(msg[1]);
    }
  }

  private handle(msg: Buffer): void {
    const h = readHeader(msg);
    if (this.version === 0) {
      if (h.type !== OFPT_HELLO) {
        this.send(encodeError(h.version, h.xid, OFPET_BAD_REQUEST, OFPBRC_EPERM, msg));
        this.close();
        return;
      }
      const v = negotiateVersion(msg);
      if (v === null) {
        const text = Buffer.from(`We support versions 0x01, 0x04-0x06, you support version 0x${h.version.toString(16).padStart(2, '0')}.`);
        this.send(encodeError(h.version, h.xid, OFPET_HELLO_FAILED, OFPHFC_INCOMPATIBLE, text));
        this.log.warn({ bridge: this.br.name, theirs: h.version }, 'OpenFlow version negotiation failed');
        this.close();
        return;
      }
      this.version = v;
      return;
    }
    try {
      // [ofwire] As OVS's vconn: HELLO, ERROR and ECHO of another version pass, anything else is OFPBRC_BAD_VERSION.
      const anyVersion = h.type === OFPT_HELLO || h.type === OFPT_ERROR || h.type === OFPT_ECHO_REQUEST || h.type === OFPT_ECHO_REPLY;
      if (h.version !== this.version && !anyVersion) throw new OfError(OFPET_BAD_REQUEST, OFPBRC_BAD_VERSION, `version 0x${h.version.toString(16)} after negotiating 0x${this.version.toString(16)}`);
      if (h.version !== this.version) {
        if (h.type === OFPT_ECHO_REQUEST) this.send(encodeEchoReply(msg));
      } else if (this.version === OFP10_VERSION) dispatch10(this.br, this.of10, msg, (b) => this.send(b));
      else this.dispatch(msg, h.type, h.xid);
    } catch (err) {
      // Nothing a peer sends may take the daemon down: an unexpected failure is logged and refused.
      let e: OfError;
      if (err instanceof OfError) e = err;
      else {
        this.log.warn({ bridge: this.br.name, err }, 'OpenFlow request failed unexpectedly');
        e = new OfError(OFPET_BAD_REQUEST, OFPBRC_EPERM, (err as Error).message);
      }
      this.stats.errors++;
      this.log.debug({ bridge: this.br.name, error: e.label, reason: e.message }, 'OpenFlow request refused');
      if (this.version === OFP10_VERSION) {
        const [t, c] = errorFor10(e);
        this.send(encodeError(this.version, h.xid, t, c, msg));
      } else this.send(encodeError(this.version, h.xid, e.ofType, e.ofCode, msg, e.experimenter));
    }
  }

  /** [ofwire] Send an asynchronous message built for this peer's version (null: nothing for it). */
  sendAsync(build: (version: number, nx: NxConnState) => Buffer | null, type?: number, reason?: number): void {
    if (this.version === 0 || this.closed) return;
    if (type !== undefined && !this.receives(type, reason ?? 0)) return;
    const b = build(this.version, this.of10);
    if (b) this.send(b);
  }

  /** Below OpenFlow 1.3 a table miss is a packet-in: true when this peer would take one (of-connmgr.ts). */
  get wantsPacketInOnMiss(): boolean {
    return (this.of10.controllerId ?? 0) === 0 && this.receives(OAM_PACKET_IN, OFPR_IMPLICIT_MISS);
  }

  /**
   * [ofasync] Whether this peer gets an asynchronous message of `type` for
   * `reason` (OVS's ofconn_receives_async_msg): a service connection none
   * until it sets a miss_send_len, else as its async config (SET_ASYNC, or
   * OVS's default for its version) says for its role (a slave's secondary masks).
   */
  receives(type: number, reason: number): boolean {
    if (this.version === 0 || this.closed) return false;
    if (this.kind.service && (this.version === OFP10_VERSION ? this.of10.config : this.config).missSendLen === 0) return false;
    return receivesAsync(this.of10.asyncCfg ?? defaultFor(this.version), this.role === ROLE_SLAVE, type, reason);
  }

  /** An inactivity probe (of-controller.ts). */
  sendEchoRequest(): void {
    if (this.version !== 0) this.send(finishMsg(startMsg(this.version, OFPT_ECHO_REQUEST, 0)));
  }

  /**
   * Send a packet-in (the controller action, or a table miss) to this peer,
   * in its version, unless it does not want it (`receives`: a service
   * connection without miss_send_len, a slave, an implicit table miss on
   * OpenFlow 1.3+, a reason SET_ASYNC masked out: OVS's connmgr rules). A peer whose socket holds PIN_BACKLOG unsent bytes gets
   * none until it reads (counted in packetInsDropped).
   */
  packetIn(ofInPort: number, packet: Uint8Array, reason = OFPR_ACTION, tableId = 0, meta?: PacketInMeta): void {
    // controller(id=N) goes only to the connections that took that id (NXT_SET_CONTROLLER_ID).
    if ((meta?.controllerId ?? 0) !== (this.of10.controllerId ?? 0)) return;
    if (!this.receives(OAM_PACKET_IN, reason)) return;
    reason = wireReason(reason, this.version);
    // A packet-in must fit one message (a GSO super-packet does not): dropped, counted.
    if (this.sock.writableLength > PIN_BACKLOG || packet.length > PIN_MAX_DATA) {
      this.stats.packetInsDropped++;
      return;
    }
    this.stats.packetIns++;
    // The whole packet, whatever controller(max_len=N) says: OVS 3.1 buffers nothing and sends it all too.
    const totalLen = packet.length;
    const data = Buffer.from(packet.buffer, packet.byteOffset, totalLen);
    const cookie = meta?.cookie ?? COOKIE_NONE;
    // [ofwire] NXT_PACKET_IN2 when the peer asked for it (ovs-ofctl monitor -P nxt_packet_in2).
    if (this.of10.packetInFormat === NXPIF_NXT_PACKET_IN2) return this.send(packetIn2For(this.version, ofInPort, data, totalLen, reason, tableId, cookie, meta?.userdata ?? null));
    if (this.version === OFP10_VERSION) {
      const w = startMsg(1, OFPT_PACKET_IN, 0).u32(OFP_NO_BUFFER).u16(totalLen).u16(ofInPort).u8(reason).u8(0).bytes(data);
      this.send(finishMsg(w));
      return;
    }
    const match = emptyMatch();
    setMatchWord(match, FK_IN_PORT, ofInPort, 0xffff);
    this.send(encodePacketIn(this.version, 0, { bufferId: OFP_NO_BUFFER, totalLen, reason, tableId, cookie, match, packet: data }));
  }

  private bundles: Bundles | null = null;

  private dispatch(msg: Buffer, type: number, xid: number): void {
    const v = this.version;
    const bk = bundleKind(msg);
    // A slave may read but not write (OVS's reject_slave_controller).
    if (this.role === ROLE_SLAVE && (bk !== null || changesSwitch(msg, type))) {
      throw new OfError(OFPET_BAD_REQUEST, OFPBRC_IS_SLAVE, 'the connection\'s role is slave');
    }
    if (bk) {
      this.bundles ??= new Bundles(this.br);
      const reply = this.bundles.handle(msg, bk);
      if (reply) this.send(reply);
      return;
    }
    switch (type) {
      case OFPT_HELLO: case OFPT_ECHO_REPLY: case OFPT_ERROR:
        return;
      case OFPT_EXPERIMENTER: {
        // [ofwire] Nicira messages of every version (packet-in format, ct flushes): of-nx.ts.
        if (handleNxMessage(this.br, this.of10, msg)) return;
        const vendor = msg.length >= 16 ? msg.readUInt32BE(8) : -1, subtype = msg.length >= 16 ? msg.readUInt32BE(12) : -1;
        throw new OfError(OFPET_BAD_REQUEST, vendor === 0x2320 ? 4 : 3, `experimenter message 0x${vendor.toString(16)}/${subtype} is not supported`);
      }
      case OFPT_ECHO_REQUEST:
        return this.send(encodeEchoReply(msg));
      case OFPT_FEATURES_REQUEST:
        return this.send(encodeFeaturesReply(v, xid, {
          datapathId: this.br.datapathId, nBuffers: 0, nTables: OF_TABLES,
          capabilities: OFPC_FLOW_STATS | OFPC_TABLE_STATS | OFPC_PORT_STATS | OFPC_GROUP_STATS | OFPC_QUEUE_STATS,
        }));
      case OFPT_GET_CONFIG_REQUEST:
        return this.send(encodeGetConfigReply(v, xid, this.config));
      case OFPT_SET_CONFIG:
        this.config = decodeSetConfig(msg);
        return;
      case OFPT_BARRIER_REQUEST:
        return this.send(encodeBarrierReply(v, xid));
      case OFPT_ROLE_REQUEST: {
        const r = decodeRole(msg);
        if (r.role !== 0) this.role = r.role;
        if (r.role === 2 || r.role === 3) this.generationId = r.generationId;
        if (r.role === 2) this.kind.onMaster?.(this);
        return this.send(encodeRoleReply(v, xid, this.role, r.generationId));
      }
      case OFPT_FLOW_MOD:
        this.br.flowMod(decodeFlowMod(msg));
        return;
      case OFPT_GROUP_MOD:
        // OpenFlow 1.5 buckets carry ids and properties: not yet.
        if (v >= 6) throw new OfError(OFPET_BAD_REQUEST, OFPBRC_BAD_TYPE, 'OpenFlow 1.5 group mods are not supported');
        this.br.groupMod(decodeGroupMod(msg));
        return;
      case OFPT_PACKET_OUT:
        this.br.packetOut(decodePacketOut(msg));
        return;
      case OFPT_MULTIPART_REQUEST:
        return this.multipart(msg, xid);
      default:
        // [ofasync] SET_ASYNC / GET_ASYNC_REQUEST: of-async-conn.ts.
        if (handleAsyncRequest(this.of10, msg, type, xid, (b) => this.send(b))) return;
        // [ofwire] PORT_MOD, QUEUE_GET_CONFIG, ...: of-more.ts.
        if (dispatchMore(this.br, msg, type, xid, v, (b) => this.send(b))) return;
        throw new OfError(OFPET_BAD_REQUEST, OFPBRC_BAD_TYPE, `message type ${type} is not supported`);
    }
  }

  private multipart(msg: Buffer, xid: number): void {
    const v = this.version;
    const req = decodeMultipartRequest(msg);
    if (v >= 6 && (req.type === OFPMP_GROUP || req.type === OFPMP_GROUP_DESC)) throw new OfError(OFPET_BAD_REQUEST, OFPBRC_BAD_MULTIPART, 'OpenFlow 1.5 group statistics are not supported');
    let entries: Buffer[];
    switch (req.type) {
      case OFPMP_DESC:
        entries = [encodeDesc({ mfr: 'swd', hw: 'swd userspace switch', sw: VERSION, serial: 'None', dp: `bridge ${this.br.name}` })];
        break;
      case OFPMP_FLOW:
        entries = this.br.flowStats(decodeFlowStatsRequest(req.body)).map((e) => (v >= 6 ? encodeFlowStats15(e, 0) : encodeFlowStats(v, e)));
        break;
      case OFPMP_AGGREGATE: {
        const a = this.br.aggregate(decodeFlowStatsRequest(req.body));
        entries = [v >= 6 ? encodeAggregate15(a.packets, a.bytes, a.flows) : encodeAggregate(a.packets, a.bytes, a.flows)];
        break;
      }
      case OFPMP_TABLE:
        entries = this.br.tableStats().map(encodeTableStats);
        break;
      case OFPMP_PORT_STATS:
        entries = this.br.portStats(decodePortStatsRequest(req.body)).map((p) => encodePortStats(p, v));
        break;
      case OFPMP_PORT_DESC:
        if (v >= 6) decodePortStatsRequest(req.body); // OpenFlow 1.5 names a port (or ANY)
        entries = this.br.portDescs().map((p) => encodePortDesc(p, v));
        break;
      case OFPMP_GROUP:
        entries = this.br.groupStats(decodeGroupStatsRequest(req.body)).map(encodeGroupStats);
        break;
      case OFPMP_GROUP_DESC:
        entries = this.br.groupDescs().map((g) => encodeGroupDesc(v, g));
        break;
      case OFPMP_GROUP_FEATURES:
        entries = [encodeGroupFeatures()];
        break;
      case OFPMP_TABLE_FEATURES:
        // A request with a body would set the tables' features: swd's tables are fixed.
        if (req.body.left) throw new OfError(OFPET_BAD_REQUEST, OFPBRC_EPERM, 'table features cannot be changed');
        entries = [];
        for (let t = 0; t < OF_TABLES; t++) entries.push(encodeTableFeatures(t, '', 1_000_000, OF_TABLES));
        break;
      default: {
        // [ofwire] QUEUE statistics, ...: of-more.ts.
        const more = multipartMore(this.br, req.type, req.body, v);
        if (!more) throw new OfError(OFPET_BAD_REQUEST, OFPBRC_BAD_MULTIPART, `multipart type ${req.type} is not supported`);
        entries = more;
      }
    }
    for (const m of multipartReplies(v, xid, req.type, entries)) this.send(m);
  }
}

export { errorName };
