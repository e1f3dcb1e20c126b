// Saving the database after a change without holding the control thread:
// the write and its fsyncs run on libuv's thread pool
// (writeFileAtomicAsync), and changes that arrive while a save is on its
// way share the next one.
//
// What must stay true:
// - save() resolves once a save that began after the call (so it holds the
//   change the caller made before calling) is on disk, and rejects with a
//   DbError if that save failed: a command is answered "applied but not
//   saved" exactly when its change may not be on disk.
// - Saves never overlap: at most one is being written and at most one is
//   waiting; the waiting one takes its snapshot of the configuration when
//   it begins, so it holds every change made before then.
// - idle() resolves when nothing is being written or waiting (the daemon's
//   stop waits for it before its own last, synchronous, save).

import type { SwitchConfig } from '../ofproto/api.ts';
import { writeFileAtomicAsync } from '../packet/atomic-file.ts';
import { DbError, dbText } from './db.ts';

const noop = () => {};

export class DbSaver {
  private writing: Promise<void> | null = null;
  private waiting: Promise<void> | null = null;

  constructor(private readonly path: string, private readonly config: () => SwitchConfig) {}

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

  private begin(): Promise<void> {
    const writing = writeFileAtomicAsync(this.path, [dbText(this.config())]).then(noop, (e: Error) => {
      throw new DbError(`cannot save database ${this.path}: ${e.message}`);
    });
    this.writing = writing;
    void writing.then(noop, noop).then(() => {
      if (this.writing === writing) this.writing = null;
    });
    return writing;
  }
}
