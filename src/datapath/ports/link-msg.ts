// rtnetlink link messages (RTM_NEWLINK / RTM_DELLINK: struct nlmsghdr,
// struct ifinfomsg, then rtattrs), decoded for the link watcher
// (link-watch.ts and its thread). Bytes from the kernel are still checked:
// a truncated or lying length ends the walk, never a read past the datagram.

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
const NLMSG_HDRLEN = 16;
const IFINFOMSG_LEN = 16;
const IFLA_IFNAME = 3;
const NLMSG_DONE = 3;

export interface LinkEvent {
  kind: 'new' | 'del';
  name: string;
  ifindex: number;
  /** IFF_* flags of the interface (IFF_UP = 1). */
  flags: number;
}

/** What the watcher thread posts: a link event, or news about the watch itself. */
export type LinkMessage = LinkEvent | { kind: 'resync' } | { kind: 'ready' } | { kind: 'error'; message: string };

const align4 = (n: number) => (n + 3) & ~3;

/**
 * Decode the link messages in one netlink datagram. Malformed or truncated
 * messages end the walk (never read outside `len`); other message types are
 * skipped.
 */
export function parseLinkMessages(buf: Uint8Array, len: number): LinkEvent[] {
  const out: LinkEvent[] = [];
  const v = new DataView(buf.buffer, buf.byteOffset, Math.min(len, buf.length));
  const end = v.byteLength;
  let ofs = 0;
  while (ofs + NLMSG_HDRLEN <= end) {
    const mlen = v.getUint32(ofs, true);
    const type = v.getUint16(ofs + 4, true);
    if (mlen < NLMSG_HDRLEN || ofs + mlen > end) break;
    if (type === NLMSG_DONE) break;
    if ((type === RTM_NEWLINK || type === RTM_DELLINK) && mlen >= NLMSG_HDRLEN + IFINFOMSG_LEN) {
      const ifindex = v.getInt32(ofs + NLMSG_HDRLEN + 4, true);
      const flags = v.getUint32(ofs + NLMSG_HDRLEN + 8, true);
      let name = '';
      let a = ofs + NLMSG_HDRLEN + IFINFOMSG_LEN;
      const mend = ofs + mlen;
      while (a + 4 <= mend) {
        const alen = v.getUint16(a, true);
        const atype = v.getUint16(a + 2, true) & 0x3fff;
        if (alen < 4 || a + alen > mend) break;
        if (atype === IFLA_IFNAME) {
          let z = a + 4;
          while (z < a + alen && v.getUint8(z) !== 0) z++;
          name = Buffer.from(buf.buffer, buf.byteOffset + a + 4, z - (a + 4)).toString('latin1');
        }
        a += align4(alen);
      }
      if (name) out.push({ kind: type === RTM_NEWLINK ? 'new' : 'del', name, ifindex, flags });
    }
    ofs += align4(mlen);
  }
  return out;
}
