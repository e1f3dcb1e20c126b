// Translation's shared state (the context every action module works on) and
// the shapes of what translation reads (XBridge, XPort) and returns
// (XlateResult). The rules translation keeps for megaflows to be correct are
// in xlate.ts. Slow path: one context per upcall or trace.

import {
  FK_ETH_TYPE, FK_METADATA_HI, FK_NW_PROTO, FK_REG0, FK_WORDS, ETH_TYPE_IP, ETH_TYPE_IPV6, IPPROTO_TCP,
  IPPROTO_UDP, IPPROTO_SCTP,
} from '../packet/flow-key.ts';
import { OFPP_UNSET, type LearnAction, type OfAction } from './actions.ts';
import { actsetPortWord, OF_WORDS, OFK_ACTSET_OUTPUT } from './match.ts';
import type { FlowSpec } from './flow-spec.ts';
import type { Classifier } from './classifier.ts';
import type { Group } from './group.ts';
import type { Meter } from './meter.ts';
import { fieldKeyMask } from './fields.ts';
import type { MacTable } from './mac-learning.ts';
import type { RecircIds } from './recirc.ts';
import type { Rule } from './rule.ts';
import type * as dp from '../datapath/dp-actions.ts';
import { COOKIE_NONE, type PacketInTable } from './packet-in-table.ts';

/** Maximum nesting of resubmit/goto, and total table lookups per translation (OVS's limits). */
export const MAX_RESUBMIT_DEPTH = 64;
export const MAX_RESUBMITS = 4096;
/** First and last flow-key words that exist only in OpenFlow (metadata, regs). */
export const OF_ONLY_FIRST = FK_METADATA_HI;
export const OF_ONLY_LAST = FK_REG0 + 15;

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
  /** OpenFlow meters by id; absent: meter actions do nothing. */
  meters?: Map<number, Meter>;
  /** Counted when a translation sends to the (absent) controller. */
  onControllerPacket?: () => void;
  /**
   * A table miss sends the packet to the controllers (OVS's miss rule): set
   * by src/ctl while a connection below OpenFlow 1.3 is open, for which the
   * default table-miss behaviour is a packet-in (1.3+ drops unless a flow says otherwise).
   */
  packetInOnMiss?: boolean;
  /** Where packet-ins keep their cookie and userdata (packet-in-table.ts); absent: reason and table only. */
  packetIns?: PacketInTable;
  /** Fail-open (fail_mode standalone, controllers lost): every packet entering table 0 goes to NORMAL, as OVS's hidden fail-open flow. */
  failOpen?: boolean;
  /**
   * Install (or refresh) a flow built by a learn action of rule `owner`; false when the
   * action's limit= refuses it; with `dryRun` only whether it would be learned.
   * Absent: learn builds the flow but installs nothing.
   */
  learnFlow?: (spec: FlowSpec, learn: LearnAction, owner: Rule | undefined, nowMs: number, dryRun?: boolean) => boolean;
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

/**
 * The table pipeline (xlate.ts), reached through the context so that the
 * action modules (output, groups) that re-enter it need not import it.
 */
export interface Pipeline {
  lookupAndExecute(ctx: Ctx, table: number): void;
  executeAction(ctx: Ctx, a: OfAction): void;
}

export class Ctx {
  /** The packet as OpenFlow sees it: an OpenFlow flow (OF_WORDS, match.ts), its translation-only tail included. */
  readonly flow: Uint32Array;
  readonly base: Uint32Array;
  /** What the outcome depended on, over the OpenFlow flow; the megaflow mask is its first FK_WORDS words. */
  readonly wc = new Uint32Array(OF_WORDS);
  readonly out: dp.DpAction[] = [];
  readonly rules: Rule[] = [];
  /** The rule whose actions are being translated (OVS's ctx->rule; its cookie goes with packet-ins). */
  rule: Rule | null = null;
  /** Where a plain output to the controller happens (its packet-in reason): a packet-out, a group bucket (depth), the action set. */
  inPacketOut = false;
  inGroup = 0;
  inActionSet = false;
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
  /** Set when translation must stop (dec_ttl hit 0, freeze, exit). */
  exit = false;
  /** The field stack of push/pop. */
  readonly stack: bigint[] = [];
  /** The queue of set_queue/enqueue (0 = none); swd does no shaping. */
  queue = 0;
  /** The OpenFlow 1.1+ action set (write_actions), run when the pipeline ends (action-set.ts). */
  actionSet: OfAction[] = [];

  constructor(
    readonly pipeline: Pipeline,
    readonly br: XBridge,
    key: Uint32Array,
    readonly nowMs: number,
    readonly trace: string[] | null,
  ) {
    // A datapath key (FK_WORDS), or an OpenFlow flow (a trace's): translation starts with no action-set output either way.
    this.base = new Uint32Array(OF_WORDS);
    this.base.set(key.subarray(0, Math.min(key.length, FK_WORDS)));
    this.base[OFK_ACTSET_OUTPUT] = actsetPortWord(OFPP_UNSET);
    this.flow = Uint32Array.from(this.base);
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
 * Count one resubmit (or group) against OVS's limits on the number and
 * depth of resubmits; past either, translation stops with an error.
 */
export function overResubmitLimits(ctx: Ctx): boolean {
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

export function isIp(ctx: Ctx, only?: number): boolean {
  const t = ctx.flow[FK_ETH_TYPE];
  if (only !== undefined) return t === only;
  return t === ETH_TYPE_IP || t === ETH_TYPE_IPV6;
}

/** OpenFlow's L4 prerequisite (tcp, udp or sctp: the fields tp_src/tp_dst exist), unwildcarding what it read. */
export function isL4(ctx: Ctx): boolean {
  if (!isIp(ctx)) return false;
  ctx.unwild(FK_NW_PROTO, 0xff);
  const p = ctx.flow[FK_NW_PROTO];
  return p === IPPROTO_TCP || p === IPPROTO_UDP || p === IPPROTO_SCTP;
}

/**
 * What a packet-in says about why it was sent (travels as the userspace
 * action's userdata, packet-in-table.ts): the OpenFlow reason, the table,
 * the rule's cookie. A rule with priority 0 and an empty match is the
 * table-miss rule: its controller action (reason action) is OVS's
 * EXPLICIT_MISS; a miss without a rule the IMPLICIT_MISS; each connection
 * turns these into its version's reason (openflow/async-config.ts).
 */
export const PIN_EXPLICIT_MISS = 6;
/** The packet-in reason of a table miss (OVS's OFPR_IMPLICIT_MISS): sent as no_match, to connections below OpenFlow 1.3 only. */
export const PIN_IMPLICIT_MISS = 7;

/**
 * The reason of a plain output to the controller (`controller`, `output:CONTROLLER`),
 * as OVS: packet_out, group or action_set by where it happens, else action.
 */
export function outputReason(ctx: Ctx): number {
  return ctx.inPacketOut ? 5 : ctx.inGroup > 0 ? 4 : ctx.inActionSet ? 3 : 1;
}

export function packetInUserdata(ctx: Ctx, reason?: number, a?: Extract<OfAction, { type: 'controller' }>): number {
  const r = ctx.rule;
  const miss = !!r && r.priority === 0 && r.spec.match.mask.every((w) => w === 0);
  let why = (reason ?? outputReason(ctx)) & 0xff;
  if (why === 1 && miss) why = PIN_EXPLICIT_MISS;
  const low = (why << 8) | (ctx.table & 0xff);
  if (!ctx.br.packetIns) return low;
  const userdata = a?.userdata ? Buffer.from(a.userdata.replace(/\./g, ''), 'hex') : null;
  return ctx.br.packetIns.intern({
    reason: why, table: ctx.table, cookie: r ? r.spec.cookie : COOKIE_NONE, userdata,
    maxLen: a?.maxLen ?? 65535, controllerId: a?.id ?? 0, pause: a?.pause ?? false,
  });
}

/** A table miss sent up (OVS's hidden miss rule, cookie 0). */
export function missUserdata(ctx: Ctx, table: number): number {
  const low = (PIN_IMPLICIT_MISS << 8) | (table & 0xff);
  if (!ctx.br.packetIns) return low;
  return ctx.br.packetIns.intern({ reason: PIN_IMPLICIT_MISS, table, cookie: 0n, userdata: null, maxLen: 65535, controllerId: 0, pause: false });
}
