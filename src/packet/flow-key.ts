// The flow key: every header field and piece of pipeline metadata that a
// flow table or a megaflow can match on, laid out as fixed 32-bit words in a
// Uint32Array. Parsing writes it (src/packet/extract.ts), the datapath masks
// and hashes it (src/datapath/megaflow.ts), the classifier matches it
// (src/ofproto/classifier.ts). A batch keeps its keys back to back in one
// Uint32Array (packet i at i * FK_WORDS), so the fast path never allocates.
//
// Layout rules that must stay true:
// - A field never straddles two words; narrower fields sit in the low bits.
// - Masking is per bit, so packing several small fields into one word is fine.
// - Unused bits and absent headers are zero (a key of an ARP packet has zero
//   TP_SRC, and so on), so masked equality needs no presence checks.
// - Which word means what for a given eth_type follows OVS: for ARP,
//   NW_PROTO holds arp_op (low 8 bits), NW_SRC/NW_DST hold spa/tpa and
//   ARP_SHA/ARP_THA hold the hardware addresses; for ICMP/ICMPv6, TP_SRC holds
//   the type and TP_DST the code.

// --- pipeline metadata ---
export const FK_RECIRC_ID = 0;
export const FK_IN_PORT = 1; // datapath port number (equal to the OpenFlow port number in swd)
export const FK_CT_STATE = 2; // CS_* bits below
export const FK_CT_ZONE = 3; // 16 bits
export const FK_CT_MARK = 4;
export const FK_CT_LABEL = 5; // 4 words, most significant word first (5..8)
export const FK_CT_NW_SRC = 9; // original-direction tuple of the connection (IPv4)
export const FK_CT_NW_DST = 10;
export const FK_CT_IPV6_SRC = 11; // 4 words, network order (11..14)
export const FK_CT_IPV6_DST = 15; // 4 words (15..18)
export const FK_CT_NW_PROTO = 19; // 8 bits
export const FK_CT_TP = 20; // ct_tp_src << 16 | ct_tp_dst
export const FK_METADATA_HI = 21; // OpenFlow metadata, 64 bits
export const FK_METADATA_LO = 22;
export const FK_REG0 = 23; // reg0..reg15 at 23..38
export const FK_PKT_MARK = 39;
export const FK_DP_HASH = 40;
// --- L2 ---
export const FK_ETH_SRC_HI = 41; // upper 16 bits of the MAC address
export const FK_ETH_SRC_LO = 42; // lower 32 bits
export const FK_ETH_DST_HI = 43;
export const FK_ETH_DST_LO = 44;
export const FK_VLAN_TCI = 45; // 16 bits, VLAN_CFI (0x1000) set when a tag is present, like OVS's vlan_tci
export const FK_ETH_TYPE = 46; // 16 bits; the inner type when tagged; 0x05ff for 802.2 frames (like OVS)
// --- L3 ---
export const FK_NW_SRC = 47; // IPv4 source / ARP spa
export const FK_NW_DST = 48; // IPv4 destination / ARP tpa
export const FK_IPV6_SRC = 49; // 4 words (49..52)
export const FK_IPV6_DST = 53; // 4 words (53..56)
export const FK_IPV6_LABEL = 57; // 20 bits
export const FK_NW_PROTO = 58; // 8 bits: IP protocol, or ARP opcode (low 8 bits)
export const FK_NW_TOS = 59; // 8 bits: DSCP << 2 | ECN (the whole TOS / traffic-class byte)
export const FK_NW_TTL = 60; // 8 bits: TTL / hop limit
export const FK_NW_FRAG = 61; // FRAG_* bits below
// --- L4 ---
export const FK_TP_SRC = 62; // 16 bits; ICMP type
export const FK_TP_DST = 63; // 16 bits; ICMP code
export const FK_TCP_FLAGS = 64; // 12 bits
export const FK_ARP_SHA_HI = 65; // ARP sha / IPv6 ND source link-layer address
export const FK_ARP_SHA_LO = 66;
export const FK_ARP_THA_HI = 67; // ARP tha / IPv6 ND target link-layer address
export const FK_ARP_THA_LO = 68;
export const FK_ND_TARGET = 69; // 4 words (69..72)

export const FK_WORDS = 73;

// ct_state bits (ovs-fields(7) order and values).
export const CS_NEW = 0x01;
export const CS_ESTABLISHED = 0x02;
export const CS_RELATED = 0x04;
export const CS_REPLY_DIR = 0x08;
export const CS_INVALID = 0x10;
export const CS_TRACKED = 0x20;
export const CS_SRC_NAT = 0x40;
export const CS_DST_NAT = 0x80;

// nw_frag bits, as OVS's FLOW_NW_FRAG_*.
export const FRAG_ANY = 0x01; // the packet is a fragment
export const FRAG_LATER = 0x02; // ...and not the first one

export const VLAN_CFI = 0x1000;
export const VLAN_VID_MASK = 0x0fff;
export const VLAN_PCP_SHIFT = 13;

// TCP flag bits as they appear in the header's 12 flag bits.
export const TCP_FIN = 0x001;
export const TCP_SYN = 0x002;
export const TCP_RST = 0x004;
export const TCP_PSH = 0x008;
export const TCP_ACK = 0x010;
export const TCP_URG = 0x020;
export const TCP_ECE = 0x040;
export const TCP_CWR = 0x080;
export const TCP_NS = 0x100;

export const ETH_TYPE_IP = 0x0800;
export const ETH_TYPE_ARP = 0x0806;
export const ETH_TYPE_IPV6 = 0x86dd;
export const ETH_TYPE_RARP = 0x8035;
export const ETH_TYPE_MPLS = 0x8847;
export const ETH_TYPE_MPLS_MCAST = 0x8848;
export const ETH_TYPE_NSH = 0x894f;
export const ETH_TYPE_VLAN = 0x8100;
export const ETH_TYPE_VLAN_8021AD = 0x88a8;
/** eth_type given to 802.2/802.3 frames whose type field is a length. */
export const ETH_TYPE_NONE = 0x05ff;

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_DCCP = 33;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_SCTP = 132;
export const IPPROTO_UDPLITE = 136;

/** ICMPv6 neighbour discovery message types (RFC 4861). */
export const ND_NEIGHBOR_SOLICIT = 135;
export const ND_NEIGHBOR_ADVERT = 136;

export function newKey(): Uint32Array {
  return new Uint32Array(FK_WORDS);
}

/** Copy key `src` (at word offset `srcOfs`) into `dst` at `dstOfs`. */
export function copyKey(dst: Uint32Array, dstOfs: number, src: Uint32Array, srcOfs: number): void {
  for (let i = 0; i < FK_WORDS; i++) dst[dstOfs + i] = src[srcOfs + i];
}

/** MAC address helpers for the split HI(16)/LO(32) representation. */
export function macFromKey(key: Uint32Array, hiWord: number, ofs = 0): string {
  const hi = key[ofs + hiWord];
  const lo = key[ofs + hiWord + 1];
  const b = [(hi >>> 8) & 0xff, hi & 0xff, lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}
