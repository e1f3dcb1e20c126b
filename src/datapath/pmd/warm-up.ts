// JIT warm-up of a PMD thread. V8 optimises a function once it has run
// --interrupt-budget bytes of bytecode a few times. At V8's default a fresh
// switch's packet path stays in the interpreter and baseline code for its
// first thousand or so packets — an idle request took ~100 us in the PMD
// thread instead of ~50 (the rx trace, bench/e2e/probe.ts) — so a PMD thread
// lowers the budget until it has forwarded WARM_PACKETS, then puts V8's
// default back, so that later re-optimisations are not hasty. The flag is
// the process's (every thread's): a budget given on the command line is left
// alone. SWD_PMD_INTERRUPT_BUDGET sets the warm-up budget, 0 turns it off.

import { setFlagsFromString } from 'node:v8';

// The other half of a PMD thread's warm-up: synthetic traffic before the first real packet.
export { keepWarm, selfWarm } from './self-warm.ts';

const WARM_BUDGET = Number(process.env.SWD_PMD_INTERRUPT_BUDGET ?? 4096);
const WARM_PACKETS = 50_000;
/** V8's default --interrupt-budget (Node 20, V8 11.3). */
const V8_INTERRUPT_BUDGET = 67584;

/** True while the lowered budget is in force (a live binding). */
export let warming = false;

export function startWarmUp(): void {
  if (WARM_BUDGET <= 0 || process.execArgv.some((a) => a.startsWith('--interrupt-budget'))) return;
  warming = true;
  setFlagsFromString(`--interrupt-budget=${WARM_BUDGET}`);
}

/** The thread has forwarded `packets` in all: back to V8's default once enough. */
export function warmedUp(packets: number): void {
  if (!warming || packets < WARM_PACKETS) return;
  warming = false;
  setFlagsFromString(`--interrupt-budget=${V8_INTERRUPT_BUDGET}`);
}
