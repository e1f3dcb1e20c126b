// The control socket under a fuzzing load (rpc-fuzz.ts): 2,000 idle
// connections (a third of them with half a request), 8 clients sending
// random and malformed requests, batches, split and abandoned lines. Every
// complete request is answered or rejected, nothing else comes back, and
// afterwards the daemon still answers swctl and holds its idle clients.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SwdInstance } from '../e2e/harness.ts';
import { fuzzClient, idleConnections } from './rpc-fuzz.ts';

const IDLE = Number(process.env.SWD_FUZZ_IDLE ?? 2000);
const REQUESTS = Number(process.env.SWD_FUZZ_REQUESTS ?? 400);

describe('JSON-RPC fuzzer', () => {
  const swd = new SwdInstance();
  beforeAll(() => swd.start(), 60_000);
  afterAll(() => swd.dispose());

  it(`${IDLE} idle connections and 8 clients x ${REQUESTS} random requests: every request answered, daemon still answering`, async () => {
    const idle = await idleConnections(swd.socket, IDLE);
    const reports = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((c) => fuzzClient(swd.socket, c, REQUESTS, c % 4 === 0)));
    for (const rep of reports) {
      expect({ missing: rep.missing, unexpected: rep.unexpected }).toEqual({ missing: [], unexpected: 0 });
      expect(rep.errors).toBeGreaterThan(0); // the fuzz did reach the error paths
    }
    expect(swd.ok(['ct-get-nconns'])).toHaveLength(1);
    expect(swd.ok(['version'])[0]).toMatch(/^swd /);
    expect(swd.ok(['list-br'])).toContain('br0');
    expect(idle.filter((s) => s.destroyed)).toHaveLength(0);
    for (const s of idle) s.destroy();
    // ...and after they are gone.
    expect(swd.ok(['ct-get-nconns'])).toHaveLength(1);
  }, 180_000);
});
