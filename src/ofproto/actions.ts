// OpenFlow actions as parsed from flow text (ovs-actions(7)). This is the
// slow-path representation: the parser (parse-flow.ts) produces it, the
// formatter (format-flow.ts) prints it back exactly as ovs-ofctl does, and the
// translator (xlate.ts) turns it into datapath actions. Variants stay
// distinct where OVS keeps them distinct (mod_nw_src and set_field->nw_src
// print differently), so that formatting round-trips.

import type { NatSpec } from '../nat/range.ts';

/** A field slice `FIELD[ofs..ofs+nbits-1]`; `field` is the canonical OVS name (e.g. 'reg0', 'ct_mark', 'nw_src'). */
export interface FieldRef {
  field: string;
  ofs: number;
  nbits: number;
}

// Reserved OpenFlow port numbers (OpenFlow 1.0 16-bit space, as ovs-ofctl prints them).
export const OFPP_MAX = 0xff00;
export const OFPP_UNSET = 0xfff7;
export const OFPP_IN_PORT = 0xfff8;
export const OFPP_TABLE = 0xfff9;
export const OFPP_NORMAL = 0xfffa;
export const OFPP_FLOOD = 0xfffb;
export const OFPP_ALL = 0xfffc;
export const OFPP_CONTROLLER = 0xfffd;
export const OFPP_LOCAL = 0xfffe;
export const OFPP_NONE = 0xffff;

export type { NatSpec };

export interface CtAction {
  type: 'ct';
  commit: boolean;
  force: boolean;
  /** Immediate zone, or a field slice to read the zone from (zone=NXM_NX_REG0[0..15]). */
  zone: number;
  zoneSrc: FieldRef | null;
  /** Recirculate into this table after conntrack; null = no recirculation. */
  table: number | null;
  /** 'ftp' | 'tftp' | null */
  alg: string | null;
  /** Actions inside exec(...): only set_field/load/move to ct_mark and ct_label. */
  exec: OfAction[];
  /** null when the ct() has no nat clause. */
  nat: NatSpec | null;
  /** nat(...) was written before exec(...): OVS keeps the order, so it prints before exec then. */
  natFirst?: boolean;
}

export type OfAction =
  | { type: 'output'; port: number; maxLen?: number }
  | { type: 'output_reg'; src: FieldRef; maxLen?: number }
  | { type: 'controller'; maxLen: number; reason?: string; id?: number; userdata?: string; pause?: boolean; meterId?: number }
  | { type: 'resubmit'; port: number | null; table: number | null; ct?: boolean }
  | { type: 'goto_table'; table: number }
  /** `value` as written, also its bits outside `mask` (OVS keeps them; only the masked bits are set). */
  | { type: 'set_field'; field: string; value: bigint; mask: bigint | null }
  | { type: 'load'; value: bigint; dst: FieldRef }
  | { type: 'move'; src: FieldRef; dst: FieldRef }
  | { type: 'mod_dl_src' | 'mod_dl_dst'; mac: string }
  | { type: 'mod_nw_src' | 'mod_nw_dst'; addr: string }
  | { type: 'mod_tp_src' | 'mod_tp_dst'; port: number }
  | { type: 'mod_nw_tos'; tos: number }
  | { type: 'mod_nw_ecn'; ecn: number }
  | { type: 'mod_nw_ttl'; ttl: number }
  | { type: 'dec_ttl'; ids?: number[] }
  | { type: 'push_vlan'; ethertype: number }
  | { type: 'pop_vlan' }
  | { type: 'strip_vlan' }
  /** mod_vlan_vid/mod_vlan_pcp push a tag on an untagged packet; set_vlan_vid/set_vlan_pcp (`noPush`) leave it untagged. */
  | { type: 'mod_vlan_vid'; vid: number; noPush?: boolean }
  | { type: 'mod_vlan_pcp'; pcp: number; noPush?: boolean }
  | { type: 'note'; bytes: Uint8Array }
  | { type: 'write_metadata'; value: bigint; mask: bigint | null }
  | { type: 'clear_actions' }
  /**
   * write_actions(ACTIONS): add ACTIONS to the packet's action set (OpenFlow
   * 1.1+), executed when the pipeline ends (action-set.ts).
   */
  | { type: 'write_actions'; actions: OfAction[] }
  | { type: 'group'; groupId: number }
  | CtAction
  | { type: 'ct_clear' }
  /**
   * conjunction(id,k/n): this flow is clause k (1-based) of n of conjunctive
   * match `id`; a flow's actions are then only conjunctions (and notes).
   */
  | { type: 'conjunction'; id: number; clause: number; nClauses: number }
  /** clone(ACTIONS): run ACTIONS on a copy of the packet; the packet and its metadata are restored after. */
  | { type: 'clone'; actions: OfAction[] }
  /** exit: stop executing actions (and the resubmits that led here). */
  | { type: 'exit' }
  /** multipath(fields,basis,algorithm,n_links,arg,dst): a hash of `fields` picks a link 0..n_links-1 into dst. */
  | { type: 'multipath'; fields: string; basis: number; algorithm: string; nLinks: number; arg: number; dst: FieldRef }
  /**
   * bundle(fields,basis,algorithm,ofport,members:P...): output to one live member chosen by
   * `algorithm` (hrw or active_backup); bundle_load writes the chosen port into `dst` instead.
   */
  | { type: 'bundle'; fields: string; basis: number; algorithm: string; members: number[]; dst: FieldRef | null }
  /** check_pkt_larger(N)->dst: dst (1 bit) = packet length > N. */
  | { type: 'check_pkt_larger'; pktLen: number; dst: FieldRef }
  /** fin_timeout(idle_timeout=I,hard_timeout=H): a TCP FIN or RST shortens the rule's timeouts. */
  | { type: 'fin_timeout'; idle: number; hard: number }
  /** set_queue:Q / pop_queue / enqueue:PORT:Q — the queue id travels in metadata (skb_priority); no shaping. */
  | { type: 'set_queue'; queue: number }
  | { type: 'pop_queue' }
  | { type: 'enqueue'; port: number; queue: number }
  /** sample(...): counted; swd has no IPFIX/sFlow collector. */
  | { type: 'sample'; probability: number; collectorSetId: number; obsDomainId: number; obsPointId: number; samplingPort?: number; direction?: string }
  /** push:SRC / pop:DST: the field-slice stack of ovs-actions(7). */
  | { type: 'stack_push'; src: FieldRef }
  | { type: 'stack_pop'; dst: FieldRef }
  /** MPLS and tunnel actions: parsed and printed; a switch refuses them (swd carries no MPLS packets, has no tunnels). */
  | { type: 'push_mpls' | 'pop_mpls'; ethertype: number }
  | { type: 'set_tunnel'; tunId: bigint; wide: boolean }
  | { type: 'dec_mpls_ttl' }
  | { type: 'set_mpls_label' | 'set_mpls_tc' | 'set_mpls_ttl'; value: number }
  /** Packet-type and NSH actions: parsed and printed; a switch refuses them (swd carries only Ethernet packets). */
  | { type: 'encap'; header: string; text: string }
  | { type: 'decap'; packetType: [number, number] | null }
  | { type: 'dec_nsh_ttl' }
  /** delete_field:FIELD (tunnel metadata): parsed and printed; a switch refuses it (swd has no tunnels). */
  | { type: 'delete_field'; field: string }
  /** OVS's own test actions: parsed and printed; OVS decodes them only when run for its tests, a switch refuses them. */
  | { type: 'debug_recirc' | 'debug_slow' }
  /** meter:N — the packet passes meter N's bands (meters.ts). */
  | { type: 'meter'; meterId: number }
  | LearnAction;

/** One spec of learn(): what the learned flow matches on, loads, or outputs to. */
export type LearnSpec =
  /** Match: dst == src (a field of this packet) or dst == value; `dst` is a field of the learned flow. */
  | { kind: 'match'; dst: FieldRef; src: FieldRef | null; value: bigint | null }
  /** Action load: dst (of the learned flow's packet) := src of this packet, or := value. */
  | { kind: 'load'; dst: FieldRef; src: FieldRef | null; value: bigint | null }
  /** Action output to the port held in src. */
  | { kind: 'output'; src: FieldRef };

/** learn(...): install or modify a flow from the packet being translated (ovs-actions(7) "The learn action"). */
export interface LearnAction {
  type: 'learn';
  table: number;
  idleTimeout: number;
  hardTimeout: number;
  finIdleTimeout: number;
  finHardTimeout: number;
  priority: number;
  cookie: bigint;
  sendFlowRem: boolean;
  deleteLearned: boolean;
  /** Maximum number of flows this action may have learned; 0 = no limit. */
  limit: number;
  /** 1-bit field set to 1 when the flow was learned, 0 when the limit refused it. */
  resultDst: FieldRef | null;
  specs: LearnSpec[];
}
