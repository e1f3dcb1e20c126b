// The datapath meter's token buckets (src/datapath/meter.ts): OVS's units
// and rules, driven by a clock the test controls.

import { describe, expect, it } from 'vitest';
import { startTsWorker } from '../../src/datapath/rx/worker-boot.ts';
import { DP_METER_KBPS, DP_METER_PKTPS, MAX_DP_METERS, MeterTable } from '../../src/datapath/meter.ts';

/** Run n packets of len bytes at time t; how many passed. */
function pass(m: MeterTable, id: number, n: number, len: number, t: number): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (m.run(id, len, t)) ok++;
  return ok;
}

describe('meter buckets', () => {
  it('pktps: a full bucket of burst_size packets, then rate per second', () => {
    const m = new MeterTable();
    const id = m.alloc();
    m.set(id, { flags: DP_METER_PKTPS, bands: [{ rate: 10, burstSize: 5 }] }, 1000);
    expect(pass(m, id, 8, 100, 1000)).toBe(5);
    // 10 packets/s: 99 ms give 990/1000 of a packet, 100 ms one packet.
    expect(pass(m, id, 1, 100, 1099)).toBe(0);
    expect(pass(m, id, 1, 100, 1100)).toBe(1);
    expect(pass(m, id, 3, 100, 1100)).toBe(0);
    // A long pause fills the bucket to burst_size, no more.
    expect(pass(m, id, 9, 100, 60_000)).toBe(5);
    expect(m.stats(id)).toEqual({ packets: 22, bytes: 2200, bands: [{ packets: 11, bytes: 1100 }] });
  });

  it('kbps: bits against rate kbit/s = bit/ms; without burst the bucket holds rate kbit', () => {
    const m = new MeterTable();
    const id = m.alloc();
    // 8 kbps, no burst size: the bucket holds 8000 bits = 1000 bytes.
    m.set(id, { flags: DP_METER_KBPS, bands: [{ rate: 8, burstSize: 0 }] }, 0);
    expect(pass(m, id, 1, 600, 0)).toBe(1);
    expect(pass(m, id, 1, 600, 0)).toBe(0); // 3200 bits left
    expect(pass(m, id, 1, 400, 0)).toBe(1); // a smaller packet still fits
    // 100 ms at 8 bit/ms = 800 bits = 100 bytes.
    expect(pass(m, id, 1, 100, 100)).toBe(1);
    expect(pass(m, id, 1, 100, 100)).toBe(0);
    expect(m.stats(id)).toEqual({ packets: 5, bytes: 1800, bands: [{ packets: 2, bytes: 700 }] });
  });

  it('the band with the highest rate among those exceeded counts the drop', () => {
    const m = new MeterTable();
    const id = m.alloc();
    m.set(id, { flags: DP_METER_PKTPS, bands: [{ rate: 1, burstSize: 1 }, { rate: 2, burstSize: 2 }] }, 0);
    expect(pass(m, id, 4, 60, 0)).toBe(1);
    // Packet 2 exceeded band 0 only; packets 3 and 4 both: band 1 (rate 2) fires.
    expect(m.stats(id)!.bands).toEqual([{ packets: 1, bytes: 60 }, { packets: 2, bytes: 120 }]);
  });

  it('a clock that goes back (another thread was later) counts as no time', () => {
    const m = new MeterTable();
    const id = m.alloc();
    m.set(id, { flags: DP_METER_PKTPS, bands: [{ rate: 1000, burstSize: 1 }] }, 500);
    expect(pass(m, id, 1, 60, 500)).toBe(1);
    expect(pass(m, id, 1, 60, 400)).toBe(0);
    expect(pass(m, id, 1, 60, 401)).toBe(1);
  });

  it('ids are allocated lowest first; a removed meter passes everything and has no stats', () => {
    const m = new MeterTable();
    expect([m.alloc(), m.alloc(), m.alloc()]).toEqual([0, 1, 2]);
    m.free(1);
    expect(m.alloc()).toBe(1);
    m.set(2, { flags: DP_METER_PKTPS, bands: [{ rate: 1, burstSize: 1 }] }, 0);
    expect(pass(m, 2, 3, 60, 0)).toBe(1);
    m.remove(2);
    expect(pass(m, 2, 3, 60, 0)).toBe(3);
    expect(m.stats(2)).toBeNull();
    expect(m.run(MAX_DP_METERS + 5, 60, 0)).toBe(true);
  });

  it('two threads drain one bucket: exactly burst_size packets pass in all', async () => {
    const m = new MeterTable();
    const id = m.alloc();
    // rate 1 packet/s and a frozen clock: the 700 packets of the bucket are all that pass, whichever thread sends them.
    m.set(id, { flags: DP_METER_PKTPS, bands: [{ rate: 1, burstSize: 700 }] }, 5000);
    const url = new URL('./meter-worker.ts', import.meta.url).href;
    const run = () => new Promise<number>((res, rej) => {
      const w = startTsWorker(url, { workerData: { buf: m.buffer, id, n: 200_000, len: 64, now: 5000 } });
      w.once('message', (n: number) => {
        res(n);
        void w.terminate();
      });
      w.once('error', rej);
    });
    const [a, b] = await Promise.all([run(), run()]);
    expect(a + b).toBe(700);
    expect(m.stats(id)).toEqual({ packets: 400_000, bytes: 400_000 * 64, bands: [{ packets: 400_000 - 700, bytes: (400_000 - 700) * 64 }] });
  });
});
