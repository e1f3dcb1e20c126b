// A pcap port: receives by replaying its rx_pcap file (when added and on
// `swctl pcap-replay`), sends to tx_pcap like any port.

import { existsSync } from 'node:fs';
import { readPcap, type PcapPacket } from '../../packet/pcap.ts';
import { PortError, type PortBackend } from '../port.ts';

export class PcapBackend implements PortBackend {
  readonly type = 'pcap';

  constructor(readonly rxPath: string | null) {
    if (rxPath !== null && !existsSync(rxPath)) throw new PortError('ERXPCAP', `rx_pcap file '${rxPath}' does not exist`);
  }

  /** The packets of rx_pcap, read afresh each replay. */
  packets(): PcapPacket[] {
    if (this.rxPath === null) return [];
    try {
      return readPcap(this.rxPath);
    } catch (e) {
      throw new PortError('ERXPCAP', `cannot read rx_pcap '${this.rxPath}': ${(e as Error).message}`);
    }
  }

  transmit(): boolean {
    return true;
  }

  close(): void {}
}
