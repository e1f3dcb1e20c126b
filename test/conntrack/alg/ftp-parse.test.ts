// The FTP helper's parser on its own: PORT / EPRT (IPv4, IPv6) / 227 / 229
// as clients and servers write them, and hostile input of every length:
// a message cut anywhere must parse exactly as if the bytes after the cut
// did not exist (no read past `end`), and random bytes after a command word
// never throw and are either a well-formed message or FTP_BAD.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  parseFtp, newFtpMsg, FTP_PORT, FTP_EPRT, FTP_PASV, FTP_EPSV, FTP_BAD, FTP_NONE,
} from '../../../src/conntrack/alg/ftp.ts';

const enc = (s: string) => new TextEncoder().encode(s);

function parse(s: string, reply: boolean, v6 = false) {
  const m = newFtpMsg();
  const d = enc(s);
  const kind = parseFtp(d, 0, d.length, reply, v6, m);
  return { kind, port: m.port, addr: Array.from(m.addr, (w) => w >>> 0), text: s.slice(m.addrStart, m.addrEnd), hasAddr: m.hasAddr };
}

describe('FTP control messages', () => {
  it('PORT, in either case, with the address text located', () => {
    expect(parse('PORT 10,1,1,1,156,64\r\n', false)).toEqual({ kind: FTP_PORT, port: 40000, addr: [0x0a010101, 0, 0, 0], text: '10,1,1,1', hasAddr: true });
    expect(parse('port 192,168,0,10,0,21\r\n', false).kind).toBe(FTP_PORT);
    expect(parse('PORT 10,1,1,1,156,64\n', false).port).toBe(40000);
  });

  it('227 with and without parentheses', () => {
    expect(parse('227 Entering Passive Mode (10,1,1,2,117,48).\r\n', true)).toEqual({ kind: FTP_PASV, port: 30000, addr: [0x0a010102, 0, 0, 0], text: '10,1,1,2', hasAddr: true });
    expect(parse('227 =10,1,1,2,0,20\r\n', true).port).toBe(20);
  });

  it('EPRT for IPv4 and IPv6, 229 with any delimiter', () => {
    expect(parse('EPRT |1|132.235.1.2|6275|\r\n', false)).toEqual({ kind: FTP_EPRT, port: 6275, addr: [0x84eb0102, 0, 0, 0], text: '132.235.1.2', hasAddr: true });
    const v6 = parse('EPRT |2|fc00::1|5282|\r\n', false, true);
    expect(v6.kind).toBe(FTP_EPRT);
    expect(v6.addr).toEqual([0xfc000000, 0, 0, 1]);
    expect(v6.text).toBe('fc00::1');
    expect(parse('229 Entering Extended Passive Mode (|||6446|)\r\n', true)).toMatchObject({ kind: FTP_EPSV, port: 6446, hasAddr: false });
    expect(parse('229 ok (!!!6446!)\r\n', true).kind).toBe(FTP_EPSV);
  });

  it('commands of the wrong direction or other commands are not of interest', () => {
    expect(parse('PORT 10,1,1,1,156,64\r\n', true).kind).toBe(FTP_NONE);
    expect(parse('227 (10,1,1,2,117,48)\r\n', false).kind).toBe(FTP_NONE);
    expect(parse('RETR file\r\n', false).kind).toBe(FTP_NONE);
    expect(parse('230 Login successful.\r\n', true).kind).toBe(FTP_NONE);
  });

  it('malformed messages are FTP_BAD', () => {
    for (const [s, reply, v6] of [
      ['PORT 10,1,1,1,156\r\n', false, false], ['PORT 10,1,1,256,1,1\r\n', false, false], ['PORT 10,1,1,1,0,0\r\n', false, false],
      ['PORT 10,1,1,1,156,64', false, false], ['PORT 1000,1,1,1,1,1\r\n', false, false], ['PORT 10,1,1,1,156,64 junk\r\n', false, false],
      ['PORT 10,1,1,1,156,64\r\n', false, true], ['EPRT |2|fc00::1|5282|\r\n', false, false], ['EPRT |1|1.2.3.4|5282|\r\n', false, true],
      ['EPRT |3|1.2.3.4|5282|\r\n', false, false], ['EPRT |1|1.2.3|5282|\r\n', false, false], ['EPRT |1|1.2.3.4|99999|\r\n', false, false],
      ['EPRT |2|fc00::zz|5282|\r\n', false, true], ['227 Entering Passive Mode (10,1,1,2,117).\r\n', true, false],
      ['229 Entering Extended Passive Mode (||6446|)\r\n', true, false], ['229 (|||0|)\r\n', true, false], ['229 (|||6446|\r\n', true, false],
    ] as [string, boolean, boolean][]) {
      expect([s, parse(s, reply, v6).kind]).toEqual([s, FTP_BAD]);
    }
  });

  it('a message cut at every length parses as if nothing followed the cut', () => {
    const msgs: [string, boolean, boolean][] = [
      ['PORT 10,1,1,1,156,64\r\n', false, false], ['EPRT |1|10.1.1.1|40000|\r\n', false, false],
      ['EPRT |2|fc00::1|40000|\r\n', false, true], ['227 Entering Passive Mode (10,1,1,2,117,48).\r\n', true, false],
      ['229 Entering Extended Passive Mode (|||6446|)\r\n', true, true],
    ];
    for (const [s, reply, v6] of msgs) {
      const full = enc(s);
      for (let cut = 0; cut <= full.length; cut++) {
        const alone = full.slice(0, cut);
        const a = newFtpMsg();
        const b = newFtpMsg();
        const ka = parseFtp(alone, 0, alone.length, reply, v6, a);
        const kb = parseFtp(full, 0, cut, reply, v6, b);
        expect([s, cut, kb]).toEqual([s, cut, ka]);
        if (cut < full.length - 1) expect(ka === FTP_BAD || ka === FTP_NONE).toBe(true);
      }
    }
  });

  it('random bytes after a command word: never throws, and any accepted message re-parses the same', () => {
    const words = ['PORT ', 'EPRT ', 'port ', '227 ', '229 '];
    fc.assert(fc.property(fc.constantFrom(...words), fc.uint8Array({ maxLength: 80 }), fc.boolean(), (w, tail, v6) => {
      const d = new Uint8Array(w.length + tail.length);
      d.set(enc(w));
      d.set(tail, w.length);
      const reply = w.startsWith('2');
      const m = newFtpMsg();
      const k = parseFtp(d, 0, d.length, reply, v6, m);
      if (k === FTP_BAD || k === FTP_NONE) return;
      expect(m.port).toBeGreaterThanOrEqual(1);
      expect(m.port).toBeLessThanOrEqual(65535);
      if (m.hasAddr) {
        expect(m.addrStart).toBeGreaterThanOrEqual(w.length);
        expect(m.addrEnd).toBeLessThanOrEqual(d.length);
        expect(m.addrStart).toBeLessThan(m.addrEnd);
      }
    }), { numRuns: 3000 });
  });
});
