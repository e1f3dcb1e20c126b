// The datapath's ports by number: a Map (dpif.ts and the PMD set add and
// remove ports through it) that also keeps the ports of small numbers in
// an array, so that an output — every packet's last action — finds its
// port by one indexed read instead of a Map lookup. The array follows
// every set/delete/clear; numbers from PORT_ARRAY_MAX up are in the Map only.
//
// Single-threaded, as the Datapath that owns it.

import type { DpPort } from './port.ts';

/** Port numbers below this are found through the array (OpenFlow ports of a bridge are small numbers). */
export const PORT_ARRAY_MAX = 1024;

export class PortMap extends Map<number, DpPort> {
  private readonly byNumber: (DpPort | undefined)[] = new Array<DpPort | undefined>(PORT_ARRAY_MAX).fill(undefined);

  override set(n: number, p: DpPort): this {
    super.set(n, p);
    // Map's constructor calls set() before the field above exists (no initial entries are passed here).
    if (this.byNumber !== undefined && n >= 0 && n < PORT_ARRAY_MAX) this.byNumber[n] = p;
    return this;
  }

  override delete(n: number): boolean {
    if (n >= 0 && n < PORT_ARRAY_MAX) this.byNumber[n] = undefined;
    return super.delete(n);
  }

  override clear(): void {
    this.byNumber.fill(undefined);
    super.clear();
  }

  /** The port numbered `n` (an integer), as get(n). */
  port(n: number): DpPort | undefined {
    return n >= 0 && n < PORT_ARRAY_MAX ? this.byNumber[n] : super.get(n);
  }
}
