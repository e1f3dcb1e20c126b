// Decoding what a port wrote to its tx_pcap, for the end-to-end tests:
// addresses, ports, TCP flags and whether every checksum verifies.

import { ipv4HeaderChecksum, verifyL4Checksum } from '../../src/packet/checksum.ts';
import { rd16 } from '../../src/packet/bytes.ts';
import { extractHeaders } from '../../src/packet/extract.ts';
import { FK_IPV6_DST, FK_IPV6_SRC, FK_NW_DST, FK_NW_SRC, FK_TCP_FLAGS, FK_TP_DST, FK_TP_SRC, FK_WORDS } from '../../src/packet/flow-key.ts';
import { ipv4Str, ipv6Str } from '../../src/packet/odp-format.ts';
import { readPcap } from '../../src/packet/pcap.ts';

export interface Sent {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  flags: number;
  checksumsOk: boolean;
}

/** Every packet in a pcap file, decoded; IPv4 header and L4 checksums verified. */
export function sent(file: string): Sent[] {
  return readPcap(file).map(({ data }) => {
    const key = new Uint32Array(FK_WORDS);
    const l3 = new Int32Array(1), l4 = new Int32Array(1);
    extractHeaders(data, 0, data.length, key, 0, l3, l4, 0);
    const v6 = rd16(data, 12) === 0x86dd;
    const proto = v6 ? data[l3[0] + 6] : data[l3[0] + 9];
    let ok = v6 || ipv4HeaderChecksum(data, l3[0]) === rd16(data, l3[0] + 10);
    if (l4[0] >= 0) ok &&= verifyL4Checksum(data, l3[0], l4[0], data.length, proto);
    return {
      src: v6 ? ipv6Str(key, FK_IPV6_SRC) : ipv4Str(key[FK_NW_SRC]),
      dst: v6 ? ipv6Str(key, FK_IPV6_DST) : ipv4Str(key[FK_NW_DST]),
      sport: key[FK_TP_SRC],
      dport: key[FK_TP_DST],
      flags: key[FK_TCP_FLAGS],
      checksumsOk: ok,
    };
  });
}
