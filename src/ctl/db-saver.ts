// Saving the database after a change without holding the control thread:
// the write and its fsyncs run on libuv's thread pool
// (writeFileAtomicAsync), and changes that arrive while a save is on its
// way share the next one. With a journal source (the switch tracks its flow
// changes, saved-flows.ts), a save whose only changes are flows appends
// them to the database's journal (db-journal.ts) instead of rewriting the
// whole file; the file is rewritten in full when anything else changed,
// after a failed save, at the first save of a run, and when the journal
// has grown past the file (or JOURNAL_MIN_BYTES), so each flow's text is
// written a bounded number of times on average.
//
// What must stay true:
// - save() resolves once a save that began after the call (so it holds the
//   change the caller made before calling) is on disk, and rejects with a
//   DbError if that save failed: a command is answered "applied but not
//   saved" exactly when its change may not be on disk.
// - Saves never overlap: at most one is being written and at most one is
//   waiting; the waiting one takes its snapshot of the configuration when
//   it begins, so it holds every change made before then.
// - After a failed save the next one is a full save (the changes a failed
//   journal line held are in no other line).
// - idle() resolves when nothing is being written or waiting (the daemon's
//   stop waits for it before its own last, synchronous, save).

import type { SwitchConfig } from '../ofproto/api.ts';
import type { FlowDelta } from '../ofproto/saved-flows.ts';
import { writeFileAtomicAsync } from '../packet/atomic-file.ts';
import { DbError, dbText } from './db.ts';
import { journalLine, journalPath, JournalWriter, newJournalId, removeJournals } from './db-journal.ts';

const noop = () => {};
/** The journal may grow to the database's size, or to this, before the database is rewritten. */
export const JOURNAL_MIN_BYTES = 4 << 20;

/** What the saver needs from the switch to keep a journal. */
export interface JournalSource {
  /** The configuration for a full save (the switch's tracking starts afresh). */
  full(): SwitchConfig;
  /** The configuration without flows, to see whether anything but flows changed. */
  withoutFlows(): SwitchConfig;
  /** Flow changes since the last save (taken), or null when only a full save can hold them. */
  deltas(): Map<string, FlowDelta> | null;
}

export class DbSaver {
  private writing: Promise<void> | null = null;
  private waiting: Promise<void> | null = null;
  /** Journal state: set after a full save reached the disk; null means the next save is full. */
  private journal: { writer: JournalWriter; withoutFlows: string; fileBytes: number } | null = null;

  constructor(
    private readonly path: string,
    private readonly config: () => SwitchConfig,
    private readonly source: JournalSource | null = null,
    private readonly journalMinBytes = JOURNAL_MIN_BYTES,
  ) {}

  save(): Promise<void> {
    if (this.waiting) return this.waiting;
    if (!this.writing) return this.begin();
    const waiting = this.writing.then(noop, noop).then(() => {
      this.waiting = null;
      return this.begin();
    });
    this.waiting = waiting;
    return waiting;
  }

  idle(): Promise<void> {
    return (this.waiting ?? this.writing ?? Promise.resolve()).then(noop, noop);
  }

  /** Close the journal (after idle(), before the daemon's last save). */
  async close(): Promise<void> {
    const j = this.journal;
    this.journal = null;
    await j?.writer.close();
  }

  private begin(): Promise<void> {
    const writing = this.write().catch((e: Error) => {
      throw e instanceof DbError ? e : new DbError(`cannot save database ${this.path}: ${e.message}`);
    });
    this.writing = writing;
    void writing.then(noop, noop).then(() => {
      if (this.writing === writing) this.writing = null;
    });
    return writing;
  }

  /** One save; the configuration is taken synchronously, before the first await. */
  private write(): Promise<void> {
    const src = this.source;
    if (!src) return writeFileAtomicAsync(this.path, [dbText(this.config())]).then(noop);
    const j = this.journal;
    const withoutFlows = JSON.stringify(src.withoutFlows());
    if (j && withoutFlows === j.withoutFlows && j.writer.size <= Math.max(this.journalMinBytes, j.fileBytes)) {
      const deltas = src.deltas();
      if (deltas) {
        const line = journalLine(deltas);
        if (!line) return Promise.resolve();
        return j.writer.append(line).catch((e: unknown) => {
          this.journal = null;
          void j.writer.close();
          throw e;
        });
      }
    }
    return this.writeFull(withoutFlows);
  }

  private async writeFull(withoutFlows: string): Promise<void> {
    const old = this.journal;
    this.journal = null;
    const id = newJournalId();
    const bytes = dbText({ ...this.source!.full(), journal: id } as SwitchConfig);
    await old?.writer.close();
    await writeFileAtomicAsync(this.path, [bytes]);
    // The database now names the new journal: the old one is stale.
    removeJournals(this.path, id);
    this.journal = { writer: new JournalWriter(journalPath(this.path, id)), withoutFlows, fileBytes: bytes.byteLength };
  }
}
