// `npm run bench`: runs every benchmark in this folder that is present and
// prints one table. Each bench module exports `rows(): Promise<BenchRow[]>`.
// Figures go to BENCHMARKS.md by hand, with this command and the machine.

import { cpus, totalmem } from 'node:os';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface BenchRow {
  bench: string;
  case: string;
  value: number;
  unit: string;
  note?: string;
}

const only = process.argv.slice(2);
const dir = import.meta.dirname;
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

console.log(`# swd benchmarks — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`);
console.log(`| bench | case | value | unit | note |`);
console.log(`| --- | --- | ---: | --- | --- |`);
let failed = false;
for (const f of files) {
  try {
    const mod = (await import(join(dir, f))) as { rows?: () => Promise<BenchRow[]> };
    if (typeof mod.rows !== 'function') continue;
    for (const r of await mod.rows()) {
      const v = r.value >= 100 ? Math.round(r.value).toLocaleString('en-US') : r.value.toFixed(2);
      console.log(`| ${r.bench} | ${r.case} | ${v} | ${r.unit} | ${r.note ?? ''} |`);
    }
  } catch (e) {
    failed = true;
    console.log(`| ${f} | FAILED | | | ${(e as Error).message} |`);
  }
}
process.exit(failed ? 1 : 0);
