// Datapath ports and their backends. A backend moves bytes (dummy: nowhere,
// pcap: files, system: an AF_PACKET socket on a Linux interface, tap: a TAP
// device); the port keeps the counters dump-ports prints. transmit()
// consumes the bytes before returning (copying them if it must keep them),
// so the caller may rewrite the packet right after; a backend may queue what
// it sends until flush() (one kernel call per batch).
//
// Backends that receive real traffic (RxBackend) fill a PacketBatch when
// asked, never block, and offer a file descriptor to sleep on in poll(2).
// They are created per thread: each PMD thread opens its own (see
// src/datapath/pmd/), and one PortBackend is used by one thread only.

import type { PacketBatch } from '../packet/batch.ts';
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
  /**
   * Send one packet; returns false when it could not be sent (counted as tx
   * drop). `gso` is PacketBatch.gso of the packet (0 for a normal one).
   */
  transmit(d: Uint8Array, start: number, len: number, nowMs: number, gso: number): boolean;
  /** Push out what transmit() queued. */
  flush?(): void;
  close(): void;
}

/** A backend with a receive side: real traffic (system, tap). */
export interface RxBackend extends PortBackend {
  /** The descriptor poll(2) reports readable when receive() has work. */
  readonly rxFd: number;
  /**
   * Append up to `max` received packets to `b` (never blocking); counts
   * rx packets/bytes/drops into `stats`. Returns how many were appended.
   */
  receive(b: PacketBatch, max: number, stats: PortCounters): number;
  /** Drops the kernel reported since the last call (PACKET_STATISTICS). */
  kernelDrops?(): number;
  /**
   * Take a pending socket error (e.g. ENETDOWN when the interface went away),
   * which would otherwise keep poll(2) reporting the descriptor ready.
   * Returns the errno, 0 when there was none.
   */
  takeError?(): number;
}

export function isRxBackend(b: PortBackend): b is RxBackend {
  return typeof (b as RxBackend).receive === 'function';
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
    readonly options: Record<string, string>,
  ) {
    if (options.tx_pcap) {
      try {
        this.txPcap = new PcapWriter(options.tx_pcap);
      } catch (e) {
        throw new PortError('ETXPCAP', `cannot open tx_pcap '${options.tx_pcap}': ${(e as Error).message}`);
      }
    }
  }

  /** Set when transmit() was called since the last flush(). */
  txPending = false;

  transmit(d: Uint8Array, start: number, len: number, nowMs: number, gso = 0): void {
    this.txPending = true;
    if (this.backend.transmit(d, start, len, nowMs, gso)) {
      this.stats.txPackets++;
      this.stats.txBytes += len;
      if (this.txPcap) this.txPcap.write(d, start, len, nowMs);
    } else this.stats.txDropped++;
  }

  flush(): void {
    this.txPending = false;
    this.backend.flush?.();
  }

  /** Counters with the kernel's drop count folded in. */
  refreshStats(): PortCounters {
    const b = this.backend;
    if (isRxBackend(b) && b.kernelDrops) this.stats.rxDropped += b.kernelDrops();
    return this.stats;
  }

  close(): void {
    this.txPcap?.close();
    this.backend.close();
  }
}
