// The database's journal: flow changes appended after a full save, so a
// save after N flow mods costs N lines, not the whole table (the full file
// is rewritten only when the journal outgrows it: db-saver.ts).
//
// Files: the database (swd.db.json) names its journal in `"journal": ID`;
// the journal is `swd.db.json.ID.journal` beside it, one JSON line per save:
//   {"flows":{"br0":{"del":["<saved text>",...],"add":["<text>",...]}}}
// (saved-flows.ts says why a rule's text names it). Loading replays the
// lines in order onto the database's flows.
//
// What must stay true (kill -9 at any point leaves the old or the new
// database, never a torn one):
// - A line counts only when it is whole: it ends with a newline and parses
//   as a record. A save appends one line and fdatasyncs it, so a kill leaves
//   at most the last line torn, and replay stops there (that save did not
//   happen). A failed append is truncated away, and the saver then saves in
//   full, so no line ever follows a torn one.
// - A full save writes a new ID into the database (atomically, before any
//   line is appended for it) and only then removes the old journal: a
//   journal whose ID the database does not name is stale and never read.
// - A database without `journal` (older swd, or the daemon's last save on
//   stop) is read as it always was.

import { readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import type { FlowDelta } from '../ofproto/saved-flows.ts';
import { fsyncDir } from '../packet/atomic-file.ts';

/** The journal file of database `db` with id `id`. */
export function journalPath(db: string, id: string): string {
  return join(dirname(db), `${basename(db)}.${id}.journal`);
}

/** A fresh journal id. */
export function newJournalId(): string {
  return `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** The record (one line) for a save's flow changes; null when nothing changed. */
export function journalLine(deltas: Map<string, FlowDelta>): Buffer | null {
  const flows: Record<string, FlowDelta> = {};
  let any = false;
  for (const [name, d] of deltas) {
    if (d.del.length === 0 && d.add.length === 0) continue;
    flows[name] = d;
    any = true;
  }
  return any ? Buffer.from(JSON.stringify({ flows }) + '\n') : null;
}

const isStrings = (a: unknown): a is string[] => Array.isArray(a) && a.every((s) => typeof s === 'string');

function parseRecord(line: string): Record<string, FlowDelta> | null {
  let rec: unknown;
  try {
    rec = JSON.parse(line);
  } catch {
    return null;
  }
  const flows = (rec as { flows?: unknown } | null)?.flows;
  if (!flows || typeof flows !== 'object' || Array.isArray(flows)) return null;
  for (const d of Object.values(flows as Record<string, unknown>)) {
    const dd = d as Partial<FlowDelta> | null;
    if (!dd || !isStrings(dd.del) || !isStrings(dd.add)) return null;
  }
  return flows as Record<string, FlowDelta>;
}

/** The whole records of a journal, in order, up to the first torn or bad line (none when the file is missing). */
export function readJournal(file: string): Record<string, FlowDelta>[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: Record<string, FlowDelta>[] = [];
  let at = 0;
  for (;;) {
    const nl = text.indexOf('\n', at);
    if (nl < 0) break;
    const rec = parseRecord(text.slice(at, nl));
    if (!rec) break;
    out.push(rec);
    at = nl + 1;
  }
  return out;
}

/** Replay `records` onto bridges' flow lists (in place): each record's deletes, then its adds. */
export function replayJournal(bridges: { name: string; flows: string[] }[], records: Record<string, FlowDelta>[]): void {
  const sets = new Map<string, Set<string>>();
  for (const b of bridges) sets.set(b.name, new Set(b.flows));
  for (const rec of records) {
    for (const [name, d] of Object.entries(rec)) {
      const set = sets.get(name);
      if (!set) continue;
      for (const t of d.del) set.delete(t);
      for (const t of d.add) set.add(t);
    }
  }
  for (const b of bridges) b.flows = [...sets.get(b.name)!];
}

/** Remove the journals of database `db` other than `keep`'s (stale ones, or all). */
export function removeJournals(db: string, keep: string | null = null): void {
  const prefix = `${basename(db)}.`;
  let names: string[];
  try {
    names = readdirSync(dirname(db));
  } catch {
    return;
  }
  for (const n of names) {
    if (!n.startsWith(prefix) || !n.endsWith('.journal')) continue;
    if (keep !== null && n === basename(journalPath(db, keep))) continue;
    try {
      unlinkSync(join(dirname(db), n));
    } catch {
      // gone already
    }
  }
}

/** Appends a journal's lines, each one made durable before the append resolves. Appends never overlap (the saver's order). */
export class JournalWriter {
  private fh: FileHandle | null = null;
  /** Bytes of whole lines in the file. */
  size = 0;

  constructor(readonly file: string) {}

  async append(line: Uint8Array): Promise<void> {
    if (!this.fh) {
      this.fh = await open(this.file, 'a', 0o600);
      fsyncDir(dirname(this.file));
    }
    const fh = this.fh;
    try {
      for (let off = 0; off < line.byteLength;) off += (await fh.write(line, off, line.byteLength - off)).bytesWritten;
      await fh.datasync();
      this.size += line.byteLength;
    } catch (e) {
      // Take back a partial line (a full disk): nothing may follow a torn line.
      await fh.truncate(this.size).catch(() => {});
      throw e;
    }
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    await fh?.close().catch(() => {});
  }
}
