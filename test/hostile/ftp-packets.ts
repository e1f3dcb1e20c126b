// The packet fuzzer's FTP family: control sessions for the FTP helper
// (ct(commit,alg=ftp) in zone 3, FUZZ_FLOWS in fuzz-run.ts), eight packets
// each with sequence numbers the TCP tracker accepts, so the helper reads
// the payloads: the handshake, a command (PORT, EPRT, PASV, EPSV, or
// garbage), the server's reply (227, 229, 200), the data connection's SYN
// and SYN-ACK where the command announced it, and an end (FIN or RST).
// A third of the commands and replies are mangled: cut short, bytes
// replaced, numbers out of range, no CRLF, or overlong. A session's packets
// come from its own seeded generator, so packet i is the same whatever
// came before it.

import { eth, ipv4, Rng, tcp, type FuzzFamily } from './packets.ts';

/** Clients 10.3.x.y, one server 10.4.0.1 (FUZZ_FLOWS send both subnets to zone 3). */
const SERVER = 0x0a040001;
const SYN = 0x02, ACK = 0x10, PSH_ACK = 0x18, SYN_ACK = 0x12, FIN_ACK = 0x11, RST = 0x04;
const enc = new TextEncoder();

interface Session {
  client: number;
  cport: number;
  a: number; // client ISN
  b: number; // server ISN
  cmd: Uint8Array;
  reply: Uint8Array;
  /** The data connection it announces: who connects where (null: none). */
  data: { fromClient: boolean; port: number } | null;
  rst: boolean;
}

const dotted = (ip: number) => [ip >>> 24, (ip >>> 16) & 0xff, (ip >>> 8) & 0xff, ip & 0xff].join(',');
const dots = (ip: number) => [ip >>> 24, (ip >>> 16) & 0xff, (ip >>> 8) & 0xff, ip & 0xff].join('.');

function mangle(r: Rng, text: string): string {
  switch (r.int(6)) {
    case 0: return text.slice(0, r.int(text.length));
    case 1: { const a = [...text]; for (let k = 1 + r.int(4); k > 0; k--) a[r.int(a.length)] = String.fromCharCode(r.int(256)); return a.join(''); }
    case 2: return text.replace(/\d+/g, () => r.pick(['999', '-1', '65536', '4294967296', '', '00000000000000000007']));
    case 3: return text.replace(/\r\n$/, '');
    case 4: return text.replace(/\r\n$/, '') + 'x'.repeat(500 + r.int(1500)) + '\r\n';
    default: return text.replace(/[,|]/g, r.pick(['', ',,', '|', ' ']));
  }
}

function session(s: number): Session {
  const r = new Rng((s * 2654435761 + 12345) | 0);
  const client = 0x0a030000 + 1 + (s % 250);
  const cport = 1024 + ((s * 7) % 60000);
  const dport = 1024 + r.int(60000);
  const kind = r.int(5);
  let cmd: string, reply: string;
  let data: Session['data'];
  if (kind === 0) { cmd = `PORT ${dotted(client)},${dport >> 8},${dport & 0xff}\r\n`; reply = '200 PORT command successful\r\n'; data = { fromClient: false, port: dport }; }
  else if (kind === 1) { cmd = `EPRT |1|${dots(client)}|${dport}|\r\n`; reply = '200 EPRT command successful\r\n'; data = { fromClient: false, port: dport }; }
  else if (kind === 2) { cmd = 'PASV\r\n'; reply = `227 Entering Passive Mode (${dotted(SERVER)},${dport >> 8},${dport & 0xff}).\r\n`; data = { fromClient: true, port: dport }; }
  else if (kind === 3) { cmd = 'EPSV\r\n'; reply = `229 Entering Extended Passive Mode (|||${dport}|)\r\n`; data = { fromClient: true, port: dport }; }
  else { cmd = String.fromCharCode(...Array.from({ length: r.int(60) }, () => r.int(128))) + '\r\n'; reply = '500 Unknown command\r\n'; data = null; }
  if (r.int(3) === 0) cmd = mangle(r, cmd);
  if (r.int(3) === 0) reply = mangle(r, reply);
  return { client, cport, a: r.next(), b: r.next(), cmd: enc.encode(cmd), reply: enc.encode(reply), data, rst: r.int(2) === 0 };
}

function segment(src: number, dst: number, sport: number, dport: number, flags: number, seq: number, ack: number, payload?: Uint8Array): Uint8Array {
  const t = tcp(sport, dport, flags, seq >>> 0, ack >>> 0, 5, payload?.length ?? 0);
  if (payload) t.set(payload, 20);
  return eth(0x0800, ipv4(src, dst, 6, t));
}

/** Packet i: step i % 8 of session i / 8. */
export function ftpPacket(i: number): Uint8Array {
  const s = session(Math.floor(i / 8));
  const { client: c, cport, a, b } = s;
  const cEnd = a + 1 + s.cmd.length;
  switch (i % 8) {
    case 0: return segment(c, SERVER, cport, 21, SYN, a, 0);
    case 1: return segment(SERVER, c, 21, cport, SYN_ACK, b, a + 1);
    case 2: return segment(c, SERVER, cport, 21, ACK, a + 1, b + 1);
    case 3: return segment(c, SERVER, cport, 21, PSH_ACK, a + 1, b + 1, s.cmd);
    case 4: return segment(SERVER, c, 21, cport, PSH_ACK, b + 1, cEnd, s.reply);
    case 5:
    case 6: {
      // The data connection's SYN, then its SYN-ACK (to a port nobody announced when there is none).
      const d = s.data ?? { fromClient: true, port: 1024 + (cport % 1000) };
      const [from, to, sp, dp] = d.fromClient ? [c, SERVER, cport + 1, d.port] : [SERVER, c, 20, d.port];
      return i % 8 === 5 ? segment(from, to, sp, dp, SYN, a ^ 0x5555, 0) : segment(to, from, dp, sp, SYN_ACK, b ^ 0x5555, (a ^ 0x5555) + 1);
    }
    default: return s.rst ? segment(c, SERVER, cport, 21, RST, cEnd, 0) : segment(c, SERVER, cport, 21, FIN_ACK, cEnd, b + 1 + s.reply.length);
  }
}

export const FTP_FAMILY: FuzzFamily = { name: 'FTP control sessions', make: (_r, i) => ftpPacket(i) };
