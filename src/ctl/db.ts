// The configuration database: one JSON file, written atomically (temp file
// in the same directory, fsync, rename, fsync of the directory) so a crash
// leaves either the old or the new configuration, never half of one.

import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SwitchConfig } from '../ofproto/api.ts';

export class DbError extends Error {
  readonly code = 'EDB';
}

export function loadDb(path: string): SwitchConfig | null {
  if (!existsSync(path)) return null;
  let cfg: unknown;
  try {
    cfg = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new DbError(`database ${path} is corrupt (${(e as Error).message}); fix or remove it, swd will not overwrite it`);
  }
  const c = cfg as SwitchConfig;
  if (!c || c.version !== 1 || !Array.isArray(c.bridges)) {
    throw new DbError(`database ${path} is not an swd database (version 1); fix or remove it, swd will not overwrite it`);
  }
  return c;
}

export function saveDb(path: string, cfg: SwitchConfig): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, JSON.stringify(cfg, null, 2) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  try {
    const dfd = openSync(dirname(path), 'r');
    fsyncSync(dfd);
    closeSync(dfd);
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  }
}
