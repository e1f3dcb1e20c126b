// Datapath ports and their backends. A backend moves bytes (dummy: nowhere,
// pcap: files; system/tap later); the port keeps the counters dump-ports
// prints. transmit() consumes the bytes before returning (copying them if it
// must keep them), so the caller may rewrite the packet right after.

import { PcapWriter } from '../packet/pcap.ts';

export interface PortCounters {
  rxPackets: number;
  rxBytes: number;
  rxDropped: number;
  rxErrors: number;
  txPackets: number;
  txBytes: number;
  txDropped: number;
  txErrors: number;
}

export interface PortBackend {
  readonly type: string;
  /** Send one packet; returns false when it could not be sent (counted as tx drop). */
  transmit(d: Uint8Array, start: number, len: number, nowMs: number): boolean;
  close(): void;
}

export class PortError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'PortError';
  }
}

export class DpPort {
  readonly stats: PortCounters = {
    rxPackets: 0, rxBytes: 0, rxDropped: 0, rxErrors: 0, txPackets: 0, txBytes: 0, txDropped: 0, txErrors: 0,
  };
  private txPcap: PcapWriter | null = null;

  constructor(
    readonly number: number,
    readonly name: string,
    readonly backend: PortBackend,
    options: Record<string, string>,
  ) {
    if (options.tx_pcap) {
      try {
        this.txPcap = new PcapWriter(options.tx_pcap);
      } catch (e) {
        throw new PortError('ETXPCAP', `cannot open tx_pcap '${options.tx_pcap}': ${(e as Error).message}`);
      }
    }
  }

  transmit(d: Uint8Array, start: number, len: number, nowMs: number): void {
    if (this.backend.transmit(d, start, len, nowMs)) {
      this.stats.txPackets++;
      this.stats.txBytes += len;
      if (this.txPcap) this.txPcap.write(d, start, len, nowMs);
    } else this.stats.txDropped++;
  }

  close(): void {
    this.txPcap?.close();
    this.backend.close();
  }
}
