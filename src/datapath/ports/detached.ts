// The backend of a configured port whose device is not there (a system
// port's interface missing at start or deleted under traffic, a tap port
// being recreated). It sends and receives nothing and counts nothing: the
// port is LINK_DOWN, so translation sends nothing to it, and this backend
// only makes sure a stray transmit goes nowhere. dpif swaps in the real
// backend when the interface appears.

import type { PortBackend } from '../port.ts';

export class DetachedBackend implements PortBackend {
  constructor(readonly type: string) {}

  transmit(): boolean {
    return false;
  }

  close(): void {}
}
