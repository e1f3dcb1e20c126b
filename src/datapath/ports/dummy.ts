// A dummy port: packets arrive only by injection (swctl inject) and what it
// sends goes nowhere but its counters and, with options:tx_pcap, a file.

import type { PortBackend } from '../port.ts';

export class DummyBackend implements PortBackend {
  readonly type: string = 'dummy';
  transmit(): boolean {
    return true;
  }
  close(): void {}
}

/** The bridge's own LOCAL port (OVS's internal port) behaves like a dummy here. */
export class InternalBackend extends DummyBackend {
  override readonly type = 'internal';
}
