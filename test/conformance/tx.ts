// The packets a port sent, one line each, for scenario expectations: the
// headers as datapath-flow text (every header field, exactly), the frame
// length, and a short digest of the whole frame so that a difference in
// payload or checksums is not hidden either. Both drivers read their ports'
// tx_pcap files and decode them with the same code.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { FK_HEADER_FIRST, extractHeaders } from '../../src/packet/extract.ts';
import { FK_WORDS } from '../../src/packet/flow-key.ts';
import { formatOdpFlowKey } from '../../src/packet/odp-format.ts';
import { readPcap } from '../../src/packet/pcap.ts';

/** Pipeline metadata the formatter always prints; a sent frame has none. */
const METADATA_PREFIX = 'recirc_id(0),in_port(0),packet_type(ns=0,id=0),';

export function describeFrame(data: Uint8Array): string {
  const key = new Uint32Array(FK_WORDS);
  const mask = new Uint32Array(FK_WORDS);
  mask.fill(0xffffffff, FK_HEADER_FIRST, FK_WORDS);
  extractHeaders(data, 0, data.length, key, 0, new Int32Array(1), new Int32Array(1), 0);
  let text = formatOdpFlowKey(key, 0, mask, 0, false);
  if (text.startsWith(METADATA_PREFIX)) text = text.slice(METADATA_PREFIX.length);
  const digest = createHash('sha1').update(data).digest('hex').slice(0, 8);
  return `${text} len=${data.length} sha1=${digest}`;
}

/**
 * Follows the tx_pcap files of a set of ports; take() returns the lines for
 * the packets written since the last call, port by port.
 */
export class TxWatcher {
  private seen = new Map<string, number>();

  constructor(private readonly files: Map<string, string>) {}

  take(): string[] {
    return this.takeFrames().map((f) => `tx ${f.port} ${describeFrame(f.data)}`);
  }

  /** The frames written since the last call, port by port. */
  takeFrames(): { port: string; data: Uint8Array }[] {
    const frames: { port: string; data: Uint8Array }[] = [];
    for (const [port, file] of this.files) {
      if (!existsSync(file)) continue;
      const pkts = readPcap(file);
      const from = this.seen.get(port) ?? 0;
      for (const p of pkts.slice(from)) frames.push({ port, data: p.data });
      this.seen.set(port, pkts.length);
    }
    return frames;
  }
}
