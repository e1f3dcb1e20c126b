// Test helpers for the datapath tests: a port backend that records what it
// sends, as hex.

import type { PortBackend } from '../../src/datapath/port.ts';

export const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** A port backend that keeps a copy of everything sent. */
export class Recorder implements PortBackend {
  readonly type = 'dummy';
  readonly sent: string[] = [];
  transmit(d: Uint8Array, start: number, len: number): boolean {
    this.sent.push(hex(d.subarray(start, start + len)));
    return true;
  }
  close(): void {}
}
