// OpenFlow connection targets as OVS spells them (ovs-vsctl(8) "Controller
// Connection Methods"): `tcp:IP[:PORT]` and `unix:PATH`, which swd connects
// to (an active controller, kept up by of-controller.ts as OVS's rconn), and
// `ptcp:[PORT][:IP]` and `punix:PATH`, on which swd listens for controllers
// (a TCP listener binds 127.0.0.1 unless an address is given). PORT defaults
// to 6653 (OFP_PORT); a relative PATH is taken in the run directory, as OVS
// takes it in its rundir. Parsing is pure; a bad target is a TargetError
// naming what is wrong.

import { isIP } from 'node:net';
import { isAbsolute, join } from 'node:path';

export const OFP_PORT = 6653;

export type TargetKind = 'tcp' | 'unix' | 'ptcp' | 'punix';

export interface OfTarget {
  /** As the user wrote it (what get-controller prints and the database keeps). */
  text: string;
  kind: TargetKind;
  /** tcp: the address to connect to; ptcp: the address to bind. */
  host?: string;
  port?: number;
  /** unix/punix: the socket file, absolute. */
  path?: string;
}

export class TargetError extends Error {
  readonly code = 'EINVAL';
  constructor(message: string) {
    super(message);
    this.name = 'TargetError';
  }
}

/** True for targets swd connects to (they have a connection state and backoff). */
export const isActive = (t: OfTarget): boolean => t.kind === 'tcp' || t.kind === 'unix';

function parsePort(s: string, text: string): number {
  if (!/^\d{1,5}$/.test(s) || Number(s) > 65535) throw new TargetError(`${text}: bad port '${s}' (expected 0 to 65535)`);
  return Number(s);
}

/** IPv4 as is, IPv6 in brackets ([::1]); host names are not resolved (as OVS, which wants an address). */
function parseHost(s: string, text: string): string {
  const h = s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s;
  if (isIP(h) === 0 || (isIP(h) === 6 && h === s)) throw new TargetError(`${text}: '${s}' is not an IP address (IPv6 goes in brackets, e.g. [::1])`);
  return h;
}

/** Split "A:B" at the colon that is not inside brackets. */
function splitHostPort(s: string): [string, string | undefined] {
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0) return [s, undefined];
    const rest = s.slice(end + 1);
    return [s.slice(0, end + 1), rest.startsWith(':') ? rest.slice(1) : rest === '' ? undefined : rest];
  }
  const i = s.indexOf(':');
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

export function parseTarget(text: string, rundir: string): OfTarget {
  const m = /^(tcp|unix|ptcp|punix):(.*)$/.exec(text);
  if (!m) {
    const method = text.split(':')[0];
    if (/^p?ssl$/.test(method)) throw new TargetError(`${text}: SSL connections are not supported by swd (use tcp:, unix:, ptcp: or punix:)`);
    throw new TargetError(`${text}: unknown connection method (expected tcp:IP[:PORT], unix:PATH, ptcp:[PORT][:IP] or punix:PATH)`);
  }
  const kind = m[1] as TargetKind, rest = m[2];
  switch (kind) {
    case 'tcp': {
      if (rest === '') throw new TargetError(`${text}: needs an address (tcp:IP[:PORT])`);
      const [h, p] = splitHostPort(rest);
      return { text, kind, host: parseHost(h, text), port: p === undefined ? OFP_PORT : parsePort(p, text) };
    }
    case 'ptcp': {
      const i = rest.indexOf(':');
      const p = i < 0 ? rest : rest.slice(0, i), h = i < 0 ? '' : rest.slice(i + 1);
      return { text, kind, port: p === '' ? OFP_PORT : parsePort(p, text), host: h === '' ? '127.0.0.1' : parseHost(h, text) };
    }
    default: {
      if (rest === '') throw new TargetError(`${text}: needs a socket path`);
      if (rest.includes('\0')) throw new TargetError(`${text}: bad socket path`);
      return { text, kind, path: isAbsolute(rest) ? rest : join(rundir, rest) };
    }
  }
}
