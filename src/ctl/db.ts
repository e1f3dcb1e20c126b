// The configuration database: one JSON file, written atomically (temp file
// in the same directory, fsync, rename, fsync of the directory) so a crash
// leaves either the old or the new configuration, never half of one.
//
// A database that cannot be read or does not look like ours is never
// overwritten: loadDb throws DbError naming the file, and swd refuses to
// start until the user fixes or removes it.

import { readFileSync } from 'node:fs';
import type { BridgeConfig, SwitchConfig } from '../ofproto/api.ts';
import { writeFileAtomic } from '../packet/atomic-file.ts';
import { journalPath, readJournal, removeJournals, replayJournal } from './db-journal.ts';

export class DbError extends Error {
  readonly code = 'EDB';
  constructor(message: string) {
    super(message);
    this.name = 'DbError';
  }
}

const refuse = (path: string, why: string) =>
  new DbError(`database ${path} ${why}; fix or remove it, swd will not overwrite it`);

/** A bridge as the database keeps it: the switch's configuration and the OpenFlow connection manager's (of-listener.ts). */
export interface SavedBridge extends BridgeConfig {
  /** set-controller's targets, with their non-default settings. */
  controllers?: { target: string; inactivityProbeMs?: number; maxBackoffMs?: number }[];
  failMode?: 'secure' | 'standalone';
}

export interface SavedConfig extends SwitchConfig {
  bridges: SavedBridge[];
}

/** The saved configuration, or null when there is no database yet. */
export function loadDb(path: string): SavedConfig | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new DbError(`cannot read database ${path}: ${(e as Error).message}`);
  }
  let cfg: unknown;
  try {
    cfg = JSON.parse(text);
  } catch (e) {
    throw refuse(path, `is corrupt (${(e as Error).message})`);
  }
  const why = checkConfig(cfg);
  if (why) throw refuse(path, `is not an swd database (${why})`);
  const saved = cfg as SavedConfig & { journal?: unknown };
  // The flow changes saved since this file was written (db-journal.ts).
  if (saved.journal !== undefined) {
    if (typeof saved.journal !== 'string' || !/^[a-z0-9-]{1,40}$/.test(saved.journal)) throw refuse(path, 'is not an swd database (a bad journal id)');
    try {
      replayJournal(saved.bridges, readJournal(journalPath(path, saved.journal)));
    } catch (e) {
      throw new DbError(`cannot read the journal of database ${path}: ${(e as Error).message}`);
    }
    delete saved.journal;
  }
  return saved;
}

/** What is wrong with `cfg` as a SwitchConfig, or null. */
function checkConfig(cfg: unknown): string | null {
  const c = cfg as Partial<SwitchConfig> | null;
  if (!c || typeof c !== 'object' || Array.isArray(c)) return 'expected an object';
  if (c.version !== 1) return `version ${JSON.stringify(c.version)}, expected 1`;
  if (!Array.isArray(c.bridges)) return "no 'bridges' array";
  for (const [i, b] of c.bridges.entries()) {
    if (!b || typeof b.name !== 'string') return `bridges[${i}] has no name`;
    if (!Array.isArray(b.ports)) return `bridge ${b.name} has no 'ports' array`;
    if (!Array.isArray(b.flows) || b.flows.some((f) => typeof f !== 'string')) return `bridge ${b.name} has no 'flows' array of strings`;
    if (b.groups !== undefined && (!Array.isArray(b.groups) || b.groups.some((g) => typeof g !== 'string'))) {
      return `bridge ${b.name} has a 'groups' entry that is not an array of strings`;
    }
    if (b.meters !== undefined && (!Array.isArray(b.meters) || b.meters.some((m) => typeof m !== 'string'))) {
      return `bridge ${b.name} has a 'meters' entry that is not an array of strings`;
    }
    const bb = b as SavedBridge;
    if (bb.failMode !== undefined && bb.failMode !== 'secure' && bb.failMode !== 'standalone') return `bridge ${b.name} has a bad failMode`;
    if (bb.controllers !== undefined && (!Array.isArray(bb.controllers) || bb.controllers.some((c) => !c || typeof c.target !== 'string'
      || (c.inactivityProbeMs !== undefined && typeof c.inactivityProbeMs !== 'number') || (c.maxBackoffMs !== undefined && typeof c.maxBackoffMs !== 'number')))) {
      return `bridge ${b.name} has a 'controllers' entry that is not a list of targets`;
    }
    for (const p of b.ports) {
      if (!p || typeof p.name !== 'string' || typeof p.ofport !== 'number') return `bridge ${b.name} has a port without name or ofport`;
    }
  }
  return null;
}

/** The database file's bytes for `cfg`. */
export function dbText(cfg: SwitchConfig): Uint8Array {
  return Buffer.from(JSON.stringify(cfg, null, 2) + '\n');
}

/** Replace the database with `cfg`, atomically, without a journal (after a change, the daemon uses DbSaver, db-saver.ts). */
export function saveDb(path: string, cfg: SwitchConfig): void {
  try {
    writeFileAtomic(path, [dbText(cfg)]);
  } catch (e) {
    throw new DbError(`cannot save database ${path}: ${(e as Error).message}`);
  }
  removeJournals(path);
}
