// Recirculation ids: when translation freezes (ct(table=N), and later other
// actions that must see the datapath's result), the state needed to resume —
// bridge, table, and the OpenFlow-only metadata the datapath does not carry
// (registers, metadata) — is stored under a recirc id that the datapath
// action recirc(ID) puts on the packet. Identical frozen states share one id,
// so repeated upcalls produce identical megaflows and the cache converges.
// Ids are never 0 (0 means "not recirculated").

import type { OfAction } from './actions.ts';

export interface FrozenState {
  bridge: string;
  table: number;
  /** Flow-key words that are OpenFlow-only (metadata, regs), restored on resume. */
  metadata: Uint32Array;
  /** The conntrack zone of the ct() that froze, for trace output. */
  ctZone: number | null;
  /**
   * The OpenFlow in_port at the freeze. Part of OVS's frozen metadata, so
   * packets from different ports get different ids (as dump-dp-flows shows).
   */
  inPort?: number;
  /** The action set at the freeze (write_actions), with its text as part of the state's identity. */
  actionSet?: OfAction[];
  actionSetText?: string;
}

export class RecircIds {
  private nextId = 1;
  private readonly byId = new Map<number, FrozenState>();
  private readonly byState = new Map<string, number>();

  private static stateKey(s: FrozenState): string {
    return `${s.bridge}\u0000${s.table}\u0000${s.ctZone}\u0000${s.inPort ?? ''}\u0000${Array.from(s.metadata).join(',')}\u0000${s.actionSetText ?? ''}`;
  }

  /** The id for this frozen state, allocating one the first time. */
  idFor(state: FrozenState): number {
    const k = RecircIds.stateKey(state);
    const existing = this.byState.get(k);
    if (existing !== undefined) return existing;
    const id = this.nextId++;
    const copy: FrozenState = { ...state, metadata: Uint32Array.from(state.metadata) };
    this.byId.set(id, copy);
    this.byState.set(k, id);
    return id;
  }

  get(id: number): FrozenState | undefined {
    return this.byId.get(id);
  }

  /** Forget every id frozen in `bridge` (bridge deleted). */
  dropBridge(bridge: string): void {
    for (const [id, s] of this.byId) {
      if (s.bridge === bridge) {
        this.byId.delete(id);
        this.byState.delete(RecircIds.stateKey(s));
      }
    }
  }

  get size(): number {
    return this.byId.size;
  }
}
