#!/usr/bin/env node
// `npm run build`, and the package's `prepare` step (which `npm ci` runs):
// compiles src/ to dist/ with tsc (tsconfig.build.json: same tree, .ts
// import specifiers rewritten to .js), copies any other file under src/
// beside its compiled neighbours, and last writes dist/.sources.json, the
// snapshot of the sources bin/launch.js compares on every start. The
// snapshot is taken before tsc reads a file (and once the newest source is
// old enough that a later write must change its mtime), so a source changed
// during or after the build leaves the result stale, never wrong.
//
// A failed build leaves no dist/ and swd/swctl run the sources. With
// --if-possible (prepare) a failure, or no TypeScript installed (npm ci
// --omit=dev), is a warning and exit 0, so that installing never fails on
// it; without, it is exit 1.

import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { buildSnapshot, ROOT, writeManifest } from '../bin/launch.js';

const lenient = process.argv.includes('--if-possible');
const dist = join(ROOT, 'dist');

function giveUp(why) {
  rmSync(dist, { recursive: true, force: true });
  process.stderr.write(`swd build: ${why}; swd and swctl will run from the TypeScript sources (slower start)\n`);
  process.exit(lenient ? 0 : 1);
}

rmSync(dist, { recursive: true, force: true });
const inputs = buildSnapshot(ROOT);

let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  giveUp('TypeScript is not installed');
}
const r = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
if (r.status !== 0) giveUp(`tsc failed (${r.status ?? r.signal})`);

for (const [rel, , size] of inputs) {
  if (size < 0 || !rel.startsWith('src/') || rel.endsWith('.ts')) continue;
  const to = join(dist, rel.slice('src/'.length));
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(join(ROOT, rel), to);
}

writeManifest(inputs, ROOT);

