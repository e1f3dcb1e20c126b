// Text of the actions parsed by parse-actions-more.ts, as ovs-ofctl prints
// them over OpenFlow 1.0 + Nicira extensions.

import type { FieldRef, LearnAction, LearnSpec, OfAction } from './actions.ts';
import { lookupRefField } from './fields.ts';
import { ipv4Str, ipv6Str, macStr } from '../packet/odp-format.ts';
import { portLabel } from './field-text.ts';

const hex = (v: bigint | number) => `0x${v.toString(16)}`;
const hexOvs = (v: bigint | number) => (v === 0 || v === 0n ? '0' : hex(v));

type Fmt = { ref: (r: FieldRef) => string; list: (a: OfAction[]) => string };

export function formatMoreAction(a: OfAction, f: Fmt): string | undefined {
  switch (a.type) {
    case 'clone': return `clone(${a.actions.length ? f.list(a.actions) : ''})`;
    case 'exit': return 'exit';
    case 'multipath': return `multipath(${a.fields},${a.basis},${a.algorithm},${a.nLinks},${a.arg},${f.ref(a.dst)})`;
    case 'bundle': {
      const head = `${a.fields},${a.basis},${a.algorithm},ofport`;
      const members = `members:${a.members.map(portLabel).join(',')}`;
      return a.dst ? `bundle_load(${head},${f.ref(a.dst)},${members})` : `bundle(${head},${members})`;
    }
    case 'check_pkt_larger': return `check_pkt_larger(${a.pktLen})->${f.ref(a.dst)}`;
    case 'fin_timeout': {
      const p = [a.idle ? `idle_timeout=${a.idle}` : null, a.hard ? `hard_timeout=${a.hard}` : null].filter(Boolean);
      return `fin_timeout(${p.join(',')})`;
    }
    case 'set_queue': return `set_queue:${a.queue}`;
    case 'pop_queue': return 'pop_queue';
    case 'enqueue': return `enqueue:${portLabel(a.port)}:${a.queue}`;
    case 'sample': {
      const p = [`probability=${a.probability}`, `collector_set_id=${a.collectorSetId}`, `obs_domain_id=${a.obsDomainId}`, `obs_point_id=${a.obsPointId}`];
      if (a.samplingPort !== undefined) p.push(`sampling_port=${portLabel(a.samplingPort)}`);
      if (a.direction) p.push(a.direction);
      return `sample(${p.join(',')})`;
    }
    case 'stack_push': return `push:${f.ref(a.src)}`;
    case 'stack_pop': return `pop:${f.ref(a.dst)}`;
    case 'push_mpls': return `push_mpls:${hex(a.ethertype)}`;
    case 'pop_mpls': return `pop_mpls:0x${a.ethertype.toString(16).padStart(4, '0')}`;
    case 'set_tunnel': return `${a.wide ? 'set_tunnel64' : 'set_tunnel'}:${hex(a.tunId)}`;
    case 'meter': return `meter:${a.meterId}`;
    case 'write_actions': return `write_actions(${f.list(a.actions)})`;
    case 'encap': return `encap(${a.text})`;
    case 'decap': return a.packetType ? `decap(packet_type(ns=${a.packetType[0]},type=${hexOvs(a.packetType[1])}))` : 'decap()';
    case 'dec_nsh_ttl': case 'debug_recirc': case 'debug_slow': return a.type;
    case 'delete_field': return `delete_field:${a.field}`;
    case 'dec_mpls_ttl': return 'dec_mpls_ttl';
    case 'set_mpls_label': case 'set_mpls_tc': case 'set_mpls_ttl': return `${a.type}(${a.value})`;
    case 'learn': return formatLearn(a, f);
    default: return undefined;
  }
}

function formatLearn(l: LearnAction, f: Fmt): string {
  const p = [`table=${l.table}`];
  if (l.idleTimeout) p.push(`idle_timeout=${l.idleTimeout}`);
  if (l.hardTimeout) p.push(`hard_timeout=${l.hardTimeout}`);
  if (l.finIdleTimeout) p.push(`fin_idle_timeout=${l.finIdleTimeout}`);
  if (l.finHardTimeout) p.push(`fin_hard_timeout=${l.finHardTimeout}`);
  if (l.priority !== 32768) p.push(`priority=${l.priority}`);
  if (l.sendFlowRem) p.push('send_flow_rem');
  if (l.deleteLearned) p.push('delete_learned');
  if (l.cookie !== 0n) p.push(`cookie=${hex(l.cookie)}`);
  if (l.limit) p.push(`limit=${l.limit}`);
  if (l.resultDst) p.push(`result_dst=${f.ref(l.resultDst)}`);
  for (const s of l.specs) p.push(formatLearnSpec(s, f));
  return `learn(${p.join(',')})`;
}

function formatLearnSpec(s: LearnSpec, f: Fmt): string {
  if (s.kind === 'output') return `output:${f.ref(s.src)}`;
  if (s.kind === 'load') return `load:${s.src ? f.ref(s.src) : hexOvs(s.value!)}->${f.ref(s.dst)}`;
  if (s.src) return s.src.field === s.dst.field && s.src.ofs === s.dst.ofs ? f.ref(s.dst) : `${f.ref(s.dst)}=${f.ref(s.src)}`;
  const def = lookupRefField(s.dst.field)!;
  if (s.dst.ofs === 0 && s.dst.nbits === def.bits) return `${MF_NAME[def.name] ?? def.name}=${immediateText(def.name, s.value!)}`;
  return `${f.ref(s.dst)}=${hexOvs(s.value!)}`;
}

// ovs-fields(7) names where swd's canonical name is the older alias.
const MF_NAME: Record<string, string> = { nw_src: 'ip_src', nw_dst: 'ip_dst', dl_src: 'eth_src', dl_dst: 'eth_dst', dl_type: 'eth_type' };

/** A whole field's value as a match prints it (mf_format), e.g. 10.0.0.1, 0xff, 2001:db8::1. */
function immediateText(field: string, value: bigint): string {
  const f = lookupRefField(field)!;
  switch (f.kind) {
    case 'ipv4': return ipv4Str(Number(value));
    case 'ipv6': return ipv6Str([0, 1, 2, 3].map((i) => Number((value >> BigInt(96 - 32 * i)) & 0xffffffffn)));
    case 'mac': return macStr(Number(value >> 32n), Number(value & 0xffffffffn));
    case 'int': case 'port': return portOrInt(field, value);
    default: return hexOvs(value);
  }
}

function portOrInt(field: string, value: bigint): string {
  return field === 'in_port' ? portLabel(Number(value)) : String(value);
}
