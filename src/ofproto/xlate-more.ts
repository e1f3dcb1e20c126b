// Translation of clone, exit, multipath, bundle/bundle_load, fin_timeout, the
// queue actions, sample, the field stack and learn (ovs-actions(7)). Slow
// path. Rules for megaflows: every field an action reads (hash inputs, stack
// sources, learn sources, tcp_flags for fin_timeout) is unwildcarded, so the
// action's outcome is the same for every packet of the megaflow. Side effects
// on the flow tables (learn, fin_timeout) happen only when `ctx.learn` is set
// (a real upcall), never while tracing or revalidating.

import { runActionSet } from './action-set.ts';
import { FK_ETH_DST_HI, FK_ETH_DST_LO, FK_ETH_SRC_HI, FK_ETH_SRC_LO, FK_ETH_TYPE, FK_IPV6_DST, FK_IPV6_SRC, FK_NW_DST, FK_NW_PROTO, FK_NW_SRC, FK_TCP_FLAGS, FK_TP_DST, FK_TP_SRC, ETH_TYPE_IP, ETH_TYPE_IPV6, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP } from '../packet/flow-key.ts';
import type { FieldRef, LearnAction, OfAction } from './actions.ts';
import { readSlice, writeSlice } from './fields.ts';
import type { FlowSpec } from './flow-spec.ts';
import { emptyMatch } from './match.ts';
import { type Ctx } from './xlate-ctx.ts';
import { xlateFieldAction } from './xlate-fields.ts';
import { outputPort } from './xlate-output.ts';
import { hash2Words, multipathLink, ovsFlowHash, type Reads } from './flow-hash.ts';

const TCP_FIN = 0x001;
const TCP_RST = 0x004;

/** Execute `a` if it is one of this module's actions; false otherwise. */
export function xlateMoreAction(ctx: Ctx, a: OfAction, run: (acts: OfAction[]) => void): boolean {
  switch (a.type) {
    case 'clone': {
      // The clone sees and changes a copy: afterwards the packet is as before the clone
      // (the next commit undoes in the datapath what the clone set), and an exit inside ends only the clone.
      // It also works on a copy of the action set, which runs when the clone ends (OVS's xlate clone).
      const saved = Uint32Array.from(ctx.flow);
      const savedStack = ctx.stack.length;
      const savedSet = ctx.actionSet;
      ctx.actionSet = [...savedSet];
      run(a.actions);
      runActionSet(ctx, run);
      ctx.actionSet = savedSet;
      ctx.flow.set(saved);
      ctx.stack.length = savedStack;
      if (ctx.error === null) ctx.exit = false;
      return true;
    }
    case 'exit':
      ctx.exit = true;
      return true;
    case 'multipath': {
      // OVS's own hash and link choice (flow-hash.ts): the same link as OVS for the same packet.
      const reads: Reads = [];
      const h = ovsFlowHash(ctx.flow, a.fields, a.basis, reads);
      if (h === null) load(ctx, a.dst, BigInt(pickLink(a.algorithm, flowHash(ctx, a.fields, a.basis), a.nLinks, a.arg)));
      else {
        for (const [w, m] of reads) ctx.unwild(w, m);
        load(ctx, a.dst, BigInt(multipathLink(a.algorithm, h, a.nLinks, a.arg)));
      }
      return true;
    }
    case 'bundle': {
      const up = (p: number) => ctx.br.portsByOf.get(p)?.up === true;
      let port = 0xffff; // OFPP_NONE: no live member
      if (a.algorithm === 'active_backup') port = a.members.find(up) ?? 0xffff;
      else {
        // As OVS's bundle hrw: each live member i scores hash_2words(i, flow hash); the best wins.
        const reads: Reads = [];
        const h = ovsFlowHash(ctx.flow, a.fields, a.basis, reads) ?? flowHash(ctx, a.fields, a.basis);
        if (a.members.length > 1) for (const [w, m] of reads) ctx.unwild(w, m);
        let best = -1, bestW = 0;
        a.members.forEach((p, i) => {
          if (!up(p)) return;
          const w = hash2Words(i, h);
          if (best < 0 || w > bestW) {
            best = i;
            bestW = w;
          }
        });
        if (best >= 0) port = a.members[best];
      }
      if (a.dst) load(ctx, a.dst, BigInt(port));
      else if (port !== 0xffff) outputPort(ctx, port);
      return true;
    }
    case 'fin_timeout': {
      if (ctx.flow[FK_ETH_TYPE] !== ETH_TYPE_IP && ctx.flow[FK_ETH_TYPE] !== ETH_TYPE_IPV6) return true;
      ctx.unwild(FK_NW_PROTO, 0xff);
      if (ctx.flow[FK_NW_PROTO] !== IPPROTO_TCP) return true;
      ctx.unwild(FK_TCP_FLAGS, TCP_FIN | TCP_RST);
      if ((ctx.flow[FK_TCP_FLAGS] & (TCP_FIN | TCP_RST)) === 0) return true;
      const rule = ctx.rules[ctx.rules.length - 1];
      if (rule && ctx.learn) {
        const s = rule.spec;
        // The timeouts only shrink; a hard timeout counts from now (ovs-actions(7)).
        if (a.idle && (s.idleTimeout === 0 || a.idle < s.idleTimeout)) s.idleTimeout = a.idle;
        const hard = Math.ceil((ctx.nowMs - rule.createdMs) / 1000) + a.hard;
        if (a.hard && (s.hardTimeout === 0 || hard < s.hardTimeout)) s.hardTimeout = hard;
      }
      return true;
    }
    case 'set_queue':
      ctx.queue = a.queue;
      return true;
    case 'pop_queue':
      ctx.queue = 0;
      return true;
    case 'enqueue': {
      const q = ctx.queue;
      ctx.queue = a.queue;
      outputPort(ctx, a.port);
      ctx.queue = q;
      return true;
    }
    case 'sample':
      // As OVS without an IPFIX/sFlow collector for the set: nothing is sampled.
      return true;
    case 'stack_push':
      ctx.unwildField(a.src.field, a.src.ofs, a.src.nbits);
      ctx.stack.push(readSlice(ctx.flow, 0, a.src));
      return true;
    case 'stack_pop': {
      const v = ctx.stack.pop();
      if (v === undefined) {
        ctx.tr('    stack underflow: pop does nothing');
        return true;
      }
      load(ctx, a.dst, v & ((1n << BigInt(a.dst.nbits)) - 1n));
      return true;
    }
    case 'learn':
      xlateLearn(ctx, a);
      return true;
    default:
      return false;
  }
}

function load(ctx: Ctx, dst: FieldRef, value: bigint): void {
  xlateFieldAction(ctx, { type: 'load', value, dst });
}

function mix(h: number, v: number): number {
  h = Math.imul(h ^ (v >>> 0), 0x01000193);
  return (h ^ (h >>> 15)) >>> 0;
}

/** OVS's flow_hash_fields: the field set's words, unwildcarded, hashed with `basis`. Symmetric sets hash src and dst alike. */
function flowHash(ctx: Ctx, fields: string, basis: number): number {
  const f = ctx.flow;
  let h = mix(0x9e3779b9, basis);
  const word = (w: number, m = 0xffffffff) => {
    ctx.unwild(w, m);
    return (f[w] & m) >>> 0;
  };
  const sym = (a: number, b: number) => (a < b ? mix(mix(h, a), b) : mix(mix(h, b), a));
  const ip = f[FK_ETH_TYPE] === ETH_TYPE_IP, ip6 = f[FK_ETH_TYPE] === ETH_TYPE_IPV6;
  const l4 = () => (ip || ip6) && [IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP].includes(word(FK_NW_PROTO, 0xff));
  switch (fields) {
    case 'eth_src':
      return mix(mix(h, word(FK_ETH_SRC_HI, 0xffff)), word(FK_ETH_SRC_LO));
    case 'nw_src':
      return ip ? mix(h, word(FK_NW_SRC)) : h;
    case 'nw_dst':
      return ip ? mix(h, word(FK_NW_DST)) : h;
    default: {
      // symmetric_l4 / symmetric_l3 / symmetric_l3l4[+udp]
      if (fields === 'symmetric_l4') {
        h = sym(mix(word(FK_ETH_SRC_HI, 0xffff), word(FK_ETH_SRC_LO)), mix(word(FK_ETH_DST_HI, 0xffff), word(FK_ETH_DST_LO)));
        h = mix(h, word(FK_ETH_TYPE, 0xffff));
      }
      if (ip) h = sym(word(FK_NW_SRC), word(FK_NW_DST));
      else if (ip6) {
        let a = 0, b = 0;
        for (let i = 0; i < 4; i++) {
          a = mix(a, word(FK_IPV6_SRC + i));
          b = mix(b, word(FK_IPV6_DST + i));
        }
        h = sym(a, b);
      }
      if (fields !== 'symmetric_l3' && l4()) {
        h = mix(h, f[FK_NW_PROTO]);
        h = sym(word(FK_TP_SRC, 0xffff), word(FK_TP_DST, 0xffff));
      }
      return h;
    }
  }
}

/** A link 0..n-1 from hash `h` by multipath's algorithms (ovs-actions(7)). */
function pickLink(algorithm: string, h: number, n: number, arg: number): number {
  switch (algorithm) {
    case 'modulo_n': return h % n;
    case 'hash_threshold': return Math.min(n - 1, Math.floor(h / (0x100000000 / n)));
    case 'iter_hash': {
      // Rehash until the value falls below n (arg bounds the tries, as in OVS).
      const bits = Math.max(1, Math.ceil(Math.log2(n)));
      let x = h;
      for (let i = 0; i <= Math.max(arg, 32); i++) {
        if ((x & ((1 << bits) - 1)) < n) return x & ((1 << bits) - 1);
        x = mix(x, i);
      }
      return x % n;
    }
    default: {
      // hrw: the link with the highest weight hash(h, link).
      let best = 0, bestW = -1;
      for (let i = 0; i < n; i++) {
        const w = mix(h, i);
        if (w > bestW) {
          bestW = w;
          best = i;
        }
      }
      return best;
    }
  }
}

/** learn(...): build the flow from this packet's fields and install (or refresh) it. */
function xlateLearn(ctx: Ctx, l: LearnAction): void {
  const match = emptyMatch();
  const actions: OfAction[] = [];
  if (l.finIdleTimeout || l.finHardTimeout) actions.push({ type: 'fin_timeout', idle: l.finIdleTimeout, hard: l.finHardTimeout });
  const src = (r: FieldRef) => {
    ctx.unwildField(r.field, r.ofs, r.nbits);
    return readSlice(ctx.flow, 0, r);
  };
  for (const s of l.specs) {
    if (s.kind === 'match') {
      const v = s.src ? src(s.src) : s.value!;
      writeSlice(match.value, 0, s.dst, v);
      writeSlice(match.mask, 0, s.dst, (1n << BigInt(s.dst.nbits)) - 1n);
    } else if (s.kind === 'load') actions.push({ type: 'load', value: s.src ? src(s.src) : s.value!, dst: s.dst });
    else actions.push({ type: 'output', port: Number(src(s.src)) });
  }
  const spec: FlowSpec = {
    table: l.table, priority: l.priority, cookie: l.cookie, cookieMask: null, idleTimeout: l.idleTimeout, hardTimeout: l.hardTimeout,
    importance: 0, flags: l.sendFlowRem ? ['send_flow_rem'] : [], match, actions, outPort: null, outGroup: null, tableGiven: true,
  };
  const owner = ctx.rules[ctx.rules.length - 1];
  // Tracing and revalidation install nothing but must decide as the upcall did (result_dst).
  const ok = ctx.br.learnFlow ? ctx.br.learnFlow(spec, l, owner, ctx.nowMs, !ctx.learn) : true;
  if (ctx.trace) ctx.tr(`     -> ${ok ? 'learned' : 'limit reached, not learned:'} table=${l.table} priority=${l.priority}`);
  if (l.resultDst) load(ctx, l.resultDst, ok ? 1n : 0n);
}
