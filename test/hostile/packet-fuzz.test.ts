// Hostile packets through the datapath's receive path (packets.ts's
// families: truncations at every offset, bad lengths, IHL < 5 and option
// overflows, IPv6 extension-header chains and loops, nested ICMP errors,
// every TCP flag combination, fragments, VLAN/ARP/odd ethertypes, bit
// flips, random bytes, FTP control sessions with mangled commands) under a
// table with conntrack, zones, SNAT and the FTP helper: swd
// stays up, forwards a good packet afterwards, every packet is forwarded
// or dropped for a counted reason, and the connection table is consistent.
// npm test runs FUZZ_PACKETS (30,000; SWD_FUZZ_PACKETS overrides), the
// soak run 10,000,000. SWD_FUZZ_SEED repeats a run.

import { describe, expect, it } from 'vitest';
import { RUN_FAMILIES, runPacketFuzz } from './fuzz-run.ts';

const COUNT = Number(process.env.SWD_FUZZ_PACKETS ?? 30_000);
const SEED = Number(process.env.SWD_FUZZ_SEED ?? 20261201);

describe('packet fuzzer', () => {
  it(`${COUNT} hostile packets (seed ${SEED}): all accounted for, table consistent, swd forwarding afterwards`, () => {
    const r = runPacketFuzz({ count: COUNT, seed: SEED });
    expect(r.received).toBe(COUNT);
    const dropped = Object.values(r.drops).reduce((a, b) => a + b, 0);
    expect({ forwarded: r.forwarded, dropped }).toEqual({ forwarded: COUNT - dropped, dropped });
    expect(r.forwarded).toBeGreaterThan(0);
    expect(r.drops['drop action']).toBeGreaterThan(0); // +inv and the default drop
    expect(r.drops['NAT exhausted']).toBeGreaterThan(0); // the small SNAT range ran out
    expect(Object.keys(r.perFamily)).toEqual(RUN_FAMILIES.map((f) => f.name));
    expect(r.table.problems).toEqual([]);
    expect(r.table.live).toBe(r.connections);
    expect(r.connections).toBeGreaterThan(0);
    expect(r.aliveAfter).toBe(true);
    // The FTP helper read the sessions: data connections announced and used, mangled commands counted.
    expect(r.ftp.expCreated).toBeGreaterThan(0);
    expect(r.ftp.expMatched).toBeGreaterThan(0);
    expect(r.ftp.algMalformed).toBeGreaterThan(0);
  }, Math.max(120_000, COUNT / 2)); // 2,000 packets a second at the least (a loaded machine): 10^7 in under 83 minutes
});
