// IPv4 and IPv6 address text as ovs-ofctl reads it, the one parser for flow
// text, datapath-flow text, NAT ranges and conntrack tuples:
// - IPv4: exactly four decimal parts, each 0..255 (OVS scans them with
//   %hhu), so `10.1` is refused and `010.1.1.1` is 10.1.1.1 — unlike
//   inet_aton and ipaddr.js, which take `10.1` as 10.0.0.1 and read a
//   leading 0 as octal.
// - IPv6: inet_pton's rules: eight groups of one to four hex digits, at most
//   one `::` standing for one or more zero groups, optionally ending in a
//   dotted IPv4 address for the last 32 bits; no zone index (`%eth0`).
// Slow path: these allocate.

/** The IPv4 address `s` as an unsigned 32-bit number, or null when `s` is not one. */
export function ipv4FromText(s: string): number | null {
  const p = s.split('.');
  if (p.length !== 4) return null;
  let v = 0;
  for (const x of p) {
    if (!/^\d{1,10}$/.test(x)) return null;
    const n = Number(x);
    if (n > 255) return null;
    v = v * 256 + n;
  }
  return v;
}

/** The IPv6 address `s` as four 32-bit words, most significant first, or null when `s` is not one. */
export function ipv6FromText(s: string): Uint32Array | null {
  let text = s;
  const dot = text.lastIndexOf(':');
  if (dot >= 0 && text.includes('.', dot)) {
    const tail32 = ipv4FromText(text.slice(dot + 1));
    if (tail32 === null) return null;
    // The IPv4 part stands for the last two groups.
    text = text.slice(0, dot + 1) + ((tail32 >>> 16) & 0xffff).toString(16) + ':' + (tail32 & 0xffff).toString(16);
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const part = (x: string) => (x === '' ? [] : x.split(':'));
  const head = part(halves[0]);
  const tail = halves.length === 2 ? part(halves[1]) : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? fill : 0).fill('0'), ...tail];
  const out = new Uint32Array(4);
  for (let i = 0; i < 8; i++) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(groups[i])) return null;
    const g = parseInt(groups[i], 16);
    out[i >> 1] = i & 1 ? (out[i >> 1] | g) >>> 0 : (g << 16) >>> 0;
  }
  return out;
}
