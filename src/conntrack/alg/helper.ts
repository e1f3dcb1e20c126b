// The interface every ALG helper implements (ftp.ts, tftp.ts), and the
// helper ids stored in a connection's R_HELPER word. A helper is chosen by
// `ct(commit,alg=NAME)` when the connection is created and stays with it:
// later ct() actions without alg= run it too. It is called by the packet
// path (alg/run.ts) with the connection's home shard lock held, for packets
// that carry payload, after the L4 tracker accepted them and after the NAT
// header rewrite; it never allocates per packet and never reads outside
// [payload, end).

export const ALG_NONE = 0;
export const ALG_FTP = 1;
export const ALG_TFTP = 2;

export const ALG_NAMES: readonly string[] = ['', 'ftp', 'tftp'];

/** ALG_* for a helper name (as ct(alg=NAME) spells it); ALG_NONE when unknown. */
export function algId(name: string | null | undefined): number {
  if (name === 'ftp') return ALG_FTP;
  if (name === 'tftp') return ALG_TFTP;
  return ALG_NONE;
}

// Results of inspect().
export const ALG_PASS = 0; // nothing for the helper, or done
export const ALG_INVALID = 1; // a control message that does not parse: +inv, counted

/** What a helper sees of one packet: filled by alg/run.ts into one reused object. */
export interface AlgPkt {
  data: Uint8Array;
  l3: number;
  l4: number;
  /** First payload byte (after the TCP/UDP header). */
  payload: number;
  /** End of the IP payload (never beyond the packet). */
  end: number;
  v6: number;
  /** Direction of the packet in its connection. */
  reply: boolean;
  /** This ct() pass translates the connection (the payload may be rewritten). */
  nat: boolean;
  /** Room after `end` in the packet's buffer, for a growing rewrite. */
  room: number;
  /** Set by a rewrite: bytes the payload grew (negative: shrank). */
  delta: number;
}

/** What a helper may do: announce expectations for the connection it serves. */
export interface AlgHost {
  /** Record words of the connection (its key words give the addresses). */
  readonly rec: Int32Array;
  readonly base: number;
  /**
   * Announce a connection: from `src` (4 words, ignored when srcWildcard) to
   * `dst`:`dport` at any source port; once NATed, its source becomes
   * `tsrc`, its destination `tdst`:`tdport`. Addresses are word arrays with
   * an offset, as in the record's keys.
   */
  expect(src: ArrayLike<number>, so: number, dst: ArrayLike<number>, dso: number, dport: number,
    tsrc: ArrayLike<number>, tso: number, tdst: ArrayLike<number>, tdo: number, tdport: number, srcWildcard: boolean): void;
}

export interface AlgHelper {
  readonly id: number;
  readonly name: string;
  /** Look at (and, under NAT, rewrite) one packet's payload. ALG_PASS or ALG_INVALID. */
  inspect(p: AlgPkt, host: AlgHost): number;
}
