// The megaflow hit path of bench/datapath.bench.ts (64-byte UDP frames of N
// flows through Datapath.pollPort) alone, for comparing trees and for a
// profile: `node --import tsx bench/mf-prof.ts [flows] [mode] [seconds]
// [subtables]` with mode one of the bench's flow cache modes by prefix
// (EMC, SMC, no); MF_PROFILE=FILE writes a CPU profile of the timed part
// only (not the warm-up that installs the megaflows) to FILE.cpuprofile.
// Prints packets/s, by the wall clock and per CPU second.

import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { CACHE_MODES, hitRate, type HitRateProbe } from './datapath.bench.ts';

const flows = Number(process.argv[2] ?? 100_000);
const modeName = process.argv[3] ?? 'EMC';
const seconds = Number(process.argv[4] ?? 5);
const subtables = Number(process.argv[5] ?? 1);
const mode = CACHE_MODES.find((m) => m.name.startsWith(modeName));
if (!mode) throw new Error(`no flow cache mode ${modeName}`);
const profile = process.env.MF_PROFILE;
const session = profile ? new Session() : null;
const post = (method: string, params: object = {}) =>
  new Promise<unknown>((ok, fail) => session!.post(method, params, (e: Error | null, r: unknown) => (e ? fail(e) : ok(r))));
if (session) {
  session.connect();
  await post('Profiler.enable');
  // 100 µs samples: a few seconds give a line-level profile.
  await post('Profiler.setSamplingInterval', { interval: 100 });
}
const probe: HitRateProbe = { afterWarmUp: session ? () => session.post('Profiler.start') : undefined };
const pps = hitRate(flows, seconds, mode, subtables, probe);
if (session) {
  const r = (await post('Profiler.stop')) as { profile: unknown };
  writeFileSync(`${profile}.cpuprofile`, JSON.stringify(r.profile));
}
// On a busy machine the CPU time says more than the wall clock.
const f = (x: number) => Math.round(x).toLocaleString('en-US');
console.log(`${flows} flows, ${subtables} subtables, ${mode.name}: ${f(pps)} packets/s (wall), ${f(probe.cpuPps ?? 0)} per CPU second; EMC answered ${(100 * (probe.emcShare ?? 0)).toFixed(1)} %, skipped ${(100 * (probe.skippedShare ?? 0)).toFixed(1)} %`);
