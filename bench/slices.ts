// One timed slice of a packet benchmark: `run(64)` (64 batches of 32 packets)
// again and again until `seconds` have passed; the packets per second.
export function packetsPerSecond(run: (iters: number) => void, seconds: number): number {
  let n = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(seconds * 1e9));
  while (process.hrtime.bigint() < end) {
    run(64);
    n += 64 * 32;
  }
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}
