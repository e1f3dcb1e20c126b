// The conntrack save file on disk: written atomically (temp file in the
// same directory, fsync, rename, fsync of the directory), so a crash or a
// full disk leaves the previous file or none, never half of one; read once
// at start and then removed, so that a later crash cannot bring back
// connections that old.

import { readFileSync, renameSync, unlinkSync } from 'node:fs';
import type { Conntrack } from './conntrack.ts';
import { clockNow, CtSaveError } from './save-format.ts';
import { writeFileAtomic, writeFileAtomicAsync } from '../packet/atomic-file.ts';
import { restoreTable, saveTable, type RestoreReport, type SaveOptions } from './save.ts';

let bootIdCache: string | null = null;

/** This boot's id (Linux), '' where there is none. */
export function bootId(): string {
  if (bootIdCache === null) {
    try {
      bootIdCache = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      bootIdCache = '';
    }
  }
  return bootIdCache;
}

export interface SaveFileResult {
  file: string;
  conns: number;
  bytes: number;
  ms: number;
}

export interface WriteHooks {
  /** writeSync, replaceable by tests (e.g. to fail with ENOSPC). */
  write?: (fd: number, b: Uint8Array) => void;
}


/** Save the table to `file`, atomically. Throws CtSaveError (code = the errno, e.g. ENOSPC). */
export function saveConntrackFile(ct: Conntrack, file: string, nowMs: number, opts: SaveOptions & WriteHooks = {}): SaveFileResult {
  const t0 = performance.now();
  const { chunks, conns } = saveTable(ct.table, nowMs, clockNow(bootId()), opts);
  let bytes: number;
  try {
    bytes = writeFileAtomic(file, chunks, opts.write);
  } catch (e) {
    throw saveFailed(file, e);
  }
  return { file, conns, bytes, ms: performance.now() - t0 };
}

/**
 * saveConntrackFile with the write and its fsyncs off the event loop (the
 * snapshot of the table is taken at the call). Null when `stillWanted`
 * said no before the rename: a newer save was made meanwhile.
 */
export async function saveConntrackFileAsync(ct: Conntrack, file: string, nowMs: number,
  opts: SaveOptions & { stillWanted?: () => boolean } = {}): Promise<SaveFileResult | null> {
  const t0 = performance.now();
  const { chunks, conns } = saveTable(ct.table, nowMs, clockNow(bootId()), opts);
  let bytes: number | null;
  try {
    bytes = await writeFileAtomicAsync(file, chunks, opts.stillWanted);
  } catch (e) {
    throw saveFailed(file, e);
  }
  return bytes === null ? null : { file, conns, bytes, ms: performance.now() - t0 };
}

const saveFailed = (file: string, e: unknown) =>
  new CtSaveError((e as NodeJS.ErrnoException).code ?? 'EIO', `cannot save the connection table to ${file}: ${(e as Error).message}`);

export type RestoreOutcome =
  | { file: string; status: 'none' }
  | ({ file: string; status: 'restored'; ms: number; bytes: number } & RestoreReport)
  | { file: string; status: 'ignored'; code: string; error: string };

/**
 * Restore `file` (if there is one) into a fresh table, then remove it. A
 * file that cannot be read, is damaged or comes from an incompatible swd
 * is ignored (status 'ignored' with the reason; it is kept, renamed to
 * FILE.bad, for a look) — the start goes on with an empty table.
 */
export function restoreConntrackFile(ct: Conntrack, file: string, nowMs: number, opts: SaveOptions = {}): RestoreOutcome {
  const t0 = performance.now();
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    if (code === 'ENOENT') return { file, status: 'none' };
    return { file, status: 'ignored', code, error: `cannot read ${file}: ${(e as Error).message}` };
  }
  try {
    const rep = restoreTable(ct.table, bytes, nowMs, clockNow(bootId()), opts);
    removeQuietly(file);
    return { file, status: 'restored', ms: performance.now() - t0, bytes: bytes.byteLength, ...rep };
  } catch (e) {
    const code = e instanceof CtSaveError ? e.code : 'EINVAL';
    try {
      renameSync(file, `${file}.bad`);
    } catch {
      removeQuietly(file);
    }
    return { file, status: 'ignored', code, error: `${file}: ${(e as Error).message}` };
  }
}

function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}
