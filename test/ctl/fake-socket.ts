// An OpenFlow connection's socket for in-process tests: what swd writes is
// kept, `take()` hands over everything but HELLO since the last take, and
// tests feed the peer's bytes with `emit('data', buf)`.

import { EventEmitter } from 'node:events';
import { readHeader } from '../../src/openflow/header.ts';

export class FakeSocket extends EventEmitter {
  sent: Buffer[] = [];
  writableLength = 0;
  write(b: Buffer): boolean {
    this.sent.push(Buffer.from(b));
    return true;
  }
  // A real socket coalesces what is written while corked; here each message is kept as it is written.
  cork(): void {}
  uncork(): void {}
  destroyed = false;
  destroy(): void {
    this.destroyed = true;
  }
  take(): Buffer[] {
    const out = this.sent.filter((m) => readHeader(m).type !== 0);
    this.sent = [];
    return out;
  }
}

export const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
export const quietLog = { warn() {}, debug() {} };
