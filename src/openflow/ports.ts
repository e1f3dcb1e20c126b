// OpenFlow port numbers: swd (like OVS internally) uses OpenFlow 1.0's
// 16-bit space; OpenFlow 1.1+ puts the reserved ports at 0xffffff00 and up.

export const OFPP11_MAX = 0xffffff00;
export const OFPP11_OFFSET = 0xffff0000;
export const OFPP_ANY32 = 0xffffffff;
export const OFPG_ANY = 0xffffffff;
export const OFPG_ALL = 0xfffffffc;

/** A 16-bit port as OpenFlow 1.1+ writes it. */
export function portToOf11(p: number): number {
  return p < 0xff00 ? p : (p + OFPP11_OFFSET) >>> 0;
}

/** A 32-bit OpenFlow 1.1+ port in swd's 16-bit space; null when none maps (0xff00..0xfffffeff). */
export function portFromOf11(p: number): number | null {
  if (p < 0xff00) return p;
  if (p >= OFPP11_MAX) return (p - OFPP11_OFFSET) >>> 0;
  return null;
}
