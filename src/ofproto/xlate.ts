// Translation: runs a flow key through a bridge's OpenFlow tables and produces
// the datapath actions for it plus the megaflow mask — the bits of the key
// that the outcome depended on. This is the upcall (slow) path; it may
// allocate freely. The rules that must stay true for megaflows to be correct:
// - every classifier lookup ORs the masks of the subtables it visited into wc;
// - every action that reads a field (NORMAL reads MACs and VLAN, dec_ttl reads
//   the TTL, move/output_reg read their source) unwildcards what it read;
// - a header field rewritten by a set action is unwildcarded, so the action's
//   result does not depend on bits the megaflow ignores;
// - OpenFlow-only state (registers, metadata) never reaches the datapath
//   mask: it is constant per recirc id (frozen state), so it is cleared from
//   wc at the end.
//
// `flow` is the packet as OpenFlow currently sees it (in_port as an OpenFlow
// port number); `base` is the packet as the datapath has it after the
// actions emitted so far. Differences are committed as set/push/pop actions
// just before any action that lets the packet leave translation's hands
// (output, ct, recirc, userspace).

import {
  FK_CT_LABEL, FK_CT_MARK, FK_CT_NW_DST, FK_CT_NW_PROTO, FK_CT_NW_SRC, FK_CT_STATE, FK_CT_TP, FK_CT_ZONE,
  FK_CT_IPV6_DST, FK_CT_IPV6_SRC, FK_ETH_DST_HI, FK_ETH_DST_LO, FK_ETH_SRC_HI, FK_ETH_SRC_LO, FK_ETH_TYPE,
  FK_IN_PORT, FK_IPV6_DST, FK_IPV6_LABEL, FK_IPV6_SRC, FK_METADATA_HI, FK_NW_DST, FK_NW_FRAG, FK_NW_PROTO,
  FK_NW_SRC, FK_NW_TOS, FK_NW_TTL, FK_PKT_MARK, FK_RECIRC_ID, FK_REG0, FK_TP_DST, FK_TP_SRC, FK_VLAN_TCI, FK_TCP_FLAGS,
  FK_WORDS, ETH_TYPE_ARP, ETH_TYPE_IP, ETH_TYPE_IPV6, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP, VLAN_CFI, macFromKey,
  FRAG_ANY, FRAG_LATER, FK_ARP_SHA_HI, FK_ARP_THA_HI,
} from '../packet/flow-key.ts';
import type { CtAction, OfAction } from './actions.ts';
import {
  OFPP_ALL, OFPP_CONTROLLER, OFPP_FLOOD, OFPP_IN_PORT, OFPP_LOCAL, OFPP_NORMAL, OFPP_NONE, OFPP_TABLE,
} from './actions.ts';
import type { Classifier } from './classifier.ts';
import { bestLiveBucket, fieldsHash, symmetricL4Hash, type Bucket, type Group } from './group.ts';
import { fieldKeyMask, readField, readSlice, writeField, writeSlice } from './fields.ts';
import { formatActions } from './format-actions.ts';
import { formatMatch } from './format-flow.ts';
import type { MacTable } from './mac-learning.ts';
import type { RecircIds } from './recirc.ts';
import type { Rule } from './rule.ts';
import * as dp from '../datapath/dp-actions.ts';

/** Maximum nesting of resubmit/goto, and total table lookups per translation (OVS's limits). */
export const MAX_RESUBMIT_DEPTH = 64;
export const MAX_RESUBMITS = 4096;
/** First and last flow-key words that exist only in OpenFlow (metadata, regs). */
const OF_ONLY_FIRST = FK_METADATA_HI;
const OF_ONLY_LAST = FK_REG0 + 15;

export interface XPort {
  name: string;
  ofport: number;
  dpPort: number;
  up: boolean;
}

/** What translation needs from a bridge. */
export interface XBridge {
  name: string;
  tables: Classifier<Rule>[];
  portsByOf: Map<number, XPort>;
  portsByDp: Map<number, XPort>;
  macs: MacTable;
  recirc: RecircIds;
  /** OpenFlow groups by id. */
  groups: Map<number, Group>;
  /** Counted when a translation sends to the (absent) controller. */
  onControllerPacket?: () => void;
}

export interface XlateResult {
  actions: dp.DpAction[];
  mask: Uint32Array;
  rules: Rule[];
  /** Lines of ofproto/trace output when tracing. */
  trace: string[] | null;
  /** Problems that aborted translation (loop, too many resubmits): the packet is dropped. */
  error: string | null;
  /** The flow as OpenFlow last saw it (in_port as an OpenFlow port), for trace's "Final flow". */
  finalFlow: Uint32Array;
  /** MAC addresses NORMAL learned (or would learn) from this flow: refreshed while the megaflow sees packets. */
  learned: { macs: MacTable; vlan: number; mac: string; port: number }[];
  /** Groups (and the bucket index taken, -1 for none) the flow went through, credited like rules. */
  groups: GroupHit[];
}

export interface GroupHit {
  group: Group;
  /** Index of the bucket taken, -1 for none. */
  bucket: number;
  /** False for the second and later buckets of an `all` group (the group counts a packet once). */
  countGroup: boolean;
}

class Ctx {
  readonly flow: Uint32Array;
  readonly base: Uint32Array;
  readonly wc = new Uint32Array(FK_WORDS);
  readonly out: dp.DpAction[] = [];
  readonly rules: Rule[] = [];
  readonly groups: GroupHit[] = [];
  depth = 0;
  resubmits = 0;
  table = 0;
  error: string | null = null;
  /** Whether NORMAL may update the MAC table (not when revalidating or tracing). */
  learn = true;
  readonly learned: XlateResult['learned'] = [];
  /** The OpenFlow port the packet really arrived on. */
  packetInPort = 0;
  /** Set when translation must stop (dec_ttl hit 0, freeze). */
  exit = false;

  constructor(
    readonly br: XBridge,
    key: Uint32Array,
    readonly nowMs: number,
    readonly trace: string[] | null,
  ) {
    this.base = Uint32Array.from(key);
    this.flow = Uint32Array.from(key);
  }

  tr(line: string): void {
    // OVS 3.1's ofproto/trace prints resubmitted tables at the same level.
    if (this.trace) this.trace.push(line);
  }

  unwild(word: number, mask = 0xffffffff): void {
    this.wc[word] = (this.wc[word] | mask) >>> 0;
  }

  unwildField(field: string, ofs?: number, nbits?: number): void {
    for (const { word, mask } of fieldKeyMask(field, ofs, nbits)) this.unwild(word, mask);
  }
}

/**
 * Translate `key` (a datapath flow key: in_port is a datapath port number)
 * through `br`. When `key[FK_RECIRC_ID]` is non-zero the frozen state of
 * that id says where to resume.
 */
export function xlate(br: XBridge, key: Uint32Array, nowMs: number, traceLines: string[] | null = null, learn = true): XlateResult {
  const ctx = new Ctx(br, key, nowMs, traceLines);
  ctx.learn = learn;
  // Always exact: where the packet came from and what kind of packet it is.
  ctx.unwild(FK_RECIRC_ID);
  ctx.unwild(FK_IN_PORT);
  ctx.unwild(FK_ETH_TYPE);
  // Tagged or not is part of the packet's type (OVS's datapath key has it in
  // eth_type/encap), so a megaflow never mixes the two.
  ctx.unwild(FK_VLAN_TCI, VLAN_CFI);
  const ethType = key[FK_ETH_TYPE];
  if (ethType === ETH_TYPE_IP || ethType === ETH_TYPE_IPV6) ctx.unwild(FK_NW_FRAG, FRAG_ANY | FRAG_LATER);

  const inPort = br.portsByDp.get(key[FK_IN_PORT]);
  ctx.flow[FK_IN_PORT] = inPort ? inPort.ofport : OFPP_NONE;
  ctx.packetInPort = ctx.flow[FK_IN_PORT];

  let startTable = 0;
  const recircId = key[FK_RECIRC_ID];
  if (recircId !== 0) {
    const frozen = br.recirc.get(recircId);
    if (!frozen || frozen.bridge !== br.name) {
      ctx.error = `unknown recirculation id 0x${recircId.toString(16)}`;
      ctx.tr(`No frozen state for recirc_id=0x${recircId.toString(16)}: drop`);
      return finish(ctx);
    }
    for (let w = OF_ONLY_FIRST; w <= OF_ONLY_LAST; w++) ctx.flow[w] = frozen.metadata[w - OF_ONLY_FIRST];
    startTable = frozen.table;
  }
  if (!inPort) {
    ctx.tr(`in_port ${key[FK_IN_PORT]} is not a port of bridge "${br.name}": drop`);
    return finish(ctx);
  }
  if (traceLines) {
    traceLines.push(`bridge("${br.name}")`);
    traceLines.push('-'.repeat(`bridge("${br.name}")`.length));
  }
  lookupAndExecute(ctx, startTable);
  return finish(ctx);
}

function finish(ctx: Ctx): XlateResult {
  for (let w = OF_ONLY_FIRST; w <= OF_ONLY_LAST; w++) ctx.wc[w] = 0;
  // The megaflow matches the key as the datapath saw it, never more than it has.
  const mask = ctx.wc;
  return {
    actions: ctx.error ? [] : ctx.out,
    mask,
    rules: ctx.rules,
    trace: ctx.trace,
    error: ctx.error,
    finalFlow: ctx.flow,
    learned: ctx.learned,
    groups: ctx.groups,
  };
}

/**
 * Count one resubmit (or group) against OVS's limits on the number and
 * depth of resubmits; past either, translation stops with an error.
 */
function overResubmitLimits(ctx: Ctx): boolean {
  const error = ++ctx.resubmits > MAX_RESUBMITS
    ? `over ${MAX_RESUBMITS} resubmit actions on bridge ${ctx.br.name}`
    : ctx.depth >= MAX_RESUBMIT_DEPTH
      ? `over max translation depth ${MAX_RESUBMIT_DEPTH} on bridge ${ctx.br.name}`
      : null;
  if (error === null) return false;
  ctx.error = error;
  ctx.exit = true;
  ctx.tr(error);
  return true;
}

function lookupAndExecute(ctx: Ctx, table: number): void {
  if (ctx.exit) return;
  if (overResubmitLimits(ctx)) return;
  const cls = ctx.br.tables[table];
  const rule = cls ? cls.lookup(ctx.flow, 0, ctx.wc) : null;
  const saveTable = ctx.table;
  ctx.table = table;
  if (!rule) {
    ctx.tr(`${String(table).padStart(2)}. No match.`);
    ctx.tr('    drop');
    ctx.table = saveTable;
    return;
  }
  ctx.rules.push(rule.data);
  if (ctx.trace) {
    const m = formatMatch(rule.data.spec.match);
    ctx.tr(`${String(table).padStart(2)}. ${m.length ? m + ', ' : ''}priority ${rule.data.priority}${cookieSuffix(rule.data)}`);
  }
  executeActions(ctx, rule.data.spec.actions);
  ctx.table = saveTable;
}

function cookieSuffix(rule: Rule): string {
  return rule.spec.cookie !== 0n ? `, cookie 0x${rule.spec.cookie.toString(16)}` : '';
}

function executeActions(ctx: Ctx, actions: OfAction[]): void {
  if (actions.length === 0 && ctx.trace) ctx.tr('    drop');
  for (const a of actions) {
    if (ctx.exit) return;
    if (ctx.trace) ctx.tr('    ' + formatActions([a]));
    executeAction(ctx, a);
  }
}

function executeAction(ctx: Ctx, a: OfAction): void {
  const f = ctx.flow;
  switch (a.type) {
    case 'output':
      outputPort(ctx, a.port);
      return;
    case 'output_reg': {
      ctx.unwildField(a.src.field, a.src.ofs, a.src.nbits);
      outputPort(ctx, Number(readSlice(f, 0, a.src)));
      return;
    }
    case 'controller':
      commitChanges(ctx);
      ctx.out.push(dp.userspace('controller'));
      ctx.br.onControllerPacket?.();
      return;
    case 'resubmit': {
      const oldIn = f[FK_IN_PORT];
      if (a.port !== null && a.port !== OFPP_IN_PORT) f[FK_IN_PORT] = a.port;
      ctx.depth++;
      lookupAndExecute(ctx, a.table ?? ctx.table);
      ctx.depth--;
      f[FK_IN_PORT] = oldIn;
      return;
    }
    case 'goto_table':
      // goto_table replaces the rest of the pipeline; the parser guarantees it is the last action.
      lookupAndExecute(ctx, a.table);
      return;
    case 'set_field':
      writeField(f, 0, a.field, a.value, a.mask ?? -1n);
      ctx.unwildField(a.field);
      return;
    case 'load':
      ctx.unwildField(a.dst.field, a.dst.ofs, a.dst.nbits);
      writeSlice(f, 0, a.dst, a.value);
      return;
    case 'move': {
      ctx.unwildField(a.src.field, a.src.ofs, a.src.nbits);
      ctx.unwildField(a.dst.field, a.dst.ofs, a.dst.nbits);
      writeSlice(f, 0, a.dst, readSlice(f, 0, a.src));
      return;
    }
    case 'mod_dl_src':
      ctx.unwild(FK_ETH_SRC_HI, 0xffff);
      ctx.unwild(FK_ETH_SRC_LO);
      setMac(f, FK_ETH_SRC_HI, a.mac);
      return;
    case 'mod_dl_dst':
      ctx.unwild(FK_ETH_DST_HI, 0xffff);
      ctx.unwild(FK_ETH_DST_LO);
      setMac(f, FK_ETH_DST_HI, a.mac);
      return;
    case 'mod_nw_src':
    case 'mod_nw_dst': {
      if (!isIp(ctx, ETH_TYPE_IP)) return;
      const w = a.type === 'mod_nw_src' ? FK_NW_SRC : FK_NW_DST;
      ctx.unwild(w);
      f[w] = ipv4ToU32(a.addr);
      return;
    }
    case 'mod_tp_src':
    case 'mod_tp_dst': {
      if (!hasPorts(ctx)) return;
      const w = a.type === 'mod_tp_src' ? FK_TP_SRC : FK_TP_DST;
      ctx.unwild(w, 0xffff);
      f[w] = a.port & 0xffff;
      return;
    }
    case 'mod_nw_tos':
      if (isIp(ctx)) {
        ctx.unwild(FK_NW_TOS, 0xfc);
        f[FK_NW_TOS] = (f[FK_NW_TOS] & 0x03) | (a.tos & 0xfc);
      }
      return;
    case 'mod_nw_ecn':
      if (isIp(ctx)) {
        ctx.unwild(FK_NW_TOS, 0x03);
        f[FK_NW_TOS] = (f[FK_NW_TOS] & 0xfc) | (a.ecn & 0x03);
      }
      return;
    case 'mod_nw_ttl':
      if (isIp(ctx)) {
        ctx.unwild(FK_NW_TTL, 0xff);
        f[FK_NW_TTL] = a.ttl & 0xff;
      }
      return;
    case 'dec_ttl': {
      if (!isIp(ctx)) return;
      ctx.unwild(FK_NW_TTL, 0xff);
      if (f[FK_NW_TTL] <= 1) {
        // TTL exceeded: OVS hands the packet to the controller (none here) and stops.
        ctx.tr('    >>>> TTL exceeded: drop');
        ctx.br.onControllerPacket?.();
        ctx.exit = true;
        return;
      }
      f[FK_NW_TTL] = f[FK_NW_TTL] - 1;
      return;
    }
    case 'push_vlan':
      // The new tag takes the current TCI, or 0 with CFI when untagged (OVS semantics).
      ctx.unwild(FK_VLAN_TCI, 0xffff);
      f[FK_VLAN_TCI] = (f[FK_VLAN_TCI] & 0xffff) | VLAN_CFI;
      return;
    case 'pop_vlan':
    case 'strip_vlan':
      ctx.unwild(FK_VLAN_TCI, 0xffff);
      f[FK_VLAN_TCI] = 0;
      return;
    case 'mod_vlan_vid':
      ctx.unwild(FK_VLAN_TCI, 0xffff);
      // OVS: on an untagged packet, mod_vlan_vid pushes a tag with PCP 0.
      f[FK_VLAN_TCI] = (f[FK_VLAN_TCI] & 0xe000) | VLAN_CFI | (a.vid & 0x0fff);
      return;
    case 'mod_vlan_pcp':
      ctx.unwild(FK_VLAN_TCI, 0xffff);
      f[FK_VLAN_TCI] = (f[FK_VLAN_TCI] & 0x1fff) | VLAN_CFI | ((a.pcp & 7) << 13);
      return;
    case 'note':
    case 'clear_actions':
      return;
    case 'write_metadata': {
      const m = a.mask ?? 0xffffffffffffffffn;
      writeField(f, 0, 'metadata', a.value, m);
      return;
    }
    case 'group':
      xlateGroup(ctx, a.groupId);
      return;
    case 'ct':
      composeCt(ctx, a);
      return;
    case 'ct_clear':
      for (const w of CT_WORDS) f[w] = 0;
      commitChanges(ctx);
      ctx.out.push(dp.ctClear());
      for (const w of CT_WORDS) ctx.base[w] = 0;
      return;
  }
}

const CT_WORDS = [
  FK_CT_STATE, FK_CT_ZONE, FK_CT_MARK, FK_CT_LABEL, FK_CT_LABEL + 1, FK_CT_LABEL + 2, FK_CT_LABEL + 3,
  FK_CT_NW_SRC, FK_CT_NW_DST, FK_CT_NW_PROTO, FK_CT_TP,
  FK_CT_IPV6_SRC, FK_CT_IPV6_SRC + 1, FK_CT_IPV6_SRC + 2, FK_CT_IPV6_SRC + 3,
  FK_CT_IPV6_DST, FK_CT_IPV6_DST + 1, FK_CT_IPV6_DST + 2, FK_CT_IPV6_DST + 3,
];

function isIp(ctx: Ctx, only?: number): boolean {
  const t = ctx.flow[FK_ETH_TYPE];
  if (only !== undefined) return t === only;
  return t === ETH_TYPE_IP || t === ETH_TYPE_IPV6;
}

function hasPorts(ctx: Ctx): boolean {
  if (!isIp(ctx)) return false;
  ctx.unwild(FK_NW_PROTO, 0xff);
  const p = ctx.flow[FK_NW_PROTO];
  return p === IPPROTO_TCP || p === IPPROTO_UDP || p === IPPROTO_SCTP;
}

function setMac(f: Uint32Array, hiWord: number, mac: string): void {
  const b = mac.split(':').map((x) => parseInt(x, 16));
  f[hiWord] = (b[0] << 8) | b[1];
  f[hiWord + 1] = ((b[2] << 24) | (b[3] << 16) | (b[4] << 8) | b[5]) >>> 0;
}

function ipv4ToU32(s: string): number {
  const p = s.split('.').map(Number);
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

// ---------------------------------------------------------------- output

function outputPort(ctx: Ctx, port: number): void {
  const f = ctx.flow;
  const inPort = f[FK_IN_PORT];
  switch (port) {
    case OFPP_IN_PORT:
      emitOutput(ctx, inPort);
      return;
    case OFPP_TABLE:
      ctx.depth++;
      lookupAndExecute(ctx, 0);
      ctx.depth--;
      return;
    case OFPP_NORMAL:
      normal(ctx);
      return;
    case OFPP_FLOOD:
    case OFPP_ALL:
      flood(ctx, port === OFPP_ALL);
      return;
    case OFPP_CONTROLLER:
      commitChanges(ctx);
      ctx.out.push(dp.userspace('controller'));
      ctx.br.onControllerPacket?.();
      return;
    case OFPP_NONE:
      return;
    default:
      // Output to the input port is skipped unless asked for with in_port
      // (OpenFlow rule). The packet's real input port counts, not the one a
      // resubmit(PORT,TABLE) looked up with, as in OVS.
      if (port === ctx.packetInPort) {
        ctx.tr(`    >>>> skipping output to input port`);
        return;
      }
      emitOutput(ctx, port);
  }
}

function emitOutput(ctx: Ctx, ofport: number): void {
  const p = ctx.br.portsByOf.get(ofport);
  if (!p) {
    ctx.tr(`    >>>> Nonexistent output port`);
    return;
  }
  if (!p.up) return;
  commitChanges(ctx);
  ctx.out.push(dp.output(p.dpPort));
}

function flood(ctx: Ctx, all: boolean): void {
  const inPort = ctx.flow[FK_IN_PORT];
  const ports = [...ctx.br.portsByOf.values()].sort((a, b) => a.dpPort - b.dpPort);
  for (const p of ports) {
    if (p.ofport === inPort && !all) continue;
    if (p.ofport === inPort) continue;
    emitOutput(ctx, p.ofport);
  }
}

function normal(ctx: Ctx): void {
  const f = ctx.flow;
  ctx.unwild(FK_ETH_SRC_HI, 0xffff);
  ctx.unwild(FK_ETH_SRC_LO);
  ctx.unwild(FK_ETH_DST_HI, 0xffff);
  ctx.unwild(FK_ETH_DST_LO);
  ctx.unwild(FK_VLAN_TCI, f[FK_VLAN_TCI] & VLAN_CFI ? VLAN_CFI | 0x0fff : VLAN_CFI);
  unwildGratuitousArp(ctx);
  const vlan = f[FK_VLAN_TCI] & VLAN_CFI ? f[FK_VLAN_TCI] & 0x0fff : 0;
  const src = macFromKey(f, FK_ETH_SRC_HI);
  const dst = macFromKey(f, FK_ETH_DST_HI);
  const inPort = f[FK_IN_PORT];
  const srcIsMulticast = (f[FK_ETH_SRC_HI] >>> 8) & 1;
  if (!srcIsMulticast && ctx.br.portsByOf.has(inPort)) ctx.learned.push({ macs: ctx.br.macs, vlan, mac: src, port: inPort });
  if (ctx.learn && !srcIsMulticast && ctx.br.portsByOf.has(inPort)) {
    const changed = ctx.br.macs.learn(vlan, src, inPort, ctx.nowMs);
    if (changed) ctx.tr(`     -> learned that ${src} is on port ${portName(ctx, inPort)} in VLAN ${vlan}`);
  }
  const dstIsMulticast = (f[FK_ETH_DST_HI] >>> 8) & 1;
  const port = dstIsMulticast ? null : ctx.br.macs.lookup(vlan, dst, ctx.nowMs);
  if (port === null) {
    ctx.tr(dstIsMulticast ? '     -> multicast/broadcast, flooding' : '     -> no learned MAC for destination, flooding');
    flood(ctx, false);
    return;
  }
  if (port === inPort) {
    ctx.tr('     -> learned port is input port, dropping');
    return;
  }
  ctx.tr(`     -> forwarding to learned port`);
  emitOutput(ctx, port);
}

/**
 * NORMAL asks, as OVS does for every packet, whether a broadcast ARP is
 * gratuitous (a reply, or a request whose sender and target addresses are
 * equal), so the megaflow of a broadcast ARP matches the opcode and, for a
 * request, both addresses.
 */
const ARP_OP_REQUEST = 1;

function unwildGratuitousArp(ctx: Ctx): void {
  const f = ctx.flow;
  if (f[FK_ETH_TYPE] !== ETH_TYPE_ARP) return;
  if ((f[FK_ETH_DST_HI] & 0xffff) !== 0xffff || f[FK_ETH_DST_LO] >>> 0 !== 0xffffffff) return;
  ctx.unwild(FK_NW_PROTO, 0xff);
  if (f[FK_NW_PROTO] === ARP_OP_REQUEST) {
    ctx.unwild(FK_NW_SRC);
    ctx.unwild(FK_NW_DST);
  }
}

function portName(ctx: Ctx, ofport: number): string {
  return ctx.br.portsByOf.get(ofport)?.name ?? String(ofport);
}

// ---------------------------------------------------------------- groups

/** Nesting of groups within groups (OVS's limit on group chains is the translation depth). */
const MAX_GROUP_DEPTH = 32;

function xlateGroup(ctx: Ctx, groupId: number): void {
  const group = ctx.br.groups.get(groupId);
  if (!group) {
    ctx.tr(`     -> group ${groupId} does not exist: drop`);
    return;
  }
  // Groups count against the same limits as resubmits (OVS's
  // xlate_resubmit_resource_check), so a loop of `all` groups ends.
  if (overResubmitLimits(ctx)) return;
  const g = group.spec;
  const buckets = g.buckets;
  switch (g.type) {
    case 'all':
      // Every bucket gets a copy of the packet; the group counts it once.
      if (buckets.length === 0) ctx.groups.push({ group, bucket: -1, countGroup: true });
      for (let i = 0; i < buckets.length; i++) {
        ctx.groups.push({ group, bucket: i, countGroup: i === 0 });
        xlateBucket(ctx, buckets[i]);
      }
      return;
    case 'indirect':
      ctx.groups.push({ group, bucket: buckets.length ? 0 : -1, countGroup: true });
      if (buckets.length) xlateBucket(ctx, buckets[0]);
      return;
    case 'ff': {
      let chosen = -1;
      for (let i = 0; i < buckets.length; i++) {
        if (bucketIsLive(ctx, buckets[i], 0)) {
          chosen = i;
          break;
        }
        ctx.tr(`     -> bucket ${buckets[i].bucketId}: not live due to ${deadReason(buckets[i])}`);
      }
      if (chosen < 0) {
        // Without a live bucket the packet is dropped, uncounted by the group (as in OVS).
        ctx.tr('     -> no live bucket');
        return;
      }
      ctx.groups.push({ group, bucket: chosen, countGroup: true });
      ctx.tr(`     -> using bucket ${buckets[chosen].bucketId}`);
      xlateBucket(ctx, buckets[chosen]);
      return;
    }
    case 'select': {
      const unwild = (w: number, m?: number) => ctx.unwild(w, m);
      // 'hash' with fields hashes those; everything else (the default and
      // dp_hash) uses OVS's default method, the symmetric L4 hash.
      const basis = g.selectionMethod === 'hash' && g.fields.length
        ? fieldsHash(ctx.flow, g.fields, g.selectionMethodParam, unwild, (f) => prereqOk(ctx, f.prereq))
        : symmetricL4Hash(ctx.flow, unwild);
      const scores: string[] | undefined = ctx.trace ? [] : undefined;
      const chosen = bestLiveBucket(buckets, basis, (b) => bucketIsLive(ctx, b, 0), scores);
      if (scores) for (const l of scores) ctx.tr(l);
      if (chosen < 0) {
        // Without a live bucket the packet is dropped, uncounted by the group (as in OVS).
        ctx.tr('     -> no live bucket');
        return;
      }
      ctx.groups.push({ group, bucket: chosen, countGroup: true });
      ctx.tr(`     -> using bucket ${buckets[chosen].bucketId}`);
      xlateBucket(ctx, buckets[chosen]);
      return;
    }
  }
}

function deadReason(b: Bucket): string {
  return b.watchPort !== null ? `port ${b.watchPort}` : `group ${b.watchGroup}`;
}

/** A bucket is live when its watched port exists and is up and its watched group has a live bucket. */
function bucketIsLive(ctx: Ctx, b: Bucket, depth: number): boolean {
  if (b.watchPort !== null) {
    const p = ctx.br.portsByOf.get(b.watchPort);
    if (!p || !p.up) return false;
  }
  if (b.watchGroup !== null) {
    const g = ctx.br.groups.get(b.watchGroup);
    if (!g || depth >= MAX_GROUP_DEPTH) return false;
    if (!g.spec.buckets.some((x) => bucketIsLive(ctx, x, depth + 1))) return false;
  }
  return true;
}

/** Whether the flow meets a field's prerequisites, unwildcarding what the answer read. */
function prereqOk(ctx: Ctx, prereq: string): boolean {
  const f = ctx.flow;
  const t = f[FK_ETH_TYPE];
  const ip = t === ETH_TYPE_IP || t === ETH_TYPE_IPV6;
  const proto = () => {
    ctx.unwild(FK_NW_PROTO, 0xff);
    return f[FK_NW_PROTO] & 0xff;
  };
  switch (prereq) {
    case 'none': return true;
    case 'ip': return ip;
    case 'ipv4': return t === ETH_TYPE_IP;
    case 'ipv6': return t === ETH_TYPE_IPV6;
    case 'arp': return t === ETH_TYPE_ARP;
    case 'ip_or_arp': return ip || t === ETH_TYPE_ARP;
    case 'l4': { if (!ip) return false; const p = proto(); return p === IPPROTO_TCP || p === IPPROTO_UDP || p === IPPROTO_SCTP; }
    case 'tcp': return ip && proto() === IPPROTO_TCP;
    case 'udp': return ip && proto() === IPPROTO_UDP;
    case 'sctp': return ip && proto() === IPPROTO_SCTP;
    case 'icmp': return t === ETH_TYPE_IP && proto() === 1;
    case 'icmpv6': return t === ETH_TYPE_IPV6 && proto() === 58;
    default: return false;
  }
}

/**
 * Run one bucket's actions on a clone of the packet: afterwards the flow is
 * as it was before the bucket (later actions and buckets see the original
 * packet, as OVS's xlate_group_bucket arranges), and a bucket that stopped
 * translation (dec_ttl at 1) stops only itself.
 */
function xlateBucket(ctx: Ctx, b: Bucket): void {
  ctx.tr(`    bucket ${b.bucketId}`);
  const saved = Uint32Array.from(ctx.flow);
  ctx.depth++;
  for (const a of b.actions) {
    if (ctx.exit) break;
    if (ctx.trace) ctx.tr('            ' + formatActions([a]));
    executeAction(ctx, a);
  }
  ctx.depth--;
  ctx.flow.set(saved);
  // A bucket that stopped (dec_ttl at 1) stops only itself; an error stops everything.
  if (!ctx.error) ctx.exit = false;
}

// ---------------------------------------------------------------- conntrack

function composeCt(ctx: Ctx, a: CtAction): void {
  const f = ctx.flow;
  let zone = a.zone;
  if (a.zoneSrc) {
    ctx.unwildField(a.zoneSrc.field, a.zoneSrc.ofs, a.zoneSrc.nbits);
    zone = Number(readSlice(f, 0, a.zoneSrc)) & 0xffff;
  }
  // Mark and label set inside exec() travel with the ct action.
  let mark: { value: number; mask: number } | null = null;
  let label: { value: bigint; mask: bigint } | null = null;
  const scratch = new Uint32Array(FK_WORDS);
  for (const e of a.exec) {
    if (e.type === 'set_field' || e.type === 'load') {
      const field = e.type === 'set_field' ? e.field : e.dst.field;
      const ofs = e.type === 'set_field' ? 0 : e.dst.ofs;
      const nbits = e.type === 'set_field' ? (field === 'ct_mark' ? 32 : 128) : e.dst.nbits;
      const width = field === 'ct_mark' ? 32 : 128;
      const fullMask = (1n << BigInt(width)) - 1n;
      let value: bigint;
      let mask: bigint;
      if (e.type === 'set_field') {
        mask = e.mask ?? fullMask;
        value = e.value & mask;
      } else {
        mask = ((1n << BigInt(nbits)) - 1n) << BigInt(ofs);
        value = (e.value << BigInt(ofs)) & mask;
      }
      if (field === 'ct_mark') {
        const prev: { value: number; mask: number } = mark ?? { value: 0, mask: 0 };
        mark = { value: Number((BigInt(prev.value) & ~mask) | value) >>> 0, mask: Number(BigInt(prev.mask) | mask) >>> 0 };
      } else if (field === 'ct_label') {
        const prev: { value: bigint; mask: bigint } = label ?? { value: 0n, mask: 0n };
        label = { value: (prev.value & ~mask) | value, mask: prev.mask | mask };
      }
    } else if (e.type === 'move') {
      ctx.unwildField(e.src.field, e.src.ofs, e.src.nbits);
      const v = readSlice(f, 0, e.src);
      scratch.fill(0);
      const mask = ((1n << BigInt(e.dst.nbits)) - 1n) << BigInt(e.dst.ofs);
      const value = (v << BigInt(e.dst.ofs)) & mask;
      if (e.dst.field === 'ct_mark') {
        const prev: { value: number; mask: number } = mark ?? { value: 0, mask: 0 };
        mark = { value: Number((BigInt(prev.value) & ~mask) | value) >>> 0, mask: Number(BigInt(prev.mask) | mask) >>> 0 };
      } else {
        const prev: { value: bigint; mask: bigint } = label ?? { value: 0n, mask: 0n };
        label = { value: (prev.value & ~mask) | value, mask: prev.mask | mask };
      }
    }
  }
  commitChanges(ctx);
  ctx.out.push(
    dp.ct({ zone, commit: a.commit, force: a.force, mark, label, nat: a.nat, alg: a.alg }),
  );
  if (a.table !== null) {
    // Freeze: the packet comes back with a new recirc id and resumes in a.table
    // with the ct fields conntrack set. OpenFlow-only state travels in the id.
    const metadata = f.slice(OF_ONLY_FIRST, OF_ONLY_LAST + 1);
    const id = ctx.br.recirc.idFor({ bridge: ctx.br.name, table: a.table, metadata, ctZone: zone, inPort: f[FK_IN_PORT] });
    ctx.out.push(dp.recirc(id));
    ctx.tr(`    -> A clone of the packet is forked to recirculate. The forked pipeline will be resumed at table ${a.table}.`);
  }
  // After ct the packet continues with its pre-ct connection-tracking fields:
  // nothing to change in `flow`.
}

// ---------------------------------------------------------------- commit

/** Emit the set/push/pop actions that turn `base` into `flow`, then make base = flow. */
function commitChanges(ctx: Ctx): void {
  const f = ctx.flow;
  const b = ctx.base;
  // VLAN first: the set actions below address the packet after its tag changes.
  if ((f[FK_VLAN_TCI] & 0xffff) !== (b[FK_VLAN_TCI] & 0xffff)) {
    ctx.unwild(FK_VLAN_TCI, 0xffff);
    if (b[FK_VLAN_TCI] & VLAN_CFI) ctx.out.push(dp.popVlan());
    if (f[FK_VLAN_TCI] & VLAN_CFI) ctx.out.push(dp.pushVlan(0x8100, f[FK_VLAN_TCI] & 0xffff));
    b[FK_VLAN_TCI] = f[FK_VLAN_TCI];
  }
  const setWords: number[] = [];
  const check = (w: number) => {
    if (f[w] !== b[w]) setWords.push(w);
  };
  check(FK_ETH_SRC_HI); check(FK_ETH_SRC_LO); check(FK_ETH_DST_HI); check(FK_ETH_DST_LO);
  if (setWords.length) emitSet(ctx, 'eth', [FK_ETH_SRC_HI, FK_ETH_SRC_LO, FK_ETH_DST_HI, FK_ETH_DST_LO], setWords);
  const t = f[FK_ETH_TYPE];
  if (t === ETH_TYPE_IP) {
    const w4: number[] = [];
    for (const w of [FK_NW_SRC, FK_NW_DST, FK_NW_TOS, FK_NW_TTL]) if (f[w] !== b[w]) w4.push(w);
    if (w4.length) {
      // Like OVS, a set(ipv4(..)) matches the IP protocol too (the datapath's
      // IPv4 key carries it, though it is not writable).
      ctx.unwild(FK_NW_PROTO, 0xff);
      emitSet(ctx, 'ipv4', [FK_NW_SRC, FK_NW_DST, FK_NW_TOS, FK_NW_TTL], w4);
    }
  } else if (t === ETH_TYPE_IPV6) {
    const w6: number[] = [];
    // An address is set whole (as OVS's masked set carries all 128 bits),
    // even when only some of its words changed.
    for (const a of [FK_IPV6_SRC, FK_IPV6_DST]) {
      if ([0, 1, 2, 3].some((i) => f[a + i] !== b[a + i])) w6.push(a, a + 1, a + 2, a + 3);
    }
    for (const w of [FK_IPV6_LABEL, FK_NW_TOS, FK_NW_TTL]) if (f[w] !== b[w]) w6.push(w);
    if (w6.length) {
      ctx.unwild(FK_NW_PROTO, 0xff); // as for IPv4
      emitSet(ctx, 'ipv6', [], w6);
    }
  }
  if (t === ETH_TYPE_IP || t === ETH_TYPE_IPV6) {
    const wp: number[] = [];
    for (const w of [FK_TP_SRC, FK_TP_DST]) if (f[w] !== b[w]) wp.push(w);
    if (wp.length) {
      const proto = f[FK_NW_PROTO];
      const hdr = proto === IPPROTO_TCP ? 'tcp' : proto === IPPROTO_UDP ? 'udp' : 'sctp';
      emitSet(ctx, hdr, [FK_TP_SRC, FK_TP_DST], wp);
    }
  }
  if (f[FK_PKT_MARK] !== b[FK_PKT_MARK]) {
    ctx.out.push(dp.setPktMark(f[FK_PKT_MARK]));
    b[FK_PKT_MARK] = f[FK_PKT_MARK];
  }
}

function emitSet(ctx: Ctx, header: dp.SetHeader, _group: number[], changed: number[]): void {
  const f = ctx.flow;
  const b = ctx.base;
  // A rewritten field is matched exactly, so that the new value does not
  // depend on bits the megaflow would otherwise ignore.
  for (const w of changed) ctx.unwild(w);
  ctx.out.push(dp.set(header, changed, changed.map((w) => f[w])));
  for (const w of changed) b[w] = f[w];
}

/** Format a whole flow key the way ofproto/trace prints "Flow:" lines: packet fields in full, metadata only when set. */
export function formatTraceFlow(key: Uint32Array): string {
  const mask = new Uint32Array(FK_WORDS);
  for (let w = 0; w < FK_ETH_SRC_HI; w++) if (key[w] !== 0) mask[w] = 0xffffffff;
  mask[FK_IN_PORT] = 0xffff;
  for (const w of [FK_ETH_SRC_HI, FK_ETH_DST_HI]) {
    mask[w] = 0xffff;
    mask[w + 1] = 0xffffffff;
  }
  mask[FK_VLAN_TCI] = 0xffff;
  mask[FK_ETH_TYPE] = 0xffff;
  const t = key[FK_ETH_TYPE];
  if (t === ETH_TYPE_IP || t === ETH_TYPE_IPV6) {
    if (t === ETH_TYPE_IP) mask[FK_NW_SRC] = mask[FK_NW_DST] = 0xffffffff;
    else {
      for (let i = 0; i < 4; i++) mask[FK_IPV6_SRC + i] = mask[FK_IPV6_DST + i] = 0xffffffff;
      mask[FK_IPV6_LABEL] = 0xfffff;
    }
    mask[FK_NW_PROTO] = 0xff;
    mask[FK_NW_TOS] = 0xff;
    mask[FK_NW_TTL] = 0xff;
    mask[FK_NW_FRAG] = FRAG_ANY | FRAG_LATER;
    mask[FK_TP_SRC] = mask[FK_TP_DST] = 0xffff;
    if (key[FK_TCP_FLAGS]) mask[FK_TCP_FLAGS] = 0xfff;
  } else if (t === 0x0806) {
    mask[FK_NW_SRC] = mask[FK_NW_DST] = 0xffffffff;
    mask[FK_NW_PROTO] = 0xff;
    for (const w of [FK_ARP_SHA_HI, FK_ARP_THA_HI]) {
      mask[w] = 0xffff;
      mask[w + 1] = 0xffffffff;
    }
  }
  return formatMatch({ value: key, mask });
}

export { readField };
