// Flow key -> packet bytes, composed the way OVS's `netdev-dummy/receive`
// composes a packet from datapath-flow text (same header defaults and the
// same 64-byte 00..3f payload after UDP, ICMP/ICMPv6, and TCP unless the
// segment carries SYN, FIN or RST; none after SCTP or ARP), so that byte
// counters and conntrack's TCP sequence tracking match a reference OVS run.
// Also: `parsePacketArg` for `swctl inject` (hex bytes or flow text).

import { setIpv4HeaderChecksum, setL4Checksum } from './checksum.ts';
import { wr16, wr32 } from './bytes.ts';
import {
  ETH_TYPE_ARP, ETH_TYPE_IP, ETH_TYPE_IPV6, ETH_TYPE_VLAN, FK_ARP_SHA_HI, FK_ARP_SHA_LO, FK_ARP_THA_HI,
  FK_ARP_THA_LO, FK_ETH_DST_HI, FK_ETH_DST_LO, FK_ETH_SRC_HI, FK_ETH_SRC_LO, FK_ETH_TYPE, FK_IN_PORT,
  FK_IPV6_DST, FK_IPV6_LABEL, FK_IPV6_SRC, FK_ND_TARGET, FK_NW_DST, FK_NW_FRAG, FK_NW_PROTO, FK_NW_SRC,
  FK_NW_TOS, FK_NW_TTL, FK_TCP_FLAGS, FK_TP_DST, FK_TP_SRC, FK_VLAN_TCI, FRAG_ANY, FRAG_LATER, IPPROTO_ICMP,
  IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, VLAN_CFI,
  ND_NEIGHBOR_ADVERT, ND_NEIGHBOR_SOLICIT,
} from './flow-key.ts';
import { parseOdpFlow } from './odp-parse.ts';

const PAYLOAD_LEN = 64;

/** TCP flags after which OVS's flow_compose() adds no payload. */
const TCP_NO_PAYLOAD = 0x01 | 0x02 | 0x04; // FIN | SYN | RST

const IP_MORE_FRAGMENTS = 0x2000;
const ND_OPT_SOURCE_LINKADDR = 1;
const ND_OPT_TARGET_LINKADDR = 2;

function isNd(proto: number, key: Uint32Array): boolean {
  return proto === IPPROTO_ICMPV6 && key[FK_TP_DST] === 0 &&
    (key[FK_TP_SRC] === ND_NEIGHBOR_SOLICIT || key[FK_TP_SRC] === ND_NEIGHBOR_ADVERT);
}

function hasMac(key: Uint32Array, hiWord: number): boolean {
  return key[hiWord] !== 0 || key[hiWord + 1] !== 0;
}

/** ND: header, target, then a source and a target link-layer option when their addresses are non-zero. */
function ndLength(key: Uint32Array): number {
  return 8 + 16 + (hasMac(key, FK_ARP_SHA_HI) ? 8 : 0) + (hasMac(key, FK_ARP_THA_HI) ? 8 : 0);
}

function l4Length(proto: number, tcpFlags: number, key: Uint32Array): number {
  switch (proto) {
    case IPPROTO_TCP: return (tcpFlags & TCP_NO_PAYLOAD) !== 0 ? 20 : 20 + PAYLOAD_LEN;
    case IPPROTO_UDP: return 8 + PAYLOAD_LEN;
    case IPPROTO_SCTP: return 12;
    case IPPROTO_ICMP: return 8 + PAYLOAD_LEN;
    case IPPROTO_ICMPV6: return isNd(proto, key) ? ndLength(key) : 8 + PAYLOAD_LEN;
    default: return 0;
  }
}

/** Build the packet a flow key describes. */
export function composePacket(key: Uint32Array): Uint8Array {
  const tagged = (key[FK_VLAN_TCI] & VLAN_CFI) !== 0;
  const type = key[FK_ETH_TYPE];
  const l2 = tagged ? 18 : 14;
  let l3len = 0;
  const proto = key[FK_NW_PROTO];
  const later = (key[FK_NW_FRAG] & FRAG_LATER) !== 0;
  // OVS's flow_compose() puts no L4 header (and no payload) in a later IPv4
  // fragment; IPv6 has no fragment header in the composed packet.
  const l4len = later ? (type === ETH_TYPE_IP ? 0 : PAYLOAD_LEN) : l4Length(proto, key[FK_TCP_FLAGS], key);
  if (type === ETH_TYPE_IP) l3len = 20 + l4len;
  else if (type === ETH_TYPE_IPV6) l3len = 40 + l4len;
  else if (type === ETH_TYPE_ARP) l3len = 28;
  const d = new Uint8Array(l2 + l3len);
  wr16(d, 0, key[FK_ETH_DST_HI]);
  wr32(d, 2, key[FK_ETH_DST_LO]);
  wr16(d, 6, key[FK_ETH_SRC_HI]);
  wr32(d, 8, key[FK_ETH_SRC_LO]);
  if (tagged) {
    wr16(d, 12, ETH_TYPE_VLAN);
    wr16(d, 14, key[FK_VLAN_TCI] & ~VLAN_CFI & 0xffff);
  }
  wr16(d, l2 - 2, type);
  const l3 = l2;
  if (type === ETH_TYPE_IP) {
    d[l3] = 0x45;
    d[l3 + 1] = key[FK_NW_TOS];
    wr16(d, l3 + 2, l3len);
    // As flow_compose(): MF on every fragment, offset 100 (x8 bytes) on later ones.
    if (key[FK_NW_FRAG] & FRAG_ANY) wr16(d, l3 + 6, IP_MORE_FRAGMENTS | (later ? 100 : 0));
    d[l3 + 8] = key[FK_NW_TTL];
    d[l3 + 9] = proto;
    wr32(d, l3 + 12, key[FK_NW_SRC]);
    wr32(d, l3 + 16, key[FK_NW_DST]);
    setIpv4HeaderChecksum(d, l3);
    if (!later) composeL4(d, l3, l3 + 20, proto, key);
  } else if (type === ETH_TYPE_IPV6) {
    wr32(d, l3, (0x60000000 | (key[FK_NW_TOS] << 20) | (key[FK_IPV6_LABEL] & 0xfffff)) >>> 0);
    wr16(d, l3 + 4, l4len);
    d[l3 + 6] = proto;
    d[l3 + 7] = key[FK_NW_TTL];
    for (let i = 0; i < 4; i++) {
      wr32(d, l3 + 8 + i * 4, key[FK_IPV6_SRC + i]);
      wr32(d, l3 + 24 + i * 4, key[FK_IPV6_DST + i]);
    }
    if (!later) composeL4(d, l3, l3 + 40, proto, key);
  } else if (type === ETH_TYPE_ARP) {
    wr16(d, l3, 1);
    wr16(d, l3 + 2, ETH_TYPE_IP);
    d[l3 + 4] = 6;
    d[l3 + 5] = 4;
    wr16(d, l3 + 6, key[FK_NW_PROTO]);
    wr16(d, l3 + 8, key[FK_ARP_SHA_HI]);
    wr32(d, l3 + 10, key[FK_ARP_SHA_LO]);
    wr32(d, l3 + 14, key[FK_NW_SRC]);
    wr16(d, l3 + 18, key[FK_ARP_THA_HI]);
    wr32(d, l3 + 20, key[FK_ARP_THA_LO]);
    wr32(d, l3 + 24, key[FK_NW_DST]);
  }
  return d;
}

function composeL4(d: Uint8Array, l3: number, l4: number, proto: number, key: Uint32Array): void {
  const end = d.length;
  switch (proto) {
    case IPPROTO_TCP:
      wr16(d, l4, key[FK_TP_SRC]);
      wr16(d, l4 + 2, key[FK_TP_DST]);
      wr16(d, l4 + 12, 0x5000 | (key[FK_TCP_FLAGS] & 0x0fff));
      if (end > l4 + 20) fillPayload(d, l4 + 20);
      break;
    case IPPROTO_UDP:
      wr16(d, l4, key[FK_TP_SRC]);
      wr16(d, l4 + 2, key[FK_TP_DST]);
      wr16(d, l4 + 4, end - l4);
      fillPayload(d, l4 + 8);
      break;
    case IPPROTO_SCTP:
      wr16(d, l4, key[FK_TP_SRC]);
      wr16(d, l4 + 2, key[FK_TP_DST]);
      return; // SCTP uses CRC32c, left zero
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6:
      d[l4] = key[FK_TP_SRC];
      d[l4 + 1] = key[FK_TP_DST];
      if (isNd(proto, key)) {
        for (let i = 0; i < 4; i++) wr32(d, l4 + 8 + i * 4, key[FK_ND_TARGET + i]);
        let o = l4 + 24;
        if (hasMac(key, FK_ARP_SHA_HI)) {
          d[o] = ND_OPT_SOURCE_LINKADDR;
          d[o + 1] = 1; // length in units of 8 bytes
          wr16(d, o + 2, key[FK_ARP_SHA_HI]);
          wr32(d, o + 4, key[FK_ARP_SHA_LO]);
          o += 8;
        }
        if (hasMac(key, FK_ARP_THA_HI)) {
          d[o] = ND_OPT_TARGET_LINKADDR;
          d[o + 1] = 1;
          wr16(d, o + 2, key[FK_ARP_THA_HI]);
          wr32(d, o + 4, key[FK_ARP_THA_LO]);
        }
      } else fillPayload(d, l4 + 8);
      break;
    default:
      return;
  }
  setL4Checksum(d, l3, l4, end, proto);
}

function fillPayload(d: Uint8Array, from: number): void {
  for (let i = from, b = 0; i < d.length; i++, b++) d[i] = b & 0xff;
}

export class PacketArgError extends Error {
  readonly code = 'EPACKET';
}

/** `swctl inject` argument: hex bytes (spaces allowed) or datapath-flow text. */
export function parsePacketArg(text: string): { inPort: number | null; bytes: Uint8Array } {
  const t = text.trim();
  const hex = t.replace(/\s+/g, '');
  if (/^[0-9a-fA-F]+$/.test(hex) && !t.includes('(')) {
    if (hex.length % 2 !== 0) throw new PacketArgError('hex packet has an odd number of digits');
    if (hex.length < 28) throw new PacketArgError('hex packet is shorter than an Ethernet header (14 bytes)');
    return { inPort: null, bytes: Uint8Array.from(Buffer.from(hex, 'hex')) };
  }
  const { key, mask } = parseOdpFlow(t);
  return { inPort: mask[FK_IN_PORT] ? key[FK_IN_PORT] : null, bytes: composePacket(key) };
}
