// How swd and swctl run: the compiled JavaScript in dist/ when it was built
// from exactly the sources now on disk, else the TypeScript sources through
// tsx (a slower start, the same behaviour). Never a stale dist/.
//
// scripts/build.js (npm ci runs it as the package's `prepare` step) writes
// dist/.sources.json: the path, mtime and size of every file and folder
// under src/ and of the tsconfig files, taken before tsc read any of them.
// dist/ is fresh while every one of those still has the recorded mtime and
// size. A folder's mtime changes when an entry is added, removed or
// renamed, so a new or deleted source file makes dist/ stale too. The check
// is one small JSON file and a stat per entry (about a hundred), done on
// every start: about a millisecond, against the hundreds that loading the
// sources through tsx costs.
//
// SWD_FROM_SOURCES=1 runs the sources even when dist/ is fresh.

import { readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const MANIFEST = 'dist/.sources.json';
/** What the compiled output is made from (relative to the package root). */
const INPUTS = ['src', 'tsconfig.json', 'tsconfig.build.json'];

/** [path, mtimeMs, size] of every input, folders included (size -1: a folder's size says nothing). */
export function snapshot(root = ROOT) {
  const entries = [];
  const walk = (rel) => {
    const st = statSync(join(root, rel));
    const dir = st.isDirectory();
    entries.push([rel, st.mtimeMs, dir ? -1 : st.size]);
    if (dir) for (const name of readdirSync(join(root, rel)).sort()) walk(`${rel}/${name}`);
  };
  for (const rel of INPUTS) walk(rel);
  return entries;
}

/**
 * The snapshot a build starts with. File times come from a coarse kernel
 * clock (a few ms per tick), so a file written twice within one tick keeps
 * one mtime; a snapshot is therefore taken only once the newest input is
 * SETTLE_MS old, after which any write gets a later mtime than recorded.
 */
export const SETTLE_MS = 100;
export function buildSnapshot(root = ROOT) {
  for (;;) {
    const entries = snapshot(root);
    const wait = Math.max(...entries.map((e) => e[1])) + SETTLE_MS - Date.now();
    if (wait <= 0) return entries;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.ceil(wait));
  }
}

/** Record `inputs` (a snapshot taken before the build read them) as what dist/ was built from. */
export function writeManifest(inputs, root = ROOT) {
  const tmp = join(root, `${MANIFEST}.tmp`);
  writeFileSync(tmp, JSON.stringify({ built: new Date().toISOString(), node: process.version, inputs }) + '\n');
  renameSync(tmp, join(root, MANIFEST));
}

/** Whether dist/ was built from the sources as they are now. */
export function isFresh(root = ROOT) {
  let inputs;
  try {
    inputs = JSON.parse(readFileSync(join(root, MANIFEST), 'utf8')).inputs;
  } catch {
    return false;
  }
  if (!Array.isArray(inputs) || inputs.length < INPUTS.length) return false;
  for (const [rel, mtimeMs, size] of inputs) {
    const st = statSync(join(root, rel), { throwIfNoEntry: false });
    if (st === undefined || st.mtimeMs !== mtimeMs || (size >= 0 && st.size !== size)) return false;
  }
  return true;
}

/** The module of src/ctl/NAME.ts: compiled when fresh, else the source through tsx. */
export async function load(name) {
  if (process.env.SWD_FROM_SOURCES !== '1' && isFresh()) return import(new URL(`../dist/ctl/${name}.js`, import.meta.url).href);
  const { register } = await import('tsx/esm/api');
  register();
  return import(new URL(`../src/ctl/${name}.ts`, import.meta.url).href);
}
