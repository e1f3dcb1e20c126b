// The TFTP helper (RFC 1350): a read (RRQ, opcode 1) or write request
// (WRQ, opcode 2) to the server's port makes the server answer from a new
// port of its own to the client's port. The request creates the
// expectation for that answer: from the server's address at any port, to the
// client's address and port as the server sees them (after NAT), translated
// back to the client's own. A request too short to hold an opcode and a
// NUL-terminated file name is +inv. Other opcodes pass untouched.

import { K_SRC, K_DST, K_PORTS } from '../../packet/tuple.ts';
import { R_KEY_ORIG, R_KEY_REPLY } from '../layout.ts';
import { ALG_INVALID, ALG_PASS, ALG_TFTP, type AlgHelper, type AlgHost, type AlgPkt } from './helper.ts';

export const TFTP_RRQ = 1;
export const TFTP_WRQ = 2;

export const tftpHelper: AlgHelper = {
  id: ALG_TFTP,
  name: 'tftp',
  inspect(p: AlgPkt, host: AlgHost): number {
    if (p.reply) return ALG_PASS;
    const d = p.data;
    const i = p.payload;
    const end = p.end < d.length ? p.end : d.length;
    if (i + 2 > end) return ALG_INVALID;
    const op = (d[i] << 8) | d[i + 1];
    if (op !== TFTP_RRQ && op !== TFTP_WRQ) return ALG_PASS;
    // opcode, filename, 0, mode, 0: the file name must at least be terminated.
    let j = i + 2;
    while (j < end && d[j] !== 0) j++;
    if (j >= end || j === i + 2) return ALG_INVALID;
    const rec = host.rec;
    const ok = host.base + R_KEY_ORIG;
    const rk = host.base + R_KEY_REPLY;
    const dport = rec[rk + K_PORTS] & 0xffff; // the client's port as the server sees it
    const tport = rec[ok + K_PORTS] >>> 16; // the client's own port
    host.expect(rec, rk + K_SRC, rec, rk + K_DST, dport, rec, ok + K_DST, rec, ok + K_SRC, tport, false);
    return ALG_PASS;
  },
};
